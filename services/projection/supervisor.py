"""Partitioning: which worker projects which plan.

Every plan has a lease key holding the id of the worker projecting it, with an expiry the
holder renews each tick; the holder runs both of the plan's projections (the read model and the
alerts), each on its own checkpoint. A worker takes free leases up to its fair share (plans /
live workers, live = heartbeat in the last lease period) and gives one back per tick when it
holds more, so plans spread over workers; when a worker dies its leases expire and the others
take its plans within about one lease period. The lease also fences writes: a projector's
commit checks it, so a worker that stalls past its lease can never overwrite the new holder's
work.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.projection.kinds import PROJECTIONS, Projection
from services.projection.runner import GenerationChanged, LeaseLost, Projector
from services.store import EventStore, Keyspace, Lease, redis_now_ms

log = logging.getLogger("planwatch.supervisor")


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
    ) -> None:
        self.redis, self.keys, self.worker_id = redis, keys, worker_id
        self.lease = Lease(redis, worker_id, lease_ttl_ms)
        self.lease_ttl_ms, self.tick, self.block_ms, self.max_attempts = lease_ttl_ms, tick, block_ms, max_attempts
        self.linger_ms = linger_ms
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.store = EventStore(redis, keys)

    @property
    def plans(self) -> list[str]:
        return sorted(self.tasks)

    async def run(self) -> None:
        """Keep leases and projector tasks in line until cancelled."""
        try:
            while True:
                try:
                    await self.balance()
                except RedisError as exc:  # Redis away: keep trying, the leases will tell
                    log.warning("supervisor %s: %s", self.worker_id, exc)
                await asyncio.sleep(self.tick)
        finally:
            await self.stop()

    async def balance(self) -> None:
        now = int(time.time() * 1000)
        await self.redis.zadd(self.keys.workers, {self.worker_id: now})
        await self.redis.zremrangebyscore(self.keys.workers, 0, now - self.lease_ttl_ms)
        live = max(await self.redis.zcard(self.keys.workers), 1)
        plans = await self.store.plans()
        share = math.ceil(len(plans) / live)
        for plan_id in list(self.tasks):  # renew ours; drop plans whose task ended or lease went
            task = self.tasks[plan_id]
            if task.done() or not await self.lease.hold(self.keys.lease(plan_id)):
                await self._drop(plan_id)
        if len(self.tasks) > share:  # hand one back per tick so a newcomer gets its share
            await self._drop(max(self.tasks), release=True)
        for plan_id in plans:
            if len(self.tasks) >= share:
                break
            if plan_id not in self.tasks and await self.lease.hold(self.keys.lease(plan_id)):
                self.tasks[plan_id] = asyncio.create_task(self._project(plan_id), name=f"project:{plan_id}")
                log.info("worker %s projects %s", self.worker_id, plan_id)

    async def _drop(self, plan_id: str, release: bool = False) -> None:
        task = self.tasks.pop(plan_id)
        if task.done() and not task.cancelled() and task.exception():
            log.error("projector of %s failed", plan_id, exc_info=task.exception())
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if release:
            await self.lease.release(self.keys.lease(plan_id))
        log.info("worker %s no longer projects %s", self.worker_id, plan_id)

    async def _project(self, plan_id: str) -> None:
        """The plan's projections side by side: the read model does not wait for the judgement.
        A lost lease stops both (the other would only find out at its next commit)."""
        try:
            async with asyncio.TaskGroup() as group:
                for projection in PROJECTIONS:
                    group.create_task(self._follow(plan_id, projection), name=f"project:{plan_id}:{projection.name}")
        except* LeaseLost:
            log.warning("worker %s lost the lease of %s", self.worker_id, plan_id)

    async def _follow(self, plan_id: str, projection: Projection) -> None:
        projector = Projector(
            self.redis, self.keys, plan_id, owner=self.worker_id, projection=projection, max_attempts=self.max_attempts
        )
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

    async def stop(self) -> None:
        for plan_id in list(self.tasks):
            await self._drop(plan_id, release=True)
        await self.redis.zrem(self.keys.workers, self.worker_id)
