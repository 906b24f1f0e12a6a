"""预警: the alerts firing now, arriving live (the same Server-Sent Events feed the API serves,
here authorised by the session), and their history.

Actions on an alert (acknowledge, silence) appear where the application offers them: each is a
use case on `app.alerting` taking (plan id, fingerprint, caller); `alert_actions` lists the ones
this build has, and the page draws a button (a CSRF-guarded form) for each: 认领 (acknowledge)
and 静默7天 (a silence of the alert's rule and subject for a week). The marks 已认领 / 已静默 /
已抑制 show on the alert once the alerts projection has folded the event."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from services.app import App, NotFound
from services.dashboard.web import AppDep, DashboardRoute, FormDep, ViewerDep, page

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

# action → (the use case's name on app.alerting, the button's label)
ACTIONS = {"acknowledge": ("acknowledge", "认领"), "silence": ("silence", "静默7天")}


def alert_actions(app: App) -> list[tuple[str, str]]:
    """The actions the application offers on an alert, as (action, label)."""
    return [(action, label) for action, (use_case, label) in ACTIONS.items() if hasattr(app.alerting, use_case)]


async def _firing(app: App, plan_id: str) -> tuple[list[dict[str, Any]], bool]:
    firing = await app.alerting.firing(plan_id)
    return firing or [], firing is not None


@router.get("/plans/{plan_id}/alerts")
async def alerts(request: Request, plan_id: str, app: AppDep, who: ViewerDep, part: str = "") -> Response:
    plan = await app.ingest.plan(plan_id)
    firing, projected = await _firing(app, plan_id)
    context: dict[str, Any] = {
        "who": who,
        "plan": plan,
        "firing": firing,
        "projected": projected,
        "actions": alert_actions(app),
    }
    if part == "firing":  # the live feed asks for the table again when a notice arrives
        return page(request, "_alerts_firing.html", **context)
    history = list(reversed(await app.alerting.history(plan_id, 200)))
    return page(request, "alerts.html", history=history, active="alerts", **context)


@router.post("/plans/{plan_id}/alerts/{action}")
async def alert_action(plan_id: str, action: str, app: AppDep, who: ViewerDep, form: FormDep) -> Response:
    """Acknowledge or silence an alert, where the application offers that use case."""
    if action not in dict(alert_actions(app)):
        raise NotFound(f"no alert action {action!r} here", "不支持该操作")
    use_case = getattr(app.alerting, ACTIONS[action][0])
    await use_case(plan_id, form.get("fingerprint", ""), who.token)
    return RedirectResponse(f"/plans/{plan_id}/alerts", status_code=303)


@router.get("/plans/{plan_id}/alerts/stream")
async def alert_stream(
    request: Request,
    plan_id: str,
    app: AppDep,
    who: ViewerDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", pattern=r"^\d{1,20}-\d{1,20}$")] = None,
) -> Response:
    """The live feed for the signed-in reader (EventSource sends the session cookie)."""
    await app.ingest.plan(plan_id)
    events = app.alerting.event_stream(plan_id, last_event_id, request.is_disconnected)
    return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
