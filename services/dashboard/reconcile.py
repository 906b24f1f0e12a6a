"""对账: a report the office published by hand, uploaded and checked against planwatch's table
(`app.reports.compare`, as `planwatch compare`): every row with the report's cells beside
planwatch's, the sentences, and what differs. Nothing is stored."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from services.app import MAX_REPORT, AppError
from services.dashboard.web import AppDep, DashboardRoute, ViewerDep, check_csrf, page, read_form

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


@router.get("/plans/{plan_id}/reconcile")
async def reconcile_form(request: Request, plan_id: str, app: AppDep, who: ViewerDep) -> Response:
    plan = await app.ingest.plan(plan_id)
    return page(request, "reconcile.html", who=who, plan=plan, active="reconcile")


@router.post("/plans/{plan_id}/reconcile")
async def reconcile(request: Request, plan_id: str, app: AppDep, who: ViewerDep) -> Response:
    """The uploaded report (multipart, with the form's CSRF token) checked against the table."""
    plan = await app.ingest.plan(plan_id)
    form = await read_form(request)
    check_csrf(form.get("csrf"), who)
    context: dict[str, Any] = {"who": who, "plan": plan, "active": "reconcile"}
    report = form.get("report")
    if not isinstance(report, UploadFile) or not report.filename:
        return page(request, "reconcile.html", 422, errors=["请选择已发布的报告文件"], **context)
    try:
        result = await app.reports.compare(plan_id, await report.read(MAX_REPORT + 1), report.filename)
    except AppError as exc:
        rows = exc.details.get("rows") or [error.reason_zh for error in exc.errors]
        return page(request, "reconcile.html", exc.status, errors=[exc.message_zh, *rows], **context)
    return page(request, "reconcile.html", result=result, source=report.filename, **context)
