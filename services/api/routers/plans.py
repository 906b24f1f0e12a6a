"""Plans: list, draft from the office's tables, publish, the main table of one, and a published
report checked against it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from projections.provenance import Provenance
from projections.readmodel import PlanSummary
from projections.reconcile import ReconciledReport, reconciled
from services.api.deps import AdminDep, AppDep, AsOf, CallerDep, KnownAt, PlanDep, read_json
from services.api.schemas import ERRORS, DraftedPlan, ErrorBody, PlanListing, PublishedPlan
from services.app import MAX_FILE, MAX_REPORT, PlanIdentity

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


@router.post(
    "/{plan}/draft",
    responses={
        413: {"model": ErrorBody, "description": "a file over 2 MB"},
        422: {"model": ErrorBody, "description": "bad cells: every one by its row and column, in English and Chinese"},
    },
)
async def draft(
    plan: str,
    who: AdminDep,
    app: AppDep,
    table: Annotated[
        UploadFile, File(description="the office's target table, .xlsx, .csv or a Word document (.docx) holding it")
    ],
    year: Annotated[int, Form(ge=2000, le=2100)],
    region: Annotated[str, Form(min_length=1, description="e.g. 重庆市荣昌区")],
    projects: Annotated[UploadFile | None, File(description="the key-project list, .xlsx, .csv or .docx")] = None,
    name: Annotated[str, Form(description="default: {region}{year}年国民经济和社会发展计划")] = "",
    office: Annotated[str, Form(min_length=1, description="the department owning the plan, by name")] = "发展改革委",
    projects_label: Annotated[str, Form(min_length=1)] = "重点项目",
) -> DraftedPlan:
    """Draft a plan file for `plan` from the tables the office keeps (admin): nothing is stored;
    check the text, then publish it with PUT. The same use case as `planwatch plan draft`."""
    identity = PlanIdentity(id=plan, year=year, region=region, name=name, office=office, projects_label=projects_label)
    listed = (await projects.read(MAX_FILE + 1), projects.filename or "") if projects is not None else None
    drafted = app.plans.draft(await table.read(MAX_FILE + 1), table.filename or "", identity, listed)
    main = sum(1 for i in drafted.plan.indicators if i.is_main)
    return DraftedPlan(
        plan_id=drafted.plan.id,
        text=drafted.text,
        notes=drafted.notes,
        departments=len(drafted.plan.departments),
        main_indicators=main,
        further_targets=len(drafted.plan.indicators) - main,
        key_projects=len(drafted.plan.projects),
    )


@router.get("/{plan}")
async def plan_summary(
    plan: str, app: AppDep, who: CallerDep, as_of: AsOf = None, known_at: KnownAt = None
) -> PlanSummary:
    """The main table, the key-project figures and the missed targets — the fields of
    `planwatch table --format json`."""
    return await app.reports.summary(plan, as_of, known_at)


@router.post(
    "/{plan}/compare",
    responses={
        413: {"model": ErrorBody, "description": "a file over 10 MB"},
        422: {"model": ErrorBody, "description": "the report's main table cannot be found: what is missing"},
    },
)
async def compare(
    plan: str,
    who: CallerDep,
    app: AppDep,
    report: Annotated[
        UploadFile, File(description="the published report: .docx, .txt or .md (table and sentences), .xlsx or .csv")
    ],
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> ReconciledReport:
    """Check a report the office published against planwatch's table (对账): the main table row
    for row, the key-project and completions sentences, the missed list; as of the months its
    figures column names unless `as_of` says. The same use case as `planwatch compare`."""
    filename = report.filename or ""
    result = await app.reports.compare(plan, await report.read(MAX_REPORT + 1), filename, as_of, known_at)
    return reconciled(result, filename)


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
