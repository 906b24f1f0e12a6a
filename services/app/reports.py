"""Reading a plan's execution state: the main table, an indicator, the key projects — as of a date
(valid time) and as known at an instant (transaction time). Without either, the answer comes
straight from the read model; with them, from a fold of the log."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Literal, TypeVar

from pydantic import BaseModel

from events.codec import Unreadable
from events.errors import FieldError
from events.periods import month_end
from events.plan import Plan
from projections.formatting import in_zone
from projections.provenance import (
    Provenance,
    SourceEvent,
    indicator_sources,
    project_printed,
    project_sources,
    source_event,
)
from projections.readmodel import (
    IndicatorDetail,
    PlanSummary,
    ProjectDetail,
    ProjectDetailWithEvents,
    ProjectSummary,
    indicator_detail,
    plan_summary,
    project_detail,
    project_summary,
)
from projections.reconcile import PublishedReport, Reconciliation, published_period, reconcile
from projections.report import PlanReport, ReportBuilder, build_report
from projections.series import PortfolioPoint, indicator_series, portfolio_series
from projections.state import PlanState
from services.app.errors import Invalid, NotFound, TooLarge
from services.app.ingest import Ingest
from services.projection import plan_status, read_fields, state_as_known
from services.spreadsheet import FileProblem, read_published
from services.store import EventStore

log = logging.getLogger("planwatch.reports")
_View = TypeVar("_View", bound=BaseModel)  # a read-model shape

MAX_REPORT = 10_000_000  # bytes: a report with its charts; its table is a few kilobytes
ProjectFilter = Literal["overdue", "lagging", "started", "completed", "not_started"]

_KEEP: dict[str, Callable[[ProjectSummary], bool]] = {
    "overdue": lambda p: p.overdue,
    "lagging": lambda p: p.lagging,
    "started": lambda p: p.stage == "started",
    "completed": lambda p: p.stage == "completed",
    "not_started": lambda p: p.stage == "not_started",
}


async def published_state(store: EventStore, plan_id: str, known_at: datetime | None) -> PlanState:
    """The plan's state as known at `known_at` (now if None): the read model's state plus any
    events it has not applied yet. NotFound if the plan was not published by then."""
    state = await state_as_known(store.redis, store.keys, plan_id, known_at)
    if state.plan is None:
        when = f" as known at {known_at.isoformat()}" if known_at else ""
        raise NotFound(f"plan {plan_id!r} has not been published{when}", f"该时点计划“{plan_id}”尚未发布")
    return state


def checked_as_of(plan: Plan, as_of: date | None) -> date | None:
    """`as_of` from 1 January of the plan year to the end of the year after (the year's final
    figures are reported then; the column is 全年完成). Before the year no period of the plan has
    ended, and later than the year after is a typing mistake (0001-01-01, 2099-…): refused,
    naming the plan's year, rather than answered with an empty 1月完成 column."""
    if as_of is None or plan.year <= as_of.year <= plan.year + 1:
        return as_of
    reason = f"must be a date of the plan year {plan.year} (or of {plan.year + 1}, for the full year), not {as_of}"
    reason_zh = f"须为计划年度{plan.year}年（或次年）的日期"
    raise Invalid(reason, reason_zh, [FieldError("as_of", reason, reason_zh)])


def _as_of(state: PlanState, as_of: date | None) -> date | None:
    assert state.plan is not None  # published_state answers only a published plan
    return checked_as_of(state.plan, as_of)


class Reports:
    def __init__(self, ingest: Ingest, store: EventStore) -> None:
        self.ingest, self.store = ingest, store

    async def in_plan_zone(self, plan_id: str, known_at: datetime | None) -> datetime | None:
        """An instant without a zone is read in the plan's zone (2025-07-10T00:00 in 荣昌 is 北京时间)."""
        if known_at is None or known_at.tzinfo is not None:
            return known_at
        return in_zone(known_at, (await self.ingest.plan(plan_id)).timezone)

    async def _stored(
        self, plan_id: str, shape: type[_View], *fields: str, up_to_date: bool = False
    ) -> list[_View] | None:
        """Fields of the current read model read as `shape`, if it has all of them and each reads
        (and, if `up_to_date`, it has applied the whole log: a page that must show what was just
        posted folds otherwise). None: the fold answers instead."""
        if up_to_date and (await plan_status(self.store.redis, self.store.keys, plan_id)).lag:
            return None
        try:
            values = await read_fields(self.store.redis, self.store.keys, plan_id, *fields)
            if not values or not all(values):
                return None
            return [shape.model_validate_json(value) for value in values if value]
        except ValueError as exc:  # a damaged view (ValidationError is one too): the fold answers instead
            log.warning("plan %s: a stored view cannot be read, folding instead: %.200s", plan_id, exc)
            return None

    async def report(
        self, plan_id: str, as_of: date | None = None, known_at: datetime | None = None
    ) -> tuple[PlanState, PlanReport]:
        """The state as known at `known_at` and the report as of `as_of`."""
        state = await published_state(self.store, plan_id, await self.in_plan_zone(plan_id, known_at))
        return state, ReportBuilder().build(state, _as_of(state, as_of))

    async def table(self, plan_id: str, as_of: date | None = None, known_at: datetime | None = None) -> PlanReport:
        """The report the CLI prints (always folded, so never behind the log)."""
        state = await published_state(self.store, plan_id, await self.in_plan_zone(plan_id, known_at))
        return build_report(state, _as_of(state, as_of))

    async def summary(
        self, plan_id: str, as_of: date | None = None, known_at: datetime | None = None, *, up_to_date: bool = False
    ) -> PlanSummary:
        """The main table, the key-project figures and the missed targets (`up_to_date`: never
        behind the log, folding what the read model has not applied yet)."""
        await self.ingest.plan(plan_id)
        fresh = as_of is None and known_at is None
        if fresh and (stored := await self._stored(plan_id, PlanSummary, "summary", up_to_date=up_to_date)):
            return stored[0]
        known_at = await self.in_plan_zone(plan_id, known_at)
        _, report = await self.report(plan_id, as_of, known_at)
        return plan_summary(report, known_at.isoformat() if known_at else None)

    async def compare(
        self, plan_id: str, content: bytes, filename: str, as_of: date | None = None, known_at: datetime | None = None
    ) -> Reconciliation:
        """A published report (.docx, .xlsx, .csv, .txt, .md) checked against planwatch's table for
        the months its figures column names (上半年完成: as of 30 June; a column that names none: the
        months its table's title names, 2025年1—9月…完成情况), or `as_of` (对账): the main table row
        for row, the key-project and completions sentences, the missed list, the rows not read.
        Invalid when the report's table cannot be found, naming what is missing; when it says no
        months and `as_of` is not given; when its title is of another year than the plan's."""
        if len(content) > MAX_REPORT:
            raise TooLarge(f"{filename} exceeds {MAX_REPORT} bytes", f"文件过大（上限{MAX_REPORT}字节）")
        plan = await self.ingest.plan(plan_id)
        try:
            published = read_published(content, filename)
        except FileProblem as problem:
            raise Invalid(
                f"{filename}: the report's main table cannot be read",
                "无法读取报告的主要指标表",
                [FieldError(e.column, e.reason, e.reason_zh) for e in problem.errors],
                rows=[str(e) for e in problem.errors],
            ) from None
        summary = await self.summary(plan_id, as_of or _published_as_of(plan, published, filename), known_at)
        return reconcile(summary, plan, published)

    async def indicator(
        self,
        plan_id: str,
        indicator_id: str,
        as_of: date | None = None,
        known_at: datetime | None = None,
        *,
        up_to_date: bool = False,
    ) -> IndicatorDetail:
        """One indicator: its evaluation, every period's value with revisions, target changes, trend."""
        plan = await self.ingest.plan(plan_id)
        if plan.indicator(indicator_id) is None:
            raise NotFound(f"plan {plan_id} has no indicator {indicator_id!r}", f"计划中没有指标“{indicator_id}”")
        fresh = as_of is None and known_at is None
        field = f"indicator:{indicator_id}"
        if fresh and (stored := await self._stored(plan_id, IndicatorDetail, field, up_to_date=up_to_date)):
            detail = stored[0]
            if detail.series or not detail.history:  # a view stored before trends were kept has none: fold
                return detail
        state, report = await self.report(plan_id, as_of, known_at)
        row = next(r for r in report.rows() if r.indicator.id == indicator_id)
        series = indicator_series(state, row.indicator, report.as_of)
        return indicator_detail(row, state.indicator(indicator_id), series)

    async def portfolio_trend(
        self, plan_id: str, as_of: date | None = None, known_at: datetime | None = None
    ) -> list[PortfolioPoint]:
        """The key projects' 开工率 and 投资完成率 at each month's end, against 序时进度."""
        await self.ingest.plan(plan_id)
        state, report = await self.report(plan_id, as_of, known_at)
        return portfolio_series(state, report.as_of)

    async def projects(
        self,
        plan_id: str,
        status: ProjectFilter | None = None,
        department: str | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
        *,
        up_to_date: bool = False,
    ) -> list[ProjectSummary]:
        """Key projects, filtered by status and owning department."""
        plan = await self.ingest.plan(plan_id)
        projects = await self._stored_projects(plan, up_to_date) if as_of is None and known_at is None else None
        if projects is None:
            _, report = await self.report(plan_id, as_of, known_at)
            projects = [project_summary(p) for p in report.portfolio.projects]
        return [
            p
            for p in projects
            if (status is None or _KEEP[status](p)) and (department is None or p.department == department)
        ]

    async def _stored_projects(self, plan: Plan, up_to_date: bool) -> list[ProjectSummary] | None:
        if not plan.projects:
            return None
        # the stored detail also has the investment by period, which the list leaves out
        fields = (f"project:{p.id}" for p in plan.projects)
        return await self._stored(plan.id, ProjectSummary, *fields, up_to_date=up_to_date)

    async def project(
        self, plan_id: str, project_id: str, as_of: date | None = None, known_at: datetime | None = None
    ) -> ProjectDetailWithEvents:
        """One project's view, its investment by period and its events."""
        plan = await self.ingest.plan(plan_id)
        if plan.project(project_id) is None:
            raise NotFound(f"plan {plan_id} has no project {project_id!r}", f"计划中没有项目“{project_id}”")
        fresh = as_of is None and known_at is None
        stored = await self._stored(plan_id, ProjectDetail, f"project:{project_id}") if fresh else None
        if stored:
            detail = stored[0]
        else:
            state, report = await self.report(plan_id, as_of, known_at)
            current = next(p for p in report.portfolio.projects if p.id == project_id)
            detail = project_detail(current, state.projects[project_id])
        events = await self.store.subject_events(plan_id, project_id)
        listed = [
            {"position": s.position, **s.event.model_dump(mode="json")}
            for s in events
            if not isinstance(s.event, Unreadable)
        ]
        return ProjectDetailWithEvents.model_validate({**detail.model_dump(), "events": listed})

    async def provenance(
        self, plan_id: str, subject: str, as_of: date | None = None, known_at: datetime | None = None
    ) -> Provenance:
        """The events behind every number of one row — an indicator's (value, target, reference)
        or a key project's (plan, start, the investment reports its total counts, completion) —
        as of `as_of`, as known at `known_at`: `planwatch why`, the API and the rollup's 数据来源."""
        plan = await self.ingest.plan(plan_id)
        if plan.indicator(subject) is None and plan.project(subject) is None:
            raise NotFound(
                f"plan {plan_id} has no indicator or project {subject!r}", f"计划中没有指标或项目“{subject}”"
            )
        state, report = await self.report(plan_id, as_of, known_at)
        return await self.trail(plan, state, report, subject)

    async def trail(self, plan: Plan, state: PlanState, report: PlanReport, subject: str) -> Provenance:
        """`provenance` of a report already built."""
        indicator = plan.indicator(subject)
        if indicator is not None:
            row = next(r for r in report.rows() if r.indicator.id == subject)
            printed = {"target": row.target_text, "actual": row.evaluation.actual_text}
            printed["deviation"] = row.evaluation.deviation_text
            kind, name = "indicator", indicator.name
        else:
            progress = next(p for p in report.portfolio.projects if p.id == subject)
            printed = project_printed(progress)
            kind, name = "project", progress.name
        [sources] = (await traced(self.store, plan, state, report, [subject])).values()
        return Provenance(
            plan_id=plan.id,
            kind=kind,
            subject=subject,
            subject_name=name,
            as_of=report.as_of,
            printed=printed,
            sources=sources,
        )


async def traced(
    store: EventStore, plan: Plan, state: PlanState, report: PlanReport, subjects: Sequence[str]
) -> dict[str, list[SourceEvent]]:
    """The events behind each of `subjects`' rows (indicators and key projects), read in one round
    trip: `planwatch why`, the API and the rollup's 数据来源 sheet."""
    refs = {
        subject: indicator_sources(state, report, subject)
        if plan.indicator(subject)
        else project_sources(state, subject, report.as_of)
        for subject in subjects
    }
    stored = await store.events_at(plan.id, [ref.position for found in refs.values() for ref in found])
    return {
        subject: [source_event(subject, ref, stored.get(ref.position), plan) for ref in found]
        for subject, found in refs.items()
    }


def _published_as_of(plan: Plan, published: PublishedReport, filename: str) -> date | None:
    """The month's end of the months a report's figures cover (its column's heading, else its table's
    title); Invalid, never a guess, when it names none or its title is of another year."""
    months, year, _ = published_period(published)
    if year is not None and year != plan.year:
        raise Invalid(
            f"{filename}: the report is of {year}, the plan {plan.id} of {plan.year}",
            f"报告是{year}年的，计划{plan.id}是{plan.year}年的",
        )
    if months is None:
        raise Invalid(
            f"{filename}: the report does not say which months its figures cover"
            f" (its column is headed {published.column}); give --as-of",
            f"报告未写明数据所属月份（完成列为“{published.column}”，表题也未写明，如“上半年”“1—9月”），请指定截止日期（--as-of）",
        )
    return month_end(plan.year, months)
