"""`planwatch api`: the HTTP API (FastAPI) and the dashboard at `/`. OpenAPI docs at /docs and
/redoc (served offline), AsyncAPI of the inbox at /asyncapi.json. The routes are thin: each calls
one use case of the application (services.app)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from redis.asyncio import Redis

from services.api.errors import install_error_handlers
from services.api.middleware import RequestContext
from services.api.openapi import document_bodies
from services.api.routers import ROUTERS
from services.app import TOKEN_CACHE_S, App
from services.dashboard import mount_dashboard
from services.heap import settle_heap
from services.observability import configure_logging
from services.settings import Settings
from services.store import Keyspace


def create_api(redis: Redis | None = None, keys: Keyspace | None = None) -> FastAPI:
    """The API app. With `redis` given (tests) it uses that client; otherwise it connects to
    PLANWATCH_REDIS_URL / the embedded Redis on startup."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        if redis is not None:  # tests bring their own client
            yield
            return
        settings = Settings.from_env()
        configure_logging("api", settings.log_format, access_log=settings.access_log)  # in each process of --workers N
        api.state.app = App.connect(settings, TOKEN_CACHE_S)
        settle_heap()
        try:
            yield
        finally:
            await api.state.app.close()

    # FastAPIOffline: Swagger UI and ReDoc from the package's own files (no CDN: offline networks)
    api = FastAPIOffline(
        title="planwatch",
        version="0.1.0",
        summary="Monitors the execution of an annual economic and social development plan (计划执行监测).",
        lifespan=lifespan,
    )
    if redis is not None:  # usable without running the lifespan (httpx ASGITransport does not)
        api.state.app = App(redis, keys or Settings.from_env().keys, token_cache_s=TOKEN_CACHE_S)
    install_error_handlers(api)
    api.add_middleware(RequestContext)
    for router in ROUTERS:
        api.include_router(router)
    mount_dashboard(api)
    document_bodies(api)
    return api
