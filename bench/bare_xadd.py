"""The raw limit for a single-event POST: a bare FastAPI app whose one route reads the body and
XADDs it, on planwatch's Redis connection, under the same uvicorn as `planwatch api`
(bench/ingest.py starts it: `uvicorn bare_xadd:create --factory`). No token, no validation."""

from __future__ import annotations

import os

from fastapi import FastAPI, Request, Response

from services.settings import Settings
from services.store import connect


def create() -> FastAPI:
    settings = Settings.from_env()
    redis = connect(settings.redis_target())
    stream = f"{os.environ['PLANWATCH_KEY_PREFIX']}:{{bare}}:events"
    api = FastAPI()

    @api.post("/v1/plans/{plan}/events", status_code=201)
    async def post_event(plan: str, request: Request) -> Response:
        position = await redis.xadd(stream, {"type": "bare", "data": await request.body()})
        return Response(b'{"position":"%s"}' % str(position).encode(), 201, media_type="application/json")

    return api
