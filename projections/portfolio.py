"""The key-project portfolio (重点项目): 开工率, 投资完成率, 建成投产, overdue and lagging projects.

Pure: computed from the fold's project states as of a date (valid time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Literal

from events.periods import Period, completed_months
from events.plan import Figure, PortfolioLines, Precision, Project, ProjectScope, ProjectType, Thresholds
from projections import formatting as fmt
from projections.evaluate import HUNDRED, Status, progress_status
from projections.judgement import Judgement, judge, project_judgement
from projections.state import PlanState, ProjectState

Stage = Literal["not_started", "started", "completed"]


class _OverdueOrLagging:
    """What the alerts fire on, from where a project stands (its standing and its list view)."""

    started_on: date | None
    completed_on: date | None
    months_overdue: int | None
    status: Status

    @property
    def overdue(self) -> bool:
        return self.months_overdue is not None

    @property
    def lagging(self) -> bool:
        """Started, not completed, and its investment behind its schedule."""
        return self.started_on is not None and self.completed_on is None and self.status in ("at_risk", "off_track")


@dataclass(frozen=True)
class ProjectProgress(_OverdueOrLagging):
    """A key project as of a date: started, invested, on schedule, and the traffic light on it."""

    id: str
    name: str
    department: str
    category: str
    synthetic: bool
    planned_start: str
    planned_completion: str
    planned_investment_wan: Decimal
    started_on: date | None
    completed_on: date | None
    investment_wan: Decimal
    investment_rate: Decimal | None  # % of the year's planned investment
    schedule_progress: Decimal | None  # % of the project's months this year that have passed
    months_overdue: int | None  # whole months since the planned start month ended, if not started
    reported_month: int | None  # the last month of the year its investment was reported for
    status: Status  # the traffic light: start delay for unstarted projects, investment pace for others
    notes: tuple[str, ...] = ()  # what the report asks to be checked: a 累计 that fell, investment far above plan
    project_type: str | None = None  # the plan's kind of key project (新开工, 续建 …), if it has kinds
    scopes: tuple[str, ...] = ()  # the scopes of projects it is in (省级, 在建 …), each with its own line
    judgement: Judgement | None = None  # the light, the alert's severity, the wording (projections.judgement)

    @property
    def judged(self) -> Judgement:
        return self.judgement or judge(self.status)

    @property
    def stage(self) -> Stage:
        return "completed" if self.completed_on else "started" if self.started_on else "not_started"


@dataclass(frozen=True)
class Portfolio:
    label: str
    total: int
    started: int
    start_rate: Decimal  # %, one decimal as the report rounds it
    planned_to_start: int  # projects whose planned start month has ended by as_of
    investment_wan: Decimal
    planned_investment_wan: Decimal
    investment_rate: Decimal  # %, one decimal
    completed: int
    projects: tuple[ProjectProgress, ...]
    wording: PortfolioLines | None = None  # the plan's own wording of the key projects; None: the seed's
    as_of: date | None = None  # the date judged (a start rate over the projects due by then)
    precision: Precision | None = None  # the plan's decimals for rates and 亿元; None: the seed's
    # The read model's rendering of the portfolio, kept with it (projections.readmodel): a
    # ReportBuilder reuses the portfolio while none of its projects changed.
    memo: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def overdue(self) -> list[ProjectProgress]:
        return [p for p in self.projects if p.overdue]

    @property
    def notes(self) -> list[str]:
        """What the report asks departments to check, project by project (empty as a rule)."""
        return [note for p in self.projects for note in p.notes]

    @property
    def lagging(self) -> list[ProjectProgress]:
        return [p for p in self.projects if p.lagging]

    def line(self) -> str:
        """112个区级重点项目开工68个，开工率60.7%，完成投资91亿元，投资完成率50.5%; empty without projects
        (a 0个…开工率0% would be invented)."""
        if not self.total:
            return ""
        # a plan's precision alone words the seed's sentence with its decimals
        wording = self.wording if self.wording is not None or self.precision is None else PortfolioLines()
        if wording is not None:
            return worded_line(self.label, wording, self.projects, self.as_of, self.precision)
        return (
            f"{self.total}个{self.label}开工{self.started}个，开工率{self.start_rate:f}%，"
            f"完成投资{fmt.money_wan(self.investment_wan)}，投资完成率{self.investment_rate:f}%"
        )

    def scope_lines(self) -> list[str]:
        """A line per scope of projects the plan lists (省级重点项目12个，完成投资7.3亿元，投资完成率65.2%),
        in the plan's order; a scope without projects has none."""
        if self.wording is None:
            return []
        return scope_lines(self.wording, self.projects, self.as_of, self.precision)

    def completed_line(self) -> str:
        """渝乐电子等26个项目建成投产 (the first completed project in plan order is named)."""
        done = [p for p in self.projects if p.completed_on]
        if not self.total:
            return ""
        if not done:
            return "暂无项目建成投产"
        return f"{done[0].name}等{len(done)}个项目建成投产" if len(done) > 1 else f"{done[0].name}建成投产"


@dataclass(frozen=True)
class Figures:
    """The figures of one sentence on key projects; a rate with no denominator is None (left out)."""

    count: int
    started: int
    start_rate: Decimal | None
    investment_wan: Decimal
    investment_rate: Decimal | None
    completed: int
    completion_rate: Decimal | None


def figures_of(projects: Sequence[ProjectProgress], due: Sequence[ProjectProgress]) -> Figures:
    """`due`: the projects the start rate is over (those due to start); started counts among them."""
    invested = sum((p.investment_wan for p in projects), Decimal(0))
    planned = sum((p.planned_investment_wan for p in projects), Decimal(0))
    started = sum(1 for p in due if p.started_on)
    completed = sum(1 for p in projects if p.completed_on)
    return Figures(
        count=len(projects),
        started=started,
        start_rate=_rate(Decimal(started), Decimal(len(due))),
        investment_wan=invested,
        investment_rate=_rate(invested, planned),
        completed=completed,
        completion_rate=_rate(Decimal(completed), Decimal(len(projects))),
    )


def _rate(part: Decimal, whole: Decimal) -> Decimal | None:
    """A rate as computed; rounded where it is printed, to the plan's precision."""
    return part * HUNDRED / whole if whole else None


def _due(kind: ProjectType, projects: Sequence[ProjectProgress], as_of: date | None) -> list[ProjectProgress]:
    if not kind.starts:
        return []
    if kind.start_rate_of == "all" or as_of is None:
        return list(projects)
    return [p for p in projects if planned_by(p.planned_start, as_of)]


def worded_line(
    label: str,
    wording: PortfolioLines,
    projects: Sequence[ProjectProgress],
    as_of: date | None = None,
    precision: Precision | None = None,
) -> str:
    """The key projects as the plan words them: the total sentence, then one per kind of project
    (`。其中，新开工项目40个，开工28个，…；续建项目72个，…`). With kinds, only the kinds that start
    make the total's start rate (a 续建 project is not "started" this year)."""
    kinds = [(kind, [p for p in projects if p.project_type == kind.name]) for kind in wording.types]
    due = [p for kind, members in kinds for p in _due(kind, members, as_of)] if kinds else list(projects)
    total = figures_of(projects, due)
    places = precision or SEED_PRECISION
    line = _sentence(f"{total.count}个{label}", label, wording.figures, total, wording.rate_label, places)
    parts = [
        _sentence(
            f"{kind.name}项目{len(members)}个，",
            f"{kind.name}项目",
            kind.figures,
            figures_of(members, _due(kind, members, as_of)),
            wording.rate_label,
            places,
        )
        for kind, members in kinds
        if members
    ]
    return line + ("。其中，" + "；".join(parts) if parts else "")


SEED_PRECISION = Precision()


def scope_lines(
    wording: PortfolioLines,
    projects: Sequence[ProjectProgress],
    as_of: date | None = None,
    precision: Precision | None = None,
) -> list[str]:
    """A line per scope (by level or stage): `省级重点项目12个，完成投资7.3亿元，投资完成率65.2%`. Its
    start rate counts the projects that start this year (not a kind already under way, 续建)."""
    under_way = {kind.name for kind in wording.types if not kind.starts}
    lines = []
    for scope in wording.scopes:
        members = [p for p in projects if scope.name in p.scopes]
        if not members:
            continue
        starting = [p for p in members if p.project_type not in under_way]
        numbers = figures_of(members, _scope_due(scope, starting, as_of))
        words = scope.words
        counted = f"{words}{len(members)}个，"
        lines.append(_sentence(counted, words, scope.figures, numbers, wording.rate_label, precision or SEED_PRECISION))
    return lines


def _scope_due(scope: ProjectScope, projects: list[ProjectProgress], as_of: date | None) -> list[ProjectProgress]:
    if scope.start_rate_of == "all" or as_of is None:
        return projects
    return [p for p in projects if planned_by(p.planned_start, as_of)]


def _sentence(
    counted: str, uncounted: str, figures: Sequence[Figure], numbers: Figures, rate_label: str, places: Precision
) -> str:
    """`112个区级重点项目开工68个，开工率60.7%，…`; without a count: `市级重点项目完成投资X亿元、投资进度Y%`."""
    words = {
        "started": f"开工{numbers.started}个",
        "start_rate": _percent("开工率", numbers.start_rate, places.start_rate),
        "investment": f"完成投资{fmt.money_wan(numbers.investment_wan, places.amounts_yi)}",
        "investment_rate": _percent(rate_label, numbers.investment_rate, places.investment_rate),
        "completed": f"建成投产{numbers.completed}个",
        "completion_rate": _percent("竣工率", numbers.completion_rate, places.completion_rate),
    }
    said = [text for figure in figures if figure != "count" and (text := words[figure])]
    if "count" in figures:
        return (counted + "，".join(said)).rstrip("，")
    return uncounted + "、".join(said)


def _percent(label: str, rate: Decimal | None, places: int) -> str:
    """A rate as the plan prints it, above 100% as it is (投资完成率112.4%)."""
    return f"{label}{fmt.fixed(rate, places)}%" if rate is not None else ""


def summarize(
    label: str,
    as_of: date,
    projects: list[ProjectProgress],
    wording: PortfolioLines | None = None,
    precision: Precision | None = None,
) -> Portfolio:
    """The portfolio's totals from its projects (the seed's figures; `wording` words the line)."""
    total = len(projects)
    started = sum(1 for p in projects if p.started_on)
    invested = sum((p.investment_wan for p in projects), Decimal(0))
    planned = sum((p.planned_investment_wan for p in projects), Decimal(0))
    return Portfolio(
        label=label,
        total=total,
        started=started,
        start_rate=fmt.round1(Decimal(started) * HUNDRED / total) if total else Decimal(0),
        planned_to_start=sum(1 for p in projects if planned_by(p.planned_start, as_of)),
        investment_wan=invested,
        planned_investment_wan=planned,
        investment_rate=fmt.round1(invested * HUNDRED / planned) if planned else Decimal(0),
        completed=sum(1 for p in projects if p.completed_on),
        projects=tuple(projects),
        wording=wording,
        as_of=as_of,
        precision=precision,
    )


def projects_in_plan_order(state: PlanState) -> list[ProjectState]:
    """The projects in the plan's order, then those the plan does not list (reported all the
    same) by id. Picked in the plan's order, not sorted: every read-model commit asks (subject
    ids are unique in a plan, so each project comes once)."""
    projects = state.projects
    listed = [p for spec in state.plan.projects if (p := projects.get(spec.id))] if state.plan else []
    if len(listed) < len(projects):
        planned = {p.id for p in listed}
        listed += sorted((p for p in projects.values() if p.id not in planned), key=lambda p: p.id)
    return listed


@dataclass(slots=True)  # not frozen: the alerts make one at every report of a project, and frozen costs 2 µs more
class ProjectStanding(_OverdueOrLagging):
    """Where a key project stands as of a date: what its judgement and the portfolio's sums take
    from it. `evaluate_project` without the wording; the alerts judge one at every report."""

    started_on: date | None
    completed_on: date | None
    investment_wan: Decimal
    investment_rate: Decimal | None
    schedule_progress: Decimal | None
    months_overdue: int | None
    reported_month: int | None
    status: Status


def project_standing(
    project: ProjectState,
    spec: Project,
    as_of: date,
    year: int,
    thresholds: Thresholds,
    under_way: bool = False,
) -> ProjectStanding:
    """Judge a project as of `as_of` from its state: the investment of `year` reported by then."""
    started = project.started_on if project.started_on and project.started_on <= as_of else None
    completed = project.completed_on if project.completed_on and project.completed_on <= as_of else None
    counted = _counted_investment(project, year, as_of)
    invested = sum((amount for _, amount in counted), Decimal(0))
    planned = spec.planned_investment_wan
    rate = invested * HUNDRED / planned if planned else None
    # judged through the last month its investment was reported for: a report that is late is
    # an overdue-data question, not a lagging project
    reported = max((month for month, _ in counted), default=None)
    progress = _schedule_progress(spec, reported, year) if reported is not None else None
    late = _months_since_planned_start(spec.planned_start, as_of)
    # a project of a kind already under way (续建) is never "not started": it has no start this year
    months_overdue = late if started is None and not under_way and late >= 0 else None
    rules = thresholds.projects
    if completed:
        status: Status = "met"
    elif months_overdue is not None:
        status = (
            "off_track"
            if months_overdue >= rules.off_track_after_months
            else "at_risk"
            if months_overdue >= rules.at_risk_after_months
            else "on_track"
        )
    elif started is None and not under_way:
        status = "not_due"
    elif rate is None or progress is None:
        status = "on_track"
    else:
        status = progress_status(rate, progress, thresholds)
    return ProjectStanding(started, completed, invested, rate, progress, months_overdue, reported, status)


def evaluate_project(
    project: ProjectState,
    spec: Project,
    as_of: date,
    year: int,
    thresholds: Thresholds,
    under_way: bool = False,
) -> ProjectProgress:
    """A project as the project list shows it as of `as_of`: where it stands, and what to check."""
    standing = project_standing(project, spec, as_of, year, thresholds, under_way)
    notes = _notes(spec, project, year, as_of, standing.investment_wan, thresholds.projects.excess_factor)
    return ProjectProgress(
        id=spec.id,
        name=spec.name,
        department=spec.department,
        category=spec.category,
        synthetic=spec.synthetic,
        planned_start=spec.planned_start,
        planned_completion=spec.planned_completion,
        planned_investment_wan=spec.planned_investment_wan,
        started_on=standing.started_on,
        completed_on=standing.completed_on,
        investment_wan=standing.investment_wan,
        investment_rate=standing.investment_rate,
        schedule_progress=standing.schedule_progress,
        months_overdue=standing.months_overdue,
        reported_month=standing.reported_month,
        status=standing.status,
        notes=notes,
        project_type=spec.project_type,
        scopes=spec.scopes,
        judgement=project_judgement(standing.status, standing.months_overdue, thresholds),
    )


def _notes(
    spec: Project, project: ProjectState, year: int, as_of: date, invested: Decimal, factor: Decimal
) -> tuple[str, ...]:
    notes = [
        f"{spec.name}{months_zh(later)}累计完成投资{fmt.money_wan(project.investment[later])}，"
        f"低于{months_zh(earlier)}累计的{fmt.money_wan(project.investment[earlier])}，请核实"
        for earlier, later in falling_ytd(project, year, as_of)
    ]
    planned = spec.planned_investment_wan
    if planned and invested > planned * factor:
        notes.append(
            f"{spec.name}完成投资{fmt.money_wan(invested)}，为年度计划投资{fmt.money_wan(planned)}的"
            f"{fmt.round1(invested * HUNDRED / planned):f}%，超过{fmt.plain(factor)}倍，请核实报送口径"
        )
    return tuple(notes)


def months_zh(text: str) -> str:
    """A year-to-date range as reports print it: 2025-01..2025-06 → 1—6月, 2025-01..2025-01 → 1月."""
    last = Period.parse(text).last_month
    return f"1—{last}月" if last > 1 else "1月"


def _absolute_months(as_of: date) -> int:
    return as_of.year * 12 + completed_months(as_of, as_of.year)


def planned_by(planned_start: str, as_of: date) -> bool:
    """Has the planned start month ended by `as_of` (the project is due to have started)?"""
    return _months_since_planned_start(planned_start, as_of) >= 0


def _months_since_planned_start(planned_start: str, as_of: date) -> int:
    """Whole months after the planned start month that have ended by `as_of`; -1 while that
    month itself has not ended (0 = the month has just ended)."""
    month = Period.parse(planned_start)
    return _absolute_months(as_of) - (month.year * 12 + month.last_month)


def _schedule_progress(spec: Project, months_done: int, year: int) -> Decimal | None:
    """Share of the project's months within the plan year that `months_done` covers (its own
    序时进度), None if the project has no months in the plan year."""
    start, end = Period.parse(spec.planned_start), Period.parse(spec.planned_completion)
    first = 1 if start.year < year else start.last_month if start.year == year else None
    last = 12 if end.year > year else end.last_month if end.year == year else None
    if first is None or last is None or last < first:
        return None
    elapsed = min(max(months_done - first + 1, 0), last - first + 1)
    return Decimal(elapsed) * HUNDRED / (last - first + 1)


def reported_months(project: ProjectState, year: int, as_of: date) -> int | None:
    """The last month of `year` (by as_of) the project's investment was reported for."""
    return max((month for month, _ in _counted_investment(project, year, as_of)), default=None)


def _counted_investment(project: ProjectState, year: int, as_of: date) -> list[tuple[int, Decimal]]:
    """(last month, 万元) of the project's investment reports that count towards its total
    (`counted_investment_periods`)."""
    return [
        (Period.parse(text).last_month, project.investment[text])
        for text in counted_investment_periods(project, year, as_of)
    ]


def counted_investment_periods(project: ProjectState, year: int, as_of: date) -> list[str]:
    """The periods (as kept by the fold) of the project's investment reports of `year` ended by
    `as_of` that count towards its total: the latest year-to-date figure (it holds every month up
    to its end), and the period amounts after it. Summing every report would count a month again in
    each later 累计. The provenance of a project's total names exactly these."""
    latest: tuple[str, Period] | None = None
    periods: list[tuple[str, Period]] = []
    for text in project.investment:
        period = Period.parse(text)
        if period.year != year or period.end > as_of:
            continue
        if period.kind == "ytd":
            if latest is None or period.last_month > latest[1].last_month:
                latest = (text, period)
        else:
            periods.append((text, period))
    through = latest[1].last_month if latest else 0
    counted = [text for text, p in periods if p.last_month - p.span_months + 1 > through]
    return [latest[0], *counted] if latest else counted


def falling_ytd(project: ProjectState, year: int, as_of: date) -> list[tuple[str, str]]:
    """Year-to-date figures of `year` ended by `as_of` lower than an earlier month's: (earlier, later)
    ranges. Kept, not refused (docs/design/domain.md): the later may correct the earlier."""
    ranges = sorted(
        (period, amount)
        for text, amount in project.investment.items()
        if (period := Period.parse(text)).kind == "ytd" and period.year == year and period.end <= as_of
    )
    return [(earlier.text, later.text) for (earlier, before), (later, after) in pairwise(ranges) if after < before]
