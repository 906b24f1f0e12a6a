"""Reading a plan's execution state: the main table, an indicator, the key projects — as of a date
(valid time) and as known at an instant (transaction time). Without either, the answer comes
straight from the read model; with them, from a fold of the log."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Literal

from events.errors import FieldError
from events.plan import Plan
from projections.report import PlanReport, ReportBuilder, build_report
from projections.state import PlanState
from projections.views import indicator_detail_view, project_detail_view, project_view, report_view
from services.app.errors import Invalid, NotFound
from services.app.ingest import Ingest
from services.projection import read_field, read_fields, state_as_known
from services.store import EventStore, Keyspace

ProjectFilter = Literal["overdue", "lagging", "started", "completed", "not_started"]

_KEEP: dict[str, Callable[[dict[str, Any]], bool]] = {
    "overdue": lambda v: bool(v["overdue"]),
    "lagging": lambda v: bool(v["lagging"]),
    "started": lambda v: v["stage"] == "started",
    "completed": lambda v: v["stage"] == "completed",
    "not_started": lambda v: v["stage"] == "not_started",
}


async def published_state(store: EventStore, plan_id: str, known_at: datetime | None) -> PlanState:
    """The plan's state as known at `known_at` (now if None): the read model's state plus any
    events it has not applied yet. NotFound if the plan was not published by then."""
    state = await state_as_known(store.redis, store.keys, plan_id, known_at)
    if state.plan is None:
        when = f" as known at {known_at.isoformat()}" if known_at else ""
        raise NotFound(f"plan {plan_id!r} has not been published{when}", f"该时点计划“{plan_id}”尚未发布")
    return state


def checked_known_at(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Invalid(
            "known_at needs a time zone",
            "known_at 须带时区",
            [FieldError("known_at", "needs a time zone, e.g. 2025-07-10T00:00+08:00", "时间必须带时区")],
        )
    return value


class Reports:
    def __init__(self, ingest: Ingest, store: EventStore) -> None:
        self.ingest, self.store = ingest, store

    @property
    def _keys(self) -> Keyspace:
        return self.store.keys

    async def report(
        self, plan_id: str, as_of: date | None = None, known_at: datetime | None = None
    ) -> tuple[PlanState, PlanReport]:
        """The state as known at `known_at` and the report as of `as_of`."""
        state = await published_state(self.store, plan_id, checked_known_at(known_at))
        return state, ReportBuilder().build(state, as_of)

    async def table(self, plan_id: str, as_of: date | None = None, known_at: datetime | None = None) -> PlanReport:
        """The report the CLI prints (always folded, so never behind the log)."""
        state = await published_state(self.store, plan_id, checked_known_at(known_at))
        return build_report(state, as_of)

    async def summary(self, plan_id: str, as_of: date | None = None, known_at: datetime | None = None) -> str:
        """The main table, the key-project figures and the missed targets, as JSON text."""
        await self.ingest.plan(plan_id)
        if as_of is None and known_at is None:
            stored = await read_field(self.store.redis, self._keys, plan_id, "summary")
            if stored:
                return stored
        _, report = await self.report(plan_id, as_of, known_at)
        return json.dumps(report_view(report, known_at.isoformat() if known_at else None), ensure_ascii=False)

    async def indicator(
        self, plan_id: str, indicator_id: str, as_of: date | None = None, known_at: datetime | None = None
    ) -> str:
        """One indicator as JSON text: its evaluation, every period's value with revisions, target changes."""
        plan = await self.ingest.plan(plan_id)
        if plan.indicator(indicator_id) is None:
            raise NotFound(f"plan {plan_id} has no indicator {indicator_id!r}", f"计划中没有指标“{indicator_id}”")
        if as_of is None and known_at is None:
            stored = await read_field(self.store.redis, self._keys, plan_id, f"indicator:{indicator_id}")
            if stored:
                return stored
        state, report = await self.report(plan_id, as_of, known_at)
        row = next(r for r in report.rows() if r.indicator.id == indicator_id)
        return json.dumps(indicator_detail_view(row, state.indicator(indicator_id)), ensure_ascii=False)

    async def projects(
        self,
        plan_id: str,
        status: ProjectFilter | None = None,
        department: str | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Key projects, filtered by status and owning department."""
        plan = await self.ingest.plan(plan_id)
        views = await self._stored_projects(plan) if as_of is None and known_at is None else None
        if views is None:
            _, report = await self.report(plan_id, as_of, known_at)
            views = [project_view(p) for p in report.portfolio.projects]
        return [
            v
            for v in views
            if (status is None or _KEEP[status](v)) and (department is None or v["department"] == department)
        ]

    async def _stored_projects(self, plan: Plan) -> list[dict[str, Any]] | None:
        if not plan.projects:
            return None
        stored = await read_fields(self.store.redis, self._keys, plan.id, *(f"project:{p.id}" for p in plan.projects))
        if not stored or not all(stored):
            return None
        return [json.loads(v) for v in stored if v]

    async def project(
        self, plan_id: str, project_id: str, as_of: date | None = None, known_at: datetime | None = None
    ) -> dict[str, Any]:
        """One project's view, its investment by period and its events."""
        plan = await self.ingest.plan(plan_id)
        if plan.project(project_id) is None:
            raise NotFound(f"plan {plan_id} has no project {project_id!r}", f"计划中没有项目“{project_id}”")
        detail: dict[str, Any] | None = None
        if as_of is None and known_at is None:
            stored = await read_field(self.store.redis, self._keys, plan_id, f"project:{project_id}")
            detail = json.loads(stored) if stored else None
        if detail is None:
            state, report = await self.report(plan_id, as_of, known_at)
            current = next(p for p in report.portfolio.projects if p.id == project_id)
            detail = project_detail_view(current, state.projects[project_id])
        events = await self.store.subject_events(plan_id, project_id)
        detail["events"] = [{"position": s.position, **s.event.model_dump(mode="json")} for s in events]
        return detail
