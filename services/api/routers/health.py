"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.api.deps import AppDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(app: AppDep) -> JSONResponse:
    """Redis answers and no plan's projection (read model, alerts) lags the log by more than
    PLANWATCH_READY_MAX_LAG events; `lag` is each plan's larger lag."""
    readiness = await app.operations.readiness()
    if readiness.error is not None:
        return JSONResponse({"status": "unavailable", "redis": readiness.error}, status_code=503)
    body = {"status": "ready" if readiness.ready else "lagging", "max_lag": readiness.max_lag, "lag": readiness.lag}
    return JSONResponse(body, status_code=200 if readiness.ready else 503)
