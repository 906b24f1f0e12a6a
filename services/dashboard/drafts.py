"""起草计划: the plan office's tables (target table, key-project list) drafted into a plan file
(`app.plans.draft`, as `planwatch plan draft`), shown with what to check, edited in place and
published (`app.plans.publish_text`, as `planwatch plan publish`). For admin tokens: publishing
a plan is theirs."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import UploadFile

from events.ids import PLAN_ID_PATTERN
from projections.how_judged import targets_said_back
from services.app import MAX_FILE, AppError, Forbidden, Invalid, PlanIdentity
from services.dashboard.web import AppDep, DashboardRoute, FormDep, Viewer, ViewerDep, check_csrf, page, read_form

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


def _admin_only(who: Viewer) -> None:
    if who.token.role != "admin":
        raise Forbidden("drafting and publishing plans is for admin tokens", "起草和发布计划需使用管理令牌登录")


@router.get("/drafts")
async def draft_form(request: Request, who: ViewerDep) -> Response:
    _admin_only(who)
    return page(request, "draft.html", who=who, sent={"projects_label": "重点项目"}, active="draft")


@router.post("/drafts")
async def draft(request: Request, app: AppDep, who: ViewerDep) -> Response:
    """The tables uploaded (multipart, with the form's CSRF token), drafted: the plan file to
    check and publish, or every bad cell by row and column; nothing is stored."""
    _admin_only(who)
    form = await read_form(request)
    check_csrf(form.get("csrf"), who)
    sent = {key: value for key, value in form.items() if isinstance(value, str)}
    context: dict[str, Any] = {"who": who, "sent": sent, "active": "draft"}
    table, listed = form.get("table"), form.get("projects")
    if not isinstance(table, UploadFile) or not table.filename:
        return page(
            request, "draft.html", 422, errors=["请选择目标任务表（.xlsx、.csv 或 Word 文档 .docx）"], **context
        )
    try:
        identity = _identity(sent)
        projects = None
        if isinstance(listed, UploadFile) and listed.filename:
            projects = (await listed.read(MAX_FILE + 1), listed.filename)
        drafted = app.plans.draft(await table.read(MAX_FILE + 1), table.filename, identity, projects)
    except AppError as exc:
        rows = exc.details.get("rows") or [error.reason_zh for error in exc.errors]
        return page(request, "draft.html", exc.status, errors=[exc.message_zh, *rows], **context)
    said = targets_said_back(drafted.plan)  # how each target will be judged, as plan check --targets says
    return page(request, "draft.html", drafted=drafted, said=said, text=drafted.text, **context)


_PLAN_ID = re.compile(PLAN_ID_PATTERN)  # events.ids.PlanId, refused in the form's words


def _identity(sent: dict[str, str]) -> PlanIdentity:
    year = sent.get("year", "").strip()
    if not (year.isascii() and year.isdigit() and 2000 <= int(year) <= 2100):  # isdigit() alone takes ² and ٢
        raise Invalid("year must be a year like 2025 (2000–2100)", "计划年度应为如2025的年份（2000至2100）")
    missing = [label for key, label in (("id", "计划编号"), ("region", "地区")) if not sent.get(key, "").strip()]
    if missing:
        raise Invalid(f"{', '.join(missing)} not given", f"请填写{'、'.join(missing)}")
    if not _PLAN_ID.match(sent["id"].strip()):
        raise Invalid(
            "the plan id is lower-case letters, digits and -, like rongchang-2025",
            "计划编号只能由小写字母、数字和-组成，如 rongchang-2025",
        )
    return PlanIdentity(
        id=sent["id"].strip(),
        year=int(year),
        region=sent["region"].strip(),
        name=sent.get("name", "").strip(),
        office=sent.get("office", "").strip() or "发展改革委",
        projects_label=sent.get("projects_label", "").strip() or "重点项目",
    )


@router.post("/drafts/publish")
async def publish(request: Request, app: AppDep, who: ViewerDep, sent: FormDep) -> Response:
    """The plan file as checked and edited on the page, published; back to the page with every
    problem and its line if it does not read as a plan."""
    _admin_only(who)
    text = sent.get("text", "")
    try:
        plan, _ = await app.plans.publish_text(text, "计划文件", by=who.token.id)
    except AppError as exc:
        rows = exc.details.get("rows") or [error.reason_zh for error in exc.errors]
        context = {"who": who, "sent": {}, "text": text, "active": "draft"}
        return page(request, "draft.html", exc.status, errors=[exc.message_zh, *rows], **context)
    return RedirectResponse(f"/plans/{plan.id}", status_code=303)
