"""`planwatch worker`: the FastStream application that keeps every plan's projections current
(the read model and the alerts).

Projection does not use a consumer group: each plan is folded in log order by the one worker
holding its lease, and each projection's checkpoint is committed with it in one Lua call, which
gives exactly-once effect without a pending-entries list (and sidesteps FastStream's "a failed
message is never redelivered" behaviour). The FastStream app hosts the supervisor in its
lifecycle, its broker runs the departments' inbox consumer group (services/inbox.py), and
it runs the notifier that delivers alert notices to subscribers (services/notifier.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid

import httpx
from faststream import FastStream
from faststream.redis import RedisBroker

from services.inbox import Inbox
from services.notify import Notifier
from services.projection import ProjectionSupervisor
from services.store import Keyspace, connect, redis_url

log = logging.getLogger("planwatch.worker")


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


def create_app(
    url: str | None = None,
    keys: Keyspace | None = None,
    worker_id: str | None = None,
    lease_ttl_ms: int = 5000,
    reclaim_idle_ms: int = 30_000,
    notify: bool = True,
    retry_base_s: float = 2.0,
    link: str | None = None,
) -> FastStream:
    url = url or redis_url()
    keys = keys or Keyspace.from_env()
    worker_id = worker_id or default_worker_id()
    broker = RedisBroker(url)
    inbox = Inbox(keys, consumer=worker_id, reclaim_idle_ms=reclaim_idle_ms)
    inbox.attach(broker)
    app = FastStream(broker)
    running: dict[str, object] = {}

    @app.on_startup
    async def open_services() -> None:
        redis = connect(url)
        running["redis"] = redis
        await inbox.open(redis)

    @app.after_startup
    async def start_projection() -> None:
        redis = running["redis"]
        supervisor = ProjectionSupervisor(
            redis,  # type: ignore[arg-type]
            keys,
            worker_id,
            lease_ttl_ms=lease_ttl_ms,
            tick=lease_ttl_ms / 5000,
        )
        running["task"] = asyncio.create_task(supervisor.run(), name="supervisor")
        if notify:
            http = httpx.AsyncClient(timeout=10)
            notifier = Notifier(
                redis,  # type: ignore[arg-type]
                keys,
                worker_id,
                http,
                backoff_s=retry_base_s,
                claim_idle_ms=reclaim_idle_ms,
                link=link,
            )
            running["http"] = http
            running["notifier"] = asyncio.create_task(notifier.run(), name="notifier")
        log.info("worker %s started (lease %d ms, keys %s:*)", worker_id, lease_ttl_ms, keys.prefix)

    @app.on_shutdown
    async def stop_projection() -> None:
        for name in ("notifier", "task"):
            task = running.get(name)
            if isinstance(task, asyncio.Task):
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        http = running.get("http")
        if isinstance(http, httpx.AsyncClient):
            await http.aclose()
        redis = running.get("redis")
        if redis is not None:
            await redis.aclose()  # type: ignore[attr-defined]
        log.info("worker %s stopped", worker_id)

    return app
