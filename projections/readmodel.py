"""The read model: the typed shapes the read side serves. Pure.

One shape each for a plan's summary (the main table, the key-project figures, the missed
targets), an indicator (and its detail: every period's value, target changes) and a project (and
its detail: investment by period). `planwatch table --format json`, the stored read model in
Redis (`summary`, `indicator:{id}`, `project:{id}`) and the HTTP API all serve these, so their
fields agree by construction; the monthly rollup (projections.rollup) takes its rows from them.

The models hold JSON values — numbers as int or float (whole numbers as ints: 5, not 5.0),
dates, strings — so they describe the JSON exactly and dump it without conversions. The
projector renders the summary at every commit, so the builders are built for speed: a model is
made by validating a dict (pydantic-core does that several times faster than `model_construct`,
a Python loop over the fields), and the summary of an indicator's row and of the portfolio are
memoised on them, which a `ReportBuilder` reuses while their inputs are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.alerts import Severity
from events.periods import Period, completed_months
from events.plan import Frequency
from projections.evaluate import STATUS_ZH, Evaluation, Status
from projections.formatting import round1
from projections.judgement import JUDGEMENT_ZH, LIGHT, Judgement, Light
from projections.portfolio import Portfolio, ProjectProgress, Stage
from projections.report import IndicatorRow, PlanReport, months_label
from projections.series import SeriesPoint
from projections.state import IndicatorState, Observation, ProjectState

Number = int | float  # a JSON number: whole numbers as ints
Qualifier = Literal["exact", "at_most", "at_least"]


def number(value: Decimal | None) -> Number | None:
    """Decimals as JSON numbers (reported statistics have few digits, so floats carry them exactly)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def one_decimal(value: Decimal | None) -> Number | None:
    """As the report rounds it (half up, one decimal), as a JSON number."""
    return number(round1(value)) if value is not None else None


def evaluation_numbers(evaluation: Evaluation) -> dict[str, Any]:
    """The numbers behind a judgement, as JSON numbers (the indicator views and alert notices carry them)."""
    return {
        "actual_value": number(evaluation.actual),
        "deviation_points": number(evaluation.deviation),
        "completion": number(evaluation.completion),
        "time_progress": number(evaluation.time_progress),
        "reference": evaluation.reference,
        "reference_value": number(evaluation.reference_value),
    }


class _ReadModel(BaseModel):
    # every field is in the JSON, defaults too: the serialization schema says so
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)


class _Judged(_ReadModel):
    """A view with a judgement's fields (projections.judgement)."""

    @model_validator(mode="before")
    @classmethod
    def _light_of_older_views(cls, data: Any) -> Any:
        """A view stored before lights were judged here: the status's own light."""
        if isinstance(data, dict) and "light" not in data and data.get("status") in LIGHT:
            return {**data, "light": LIGHT[data["status"]]}
        return data


STATUS = "the judgement: " + " | ".join(STATUS_ZH)
STATUS_IN_CHINESE = "the judgement as the report words it: " + ", ".join(STATUS_ZH.values())
JUDGED_IN_CHINESE = (
    "the status as the table, the alert list and the messages word it (projections.judgement): "
    + ", ".join(JUDGEMENT_ZH)
)
LIGHT_DESCRIPTION = (
    "the traffic light: the alert's severity when one fires (red for 红色预警 and 升级督办, yellow for 黄色预警), "
    "else the status's own (green met or on track, grey nothing due or reported)"
)
MONEY = "万元"


# ---- indicators ------------------------------------------------------------------------------


class IndicatorSummary(_Judged):
    """An indicator's row: the target in force and its judgement as of the report's date."""

    id: str
    name: str = Field(description="the Chinese name as the report prints it")
    label: str = Field(description="the row label the report prints, numbered in the main table: 1﹒地区生产总值")
    section: str = Field(description="the report section; 主要指标 is the main table")
    main: bool = Field(description="in the main table (主要指标)")
    order: int = Field(description="display order within its section")
    unit: str = Field(description="canonical unit of its values: %, 万元, 人 …")
    frequency: Frequency
    department: str = Field(description="the responsible department's id")
    department_name: str
    target: str = Field(description="the annual target in force on as_of, as the report words it: 6.5%左右")
    status: Status = Field(description="the value's own judgement: " + " | ".join(STATUS_ZH))
    status_zh: str = Field(description=JUDGED_IN_CHINESE)
    light: Light = Field(description=LIGHT_DESCRIPTION)
    severity: Severity | None = Field(default=None, description="the severity of its value alert; null: none fires")
    escalated: bool = Field(default=False, description="escalation raised the light above the status's own")
    periods_missed: int = Field(default=0, description="data periods missed running, up to the one judged")
    note: str = Field(
        default="", description="why the light is not the status's own: 升级：连续2期未达目标, 待恢复：…; or empty"
    )
    actual: str = Field(description="the value judged, as printed: 5.5%, 163.3亿元; - when there is none")
    deviation: str = Field(description="与目标± as printed: -1.0个百分点, 完成, -")
    period: str | None = Field(description="the period of the value judged: 2025-06, 2025-Q2")
    actual_value: Number | None = Field(
        description="the value judged, in the indicator's unit "
        "(for an indicator reported with its growth rate: the level)"
    )
    deviation_points: Number | None = Field(
        description="gap to the target in 个百分点 (cumulative forms: completion − time progress); positive is better"
    )
    completion: Number | None = Field(description="% of the annual target done (cumulative targets)")
    time_progress: Number | None = Field(description="序时进度: % of the year the value's period covers")
    reference: str | None = Field(description="relative targets: the indicator compared against")
    reference_value: Number | None = Field(description="relative targets: its value for the same period")
    growth: Number | None = Field(
        default=None,
        description="the growth rate (YoY %) reported beside the level, for an indicator reported with one "
        "(with_growth); a rate target is judged on it",
    )


class PeriodValue(_ReadModel):
    """An indicator's value for one period; a later report for the period revises it."""

    period: str
    value: Number
    qualifier: Qualifier = Field(description="at_most / at_least when only a bound was published: 5.5%以内")
    revision: int = Field(description="1 for the first report for the period, 2 for its first correction, …")
    previous: Number | None = Field(description="the value this one replaced")
    recorded_at: str | None = Field(description="when the event store recorded it, ISO 8601")
    position: str = Field(description="the event's stream position")
    growth: Number | None = Field(
        default=None, description="the growth rate (YoY %) reported beside the level (indicators with_growth)"
    )


class TargetRevision(_ReadModel):
    """A revision of the annual target, in force from the start of `period`."""

    period: str
    target: str = Field(description="the revised target, as the report words it")
    reason: str
    position: str = Field(description="the event's stream position")


class IndicatorDetail(IndicatorSummary):
    """An indicator's row, every period's value (with revisions) and its target changes."""

    stretch: Number | None = Field(
        default=None,
        description="a floor-and-stretch target's 力争 figure (增长6%以上，力争7% → 7): shown, never judged; "
        "the row is judged against the floor",
    )
    judged_as: str = Field(
        default="",
        description="考核方式: how the target in force is judged, in Chinese (e.g. 每期数值不低于8%); "
        "empty in a view stored before it was kept",
    )
    history: list[PeriodValue] = Field(description="every period's latest value, in period order")
    target_changes: list[TargetRevision] = Field(description="in log order")
    series: list[SeriesPoint] = Field(
        default_factory=list,
        description="the trend: each period's value judged as of its end against the target then in force "
        "(cumulative tasks: completion against 序时进度), in period order, up to as_of",
    )


def _indicator_fields(row: IndicatorRow) -> dict[str, Any]:
    spec, evaluation = row.indicator, row.evaluation
    return {
        "id": spec.id,
        "name": spec.name,
        "label": row.label,
        "section": spec.section,
        "main": spec.is_main,
        "order": spec.order,
        "unit": spec.unit,
        "frequency": spec.frequency,
        "department": spec.department,
        "department_name": row.department_name,
        "target": row.target_text,
        "status": evaluation.status,
        **judgement_fields(row.judgement),
        "actual": evaluation.actual_text,
        "deviation": evaluation.deviation_text,
        "period": evaluation.period,
        **evaluation_numbers(evaluation),
        "growth": number(evaluation.growth),
    }


def judgement_fields(judgement: Judgement) -> dict[str, Any]:
    """The judgement's fields of a view (projections.judgement)."""
    return {
        "status_zh": judgement.status_zh,
        "light": judgement.light,
        "severity": judgement.severity,
        "escalated": judgement.escalated,
        "periods_missed": judgement.periods_missed,
        "note": judgement.note,
    }


def indicator_summary(row: IndicatorRow) -> IndicatorSummary:
    summary = row.memo.get("summary")
    if not isinstance(summary, IndicatorSummary):
        summary = row.memo["summary"] = IndicatorSummary.model_validate(_indicator_fields(row))
    return summary


def _period_value(observation: Observation) -> dict[str, Any]:
    recorded_at = observation.recorded_at
    return {
        "period": observation.period,
        "value": number(observation.value),
        "qualifier": observation.qualifier,
        "revision": observation.revision,
        "previous": number(observation.previous),
        "recorded_at": recorded_at.isoformat() if recorded_at else None,
        "position": observation.position,
        "growth": number(observation.growth),
    }


def indicator_detail(
    row: IndicatorRow, indicator: IndicatorState, series: Sequence[SeriesPoint] = ()
) -> IndicatorDetail:
    observations = sorted(indicator.observations.values(), key=lambda o: Period.parse(o.period))
    changes = [
        {"period": c.period, "target": c.target.text, "reason": c.reason, "position": c.position}
        for c in indicator.target_changes
    ]
    history = [_period_value(o) for o in observations]
    return IndicatorDetail.model_validate(
        {
            **_indicator_fields(row),
            "stretch": number(row.evaluation.stretch),
            "judged_as": row.judged_as,
            "history": history,
            "target_changes": changes,
            "series": list(series),
        }
    )


# ---- projects --------------------------------------------------------------------------------


class ProjectSummary(_Judged):
    """A key project as of the report's date: started, invested, on schedule."""

    id: str
    name: str
    department: str = Field(description="the owning department's id")
    category: str = Field(description="工业, 基础设施, 社会民生 …")
    synthetic: bool = Field(description="a demo project not named in the source report")
    stage: Stage
    status: Status = Field(
        description="the traffic light: start delay for projects not started, investment pace for the others; " + STATUS
    )
    status_zh: str = Field(description=JUDGED_IN_CHINESE)
    light: Light = Field(description=LIGHT_DESCRIPTION)
    severity: Severity | None = Field(default=None, description="the severity of its alert; null: none fires")
    escalated: bool = Field(default=False, description="escalation raised the light above the status's own")
    periods_missed: int = Field(default=0, description="months overdue to start, counted as the alert counts them")
    note: str = Field(default="", description="why the light is not the status's own: 升级：连续4期未达目标; or empty")
    planned_start: str = Field(description="the month it is planned to start, YYYY-MM")
    planned_completion: str = Field(description="the month it is planned to be completed, YYYY-MM")
    planned_investment_wan: Number = Field(description=f"investment planned for the plan year, {MONEY}")
    started_on: date | None
    completed_on: date | None
    investment_wan: Number = Field(description=f"investment completed in the plan year by as_of, {MONEY}")
    investment_rate: Number | None = Field(description="% of the year's planned investment, one decimal")
    schedule_progress: Number | None = Field(
        description="% of the project's months this year covered by its latest investment report, one decimal"
    )
    overdue: bool = Field(description="not started after its planned start month ended")
    months_overdue: int | None = Field(description="whole months since the planned start month ended, if overdue")
    lagging: bool = Field(description="started, and its investment is behind its schedule")


class ProjectDetail(ProjectSummary):
    """A key project and its investment per period."""

    investment_by_period: dict[str, Number] = Field(description=f"{MONEY} completed in each period, in period order")


class ProjectDetailWithEvents(ProjectDetail):
    """A key project, its investment per period and its events from the log."""

    events: list[dict[str, Any]] = Field(description="the project's events in log order, each with its `position`")


def _project_fields(project: ProjectProgress) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "department": project.department,
        "category": project.category,
        "synthetic": project.synthetic,
        "stage": project.stage,
        "status": project.status,
        **judgement_fields(project.judged),
        "planned_start": project.planned_start,
        "planned_completion": project.planned_completion,
        "planned_investment_wan": number(project.planned_investment_wan),
        "started_on": project.started_on,
        "completed_on": project.completed_on,
        "investment_wan": number(project.investment_wan),
        "investment_rate": one_decimal(project.investment_rate),
        "schedule_progress": one_decimal(project.schedule_progress),
        "overdue": project.overdue,
        "months_overdue": project.months_overdue,
        "lagging": project.lagging,
    }


def project_summary(project: ProjectProgress) -> ProjectSummary:
    return ProjectSummary.model_validate(_project_fields(project))


def project_detail(project: ProjectProgress, state: ProjectState) -> ProjectDetail:
    by_period = sorted(state.investment.items(), key=lambda item: Period.parse(item[0]))
    investment = {period: number(amount) for period, amount in by_period}
    return ProjectDetail.model_validate({**_project_fields(project), "investment_by_period": investment})


# ---- the portfolio and the plan --------------------------------------------------------------


class OverdueProject(_ReadModel):
    id: str
    name: str
    months_overdue: int


class LaggingProject(_ReadModel):
    id: str
    name: str


class PortfolioSummary(_ReadModel):
    """The key projects' figures: 开工率, 投资完成率, 建成投产, and which are overdue or lagging."""

    label: str = Field(description="what the plan calls its key projects: 区级重点项目")
    total: int
    started: int
    start_rate: Number = Field(description="开工率 %, one decimal")
    planned_to_start: int = Field(description="projects whose planned start month has ended by as_of")
    investment_wan: Number = Field(description=f"investment completed in the plan year by as_of, {MONEY}")
    planned_investment_wan: Number = Field(description=f"investment planned for the plan year, {MONEY}")
    investment_rate: Number = Field(description="投资完成率 %, one decimal")
    completed: int = Field(description="projects completed (建成投产) by as_of")
    line: str = Field(description="the report's sentence: 112个区级重点项目开工68个，开工率60.7%，…")
    completed_line: str = Field(description="the report's sentence on completions: 渝乐电子等26个项目建成投产")
    scope_lines: list[str] = Field(
        default_factory=list,
        description="a line per scope of projects the plan lists (portfolio.scopes), in its order: "
        "省级重点项目12个，完成投资7.3亿元，投资完成率65.2%",
    )
    overdue: list[OverdueProject] = Field(description="projects not started after their planned start month")
    lagging: list[LaggingProject] = Field(description="started projects whose investment is behind schedule")
    notes: list[str] = Field(
        default_factory=list,
        description="what to check, per project: a year-to-date figure below an earlier one, investment "
        "above the plan's excess factor times the year's plan (Chinese sentences)",
    )


def portfolio_summary(portfolio: Portfolio) -> PortfolioSummary:
    summary = portfolio.memo.get("summary")
    if not isinstance(summary, PortfolioSummary):
        summary = portfolio.memo["summary"] = _portfolio_summary(portfolio)
    return summary


def _portfolio_summary(portfolio: Portfolio) -> PortfolioSummary:
    return PortfolioSummary.model_validate(
        {
            "label": portfolio.label,
            "total": portfolio.total,
            "started": portfolio.started,
            "start_rate": number(portfolio.start_rate),
            "planned_to_start": portfolio.planned_to_start,
            "investment_wan": number(portfolio.investment_wan),
            "planned_investment_wan": number(portfolio.planned_investment_wan),
            "investment_rate": number(portfolio.investment_rate),
            "completed": portfolio.completed,
            "line": portfolio.line(),
            "completed_line": portfolio.completed_line(),
            "scope_lines": portfolio.scope_lines(),
            "overdue": [{"id": p.id, "name": p.name, "months_overdue": p.months_overdue} for p in portfolio.overdue],
            "lagging": [{"id": p.id, "name": p.name} for p in portfolio.lagging],
            "notes": portfolio.notes,
        }
    )


def earlier_months(period: str | None, year: int, months: int) -> int | None:
    """The last month of a row's period when it ends before the report's months (a row still
    showing June figures in a 1—9月 report), else None."""
    if period is None:
        return None
    parsed = Period.parse(period)
    return parsed.last_month if parsed.year == year and parsed.last_month < months else None


def printed_cells(summary: PlanSummary, row: IndicatorSummary) -> tuple[str, str, str, str]:
    """A main row as the report's table prints it: 指标 | 全年目标 | 上半年完成 | 与目标±."""
    months = completed_months(summary.as_of, summary.year)
    return (row.label, row.target, marked_actual(row.actual, row.period, summary.year, months), row.deviation)


def marked_actual(actual: str, period: str | None, year: int, months: int) -> str:
    """A row's figure as the table prints it: of an earlier period than the column, it says which —
    5.5%（上半年） in a 1—9月 column."""
    earlier = earlier_months(period, year, months)
    return f"{actual}（{months_label(earlier)}）" if earlier is not None else actual


def periods_note(periods: Sequence[str | None], year: int, months: int) -> str:
    """部分指标为上半年数据 when some of the main rows' `periods` end before the column's months; else empty."""
    earlier = {earlier_months(period, year, months) for period in periods} - {None}
    if not earlier:
        return ""
    return "部分指标为" + "、".join(months_label(m) for m in sorted(m for m in earlier if m is not None)) + "数据"


def period_note(report: PlanReport) -> str:
    """`periods_note` of a report's main table."""
    return periods_note([row.evaluation.period for row in report.main], report.year, report.months)


class PlanSummary(_ReadModel):
    """The execution report as of a date: every indicator's row, the key-project figures and the
    targets missed — the fields of `planwatch table --format json`."""

    plan_id: str
    plan_name: str
    region: str
    year: int
    as_of: date = Field(description="the date judged (valid time)")
    known_at: str | None = Field(description="what was known at (transaction time), if asked; ISO 8601")
    column: str = Field(description="the heading of the actuals column: 上半年完成, 1—9月完成")
    indicators: list[IndicatorSummary] = Field(description="the main table's rows in order, then the further targets")
    projects: PortfolioSummary
    missed: list[str] = Field(description="ids of the main indicators at risk or off track (the report's part 二)")
    further_missed: list[str] = Field(description="ids of the further targets at risk or off track")
    period_note: str = Field(
        default="",
        description="when main-table rows hold figures of earlier periods than the column: 部分指标为上半年数据",
    )


def plan_summary(report: PlanReport, known_at: str | None = None) -> PlanSummary:
    return PlanSummary.model_validate(
        {
            "plan_id": report.plan_id,
            "plan_name": report.plan_name,
            "region": report.region,
            "year": report.year,
            "as_of": report.as_of,
            "known_at": known_at,
            "column": report.column,
            "indicators": [indicator_summary(row) for row in report.rows()],
            "projects": portfolio_summary(report.portfolio),
            "missed": [row.indicator.id for row in report.missed],
            "further_missed": [row.indicator.id for row in report.further_missed],
            "period_note": period_note(report),
        }
    )
