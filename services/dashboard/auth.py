"""Signing in with a token, and out.

A person pastes the token the plan office gave them (the one the API and the spreadsheet import
take) and gets a session: an HttpOnly, SameSite=Lax cookie naming a session kept in Redis. The
sign-in form itself is guarded by a double-submit CSRF cookie (there is no session yet)."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from services.app import Unauthorized
from services.dashboard.web import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AppDep,
    DashboardRoute,
    FormDep,
    ViewerDep,
    cookie_secure,
    new_login_csrf,
    page,
)

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never another host)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_page(
    request: Request, app_secure: bool, next_: str, error: str | None = None, status: int = 200
) -> Response:
    csrf = new_login_csrf()
    response = page(request, "login.html", status, csrf=csrf, next=next_, error=error)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, csrf, max_age=3600, httponly=True, samesite="strict", secure=app_secure, path="/login"
    )
    return response


@router.get("/login")
async def login_form(request: Request, app: AppDep, next: str | None = None) -> Response:
    return _login_page(request, cookie_secure(request, app), _safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    app: AppDep,
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    secure = cookie_secure(request, app)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf):
        return _login_page(request, secure, _safe_next(next), "页面已过期，请重新登录。", 403)
    if not token.strip():
        return _login_page(request, secure, _safe_next(next), "请输入令牌（pwt_ 开头）。", 422)
    try:
        session, _ = await app.access.sign_in(token)
    except Unauthorized as exc:
        return _login_page(request, secure, _safe_next(next), exc.message_zh, 401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        max_age=int(app.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, app: AppDep, who: ViewerDep, form: FormDep) -> Response:
    await app.access.sign_out(who.session.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
