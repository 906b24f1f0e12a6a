"""The reading pages: 多计划对比 (every plan), 计划总览 (the main table with its lights, as of a
date and as known at an instant), 指标详情 (an indicator's trend and history) and 重点项目 (the
key projects, filtered and sorted). Each reads through the application's use cases."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from events.periods import period_end
from events.plan import Plan
from projections.how_judged import how_judged
from projections.readmodel import PlanSummary, ProjectSummary
from projections.series import chart_kind
from services.dashboard.web import (
    AppDep,
    DashboardRoute,
    ViewerDep,
    page,
    parse_as_of,
    parse_known_at,
    plan_choices,
)

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


@dataclass(frozen=True)
class PlanRow:
    """One plan in the comparison: its lights counted, its key projects' rates."""

    summary: PlanSummary
    lights: Counter[str]


@router.get("/")
async def home(request: Request, app: AppDep, who: ViewerDep) -> Response:
    """One plan: its overview. Several (a city and its districts): the comparison."""
    plans = await plan_choices(app, who)
    if len(plans) == 1:
        return RedirectResponse(f"/plans/{plans[0].id}", status_code=303)
    summaries = await asyncio.gather(*(app.reports.summary(p.id, up_to_date=True) for p in plans))
    rows = [PlanRow(s, Counter(row.light for row in s.indicators)) for s in summaries]
    rows.sort(key=lambda r: (-r.lights["red"], -r.lights["yellow"], r.summary.plan_id))
    return page(request, "compare.html", who=who, rows=rows, active="compare")


@dataclass(frozen=True)
class When:
    """The plan a page is about, and the time it travels to: as of a date (valid time), as known
    at an instant (transaction time, typed in the plan's zone); as typed, for the form."""

    plan: Plan
    as_of: date | None
    known_at: datetime | None
    typed: dict[str, Any]  # the form fields as typed

    @property
    def travelling(self) -> bool:
        return self.as_of is not None or self.known_at is not None


async def when(
    plan_id: str,
    app: AppDep,
    as_of: Annotated[str | None, Query()] = None,
    known_at: Annotated[str | None, Query()] = None,
) -> When:
    plan = await app.ingest.plan(plan_id)
    typed = {"as_of": as_of or "", "known_at": known_at or ""}
    return When(plan, parse_as_of(as_of), parse_known_at(known_at, plan), typed)


WhenDep = Annotated[When, Depends(when)]


@router.get("/plans/{plan_id}")
async def overview(request: Request, plan_id: str, app: AppDep, who: ViewerDep, at: WhenDep) -> Response:
    summary, freshness = await asyncio.gather(
        app.reports.summary(plan_id, at.as_of, at.known_at, up_to_date=True), app.operations.freshness(plan_id)
    )
    main = [row for row in summary.indicators if row.main]
    sections: dict[str, list[Any]] = {}
    for row in summary.indicators:
        if not row.main:
            sections.setdefault(row.section, []).append(row)
    return page(
        request,
        "overview.html",
        who=who,
        plan=at.plan,
        summary=summary,
        main=main,
        sections=sections,
        missed=[row for row in summary.indicators if row.id in summary.missed],
        freshness=freshness,
        travelling=at.travelling,
        active="overview",
        **at.typed,
    )


def _judged_as(plan: Plan, indicator_id: str, target_shown: str) -> str | None:
    """考核方式 for a view stored before the read model kept it: the plan's target's, when it is the
    target shown (a revision's structure is not in the plan)."""
    spec = plan.indicator(indicator_id)
    return how_judged(plan, spec, spec.target) if spec is not None and spec.target_text == target_shown else None


@router.get("/plans/{plan_id}/indicators/{indicator_id}")
async def indicator(
    request: Request, plan_id: str, indicator_id: str, app: AppDep, who: ViewerDep, at: WhenDep
) -> Response:
    plan = at.plan
    detail = await app.reports.indicator(plan_id, indicator_id, at.as_of, at.known_at, up_to_date=True)
    alerts = [a for a in await app.alerting.latest(plan_id, "all") if a.get("subject") == indicator_id]
    trail = await app.reports.provenance(plan_id, indicator_id, at.as_of, at.known_at)
    zone = ZoneInfo(plan.timezone)
    stale_after = plan.thresholds.alerts.stale_after_days
    delays = {  # days after its period ended that each value was recorded; late past the data_stale rule's days
        value.period: (
            datetime.fromisoformat(value.recorded_at).astimezone(zone).date() - period_end(value.period)
        ).days
        for value in detail.history
        if value.recorded_at
    }
    chart = {
        "kind": chart_kind(detail.series),
        "unit": detail.unit,
        "name": detail.name,
        "points": [p.model_dump(mode="json") for p in detail.series],
    }
    return page(
        request,
        "indicator.html",
        who=who,
        plan=plan,
        detail=detail,
        chart=chart,
        alerts=alerts,
        trail=trail,
        delays=delays,
        points={point.period: point for point in detail.series},
        judged_as=detail.judged_as or _judged_as(plan, indicator_id, detail.target),
        **at.typed,
        stale_after=stale_after,
        active="overview",
    )


SORTS: dict[str, Any] = {
    "id": lambda p: p.id,
    "name": lambda p: p.name,
    "department": lambda p: p.department,
    "planned_start": lambda p: p.planned_start,
    "started_on": lambda p: (p.started_on is None, p.started_on),
    "investment_wan": lambda p: p.investment_wan,
    "investment_rate": lambda p: (p.investment_rate is None, p.investment_rate or 0),
    "light": lambda p: ["red", "yellow", "green", "grey"].index(p.light),
    "months_overdue": lambda p: p.months_overdue or 0,
}


def _filtered(
    projects: list[ProjectSummary], department: str, category: str, light: str, sort: str, descending: bool
) -> list[ProjectSummary]:
    kept = [
        p
        for p in projects
        if (not department or p.department == department)
        and (not category or p.category == category)
        and (not light or p.light == light)
    ]
    return sorted(kept, key=SORTS.get(sort, SORTS["id"]), reverse=descending)


@router.get("/plans/{plan_id}/projects")
async def projects(
    request: Request,
    plan_id: str,
    app: AppDep,
    who: ViewerDep,
    department: str = "",
    category: str = "",
    light: str = "",
    sort: str = "id",
    order: str = "asc",
) -> Response:
    plan = await app.ingest.plan(plan_id)
    every = await app.reports.projects(plan_id, up_to_date=True)
    shown = _filtered(every, department, category, light, sort, order == "desc")
    context: dict[str, Any] = {
        "who": who,
        "plan": plan,
        "projects": shown,
        "total": len(every),
        "filters": {"department": department, "category": category, "light": light, "sort": sort, "order": order},
        "categories": sorted({p.category for p in every}),
        "departments": [d for d in plan.departments if any(p.department == d.id for p in every)],
        "active": "projects",
    }
    if request.headers.get("HX-Request"):  # a filter or a sort changed: the table alone
        return page(request, "_projects_table.html", **context)
    summary, trend = await asyncio.gather(
        app.reports.summary(plan_id, up_to_date=True), app.reports.portfolio_trend(plan_id)
    )
    trend_points = [p.model_dump(mode="json") for p in trend]
    return page(request, "projects.html", portfolio=summary.projects, trend=trend_points, **context)
