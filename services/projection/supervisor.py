"""Partitioning: which worker runs which projection of which plan.

The unit of work is one projection of one plan (its read model, or its alerts): each has a lease
key holding the id of the worker running it, with an expiry the holder renews each tick. A worker
takes free leases up to its fair share (units / live workers, live = heartbeat in the last lease
period) and gives one back per tick when it holds more, so the units spread over workers — two
workers split even a single plan, one running its read model and the other its alerts. When a
worker dies its leases expire and the others take its units within about one lease period. The
lease also fences writes: a projector's commit checks it, so a worker that stalls past its lease
can never overwrite the new holder's work.

Every few seconds the supervisor reports, for the units it holds, each one's lag, checkpoint age
and dead letters to the metrics (services.observability).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.observability import metrics, plan_context
from services.projection.kinds import PROJECTIONS, Projection
from services.projection.runner import GenerationChanged, LeaseLost, Projector
from services.projection.status import report_progress
from services.store import EventStore, Keyspace, Lease, redis_now_ms

log = logging.getLogger("planwatch.supervisor")

Unit = tuple[str, str]  # (plan id, projection name): what one lease covers
_BY_NAME = {projection.name: projection for projection in PROJECTIONS}


class ProjectionSupervisor:
    def __init__(
        self,
        redis: Redis,
        keys: Keyspace,
        worker_id: str,
        *,
        lease_ttl_ms: int = 5000,
        tick: float = 1.0,
        block_ms: int = 1000,
        max_attempts: int = 3,
        linger_ms: int = 10,
        metrics_every_s: float = 5.0,
    ) -> None:
        self.redis, self.keys, self.worker_id = redis, keys, worker_id
        self.lease = Lease(redis, worker_id, lease_ttl_ms)
        self.lease_ttl_ms, self.tick, self.block_ms, self.max_attempts = lease_ttl_ms, tick, block_ms, max_attempts
        self.linger_ms, self.metrics_every_s = linger_ms, metrics_every_s
        self.tasks: dict[Unit, asyncio.Task[None]] = {}
        self.projectors: dict[Unit, Projector] = {}
        self.store = EventStore(redis, keys)
        self._next_report = 0.0

    @property
    def plans(self) -> list[str]:
        """The plans of which this worker runs at least one projection."""
        return sorted({plan for plan, _ in self.tasks})

    @property
    def units(self) -> list[Unit]:
        return sorted(self.tasks)

    async def run(self) -> None:
        """Keep leases and projector tasks in line until cancelled."""
        try:
            while True:
                try:
                    await self.balance()
                    await self._report()
                    metrics.REDIS_UP.set(1)
                except RedisError as exc:  # Redis away: keep trying, the leases will tell
                    metrics.REDIS_UP.set(0)
                    log.warning("supervisor %s: %s", self.worker_id, exc)
                await asyncio.sleep(self.tick)
        finally:
            await self.stop()

    async def balance(self) -> None:
        now = int(time.time() * 1000)
        await self.redis.zadd(self.keys.workers, {self.worker_id: now})
        await self.redis.zremrangebyscore(self.keys.workers, 0, now - self.lease_ttl_ms)
        live = max(await self.redis.zcard(self.keys.workers), 1)
        # projection-major order: with two workers and one plan, one takes the read model, the other the alerts
        units = [(plan, projection.name) for projection in PROJECTIONS for plan in await self.store.plans()]
        share = math.ceil(len(units) / live)
        for unit in list(self.tasks):  # renew ours; drop units whose task ended or lease went
            task = self.tasks[unit]
            if task.done() or not await self.lease.hold(self._lease_key(unit)):
                await self._drop(unit)
        if len(self.tasks) > share:  # hand one back per tick so a newcomer gets its share
            await self._drop(max(self.tasks), release=True)
        for unit in units:
            if len(self.tasks) >= share:
                break
            if unit not in self.tasks and await self.lease.hold(self._lease_key(unit)):
                self.tasks[unit] = asyncio.create_task(self._follow(*unit), name=f"project:{unit[0]}:{unit[1]}")
                log.info(
                    "worker %s runs the %s of %s",
                    self.worker_id,
                    _BY_NAME[unit[1]].label,
                    unit[0],
                    extra={"plan": unit[0]},
                )

    def _lease_key(self, unit: Unit) -> str:
        return self.keys.lease(*unit)

    async def _drop(self, unit: Unit, release: bool = False) -> None:
        task = self.tasks.pop(unit)
        self.projectors.pop(unit, None)
        metrics.forget_projection(*unit)
        if task.done() and not task.cancelled() and task.exception():
            log.error("projector of %s %s failed", *unit, exc_info=task.exception())
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if release:
            await self.lease.release(self._lease_key(unit))
        label = _BY_NAME[unit[1]].label
        log.info("worker %s no longer runs the %s of %s", self.worker_id, label, unit[0], extra={"plan": unit[0]})

    async def _follow(self, plan_id: str, name: str) -> None:
        """Keep one projection of the plan current until the lease is lost or the task cancelled."""
        projection = _BY_NAME[name]
        with plan_context(plan_id):
            try:
                await self._keep_current(plan_id, projection)
            except LeaseLost:
                log.warning("worker %s lost the lease of the %s of %s", self.worker_id, projection.label, plan_id)

    async def _keep_current(self, plan_id: str, projection: Projection) -> None:
        projector = Projector(
            self.redis, self.keys, plan_id, owner=self.worker_id, projection=projection, max_attempts=self.max_attempts
        )
        self.projectors[(plan_id, projection.name)] = projector
        linger_ms = projector.strategy.linger_ms(self.linger_ms)
        needs_load, delay = True, 0.5
        while True:
            try:
                if needs_load:
                    await projector.load()
                    needs_load = False
                if not await projector.step(block_ms=self.block_ms, linger_ms=linger_ms):
                    await projector.idle(await redis_now_ms(self.redis))
                delay = 0.5
            except GenerationChanged:
                needs_load = True
            except LeaseLost:
                raise
            except Exception as exc:  # Redis away, or a bug: retry, and let the other projection go on
                level = logging.WARNING if isinstance(exc, (RedisError, OSError)) else logging.ERROR
                log.log(level, "plan %s %s: %s; retrying in %.1fs", plan_id, projection.label, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
                needs_load = True

    async def _report(self) -> None:
        """Every `metrics_every_s`: lag, checkpoint age and dead letters of the units held."""
        if time.monotonic() < self._next_report or not self.projectors:
            return
        self._next_report = time.monotonic() + self.metrics_every_s
        await report_progress(self.redis, self.keys, list(self.projectors.values()))

    async def stop(self) -> None:
        for unit in list(self.tasks):
            await self._drop(unit, release=True)
        await self.redis.zrem(self.keys.workers, self.worker_id)
