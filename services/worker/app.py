"""`planwatch worker`: the FastStream application that keeps every plan's projections current
(the read model and the alerts).

Projection does not use a consumer group: each plan is folded in log order by the one worker
holding its lease, and each projection's checkpoint is committed with it in one Lua call, which
gives exactly-once effect without a pending-entries list (and sidesteps FastStream's "a failed
message is never redelivered" behaviour). The FastStream app hosts the supervisor in its
lifecycle, its broker runs the departments' inbox consumer group (services/inbox/), and
it runs the notifier that delivers alert notices to subscribers (services/notify/).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass

import httpx
from faststream import FastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.app import App
from services.inbox import Inbox
from services.notify import Notifier
from services.projection import ProjectionSupervisor
from services.settings import Settings
from services.store import Keyspace, Sealer, SignedLinks, client_name, connect, node_url_for_key
from services.tasks import cancel_and_wait

log = logging.getLogger("planwatch.worker")

# The connections a worker holds on each Redis node, whatever the number of plans (CLIENT LIST
# names them `planwatch-worker:<id>:<use>`):
POOL = 18  # the projectors' reads and commits (8) and loads (2), the notifier's deliveries (8), the inbox's appends
CONTROL = 2  # heartbeat, leases and clock: never queued behind the projectors
WAKEUP = 1  # the one subscription: projectors' wake-ups, the notifier's outbox news (services/store/announcements.py)
LEASES = 1  # the lease keeper's, renewing from a thread of its own (services/store/lease.py)
BROKER = 4  # FastStream's broker: the inbox's consumer group
CONNECTION_BOUND = POOL + CONTROL + WAKEUP + LEASES + BROKER

# Stopping, within docker's grace between SIGTERM and SIGKILL (docker-compose.yml: the hand-over
# and 10 s): after handing its plans over, the supervisor is given this long to stop its projectors
# (each given 5 s at most) and let go of its leases, the notifier this long to end.
SUPERVISOR_GRACE_S = 7.0
NOTIFIER_GRACE_S = 5.0
STOP_GRACE_S = 10.0  # what a worker needs after its hand-over to stop


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
    retry_cap_s: float = 300.0,
    link: str | None = None,
    hand_over_s: float = 0.0,
) -> FastStream:
    """`link`: the public address for links in messages (default PLANWATCH_PUBLIC_URL);
    `hand_over_s`: how long a stopping worker runs its plans until other workers take them."""
    settings = Settings.from_env()
    public_url = link or settings.public_url
    url = url or settings.redis_target()
    keys = keys or settings.keys
    worker_id = worker_id or default_worker_id()
    # planwatch's loggers: FastStream's own print coloured lines of their own, past the JSON handler
    # FastStream speaks to one node: on a Cluster, the one serving the inbox stream
    broker_url = node_url_for_key(url, keys.inbox)
    broker = RedisBroker(
        broker_url,
        logger=logging.getLogger("planwatch.inbox.broker"),
        max_connections=BROKER,
        client_name=client_name(worker_id, "inbox"),
    )
    inbox = Inbox(keys, consumer=worker_id, reclaim_idle_ms=reclaim_idle_ms)
    inbox.attach(broker)
    app = FastStream(broker, logger=logging.getLogger("planwatch.worker.app"))
    running = _Running()

    @app.on_startup
    async def open_services() -> None:
        running.redis = connect(url, POOL, client_name(worker_id, "pool"))
        running.control = connect(url, CONTROL, client_name(worker_id, "control"))
        # pub/sub reaches every node of a Cluster: one connection to the node of the plan set will do
        running.wakeup = connect(node_url_for_key(url, keys.plans), WAKEUP, client_name(worker_id, "wakeup"))
        await inbox.open(running.redis)

    @app.after_startup
    async def start_projection() -> None:
        redis = running.connection()
        supervisor = ProjectionSupervisor(
            redis,
            keys,
            worker_id,
            lease_url=url,
            control=running.control,
            wakeup=running.wakeup,
            lease_ttl_ms=lease_ttl_ms,
            tick=lease_ttl_ms / 5000,
            snapshot_every=settings.snapshot_every,
            state_save_s=settings.state_save_s,
            hand_over_s=hand_over_s,
        )
        running.supervisor = supervisor
        if notify:
            running.http = httpx.AsyncClient(timeout=10)
            notifier = Notifier(
                redis,
                keys,
                worker_id,
                running.http,
                backoff_s=retry_base_s,
                backoff_cap_s=retry_cap_s,
                claim_idle_ms=reclaim_idle_ms,
                links=await SignedLinks.load(redis, keys, public_url, settings.secret_key),
                allowed_targets=settings.allow_private_targets,
                sealer=Sealer(settings.secret_key),
                firing_of=App(redis, keys, settings).alerting.firing_for,  # reminders read what fires
                zone=settings.time_zone,
                announcements=supervisor.announcements,  # one subscription: added before it starts
            )
            running.notifying = asyncio.create_task(notifier.run(), name="notifier")
        running.supervising = asyncio.create_task(supervisor.run(), name="supervisor")
        log.info("worker %s started (lease %d ms, keys %s:*)", worker_id, lease_ttl_ms, keys.prefix)

    @app.on_shutdown
    async def stop_projection() -> None:
        await running.close()
        log.info("worker %s stopped", worker_id)

    return app


@dataclass
class _Running:
    """What the worker opened at start-up, closed at shutdown."""

    redis: Redis | None = None
    control: Redis | None = None
    wakeup: Redis | None = None
    http: httpx.AsyncClient | None = None
    supervisor: ProjectionSupervisor | None = None
    supervising: asyncio.Task[None] | None = None  # supervisor.run()
    notifying: asyncio.Task[None] | None = None  # the notifier's loop

    def connection(self) -> Redis:
        if self.redis is None:
            raise RuntimeError("the worker's Redis connection is opened at start-up")
        return self.redis

    async def close(self) -> None:
        """The supervisor and the notifier stopped together, then the clients."""
        await asyncio.gather(self._stop_supervisor(), self._stop_notifier())
        if self.http is not None:
            await self.http.aclose()
        for client in (self.redis, self.control, self.wakeup):
            if client is not None:
                await client.aclose()

    async def _stop_supervisor(self) -> None:
        """Asked, not cancelled: it stops its projectors and lets go of its leases; cancelled only
        if it has not done so within `SUPERVISOR_GRACE_S` (Redis unreachable, say)."""
        if self.supervisor is None or self.supervising is None:
            return
        self.supervisor.close()
        grace_s = self.supervisor.hand_over_s + SUPERVISOR_GRACE_S
        await asyncio.wait([self.supervising], timeout=grace_s)
        if not self.supervising.done():
            log.error("the supervisor did not stop within %.0f s: cancelled", grace_s)
        await cancel_and_wait([self.supervising], grace_s=1.0)
        task = self.supervising
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("the supervisor failed while stopping", exc_info=task.exception())

    async def _stop_notifier(self) -> None:
        if self.notifying is not None and await cancel_and_wait([self.notifying], NOTIFIER_GRACE_S):
            log.error("the notifier did not stop within %.0f s", NOTIFIER_GRACE_S)
