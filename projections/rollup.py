"""The monthly rollup: the execution report for a month, as a document. Pure.

`build_rollup(state, period, ...)` turns the plan's state *as known at run time* into the
report the seed document contains, judged as of the month's last day: the main table, the
key-project line with the lagging and overdue projects named, the further targets by section
with completion against 序时进度, what is off track and whose it is, and what changed since the
previous rollup (statuses, alerts raised and resolved, statistics revised). Renderers
(Markdown, HTML, XLSX) work from the document alone.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from events.alerts import CHANGE_ZH, AlertNotice
from events.periods import Period, month_end
from projections.alerts import period_label
from projections.evaluate import MISSED
from projections.portfolio import ProjectProgress
from projections.provenance import SourceEvent
from projections.readmodel import indicator_summary, one_decimal, portfolio_summary, project_summary
from projections.report import IndicatorRow, ReportBuilder, missed_sentence, period_column
from projections.series import ChartKind, PortfolioPoint, SeriesPoint, chart_kind, indicator_series, portfolio_series
from projections.state import PlanState

_LIGHT_STATUS = {"red": "off_track", "yellow": "at_risk"}  # the status a light is drawn as


class _Judged(BaseModel):
    """A row or project with the one judgement's light and note (projections.judgement). A document
    written before they were kept has neither: it dumps (and hashes) as it was stored."""

    light: str | None = None  # red, yellow, green, grey
    note: str = ""  # why the light is not the status's own: 升级：连续2期未达目标

    @property
    def judged_status(self) -> str:
        """The status whose colour it is drawn in: its light's (an escalated row is red)."""
        return _LIGHT_STATUS.get(self.light or "", getattr(self, "status", ""))

    @model_serializer(mode="wrap")
    def _as_stored(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("light") is None:
            data.pop("light", None)
        if not data.get("note"):
            data.pop("note", None)
        return data


class RollupRow(_Judged):
    """An indicator's row as the rollup keeps it: the read model's `IndicatorSummary` without
    its plan bookkeeping (main, order, frequency, reference), figures as floats, the gap,
    completion and time progress rounded to one decimal as the report prints them."""

    id: str
    label: str  # as the table prints it: 1﹒地区生产总值
    name: str
    section: str
    unit: str
    department: str
    department_name: str
    target: str
    actual: str  # as printed: 5.5%, 163.3亿元, -
    deviation: str  # 与目标±: -1.0个百分点, 完成, -
    status: str
    status_zh: str  # the one judgement's wording (projections.judgement)
    period: str | None = None
    actual_value: float | None = None
    deviation_points: float | None = None
    completion: float | None = None  # % of the annual target (cumulative targets)
    time_progress: float | None = None  # 序时进度 % of the value's period


class RollupProject(_Judged):
    """A key project as the rollup keeps it: the read model's `ProjectSummary` with its
    department's and stage's names, without dates, figures as floats."""

    id: str
    name: str
    department: str
    department_name: str
    category: str
    stage: str  # not_started | started | completed
    stage_zh: str
    status: str
    status_zh: str
    planned_start: str
    planned_completion: str
    planned_investment_wan: float
    investment_wan: float
    investment_rate: float | None = None
    schedule_progress: float | None = None
    months_overdue: int | None = None
    lagging: bool = False
    synthetic: bool = False


class RollupPortfolio(BaseModel):
    """The read model's `PortfolioSummary` without the project lists (the rollup has its own)."""

    label: str
    total: int
    started: int
    start_rate: float
    investment_wan: float
    planned_investment_wan: float
    investment_rate: float
    completed: int
    line: str  # 112个区级重点项目开工68个，开工率60.7%，完成投资91亿元，投资完成率50.5%
    completed_line: str  # 渝乐电子等26个项目建成投产
    # a line per scope of projects (省级重点项目12个，…); left out while empty, so the documents of plans
    # without scopes (and their content hashes) are as before
    scope_lines: list[str] = Field(default_factory=list, exclude_if=lambda lines: not lines)


class OffTrack(BaseModel):
    kind: str  # indicator | project
    id: str
    name: str
    department_name: str
    status_zh: str
    detail_zh: str


class RollupChange(BaseModel):
    kind: str  # status | alert.raised | alert.escalated | alert.resolved | revised | value
    subject: str
    name: str
    before: str | None = None
    after: str | None = None
    detail_zh: str


class RollupTrend(BaseModel):
    """A main indicator's trend for the report's charts: each period's value judged as of its end
    (projections.series), and whether to draw it against the target or against 序时进度."""

    id: str
    label: str
    unit: str
    kind: ChartKind
    points: list[SeriesPoint]


class RollupSection(BaseModel):
    name: str
    rows: list[RollupRow]


class RollupDocument(BaseModel):
    plan_id: str
    plan_name: str
    region: str
    year: int
    period: str  # the month reported on, YYYY-MM
    title: str  # 荣昌区2025年1—6月国民经济和社会发展计划执行情况
    column: str  # 上半年完成, 1—9月完成
    as_of: date  # the month's last day
    known_at: datetime  # what was known when it was written (transaction time)
    version: int = 1
    compared_with: str | None = None  # "2025-05 v1", or "2025-06 v1" for a re-run
    main: list[RollupRow]
    sections: list[RollupSection]
    portfolio: RollupPortfolio
    projects: list[RollupProject]
    off_track: list[OffTrack]
    missed_sentence: str  # 地区生产总值、…没有达到年初预计目标要求。
    changes: list[RollupChange] = Field(default_factory=list)
    content_hash: str = ""
    # Added after the first documents were stored (those load with none and print no charts):
    trends: list[RollupTrend] = Field(default_factory=list, description="the main indicators' trends, for charts")
    portfolio_trend: list[PortfolioPoint] = Field(
        default_factory=list, description="the key projects month by month, for a chart"
    )
    sources: list[SourceEvent] = Field(
        default_factory=list, description="the events behind every row (the 数据来源 sheet); none in older documents"
    )

    def hash_content(self) -> str:
        """Hash of what the report says — not of when it was written or which version it is —
        so a re-run with nothing new is recognised as unchanged. The trends are drawn from the
        figures the report states and are left out, so a document keeps the hash it had before
        documents carried them."""
        body = self.model_dump(mode="json", exclude=UNHASHED)
        return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


# trends and sources are drawn from what the report states, the sources naming where each figure
# came from: a correction that leaves every printed figure as it was is not a new report
UNHASHED = {"known_at", "version", "compared_with", "changes", "content_hash", "trends", "portfolio_trend", "sources"}

STAGE_ZH = {"not_started": "未开工", "started": "在建", "completed": "建成投产"}


def build_rollup(
    state: PlanState,
    period: str,
    known_at: datetime,
    notices: list[AlertNotice] | None = None,
    previous: RollupDocument | None = None,
    version: int = 1,
) -> RollupDocument:
    """The rollup of `period` (a month) from `state` (the log as known at `known_at`).
    `notices` are the alert changes since `previous` was written; `previous` is the rollup to
    compare with (the month before, or this month's earlier version)."""
    plan = state.plan
    if plan is None:
        raise ValueError(f"plan {state.plan_id!r} has not been published")
    month = Period.parse(period)
    if month.kind != "month":
        raise ValueError(f"a rollup is for a month (YYYY-MM), not {period!r}")
    report = ReportBuilder().build(state, month.end)
    main = [_row(r) for r in report.main]
    sections = [RollupSection(name=name, rows=[_row(r) for r in rows]) for name, rows in report.sections]
    projects = [_project(p, plan.department_name(p.department)) for p in report.portfolio.projects]
    document = RollupDocument(
        plan_id=plan.id,
        plan_name=plan.name,
        region=plan.region,
        year=plan.year,
        period=period,
        title=f"{plan.region}{month.year}年{period_column(month.last_month).removesuffix('完成')}国民经济和社会发展计划执行情况",
        column=report.column,
        as_of=month.end,
        known_at=known_at,
        version=version,
        compared_with=f"{previous.period} v{previous.version}" if previous else None,
        main=main,
        sections=sections,
        portfolio=RollupPortfolio.model_validate(portfolio_summary(report.portfolio).model_dump()),
        projects=projects,
        off_track=_off_track(_all_rows(main, sections), projects),
        missed_sentence=missed_sentence(
            [row.name for row in main if row.status in MISSED],
            unreported=[row.name for row in main if row.status == "no_data" and row.actual_value is None],
            reported=any(row.actual_value is not None for row in main if row.status != "monitored"),
            judged=not main or any(row.status != "monitored" for row in main),
        ),
        trends=[_trend(state, row, month.end) for row in report.main],
        portfolio_trend=portfolio_series(state, month.end) if plan.projects else [],
    )
    told = _about_the_month(notices or [], month.end, plan.timezone)
    document.changes = _changes(document, state, previous, told)
    document.content_hash = document.hash_content()
    return document


def _row(row: IndicatorRow) -> RollupRow:
    """The row as the read model shows it, with the gap, completion and time progress rounded as
    the report prints them (one decimal)."""
    evaluation = row.evaluation
    rounded = {
        "deviation_points": one_decimal(evaluation.deviation),
        "completion": one_decimal(evaluation.completion),
        "time_progress": one_decimal(evaluation.time_progress),
    }
    return RollupRow.model_validate({**indicator_summary(row).model_dump(), **rounded})


def _trend(state: PlanState, row: IndicatorRow, as_of: date) -> RollupTrend:
    points = indicator_series(state, row.indicator, as_of)
    return RollupTrend(
        id=row.indicator.id, label=row.label, unit=row.indicator.unit, kind=chart_kind(points), points=points
    )


def _project(project: ProjectProgress, department_name: str) -> RollupProject:
    """The project as the read model shows it, with its department's and its stage's names."""
    named = {"department_name": department_name, "stage_zh": STAGE_ZH[project.stage]}
    return RollupProject.model_validate({**project_summary(project).model_dump(), **named})


def _off_track(rows: list[RollupRow], projects: list[RollupProject]) -> list[OffTrack]:
    found = [
        OffTrack(
            kind="indicator",
            id=row.id,
            name=row.name,
            department_name=row.department_name,
            status_zh=row.status_zh,
            detail_zh=f"全年目标{row.target}，完成{row.actual}，与目标{row.deviation}"
            + (f"；{row.note}" if row.note else ""),
        )
        for row in rows
        if row.status in MISSED
    ]
    for project in projects:
        if project.months_overdue is not None:
            detail = f"计划{project.planned_start}开工，逾期{project.months_overdue}个月未开工"
        elif project.lagging:
            detail = f"完成投资占年度计划{project.investment_rate}%，项目序时进度{project.schedule_progress}%"
        else:
            continue
        found.append(
            OffTrack(
                kind="project",
                id=project.id,
                name=project.name,
                department_name=project.department_name,
                status_zh=project.status_zh,
                detail_zh=detail,
            )
        )
    return found


def _about_the_month(notices: list[AlertNotice], month_end_day: date, timezone: str) -> list[AlertNotice]:
    """The alert changes a month's report tells of: those about a period that ended with the month
    or before, and those about no period (a data outage) made by the end of the month after, when
    the month's figures are in. A report written late, or written again, does not tell of the
    overdue data of months after it."""
    following = month_end_day + timedelta(days=1)
    cutoff = month_end(following.year, following.month)
    zone = ZoneInfo(timezone)
    told = []
    for notice in notices:
        if notice.period is not None:
            if _period_end(notice.period) <= month_end_day:
                told.append(notice)
        elif notice.at.astimezone(zone).date() <= cutoff:
            told.append(notice)
    return told


def _period_end(period: str) -> date:
    try:
        return Period.parse(period).end
    except ValueError:  # not a period this plan's judgement writes: told, as before
        return date.min


def _changes(
    document: RollupDocument, state: PlanState, previous: RollupDocument | None, notices: list[AlertNotice]
) -> list[RollupChange]:
    changes: list[RollupChange] = []
    if previous is not None:
        before = {r.id: r for r in _all_rows(previous.main, previous.sections)}
        for row in _all_rows(document.main, document.sections):
            old = before.get(row.id)
            if old is None:
                continue
            if old.status != row.status:
                changes.append(_status_change(row.id, row.name, old.status_zh, row.status_zh))
            elif old.actual != row.actual and old.period == row.period:  # same period, other figure: revised
                changes.append(
                    RollupChange(
                        kind="value",
                        subject=row.id,
                        name=row.name,
                        before=old.actual,
                        after=row.actual,
                        detail_zh=f"{row.name}{_when(row.period)}由{old.actual}修订为{row.actual}",
                    )
                )
        old_projects = {p.id: p for p in previous.projects}
        for project in document.projects:
            old_project = old_projects.get(project.id)
            if old_project is not None and old_project.stage != project.stage:
                changes.append(_status_change(project.id, project.name, old_project.stage_zh, project.stage_zh))
    for notice in notices:
        verb = CHANGE_ZH.get(notice.type)
        if verb is None:  # an acknowledgement: said about an alert, no change of it
            continue
        changes.append(
            RollupChange(
                kind=notice.type,
                subject=notice.subject,
                name=notice.subject_name,
                after=notice.severity_zh,
                detail_zh=f"{verb}（{notice.severity_zh}）：{notice.summary_zh}",
            )
        )
    since = previous.known_at if previous else None
    changes += _revisions(document, state, since)
    return changes


def _all_rows(main: list[RollupRow], sections: list[RollupSection]) -> list[RollupRow]:
    return [*main, *(row for section in sections for row in section.rows)]


def _status_change(subject: str, name: str, before: str, after: str) -> RollupChange:
    detail = f"{name}由“{before}”变为“{after}”"
    return RollupChange(kind="status", subject=subject, name=name, before=before, after=after, detail_zh=detail)


def _revisions(document: RollupDocument, state: PlanState, since: datetime | None) -> list[RollupChange]:
    """Statistics corrected since the previous rollup: a later report for a period already reported."""
    plan = state.plan
    assert plan is not None
    found = []
    for indicator in plan.indicators:
        for observation in state.indicator(indicator.id).observations.values():
            period = Period.parse(observation.period)
            recorded = observation.recorded_at
            if observation.revision < 2 or period.end > document.as_of or recorded is None:
                continue
            if since is not None and recorded <= since:
                continue
            found.append(
                RollupChange(
                    kind="revised",
                    subject=indicator.id,
                    name=indicator.name,
                    before=_value(observation.previous),
                    after=_value(observation.value),
                    detail_zh=f"{indicator.name}{_when(observation.period)}数据修订："
                    f"{_value(observation.previous)} → {_value(observation.value)}（第{observation.revision}次报送）",
                )
            )
    return found


def _when(period: str | None) -> str:
    return period_label(period) if period else ""


def _value(value: Any) -> str:
    return "-" if value is None else f"{value:f}"
