"""Every error answers `{error, message, message_zh, errors: [{field, reason, reason_zh}]}`, so a
department's system can show the reason in either language."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from events.errors import FieldError
from services.app import AppError, Invalid


async def app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
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


def install_error_handlers(api: FastAPI) -> None:
    api.add_exception_handler(AppError, app_error)
    api.add_exception_handler(RequestValidationError, request_invalid)
