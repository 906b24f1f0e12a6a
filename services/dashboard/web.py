"""What every dashboard page shares: the templates, who is signed in (a session cookie, checked
against its token on every request), the CSRF guard on forms, and refusals shown as a page
rather than as the API's JSON."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from events.errors import FieldError
from events.plan import Plan
from projections.formatting import in_zone, local_time, money_wan
from projections.judgement import LIGHT, LIGHT_ZH, SEVERITY_LIGHT
from services.app import App, AppError, Forbidden, Invalid, StoreDamaged, TooLarge, check_plan
from services.store import DamagedKey, Session, TokenInfo

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
SESSION_COOKIE = "pw_session"
LOGIN_CSRF_COOKIE = "pw_login_csrf"

templates = Jinja2Templates(directory=HERE / "templates")

# The traffic lights come from the one judgement (projections.judgement): a row's `light` is its
# alert's severity when one fires, else its status's own (LIGHT: red off track, yellow at risk,
# green met or on track, grey when nothing is due or reported yet).
ROLE_ZH = {"department": "部门填报", "analyst": "分析查询", "admin": "管理员"}


def _money(value: float | int | None) -> str:
    return "-" if value is None else money_wan(Decimal(str(value)))


def _percent(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _when(value: datetime | str | None, zone: str = "Asia/Shanghai") -> str:
    """An instant as the plan's people read it, labelled: 2025-07-16 08:00 北京时间."""
    return "-" if value is None or value == "" else local_time(value, zone)


templates.env.filters.update(money=_money, percent=_percent, when=_when)
templates.env.globals.update(LIGHT=LIGHT, LIGHT_ZH=LIGHT_ZH, ROLE_ZH=ROLE_ZH, SEVERITY_LIGHT=SEVERITY_LIGHT)


class SignInRequired(Exception):
    """No valid session: the page sends the reader to sign in, and back afterwards."""


@dataclass(frozen=True)
class Viewer:
    """Who is looking: their session and the token it was opened with (role, department)."""

    session: Session
    token: TokenInfo

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def is_department(self) -> bool:
        return self.token.role == "department" and self.token.department is not None


async def application(request: Request) -> App:
    app: App = request.app.state.app
    return app


AppDep = Annotated[App, Depends(application)]


async def viewer(request: Request, app: AppDep) -> Viewer:
    signed_in = await app.access.signed_in(request.cookies.get(SESSION_COOKIE))
    if signed_in is None:
        raise SignInRequired
    who = Viewer(*signed_in)
    plan_id = request.path_params.get("plan_id")
    if plan_id is not None:  # a plan's pages, for a token valid for that plan (docs/security.md)
        check_plan(who.token, plan_id)
    return who


ViewerDep = Annotated[Viewer, Depends(viewer)]


async def read_form(request: Request) -> FormData:
    """The form sent; one over Starlette's bounds (a field over 1 MB, more than 1,000 fields or
    files) is refused as a page like any other refusal, not as the API's JSON."""
    try:
        return await request.form()
    except HTTPException as exc:
        reason = f"the form cannot be read: {exc.detail}"
        raise TooLarge(
            reason,
            "表单内容过大或项目过多（单项不超过1MB），未保存任何内容",
            [FieldError("(form)", reason, "表单过大")],
        ) from None


async def checked_form(request: Request, who: ViewerDep) -> Mapping[str, str]:
    """A form the signed-in viewer sent, after its CSRF token is checked (every form carries it)."""
    form = await read_form(request)
    check_csrf(form.get("csrf"), who)
    return {key: value for key, value in form.items() if isinstance(value, str)}


def check_csrf(sent: object, who: Viewer) -> None:
    """Forbidden unless `sent` is the viewer's CSRF token (a form with files reads its own fields)."""
    if not isinstance(sent, str) or not hmac.compare_digest(sent, who.csrf):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page", "页面已过期，请刷新后重试")


FormDep = Annotated[Mapping[str, str], Depends(checked_form)]


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def sign_in_redirect(request: Request) -> Response:
    location = f"/login?next={quote(_back_to(request), safe='')}"
    if request.headers.get("HX-Request"):  # htmx follows a redirect in place: send the whole page
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def _back_to(request: Request) -> str:
    """Where to return after signing in: the page itself; for a form sent (a POST, which has no
    page of its own), the page it was sent from, if it is one of ours, else the start page."""
    if request.method in ("GET", "HEAD"):
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    sent_from = urlsplit(request.headers.get("referer", ""))
    if sent_from.netloc == request.url.netloc and sent_from.path.startswith("/"):
        return sent_from.path + (f"?{sent_from.query}" if sent_from.query else "")
    return "/"


class DashboardRoute(APIRoute):
    """A dashboard route: a reader who is not signed in is sent to sign in; a refusal of a use case
    (an AppError) is shown as a page in Chinese with its status, not as the API's JSON. Every
    answer says how long the server took (`Server-Timing`; bench/dashboard.py reads it)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await handler(request)
            except SignInRequired:
                response = sign_in_redirect(request)
            except AppError as exc:
                response = page(request, "error.html", exc.status, error=exc)
            except DamagedKey as exc:  # a write refused over a key of the wrong type: named
                response = page(request, "error.html", 503, error=StoreDamaged.of_damage(exc))
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
            return response

        return handle


def cookie_secure(request: Request, app: App) -> bool:
    public = app.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def parse_as_of(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{text!r} is not a date", "日期格式应为2025-06-30") from None


def parse_known_at(text: str | None, plan: Plan) -> datetime | None:
    """An instant typed into a `datetime-local` field, read in the plan's time zone."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{text!r} is not a date and time", "时间格式应为2025-07-10T08:00") from None
    return in_zone(moment, plan.timezone)


async def plan_choices(app: App, who: Viewer) -> list[Plan]:
    """The published plans the viewer's token is valid for."""
    plans = [p for p in await app.plans.published() if who.token.may_use(p.id)]
    return sorted(plans, key=lambda p: (p.year, p.region, p.id))
