"""Around every request: a request id (the caller's `X-Request-ID`, or a new one) echoed in the
answer and carried by every log line made while serving it; and for the routes that take events
in, the entry point the metrics count them under and the refusals, by reason."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.errors import UNEXPECTED
from services.app import intake
from services.observability import metrics, request_context

log = logging.getLogger("planwatch.api")
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")  # what we echo back and log: nothing that could forge a line
_PLAN_PATH = re.compile(r"^/v1/plans/([^/]+)(?:/(events|imports))?/?$")
_ENTRY_BY_PATH = {"events": "http", "imports": "sheet"}
# the error codes of services.app's refusals (and FastAPI's own 422), by the status they answer with
_REASON_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    503: "unavailable",
}


class RequestContext:
    """Pure ASGI middleware (no extra task per request, as BaseHTTPMiddleware would add)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        plan, entry = _plan_and_entry(scope)
        status: dict[str, int] = {}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        with request_context(request_id, plan):
            if entry is None:
                await _answered(self.app, scope, receive, send_with_id, status)
                return
            with intake(entry):
                await _answered(self.app, scope, receive, send_with_id, status)
            code = status.get("code", 500)
            if code >= 400:
                metrics.EVENTS_REFUSED.labels(entry, _REASON_BY_STATUS.get(code, str(code))).inc()


async def _answered(app: ASGIApp, scope: Scope, receive: Receive, send: Send, status: dict[str, int]) -> None:
    """The request served; a bug answered with the documented 500 and logged here, not raised on:
    raised, Starlette's outermost middleware answers it too but then raises it to the server,
    which drops the connection — and the next request a client sends on it (keep-alive) fails."""
    try:
        await app(scope, receive, send)
    except Exception:
        if "code" in status:  # the answer has begun: nothing to add to it, the connection must go
            raise
        log.exception("%s %s: unexpected error", scope.get("method"), scope.get("path"))
        body = json.dumps(UNEXPECTED).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            given = value.decode("latin-1").strip()
            if _GIVEN_ID.match(given):
                return given
    return f"{_ids.prefix}{next(_ids.counter):016x}"


class _RequestIds:
    """Ids made here: 64 random bits a process, then a count (32 hex digits, as a UUID's). Unique
    like uuid4's, without its system call per request; a forked process draws its own bits."""

    def __init__(self) -> None:
        self.draw()
        os.register_at_fork(after_in_child=self.draw)

    def draw(self) -> None:
        self.prefix, self.counter = secrets.token_hex(8), itertools.count()


_ids = _RequestIds()


def _plan_and_entry(scope: Scope) -> tuple[str | None, Any]:
    """The plan a path names, and the entry point if it is a POST that takes events in."""
    match = _PLAN_PATH.match(scope.get("path", ""))
    if match is None:
        return None, None
    plan, tail = match.groups()
    entry = _ENTRY_BY_PATH.get(tail or "") if scope.get("method") == "POST" else None
    return plan, entry
