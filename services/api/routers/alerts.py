"""A plan's alerts: firing, history, and the live feed (Server-Sent Events)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from events.errors import FieldError
from services.api.deps import AppDep, CallerDep, PlanDep, bearer
from services.api.schemas import ERRORS, AlertNotice
from services.app import AlertState, Invalid

router = APIRouter(prefix="/v1/plans/{plan}/alerts", tags=["alerts"], responses=ERRORS)
# the notices are answered as stored (already AlertNotice dumps), described but not re-validated
NOTICES: dict[int | str, dict[str, Any]] = {200: {"model": list[AlertNotice], "description": "the notices"}}


@router.get("", response_model=None, responses=NOTICES)
async def alerts(
    plan: str,
    app: AppDep,
    who: CallerDep,
    found: PlanDep,
    state: Annotated[AlertState, Query(description="firing: now; resolved / all: from the history")] = "firing",
    limit: Annotated[int, Query(ge=1, le=5000, description="history entries to look back over")] = 500,
) -> list[dict[str, Any]]:
    """Alerts of a plan: the firing ones (latest notice each), or the latest state of every
    alert in the recent history."""
    return await app.alerting.latest(plan, state, limit)


@router.get("/history", response_model=None, responses=NOTICES)
async def alert_history(
    plan: str, app: AppDep, who: CallerDep, found: PlanDep, limit: Annotated[int, Query(ge=1, le=5000)] = 100
) -> list[dict[str, Any]]:
    """Every raised, escalated and resolved notice, newest last."""
    return await app.alerting.history(plan, limit)


@router.post("/stream-ticket", status_code=201)
async def stream_ticket(plan: str, app: AppDep, who: CallerDep, found: PlanDep) -> dict[str, object]:
    """A single-use ticket, valid for a minute, for `GET …/alerts/stream?ticket=…`: what a browser's
    EventSource (which cannot send headers) uses instead of putting a token in the URL."""
    return await app.alerting.stream_ticket(who, plan)


@router.get("/stream", responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}})
async def alert_stream(
    plan: str,
    request: Request,
    app: AppDep,
    found: PlanDep,
    ticket: Annotated[str | None, Query(description="from POST …/alerts/stream-ticket (single use)")] = None,
    token: Annotated[str | None, Query(include_in_schema=False)] = None,
    authorization: Annotated[str | None, Header()] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-Sent Events: every alert notice of the plan as it happens (`id` is its stream
    position; reconnect with Last-Event-ID to get what was missed). Authenticate with the
    Authorization header, or a ticket from `POST …/alerts/stream-ticket` — never a token in the URL."""
    if token is not None:
        raise Invalid(
            "a token is never sent in a URL (URLs are logged): use the Authorization header, or a "
            "ticket from POST /v1/plans/{plan}/alerts/stream-ticket",
            "令牌不能放在网址中，请使用 Authorization 请求头或申请一次性流凭证",
            [FieldError("token", "not accepted in the URL", "不接受网址中的令牌")],
        )
    if ticket is not None:
        await app.alerting.redeem_ticket(ticket, plan)
    else:
        await bearer(app, authorization, plan)
    if last_event_id is not None and not re.fullmatch(r"\d{1,20}-\d{1,20}", last_event_id):
        raise Invalid(
            "Last-Event-ID must be an event id this stream sent, like 1752631200000-0",
            "Last-Event-ID 格式有误",
            [FieldError("Last-Event-ID", "not a stream position", "不是有效的事件编号")],
        )
    events = app.alerting.event_stream(plan, last_event_id, request.is_disconnected)
    return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
