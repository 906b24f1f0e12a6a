"""数据填报: a department's data-entry form for a month — its indicators due that month and its
key projects — read by the same rules as an uploaded sheet and submitted the same way, all or
nothing (`app.sheets.import_rows`), with each refusal shown at its field in Chinese and a
confirmation listing what was stored."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from events.models import Event
from events.plan import Plan
from services.app import App, AppError, EntryForm, Forbidden, Invalid
from services.dashboard.web import AppDep, DashboardRoute, FormDep, Viewer, ViewerDep, page, templates
from services.spreadsheet import ASSESSMENT, COMPLETED, FIRST_ROW, GROWTH, INVESTMENT, NOTE, STARTED, VALUE

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

# the form's input names → the fill-in sheet's columns they stand for
FIELDS = {
    "value": VALUE,
    "growth": GROWTH,
    "assessment": ASSESSMENT,
    "note": NOTE,
    "started": STARTED,
    "investment": INVESTMENT,
    "completed": COMPLETED,
}
COLUMN_FIELD = {column: name for name, column in FIELDS.items()}
_ERROR_FIELD = re.compile(r"^row (\d+): (.+)$")
TYPE_ZH = {
    "indicator.updated": "指标数值",
    "project.started": "开工",
    "investment.completed": "完成投资",
    "project.completed": "建成投产",
}


def _department_only(who: Viewer) -> None:
    if not who.is_department:
        raise Forbidden("data entry is for department tokens", "数据填报需使用部门令牌登录（分析、管理令牌只能查询）")


def _default_month(as_of: date, plan: Plan) -> str:
    """The month after the latest reported: what departments report next."""
    month = min(as_of.month + 1, 12) if as_of.year == plan.year else 1
    return f"{plan.year}-{month:02d}"


def _rows(form: EntryForm, sent: Mapping[str, str]) -> list[dict[str, str]]:
    """The form's lines as a sheet's rows: what the line is about, and what was typed into it."""
    rows = []
    for index, line in enumerate(form.lines):
        row = {"分类": line.kind, "编号": line.subject, "报告期": line.period}
        for name, column in FIELDS.items():
            if column in line.inputs:
                row[column] = sent.get(f"r{index}-{name}", "").strip()
        rows.append(row)
    return rows


def _field_errors(error: Invalid) -> tuple[dict[str, str], list[str]]:
    """Errors by input name (`r3-value`), and those that belong to no field."""
    at_field: dict[str, str] = {}
    general: list[str] = []
    for problem in error.errors:
        match = _ERROR_FIELD.match(problem.field)
        name = COLUMN_FIELD.get(match[2]) if match else None
        if match and name:
            at_field[f"r{int(match[1]) - FIRST_ROW}-{name}"] = problem.reason_zh
        else:
            general.append(problem.reason_zh)
    return at_field, general


async def _context(app: App, who: Viewer, plan_id: str, month: str | None) -> dict[str, Any]:
    plan = await app.ingest.plan(plan_id)
    summary, projects = await asyncio.gather(
        app.reports.summary(plan_id, up_to_date=True), app.reports.projects(plan_id, up_to_date=True)
    )
    form = await app.sheets.entry_form(who.token, plan_id, month or _default_month(summary.as_of, plan))
    return {
        "who": who,
        "plan": plan,
        "form": form,
        "indicators": {row.id: row for row in summary.indicators},
        "projects": {p.id: p for p in projects},
        "active": "entry",
    }


@router.get("/plans/{plan_id}/entry")
async def entry_form(
    request: Request, plan_id: str, app: AppDep, who: ViewerDep, month: Annotated[str | None, Query()] = None
) -> Response:
    _department_only(who)
    context = await _context(app, who, plan_id, month)
    return page(request, "entry.html", sent={}, errors={}, general=[], **context)


@router.post("/plans/{plan_id}/entry")
async def submit_entry(request: Request, plan_id: str, app: AppDep, who: ViewerDep, sent: FormDep) -> Response:
    _department_only(who)
    month = sent.get("month", "").strip()
    context = await _context(app, who, plan_id, month or None)
    if not month:  # the rows are numbered for the month the page showed: never guess it
        general = ["表单缺少填报月份（month），未保存任何数据，请重新打开填报页后提交"]
        return page(request, "entry.html", 422, sent=sent, errors={}, general=general, **context)
    form: EntryForm = context["form"]
    try:
        imported = await app.sheets.import_rows(who.token, plan_id, _rows(form, sent))
    except Invalid as exc:
        errors, general = _field_errors(exc)
        message = exc.message_zh
        return page(request, "entry.html", 422, sent=sent, errors=errors, general=[message, *general], **context)
    except AppError as exc:  # not this department's, a conflict: nothing was stored
        return page(request, "entry.html", exc.status, sent=sent, errors={}, general=[exc.message_zh], **context)
    accepted = imported.accepted
    stored = list(zip(accepted.events, accepted.result.duplicate, strict=True))
    return page(request, "entry_done.html", stored=stored, accepted=accepted, names=_names(form.plan), **context)


def _names(plan: Plan) -> dict[str, str]:
    return {**{i.id: i.name for i in plan.indicators}, **{p.id: p.name for p in plan.projects}}


def event_value(event: Event) -> str:
    """What an event reports, as the confirmation lists it."""
    data = event.model_dump()
    for field in ("value", "amount_wan", "started_on", "completed_on"):
        if data.get(field) is not None:
            return f"{data[field]}" + ("万元" if field == "amount_wan" else "")
    return "-"


templates.env.globals.update(event_value=event_value, TYPE_ZH=TYPE_ZH)
