"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from services.api.deps import AppDep
from services.api.schemas import Health, Readiness
from services.observability import metrics

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", responses={200: {"model": Readiness}, 503: {"model": Readiness}})
async def readyz(app: AppDep) -> JSONResponse:
    """Redis answers and no plan's projection (read model, alerts) lags the log by more than
    PLANWATCH_READY_MAX_LAG events; `lag` is each plan's larger lag."""
    readiness = await app.operations.readiness()
    if readiness.error is not None:
        return JSONResponse({"status": "unavailable", "redis": readiness.error}, status_code=503)
    body = {"status": "ready" if readiness.ready else "lagging", "max_lag": readiness.max_lag, "lag": readiness.lag}
    return JSONResponse(body, status_code=200 if readiness.ready else 503)


@router.get("/metrics", response_class=Response)
async def prometheus_metrics(app: AppDep) -> Response:
    """Prometheus metrics of the API (every process of `planwatch api --workers N`): events
    accepted and refused by entry point and reason, append latency, whether Redis answers."""
    try:
        await asyncio.wait_for(app.redis.ping(), timeout=2)
        metrics.REDIS_UP.set(1)
    except Exception:  # Redis away or too slow: the gauge says so, the scrape still answers
        metrics.REDIS_UP.set(0)
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
