"""The execution report's content, as of a date: main table, further targets, key projects.

Pure: `build_report(state, as_of)` evaluates every indicator and the portfolio from the fold.
Rendering (text, Markdown, JSON, HTML, XLSX) lives in services.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from events.alerts import Severity
from events.periods import completed_months, period_end
from events.plan import Indicator, PortfolioLines, Precision
from events.positions import position_key
from events.targets import RelativeTarget, Target
from projections.evaluate import (
    DASH,
    MISSED,
    Evaluation,
    Status,
    evaluate,
    evaluate_status,
    growth_of,
    judged_observations,
    with_level,
)
from projections.how_judged import how_judged
from projections.judgement import NO_RUN, Judgement, Run, judge, run_ending, run_severity
from projections.portfolio import Portfolio, ProjectProgress, evaluate_project, projects_in_plan_order, summarize
from projections.state import IndicatorState, Observation, PlanState, ProjectState


@dataclass(frozen=True)
class IndicatorRow:
    indicator: Indicator
    department_name: str
    target_text: str  # the target in force on as_of, as the report words it
    evaluation: Evaluation
    judgement: Judgement  # the light, the alert's severity and the wording (projections.judgement)
    judged_as: str  # 考核方式: how the target in force is judged, in Chinese (projections.how_judged)
    # The read model's renderings of the row, kept with it (projections.readmodel): a
    # ReportBuilder reuses a row while its inputs are unchanged, so a live projector renders an
    # unchanged row once.
    memo: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        """The row label the report prints, numbered in the main table: 1﹒地区生产总值."""
        spec = self.indicator
        return f"{spec.order}﹒{spec.name}" if spec.is_main else spec.name


@dataclass(frozen=True)
class PlanReport:
    plan_id: str
    plan_name: str
    region: str
    year: int
    as_of: date
    main: tuple[IndicatorRow, ...]
    sections: tuple[tuple[str, tuple[IndicatorRow, ...]], ...]  # further targets, in plan order
    portfolio: Portfolio

    @property
    def months(self) -> int:
        return completed_months(self.as_of, self.year)

    @property
    def column(self) -> str:
        """The heading of the actuals column: 上半年完成, 1—9月完成, 全年完成."""
        return period_column(self.months)

    @property
    def missed(self) -> list[IndicatorRow]:
        """Main indicators not reaching their targets (the report's part 二 list)."""
        return [row for row in self.main if row.evaluation.missed]

    @property
    def further_missed(self) -> list[IndicatorRow]:
        return [row for _, rows in self.sections for row in rows if row.evaluation.missed]

    def rows(self) -> list[IndicatorRow]:
        return [*self.main, *(row for _, rows in self.sections for row in rows)]


def period_column(months: int) -> str:
    if months == 6:
        return "上半年完成"
    if months == 12:
        return "全年完成"
    if months <= 1:
        return "1月完成"
    return f"1—{months}月完成"


def data_through(state: PlanState) -> date:
    """The end of the latest month of the plan year that any indicator or project reported on.
    It is the default `as_of` of a report: deterministic from the log, so a live read model and
    a fold of the log agree on it."""
    if state.plan is None:
        raise ValueError(f"plan {state.plan_id!r} has not been published")
    year = state.plan.year
    return state.latest_end.get(year, date(year, 1, 1))


def evaluate_indicator(
    state: PlanState, indicator: Indicator, as_of: date, memo: PeriodMemo | None = None
) -> IndicatorRow:
    """The indicator's row on `as_of`; a `memo` kept by the caller spares judging again the
    periods of its run whose values did not change."""
    plan = state.plan
    assert plan is not None
    current = state.indicator(indicator.id)
    target = current.target_at(as_of) or indicator.target
    evaluation = _evaluate_against(state, indicator, target, current.observations, as_of)
    rules = plan.thresholds.alerts
    run = indicator_run(state, indicator, as_of, evaluation, memo)
    judgement = judge(evaluation.status, run, rules.escalate_after_periods)
    text = target.text if target is not None else DASH
    judged_as = how_judged(plan, indicator, target)
    return IndicatorRow(indicator, plan.department_name(indicator.department), text, evaluation, judgement, judged_as)


def _evaluate_against(
    state: PlanState,
    indicator: Indicator,
    target: Target | None,
    observations: Mapping[str, Observation],
    as_of: date,
) -> Evaluation:
    """The indicator judged on `as_of` against `target`, from `observations` (a level reported
    with its growth: judged on the growth when its target is a rate)."""
    plan = state.plan
    assert plan is not None
    reference = plan.reference_of(indicator) if target is not None else None
    yi_places = plan.precision.amounts_yi if plan.precision else None
    evaluation = evaluate(
        indicator.judged_target(target),
        judged_observations(indicator, target, observations),
        as_of,
        year=plan.year,
        unit="%" if indicator.judged_on_growth(target) else indicator.unit,
        frequency=indicator.frequency,
        thresholds=plan.thresholds,
        reference_id=reference,
        reference_observations=reference_values(state, reference),
        yi_places=yi_places,
    )
    if indicator.with_growth:
        evaluation = with_level(evaluation, observations, indicator.unit, yi_places)
    return evaluation


def _status_against(
    state: PlanState,
    indicator: Indicator,
    target: Target | None,
    observations: Mapping[str, Observation],
    as_of: date,
    margin: Decimal = Decimal(0),
) -> Status:
    """`_evaluate_against(…).status`, without the texts."""
    plan = state.plan
    assert plan is not None
    relative = isinstance(target, RelativeTarget)  # only a relative target reads its reference's values
    return evaluate_status(
        indicator.judged_target(target),
        judged_observations(indicator, target, observations),
        as_of,
        year=plan.year,
        frequency=indicator.frequency,
        thresholds=plan.thresholds,
        reference_observations=reference_values(state, plan.reference_of(indicator)) if relative else None,
        margin=margin,
    )


def _value_statuses(
    state: PlanState, indicator: Indicator, target: Target | None, text: str, observation: Observation, margin: Decimal
) -> StatusPair:
    """A period's value judged as of the period's end: (its status, its status judged `margin`
    worse). Judged worse, a missed value is missed still, and a run reads the worse status only
    of a value within its target: a missed one's own stands for it."""
    only, end = {text: observation}, period_end(text)
    status = _status_against(state, indicator, target, only, end)
    return status, status if status in MISSED else _status_against(state, indicator, target, only, end, margin)


def reference_values(state: PlanState, reference: str | None) -> Mapping[str, Observation] | None:
    """The values a relative target compares against: the referenced indicator's, or its growth
    rates when it is reported as a level and its growth (高于GDP增速 compares growth with growth)."""
    if not reference:
        return None
    observations = state.indicator(reference).observations
    spec = state.plan.indicator(reference) if state.plan else None
    return growth_of(observations) if spec is not None and spec.with_growth else observations


class PeriodMemo:
    """A caller's cache between calls (not state): the statuses of each period's value, the
    input of an indicator's run. A period's value judged as of its end depends only on that value
    (an `Observation` is replaced, never changed), the target then in force, the plan and a
    relative target's referenced values; so after a report only its own period is judged again,
    not every period of the year, and the status alone needs no wording."""

    __slots__ = ("_judged", "_state")

    def __init__(self) -> None:
        self._state: PlanState | None = None
        # (indicator, period) → (plan, value, target, reference's last event, margin, statuses)
        self._judged: dict[tuple[str, str], tuple[object, Observation, object, str | None, Decimal, StatusPair]] = {}

    def statuses(
        self, state: PlanState, indicator: Indicator, periods: Iterable[JudgedPeriod], margin: Decimal
    ) -> Iterator[StatusPair]:
        """(status, status judged `margin` worse) of each of `periods`' values, judged as of the
        period's end against the target given with it — a missed value's own status twice (missed
        either way; the runs read the worse one only of a value within its target); each judged
        as it is asked for, so a reader that stops early (`run_ending`) judges no further."""
        if self._state is not state:
            self._state, self._judged = state, {}
        plan = state.plan
        reference = plan.reference_of(indicator) if plan is not None else None
        seen = state.indicator(reference).last_position if reference else None
        judged = self._judged
        for text, observation, target in periods:
            key = (indicator.id, text)
            held = judged.get(key)
            if held is not None and held[0] is plan and held[1] is observation and held[2] is target:
                if held[3] == seen and held[4] == margin:
                    yield held[5]
                    continue
            pair = _value_statuses(state, indicator, target, text, observation, margin)
            judged[key] = (plan, observation, target, seen, margin, pair)
            yield pair


StatusPair = tuple[Status, Status]
JudgedPeriod = tuple[str, Observation, Target | None]  # a period, its value, the target in force at its end


def indicator_run(
    state: PlanState, indicator: Indicator, as_of: date, evaluation: Evaluation, memo: PeriodMemo | None = None
) -> Run:
    """The indicator's run of missed data periods up to the one `evaluation` judged (hysteresis
    included, projections.judgement): each period's value judged as of the period's end, as
    the trend (projections.series) shows it. Looked back only when the value judged is missed,
    or back within its target by less than the margin."""
    plan = state.plan
    assert plan is not None
    rules = plan.thresholds.alerts
    if evaluation.status not in MISSED and evaluation.period is not None:
        current = state.indicator(indicator.id)
        target = current.target_at(as_of) or indicator.target
        strict = _status_against(state, indicator, target, current.observations, as_of, rules.resolve_margin)
        if strict not in MISSED:
            return NO_RUN
    elif evaluation.status not in MISSED:
        return NO_RUN
    current = state.indicator(indicator.id)
    periods = _latest_first(current, indicator, _chosen(current.observations, plan.year, as_of))
    statuses = (memo or PeriodMemo()).statuses(state, indicator, periods, rules.resolve_margin)
    return run_ending(statuses, rules.resolve_after_periods)


def indicator_severity(
    state: PlanState, indicator: Indicator, as_of: date, memo: PeriodMemo
) -> tuple[Severity | None, str | None]:
    """The alert severity of `evaluate_indicator(…).judgement` and the period judged, without the
    row's wording: the alerts judge every change by it and word only what they tell
    (projections.alerts). A value never reported is never missed: no severity."""
    plan = state.plan
    assert plan is not None
    current = state.indicator(indicator.id)
    chosen = _chosen(current.observations, plan.year, as_of)
    if not chosen:
        return None, None
    rules = plan.thresholds.alerts
    target = current.target_at(as_of) or indicator.target
    if indicator.judged_on_growth(target) and any(o.growth is None for o in current.observations.values()):
        row = evaluate_indicator(state, indicator, as_of, memo)  # judged on the latest growth reported
        return row.judgement.severity, row.evaluation.period
    text, observation = chosen[max(chosen)]
    [(status, strict)] = memo.statuses(state, indicator, [(text, observation, target)], rules.resolve_margin)
    if status not in MISSED and strict not in MISSED:
        return None, observation.period
    statuses = memo.statuses(state, indicator, _latest_first(current, indicator, chosen), rules.resolve_margin)
    graded = run_severity(run_ending(statuses, rules.resolve_after_periods), rules.escalate_after_periods)
    return (graded[0] if graded else None), observation.period


def _chosen(observations: Mapping[str, Observation], year: int, as_of: date) -> dict[date, tuple[str, Observation]]:
    """The values judged, by their period's end: periods of `year` ended by `as_of`; of periods
    ending the same day (2025-06 and 2025-Q2) the latest recorded, as `evaluate.latest` picks."""
    chosen: dict[date, tuple[str, Observation]] = {}
    for text, observation in observations.items():
        end = period_end(text)  # one cached lookup; a period lies within its end's year
        if end.year != year or end > as_of:
            continue
        held = chosen.get(end)
        if held is None or position_key(observation.position) > position_key(held[1].position):
            chosen[end] = (text, observation)
    return chosen


def _latest_first(
    current: IndicatorState, indicator: Indicator, chosen: dict[date, tuple[str, Observation]]
) -> Iterator[JudgedPeriod]:
    """The values of a run, the latest period first, each with the target in force at its
    period's end; as they are asked for (a run is read back only as far as it goes)."""
    revised = bool(current.target_changes)  # never revised: the plan's target throughout
    target = current.plan_target or indicator.target
    for end in sorted(chosen, reverse=True):
        yield (*chosen[end], (current.target_at(end) or indicator.target) if revised else target)


class ReportBuilder:
    """`build_report` with a memory: an indicator row or project whose inputs (as_of, the
    plan in force, the subject's last event, a relative target's reference) are unchanged since
    the previous build is reused, and so is the portfolio while none of its projects changed,
    so a live projector re-judges (and re-renders) only what an event touched."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[tuple[object, ...], IndicatorRow]] = {}
        self._periods = PeriodMemo()  # a changed row judges again only its changed periods
        self._projects: dict[str, tuple[tuple[object, ...], ProjectProgress]] = {}
        self._portfolio: tuple[tuple[object, ...], Portfolio] | None = None

    def build(self, state: PlanState, as_of: date | None = None) -> PlanReport:
        plan = state.plan
        if plan is None:
            raise ValueError(f"plan {state.plan_id!r} has not been published")
        as_of = as_of or data_through(state)
        rows = [self._row(state, indicator, as_of) for indicator in plan.indicators]
        projects = [
            self._project(state, project, as_of)
            for project in projects_in_plan_order(state)
            if project.spec is not None
        ]
        main = tuple(sorted((r for r in rows if r.indicator.is_main), key=lambda r: r.indicator.order))
        sections: dict[str, list[IndicatorRow]] = {}
        for row in rows:
            if not row.indicator.is_main:
                sections.setdefault(row.indicator.section, []).append(row)
        return PlanReport(
            plan_id=plan.id,
            plan_name=plan.name,
            region=plan.region,
            year=plan.year,
            as_of=as_of,
            main=main,
            sections=tuple(
                (name, tuple(sorted(items, key=lambda r: r.indicator.order))) for name, items in sections.items()
            ),
            portfolio=self._summarize(plan.projects_label, as_of, projects, plan.portfolio, plan.precision),
        )

    def _summarize(
        self,
        label: str,
        as_of: date,
        projects: list[ProjectProgress],
        wording: PortfolioLines | None,
        precision: Precision | None,
    ) -> Portfolio:
        key = (label, as_of, len(projects), wording, precision)
        cached = self._portfolio
        if cached and cached[0] == key and all(a is b for a, b in zip(cached[1].projects, projects, strict=True)):
            return cached[1]
        portfolio = summarize(label, as_of, projects, wording, precision)
        self._portfolio = (key, portfolio)
        return portfolio

    def _row(self, state: PlanState, indicator: Indicator, as_of: date) -> IndicatorRow:
        key = row_inputs(state, indicator, as_of)
        cached = self._rows.get(indicator.id)
        if cached and cached[0] == key:
            return cached[1]
        row = evaluate_indicator(state, indicator, as_of, self._periods)
        self._rows[indicator.id] = (key, row)
        return row

    def _project(self, state: PlanState, project: ProjectState, as_of: date) -> ProjectProgress:
        plan = state.plan
        assert plan is not None and project.spec is not None
        key = project_inputs(state, project, as_of)
        cached = self._projects.get(project.id)
        if cached and cached[0] == key:
            return cached[1]
        progress = evaluate_project(
            project, project.spec, as_of, plan.year, plan.thresholds, plan.under_way(project.spec)
        )
        self._projects[project.id] = (key, progress)
        return progress


def row_inputs(state: PlanState, indicator: Indicator, as_of: date) -> tuple[object, ...]:
    """What an indicator's row is a function of: as_of, the plan in force, the indicator's last
    event and its reference's (a relative target). The same inputs give the same row."""
    assert state.plan is not None
    reference = state.plan.reference_of(indicator)
    return (
        as_of,
        state.plan_position,
        state.indicator(indicator.id).last_position,
        state.indicator(reference).last_position if reference else None,
    )


def project_inputs(state: PlanState, project: ProjectState, as_of: date) -> tuple[object, ...]:
    """What a key project's line is a function of: as_of, the plan in force, its last event."""
    return (as_of, state.plan_position, project.last_position)


def build_report(state: PlanState, as_of: date | None = None) -> PlanReport:
    return ReportBuilder().build(state, as_of)


def missed_sentence(
    names: Sequence[str], unreported: Sequence[str] = (), reported: bool = True, judged: bool = True
) -> str:
    """The report's sentence on the main indicators (named) that missed their targets; those due
    and `unreported` are named as 暂无数据, and with nothing `reported` at all nothing is judged met.
    `reported` counts the indicators with targets only; without any (`judged` false) none is judged."""
    if not judged:
        return "主要指标均未设年度目标，仅作监测。"
    if not reported:
        return "主要指标暂无数据，尚不能判断是否达到年初预计目标要求。"
    missing = f"{'、'.join(unreported)}暂无数据。" if unreported else ""
    if not names:
        return ("已报送的主要指标均达到年初预计目标要求；" + missing) if missing else "主要指标均达到年初预计目标要求。"
    sentence = "、".join(names) + "没有达到年初预计目标要求。"
    return sentence[:-1] + "；" + missing if missing else sentence


def months_label(last_month: int) -> str:
    """The months a year-to-date figure covers, as reports name them: 一季度, 上半年, 1—5月, 全年."""
    return {1: "1月", 3: "一季度", 6: "上半年", 9: "前三季度", 12: "全年"}.get(last_month, f"1—{last_month}月")
