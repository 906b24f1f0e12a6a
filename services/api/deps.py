"""What the routes depend on: the application, the caller, the plan, and the request body read
within its size limit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from events.errors import FieldError
from events.plan import Plan
from services.app import App, Forbidden, TooLarge, Unauthorized, UnsupportedMediaType, check_plan, strict_json
from services.store import TokenInfo

MAX_BODY = 2_000_000  # bytes: a batch of 1,000 events, or a plan, fits easily


def application_of(request: Request) -> App:
    app: App = request.app.state.app
    return app


async def application(request: Request) -> App:  # async: sync dependencies hop to a thread
    return application_of(request)


AppDep = Annotated[App, Depends(application)]


async def bearer(app: App, authorization: str | None, plan_id: str | None = None) -> TokenInfo:
    """The caller of an `Authorization: Bearer …` header, valid for `plan_id` if one is given."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:  # the scheme is case-insensitive (RFC 9110)
        raise Unauthorized("send a token: Authorization: Bearer pwt_…", "请在请求头中提供令牌")
    return await app.ingest.authenticate(token, plan_id)


class TokenCaller(SecurityBase):
    """The caller of a request, by its bearer token, as one dependency: FastAPI declares it in the
    OpenAPI document as the `bearer` scheme (so "Try it out" sends the token), and a request pays
    for resolving one dependency, not three (HTTPBearer's, the application's and this): ~10 µs
    each, of a single-event POST's ~450. Missing or wrong, the token is refused with planwatch's
    own 401 (not FastAPI's)."""

    def __init__(self, admin: bool = False) -> None:
        self.model = HTTPBearerModel(description="a token from `planwatch token create`: pwt_…")
        self.scheme_name = "bearer"
        self.admin = admin

    async def __call__(self, request: Request) -> TokenInfo:
        plan_id = request.path_params.get("plan")
        authorization = request.headers.get("authorization")
        app = application_of(request)
        if not self.admin:  # on a plan's routes (`/v1/plans/{plan}/…`) valid for that plan
            return await bearer(app, authorization, plan_id)
        # the role first (a plan an admin publishes need not exist yet), then, on a plan's
        # routes, an admin token bound to listed plans must list that one
        who = await bearer(app, authorization)
        if who.role != "admin":
            raise Forbidden("this needs an admin token", "需要管理员令牌")
        if plan_id is not None:
            check_plan(who, plan_id)
        return who


caller, admin = TokenCaller(), TokenCaller(admin=True)
# `plan: str` as FastAPI declares it, for a route that reads the plan from its path itself
PLAN_PARAMETER = {"name": "plan", "in": "path", "required": True, "schema": {"type": "string", "title": "Plan"}}
CallerDep = Annotated[TokenInfo, Depends(caller)]
AdminDep = Annotated[TokenInfo, Depends(admin)]


async def existing_plan(plan: str, app: AppDep) -> Plan:
    return await app.ingest.plan(plan)


PlanDep = Annotated[Plan, Depends(existing_plan)]
AsOf = Annotated[date | None, Query(description="valid time: judge periods ending by this date")]
KnownAt = Annotated[
    datetime | None, Query(description="transaction time: only events recorded by this instant (with zone)")
]


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise TooLarge(f"the body is {length} bytes; the limit is {limit}", f"请求体过大（上限{limit}字节）")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the body exceeds {limit} bytes", f"请求体过大（上限{limit}字节）")
    return bytes(body)


def require_json(request: Request) -> None:
    """A JSON body must say so: `Content-Type: application/json` (a charset may follow)."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        shown = media_type or "none"
        raise UnsupportedMediaType(
            f"send the body as Content-Type: application/json, not {shown}",
            "请求体须为JSON（Content-Type: application/json）",
            [FieldError("Content-Type", f"{shown} is not application/json", "内容类型应为application/json")],
        )


async def read_json(request: Request) -> Any:
    require_json(request)
    return strict_json(await read_body(request))
