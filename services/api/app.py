"""`planwatch api`: the HTTP API (FastAPI). OpenAPI docs at /docs, AsyncAPI of the inbox at
/asyncapi.json. Every error answers `{error, message, message_zh, errors: [{field, reason,
reason_zh}]}` so a department's system can show the reason in either language."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any, Literal

import pydantic_core
from fastapi import Depends, FastAPI, File, Header, Query, Request, UploadFile
from fastapi import Path as Path_
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from redis.asyncio import Redis

from events.errors import FieldError, field_errors
from events.models import event_adapter
from events.plan import Plan
from projections.report import ReportBuilder
from projections.views import indicator_detail_view, project_detail_view, project_summary_view, report_view
from services.app import (
    Forbidden,
    Ingest,
    IngestError,
    Invalid,
    NotFound,
    TooLarge,
    Unauthorized,
    list_rollups,
    load_document,
    publish_plan,
    published_state,
)
from services.heap import settle_heap
from services.inbox import asyncapi_document
from services.notify import SubscriptionRequest, SubscriptionStore, UnsafeTarget
from services.projection import PROJECTIONS, alert_notices, firing_alerts, plan_status, read_field, read_fields
from services.reports import FORMATS, RENDERERS, render_rollup
from services.spreadsheet import ForeignSheet, SheetRejected, parse_sheet
from services.store import Keyspace, TokenInfo, connect

MAX_BODY = 2_000_000  # bytes: a batch of 1,000 events, or a plan, fits easily
READY_MAX_LAG = int(os.environ.get("PLANWATCH_READY_MAX_LAG", "1000"))


def create_api(redis: Redis | None = None, keys: Keyspace | None = None) -> FastAPI:
    """The API app. With `redis` given (tests) it uses that client; otherwise it connects to
    PLANWATCH_REDIS_URL / the embedded Redis on startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = redis or connect()
        app.state.services = Ingest.over(client, keys or Keyspace.from_env())
        if redis is None:  # the served process (tests bring their own client)
            settle_heap()
        try:
            yield
        finally:
            if redis is None:
                await client.aclose()

    app = FastAPI(
        title="planwatch",
        version="0.1.0",
        summary="Monitors the execution of an annual economic and social development plan (计划执行监测).",
        lifespan=lifespan,
    )
    if redis is not None:  # usable without running the lifespan (httpx ASGITransport does not)
        app.state.services = Ingest.over(redis, keys or Keyspace.from_env())
    _install_error_handlers(app)
    _routes(app)
    _document_event_bodies(app)
    return app


# --- errors ---------------------------------------------------------------------------------


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(IngestError)
    async def ingest_error(request: Request, exc: IngestError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(
                ".".join(str(p) for p in err["loc"][1:]) or str(err["loc"][0]),
                str(err["msg"]),
                "取值无效" if err["type"] != "missing" else "缺少必填项",
            )
            for err in exc.errors()
        ]
        failure = Invalid("the request is not valid", "请求参数有误", errors)
        return JSONResponse(failure.body(), status_code=422)


# --- dependencies ---------------------------------------------------------------------------


async def services(request: Request) -> Ingest:  # async: sync dependencies hop to a thread
    return request.app.state.services


ServicesDep = Annotated[Ingest, Depends(services)]


async def caller(
    svc: ServicesDep, authorization: Annotated[str | None, Header(description="Bearer pwt_…")] = None
) -> TokenInfo:
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized("send a token: Authorization: Bearer pwt_…", "请在请求头中提供令牌")
    return await svc.authenticate(authorization.removeprefix("Bearer "))


CallerDep = Annotated[TokenInfo, Depends(caller)]


async def admin(who: CallerDep) -> TokenInfo:
    if who.role != "admin":
        raise Forbidden("this needs an admin token", "需要管理员令牌")
    return who


AdminDep = Annotated[TokenInfo, Depends(admin)]


async def existing_plan(plan: str, svc: ServicesDep) -> Plan:
    return await svc.plan(plan)


PlanDep = Annotated[Plan, Depends(existing_plan)]
AsOf = Annotated[date | None, Query(description="valid time: judge periods ending by this date")]
KnownAt = Annotated[
    datetime | None, Query(description="transaction time: only events recorded by this instant (with zone)")
]


async def _read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise TooLarge(f"the body is {length} bytes; the limit is {limit}", f"请求体过大（上限{limit}字节）")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the body exceeds {limit} bytes", f"请求体过大（上限{limit}字节）")
    return bytes(body)


async def _read_json(request: Request) -> Any:
    body = await _read_body(request)
    try:
        return pydantic_core.from_json(body)  # parsed in Rust: a 500-event batch is ~100 kB
    except ValueError as exc:
        raise Invalid(
            "the body is not valid JSON", "请求体不是有效的JSON", [FieldError("(body)", str(exc), "不是有效的JSON")]
        ) from None


def _known_at(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Invalid(
            "known_at needs a time zone",
            "known_at 须带时区",
            [FieldError("known_at", "needs a time zone, e.g. 2025-07-10T00:00+08:00", "时间必须带时区")],
        )
    return value


def _json(text: str, status: int = 200) -> Response:
    return Response(text, status_code=status, media_type="application/json")


async def _computed(svc: Ingest, plan_id: str, as_of: date | None, known_at: datetime | None):
    try:
        state = await published_state(svc.redis, svc.keys, plan_id, _known_at(known_at))
    except LookupError:
        raise NotFound(f"plan {plan_id!r} was not published by {known_at}", "该时点计划尚未发布") from None
    return state, ReportBuilder().build(state, as_of)


# --- routes ---------------------------------------------------------------------------------


class TokenRequest(BaseModel):
    role: Literal["department", "analyst", "admin"]
    department: str | None = Field(default=None, description="for department tokens, e.g. stats")
    name: str = ""


def _routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(svc: ServicesDep) -> Response:
        """Redis answers and no plan's projection (read model, alerts) lags the log by more than
        PLANWATCH_READY_MAX_LAG events; `lag` is each plan's larger lag."""
        try:
            await svc.redis.ping()
            plans = await svc.store.plans()
            statuses = await asyncio.gather(
                *(plan_status(svc.redis, svc.keys, p, projection) for p in plans for projection in PROJECTIONS)
            )
            lags: dict[str, int] = {}
            for status in statuses:
                lags[status.plan_id] = max(lags.get(status.plan_id, 0), status.lag)
        except Exception as exc:  # any failure to reach Redis means not ready
            return JSONResponse({"status": "unavailable", "redis": str(exc)}, status_code=503)
        behind = {p: lag for p, lag in lags.items() if lag > READY_MAX_LAG}
        body = {"status": "lagging" if behind else "ready", "max_lag": READY_MAX_LAG, "lag": lags}
        return JSONResponse(body, status_code=503 if behind else 200)

    @app.get("/v1/plans", tags=["plans"])
    async def list_plans(svc: ServicesDep, who: CallerDep) -> list[dict[str, Any]]:
        """Published plans."""
        return [{"id": p.id, "name": p.name, "region": p.region, "year": p.year} for p in await svc.catalog.all()]

    @app.put("/v1/plans/{plan}", tags=["plans"], status_code=201)
    async def publish(plan: str, request: Request, svc: ServicesDep, who: AdminDep) -> Response:
        """Publish a plan definition (admin). Publishing the current plan again stores nothing (200)."""
        data = await _read_json(request)
        try:
            definition = Plan.model_validate(data)
        except ValidationError as exc:
            raise Invalid("the plan is not valid", "计划内容有误", field_errors(exc)) from None
        if definition.id != plan:
            raise Invalid(
                "the plan's id differs from the address",
                "计划编号与请求地址不一致",
                [FieldError("id", f"{definition.id!r} is not {plan!r}", "与地址中的计划编号不一致")],
            )
        published = await publish_plan(svc.store, definition)
        body = {"plan_id": plan, "version": published.version, "position": published.position}
        return JSONResponse(body, status_code=201 if published.stored else 200)

    @app.get("/v1/plans/{plan}", tags=["plans"])
    async def plan_summary(
        plan: str, svc: ServicesDep, who: CallerDep, found: PlanDep, as_of: AsOf = None, known_at: KnownAt = None
    ) -> Response:
        """The main table, the key-project figures and the missed targets — the fields of
        `planwatch table --format json`."""
        if as_of is None and known_at is None:
            summary = await read_field(svc.redis, svc.keys, plan, "summary")
            if summary:
                return _json(summary)
        _, report = await _computed(svc, plan, as_of, known_at)
        return JSONResponse(report_view(report, known_at.isoformat() if known_at else None))

    @app.get("/v1/plans/{plan}/indicators/{indicator}", tags=["plans"])
    async def indicator_detail(
        plan: str,
        indicator: str,
        svc: ServicesDep,
        who: CallerDep,
        found: PlanDep,
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> Response:
        """One indicator: its evaluation, every period's value with revisions, target changes."""
        if found.indicator(indicator) is None:
            raise NotFound(f"plan {plan} has no indicator {indicator!r}", f"计划中没有指标“{indicator}”")
        if as_of is None and known_at is None:
            view = await read_field(svc.redis, svc.keys, plan, f"indicator:{indicator}")
            if view:
                return _json(view)
        state, report = await _computed(svc, plan, as_of, known_at)
        row = next(r for r in report.rows() if r.indicator.id == indicator)
        return JSONResponse(indicator_detail_view(row, state.indicator(indicator)))

    @app.get("/v1/plans/{plan}/projects", tags=["plans"])
    async def projects(
        plan: str,
        svc: ServicesDep,
        who: CallerDep,
        found: PlanDep,
        status: Annotated[
            Literal["overdue", "lagging", "started", "completed", "not_started"] | None,
            Query(description="overdue: not started after the planned month; lagging: investment behind schedule"),
        ] = None,
        department: Annotated[str | None, Query(description="owning department id")] = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> list[dict[str, Any]]:
        """Key projects, filtered."""
        ids = [p.id for p in found.projects]
        views: list[dict[str, Any]] | None = None
        if as_of is None and known_at is None and ids:
            stored = await read_fields(svc.redis, svc.keys, plan, *(f"project:{i}" for i in ids))
            if stored and all(stored):
                views = [json.loads(v) for v in stored if v]
        if views is None:
            _, report = await _computed(svc, plan, as_of, known_at)
            views = [project_summary_view(p) for p in report.portfolio.projects]
        keep: dict[str, Callable[[dict[str, Any]], bool]] = {
            "overdue": lambda v: v["overdue"],
            "lagging": lambda v: v["lagging"],
            "started": lambda v: v["stage"] == "started",
            "completed": lambda v: v["stage"] == "completed",
            "not_started": lambda v: v["stage"] == "not_started",
        }
        return [
            v
            for v in views
            if (status is None or keep[status](v)) and (department is None or v["department"] == department)
        ]

    @app.get("/v1/plans/{plan}/projects/{project}", tags=["plans"])
    async def project_detail(
        plan: str,
        project: str,
        svc: ServicesDep,
        who: CallerDep,
        found: PlanDep,
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> dict[str, Any]:
        """One project with its events."""
        if found.project(project) is None:
            raise NotFound(f"plan {plan} has no project {project!r}", f"计划中没有项目“{project}”")
        detail: dict[str, Any] | None = None
        if as_of is None and known_at is None:
            view = await read_field(svc.redis, svc.keys, plan, f"project:{project}")
            detail = json.loads(view) if view else None
        if detail is None:
            state, report = await _computed(svc, plan, as_of, known_at)
            current = next(p for p in report.portfolio.projects if p.id == project)
            detail = project_detail_view(current, state.projects[project])
        events = await svc.store.subject_events(plan, project)
        detail["events"] = [{"position": s.position, **s.event.model_dump(mode="json")} for s in events]
        return detail

    @app.post(
        "/v1/plans/{plan}/events",
        tags=["progress"],
        status_code=201,
        responses={
            200: {"description": "every event was already stored (a retry); original positions"},
            201: {"description": "stored; stream positions"},
            401: {"description": "no valid token"},
            403: {"description": "the only problems: subjects or events the caller's department may not report"},
            404: {"description": "unknown plan; or the only problems: unknown subjects"},
            409: {"description": "version conflict, or an event_id reused for other content"},
            413: {"description": "body over 2 MB or more than 1,000 events"},
            422: {
                "description": "invalid events, or problems of several kinds: every problem with its field "
                "and a reason in English and Chinese"
            },
        },
    )
    async def post_events(plan: str, request: Request, svc: ServicesDep, who: CallerDep) -> Response:
        """Post one event, a JSON array of events, or `{"events": [...], "expected_versions":
        {subject: n}}`. All or nothing; the department recorded is the token's."""
        body = await _read_json(request)
        expected = None
        if isinstance(body, dict) and "events" in body and "type" not in body:
            expected = body.get("expected_versions")
            body = body["events"]
            if expected is not None and not (
                isinstance(expected, dict) and all(isinstance(v, int) and v >= 0 for v in expected.values())
            ):
                raise Invalid(
                    "expected_versions must map subjects to versions (integers ≥ 0)",
                    "expected_versions 格式有误",
                    [FieldError("expected_versions", "must be {subject: integer ≥ 0}", "须为 编号: 非负整数")],
                )
        payloads = body if isinstance(body, list) else [body]
        accepted = await svc.submit(who, plan, payloads, expected)
        return Response(pydantic_core.to_json(accepted.body()), accepted.status, media_type="application/json")

    @app.post(
        "/v1/plans/{plan}/imports",
        tags=["progress"],
        status_code=201,
        responses={
            403: {"description": "the file names another department than the token's"},
            413: {"description": "file over 2 MB"},
            422: {"description": "bad rows or cells: every one with a reason in English and Chinese"},
        },
    )
    async def import_sheet(
        plan: str,
        svc: ServicesDep,
        who: CallerDep,
        found: PlanDep,
        file: Annotated[UploadFile, File(description="the filled template, .xlsx or .csv")],
    ) -> Response:
        """Upload a filled spreadsheet. Any bad row rejects the whole file with a row-by-row
        report; re-uploading the same file stores nothing new."""
        content = await file.read(MAX_BODY + 1)
        if len(content) > MAX_BODY:
            raise TooLarge(f"the file exceeds {MAX_BODY} bytes", f"文件过大（上限{MAX_BODY}字节）")
        department = who.department if who.role == "department" else None
        try:
            sheet = parse_sheet(content, file.filename or "", found, department=department)
        except ForeignSheet as exc:  # posting on another department's behalf, as for single events
            [error] = exc.errors
            raise Forbidden(
                f"{error.reason}; nothing was imported",
                f"{error.reason_zh}，未导入任何数据",
                [FieldError(f"row 0: {error.column}", error.reason, error.reason_zh)],
            ) from None
        except SheetRejected as exc:
            raise Invalid(
                str(exc),
                f"文件有{len(exc.errors)}处错误，未导入任何数据",
                [FieldError(f"row {e.row}: {e.column}", e.reason, e.reason_zh) for e in exc.errors],
                rows=[str(e) for e in exc.errors],
            ) from None
        if not sheet.events:
            raise Invalid("the file has no filled-in values", "文件中没有填报数据")
        accepted = await svc.submit(who, plan, sheet.events)
        return JSONResponse({**accepted.body(), "summary": sheet.summary()}, status_code=accepted.status)

    @app.post("/v1/tokens", tags=["access"], status_code=201)
    async def create_token(request: TokenRequest, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
        """Create a token (admin). Its text is in this answer only; planwatch keeps a hash."""
        try:
            text, info = await svc.tokens.create(request.role, request.department, request.name)
        except ValueError as exc:
            raise Invalid(str(exc), "令牌参数有误", [FieldError("department", str(exc), "令牌参数有误")]) from None
        return {"token": text, **info.public()}

    @app.get("/v1/tokens", tags=["access"])
    async def list_tokens(svc: ServicesDep, who: AdminDep) -> list[dict[str, Any]]:
        """Every token's record (never a secret)."""
        return [t.public() for t in await svc.tokens.list()]

    @app.delete("/v1/tokens/{token_id}", tags=["access"])
    async def revoke_token(token_id: str, svc: ServicesDep, who: AdminDep) -> dict[str, str]:
        """Revoke a token: requests with it answer 401 from now on."""
        if not await svc.tokens.revoke(token_id):
            raise NotFound(f"no token {token_id!r}", "令牌不存在")
        return {"revoked": token_id}

    @app.post("/v1/subscriptions", tags=["alerts"], status_code=201)
    async def subscribe(request: Request, svc: ServicesDep, who: AdminDep) -> dict[str, Any]:
        """Subscribe a channel to alert notices (admin). A url on a loopback, private or
        link-local address is refused unless `allow_private` is set."""
        try:
            wanted = SubscriptionRequest.model_validate(await _read_json(request))
        except ValidationError as exc:
            raise Invalid("the subscription is not valid", "订阅内容有误", field_errors(exc)) from None
        try:
            created = await SubscriptionStore(svc.redis, svc.keys).create(wanted)
        except UnsafeTarget as exc:
            raise Invalid(str(exc), "不允许向内网或本机地址推送", [FieldError("url", str(exc), "地址不安全")]) from None
        return created.public()

    @app.get("/v1/subscriptions", tags=["alerts"])
    async def list_subscriptions(svc: ServicesDep, who: AdminDep) -> list[dict[str, Any]]:
        """Every subscription (secrets never shown) with its queued, sent and dead-letter counts."""
        listed = await SubscriptionStore(svc.redis, svc.keys).all_with_counts()
        return [{**subscription.public(), **counts} for subscription, counts in listed]

    @app.delete("/v1/subscriptions/{subscription_id}", tags=["alerts"])
    async def unsubscribe(subscription_id: str, svc: ServicesDep, who: AdminDep) -> dict[str, str]:
        """Stop telling a subscriber."""
        if not await SubscriptionStore(svc.redis, svc.keys).delete(subscription_id):
            raise NotFound(f"no subscription {subscription_id!r}", "订阅不存在")
        return {"deleted": subscription_id}

    @app.get("/v1/plans/{plan}/alerts", tags=["alerts"])
    async def alerts(
        plan: str,
        svc: ServicesDep,
        who: CallerDep,
        found: PlanDep,
        state: Annotated[
            Literal["firing", "resolved", "all"], Query(description="firing: now; resolved / all: from the history")
        ] = "firing",
        limit: Annotated[int, Query(ge=1, le=5000, description="history entries to look back over")] = 500,
    ) -> list[dict[str, Any]]:
        """Alerts of a plan: the firing ones (latest notice each), or the latest state of every
        alert in the recent history."""
        if state == "firing":
            return await firing_alerts(svc.redis, svc.keys, plan) or []
        latest: dict[str, dict[str, Any]] = {}
        for notice in await alert_notices(svc.redis, svc.keys, plan, limit):
            latest[notice["fingerprint"]] = notice
        return [n for n in latest.values() if state == "all" or n["state"] == "resolved"]

    @app.get("/v1/plans/{plan}/alerts/history", tags=["alerts"])
    async def alert_history(
        plan: str,
        svc: ServicesDep,
        who: CallerDep,
        found: PlanDep,
        limit: Annotated[int, Query(ge=1, le=5000)] = 100,
    ) -> list[dict[str, Any]]:
        """Every raised, escalated and resolved notice, newest last."""
        return await alert_notices(svc.redis, svc.keys, plan, limit)

    @app.get("/v1/plans/{plan}/alerts/stream", tags=["alerts"])
    async def alert_stream(
        plan: str,
        request: Request,
        svc: ServicesDep,
        found: PlanDep,
        token: Annotated[str | None, Query(description="for EventSource, which cannot send headers")] = None,
        authorization: Annotated[str | None, Header()] = None,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> StreamingResponse:
        """Server-Sent Events: every alert notice of the plan as it happens (`id` is its stream
        position; reconnect with Last-Event-ID to get what was missed)."""
        await caller(svc, authorization or (f"Bearer {token}" if token else None))
        if last_event_id is not None and not re.fullmatch(r"\d{1,20}-\d{1,20}", last_event_id):
            raise Invalid(
                "Last-Event-ID must be an event id this stream sent, like 1752631200000-0",
                "Last-Event-ID 格式有误",
                [FieldError("Last-Event-ID", "not a stream position", "不是有效的事件编号")],
            )
        outbox = svc.keys.outbox(plan)
        start = last_event_id or (await svc.store.redis.xrevrange(outbox, count=1) or [("0-0", {})])[0][0]

        async def events() -> AsyncIterator[bytes]:
            position = start
            yield b": planwatch alert stream\n\n"
            while not await request.is_disconnected():
                reply = await svc.redis.xread({outbox: position}, count=100, block=15_000)
                if not reply:
                    yield b": keep-alive\n\n"
                    continue
                for position, fields in reply[0][1]:
                    yield f"id: {position}\nevent: {fields['type']}\ndata: {fields['notice']}\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/v1/plans/{plan}/rollups", tags=["rollups"])
    async def rollups(plan: str, svc: ServicesDep, who: CallerDep, found: PlanDep) -> list[dict[str, Any]]:
        """The plan's monthly rollups: latest version of each month, with links to each format."""
        return await list_rollups(svc.redis, svc.keys, plan)

    @app.get(
        "/v1/plans/{plan}/rollups/{name}",
        tags=["rollups"],
        responses={200: {"content": {media_type: {} for _, media_type in RENDERERS.values()}}},
    )
    async def rollup_document(
        plan: str,
        name: Annotated[str, Path_(description="the month and format: 2025-06.md, 2025-06.html or 2025-06.xlsx")],
        svc: ServicesDep,
        who: CallerDep,
        found: PlanDep,
        version: Annotated[int | None, Query(ge=1, description="default: the latest")] = None,
    ) -> Response:
        """One rollup, rendered: Markdown, a printable HTML page, or an Excel workbook."""
        match = re.fullmatch(rf"(\d{{4}}-\d{{2}})\.({'|'.join(FORMATS)})", name)
        if not match:
            raise NotFound(f"no rollup {name!r}: ask for 2025-06.md, .html or .xlsx", "报告地址有误")
        period, fmt = match.groups()
        document = await load_document(svc.redis, svc.keys, plan, period, version)
        if document is None:
            raise NotFound(
                f"plan {plan} has no rollup for {period}" + (f" v{version}" if version else ""), "该月报告不存在"
            )
        headers = {}
        if fmt == "xlsx":  # a workbook is saved, not shown
            headers["Content-Disposition"] = f'attachment; filename="{plan}-{period}-v{document.version}.xlsx"'
        return Response(render_rollup(document, fmt), media_type=RENDERERS[fmt][1], headers=headers)

    @app.get("/asyncapi.json", tags=["docs"])
    async def asyncapi(svc: ServicesDep) -> dict[str, Any]:
        """AsyncAPI 3.0 document of the departments' inbox stream."""
        return _asyncapi_document(svc.keys)


# Static per keyspace; building it assembles a whole FastStream app, so once is enough.
_asyncapi_document = functools.cache(asyncapi_document)


def _document_event_bodies(app: FastAPI) -> None:
    """Describe the event, plan and subscription bodies in the OpenAPI document (their routes read
    the raw body themselves, to enforce the size limit and report errors in both languages)."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = original()
        schema = event_adapter.json_schema(ref_template="#/components/schemas/{model}")
        definitions = schema.pop("$defs", {})
        document.setdefault("components", {}).setdefault("schemas", {}).update(definitions)
        document["components"]["schemas"]["Event"] = schema
        event = {"$ref": "#/components/schemas/Event"}
        body = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            event,
                            {"type": "array", "items": event, "minItems": 1, "maxItems": 1000},
                            {
                                "type": "object",
                                "required": ["events"],
                                "properties": {
                                    "events": {"type": "array", "items": event, "minItems": 1, "maxItems": 1000},
                                    "expected_versions": {
                                        "type": "object",
                                        "additionalProperties": {"type": "integer", "minimum": 0},
                                    },
                                },
                            },
                        ]
                    }
                }
            },
        }
        document["paths"]["/v1/plans/{plan}/events"]["post"]["requestBody"] = body
        plan_schema = Plan.model_json_schema(ref_template="#/components/schemas/{model}")
        document["components"]["schemas"].update(plan_schema.pop("$defs", {}))
        document["components"]["schemas"]["Plan"] = plan_schema
        document["paths"]["/v1/plans/{plan}"]["put"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Plan"}}},
        }
        wanted = SubscriptionRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        document["components"]["schemas"].update(wanted.pop("$defs", {}))
        document["components"]["schemas"]["SubscriptionRequest"] = wanted
        document["paths"]["/v1/subscriptions"]["post"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SubscriptionRequest"}}},
        }
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
