"""What the routes depend on: the application, the caller, the plan, and the request body read
within its size limit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import pydantic_core
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from events.errors import FieldError
from events.plan import Plan
from services.app import App, Forbidden, Invalid, TooLarge, Unauthorized
from services.store import TokenInfo

MAX_BODY = 2_000_000  # bytes: a batch of 1,000 events, or a plan, fits easily


async def application(request: Request) -> App:  # async: sync dependencies hop to a thread
    app: App = request.app.state.app
    return app


AppDep = Annotated[App, Depends(application)]


async def bearer(app: App, authorization: str | None) -> TokenInfo:
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized("send a token: Authorization: Bearer pwt_…", "请在请求头中提供令牌")
    return await app.ingest.authenticate(authorization.removeprefix("Bearer "))


# Declared in the OpenAPI document as the `bearer` security scheme, so "Try it out" sends the token;
# refused with planwatch's own 401 body (not FastAPI's) when it is missing.
bearer_scheme = HTTPBearer(
    scheme_name="bearer", auto_error=False, description="a token from `planwatch token create`: pwt_…"
)


async def caller(
    app: AppDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> TokenInfo:
    return await bearer(app, f"Bearer {credentials.credentials}" if credentials else None)


CallerDep = Annotated[TokenInfo, Depends(caller)]


async def admin(who: CallerDep) -> TokenInfo:
    if who.role != "admin":
        raise Forbidden("this needs an admin token", "需要管理员令牌")
    return who


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


async def read_json(request: Request) -> Any:
    body = await read_body(request)
    try:
        return pydantic_core.from_json(body)  # parsed in Rust: a 500-event batch is ~100 kB
    except ValueError as exc:
        raise Invalid(
            "the body is not valid JSON", "请求体不是有效的JSON", [FieldError("(body)", str(exc), "不是有效的JSON")]
        ) from None
