"""Every error answers `{error, message, message_zh, errors: [{field, reason, reason_zh}]}`, so a
department's system can show the reason in either language — refusals (4xx), Redis being
unavailable (503 with Retry-After) and anything unexpected (500) alike: never a plain-text page."""

from __future__ import annotations

import logging
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis import exceptions as redis_errors
from starlette.exceptions import HTTPException

from events.errors import FieldError
from services.app import AppError, Invalid, StoreDamaged, Unavailable
from services.store import DamagedKey

log = logging.getLogger("planwatch.api")

RETRY_AFTER_SECONDS: Final = 5
# Redis cannot answer now, but will: down, restarting (loading its data), failing over (a replica
# that is read-only), out of memory or connections, a cluster re-sharding. Worth a retry.
REDIS_UNAVAILABLE: Final = (
    redis_errors.ConnectionError,  # includes BusyLoadingError, MaxConnectionsError
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,
    redis_errors.MasterDownError,
    redis_errors.OutOfMemoryError,
    redis_errors.TryAgainError,
    redis_errors.ClusterDownError,
    redis_errors.RedisClusterException,
)


async def app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if exc.status == 503 and not isinstance(exc, StoreDamaged):  # waiting does not repair a key
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(
            ".".join(str(p) for p in err["loc"][1:]) or str(err["loc"][0]),
            str(err["msg"]),
            "取值无效" if err["type"] != "missing" else "缺少必填项",
        )
        for err in exc.errors()
    ]
    return JSONResponse(Invalid("the request is not valid", "请求参数有误", errors).body(), status_code=422)


async def redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: Redis unavailable: %r", request.method, request.url.path, exc)
    refusal = Unavailable(
        f"the event store is unavailable ({type(exc).__name__}); nothing was stored, retry in a few seconds",
        "数据存储暂时不可用，未保存任何数据，请稍后重试",
    )
    return await app_error(request, refusal)


async def store_damaged(request: Request, exc: Exception) -> JSONResponse:
    """A write refused over a key of the wrong Redis type (services/store/wrongtype.py): 503 naming it."""
    assert isinstance(exc, DamagedKey)
    log.error("%s %s: %s", request.method, request.url.path, exc)
    return await app_error(request, StoreDamaged.of_damage(exc))


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals (unknown path 404, method 405) in the same shape."""
    assert isinstance(exc, HTTPException)
    body = {
        "error": {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error"),
        "message": str(exc.detail),
        "message_zh": {404: "地址不存在", 405: "不支持该请求方法"}.get(exc.status_code, "请求有误"),
        "errors": [],
    }
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


UNEXPECTED = {
    "error": "internal",
    "message": "an unexpected error occurred; it has been logged",
    "message_zh": "服务器内部错误，已记录",
    "errors": [],
}


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug outside the request middleware (services.api.middleware answers the rest): logged with
    its traceback, answered in the documented shape."""
    return JSONResponse(UNEXPECTED, status_code=500)


def install_error_handlers(api: FastAPI) -> None:
    api.add_exception_handler(AppError, app_error)
    api.add_exception_handler(RequestValidationError, request_invalid)
    api.add_exception_handler(HTTPException, http_error)
    api.add_exception_handler(DamagedKey, store_damaged)
    for kind in REDIS_UNAVAILABLE:
        api.add_exception_handler(kind, redis_unavailable)
    api.add_exception_handler(Exception, unexpected)
