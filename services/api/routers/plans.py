"""Plans: list, publish, and the main table of one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from projections.provenance import Provenance
from projections.readmodel import PlanSummary
from services.api.deps import AdminDep, AppDep, AsOf, CallerDep, KnownAt, PlanDep, read_json
from services.api.schemas import ERRORS, PlanListing, PublishedPlan

router = APIRouter(prefix="/v1/plans", tags=["plans"], responses=ERRORS)


@router.get("")
async def list_plans(app: AppDep, who: CallerDep) -> list[PlanListing]:
    """Published plans (those the token is valid for)."""
    return [
        PlanListing(id=p.id, name=p.name, region=p.region, year=p.year)
        for p in await app.plans.published()
        if who.may_use(p.id)
    ]


@router.put(
    "/{plan}",
    status_code=201,
    response_model=PublishedPlan,
    responses={200: {"model": PublishedPlan, "description": "already the current plan: nothing stored"}},
)
async def publish(plan: str, request: Request, app: AppDep, who: AdminDep) -> JSONResponse:
    """Publish a plan definition (admin). Publishing the current plan again stores nothing (200)."""
    published = await app.plans.publish_document(plan, await read_json(request), by=who.id)
    body = {"plan_id": plan, "version": published.version, "position": published.position}
    return JSONResponse(body, status_code=201 if published.stored else 200)


@router.get("/{plan}")
async def plan_summary(
    plan: str, app: AppDep, who: CallerDep, as_of: AsOf = None, known_at: KnownAt = None
) -> PlanSummary:
    """The main table, the key-project figures and the missed targets — the fields of
    `planwatch table --format json`."""
    return await app.reports.summary(plan, as_of, known_at)


@router.get("/{plan}/parked")
async def parked(plan: str, app: AppDep, who: CallerDep, found: PlanDep) -> list[dict[str, str]]:
    """What the read model passed over, each with its position, type and reason: log entries that
    could not be read or applied (`source` fold: every reader passes over the same ones, and the
    rest of the plan carries on) and events given up on after retries (`source` retries)."""
    return await app.operations.parked(plan)


@router.get("/{plan}/provenance/{subject}")
async def provenance(
    plan: str, subject: str, app: AppDep, who: CallerDep, as_of: AsOf = None, known_at: KnownAt = None
) -> Provenance:
    """The events behind every number one row prints — an indicator's value, target and reference,
    or a key project's plan, start, counted investment reports and completion — each with its
    event id, department, period and transaction time (`planwatch why`)."""
    return await app.reports.provenance(plan, subject, as_of, known_at)
