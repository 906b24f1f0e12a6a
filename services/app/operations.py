"""Running it: how far each plan's projections have got, whether the service is ready, and
rebuilding a plan's projections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from events.models import recorded_at_of
from services.app.backup import ExportSummary, RestoreSummary, export_plan, restore_plan
from services.app.errors import NotFound
from services.app.rollups import list_rollups
from services.notify import Subscription, SubscriptionStore
from services.projection import (
    PROJECTIONS,
    READ_MODEL,
    PlanStatus,
    RebuildResult,
    current_generation,
    plan_status,
    rebuild,
)
from services.store import EventStore, PlanCatalog

Progress = Callable[[int, int], Awaitable[None] | None]


@dataclass(frozen=True)
class PlanRow:
    status: PlanStatus
    outbox_dead: int  # outbox entries the notifier set aside (the plan's, shown on each projection)


@dataclass(frozen=True)
class PlanOverview:
    """A published plan as `planwatch plans` lists it."""

    plan_id: str
    name: str
    timezone: str
    events: int
    lag: int  # the larger lag of its projections
    rollup_period: str | None  # its latest monthly rollup
    rollup_version: int | None
    rollup_known_at: str | None


@dataclass(frozen=True)
class Readiness:
    ready: bool
    lag: dict[str, int]  # each plan's larger lag of its projections
    max_lag: int
    error: str | None = None  # Redis could not be reached


@dataclass(frozen=True)
class Freshness:
    """How current a plan's data is: when its newest event was recorded, and how far the read
    model is behind (pages that must be current fold the difference)."""

    last_recorded_at: datetime | None
    events: int
    lag: int
    worker: str | None  # the worker projecting the plan, if one is


class Operations:
    def __init__(
        self,
        store: EventStore,
        catalog: PlanCatalog,
        subscriptions: SubscriptionStore,
        ready_max_lag: int,
        snapshot_every: int | None = None,
    ) -> None:
        self.store, self.catalog, self.subscriptions, self.ready_max_lag = store, catalog, subscriptions, ready_max_lag
        self.snapshot_every = snapshot_every

    async def status(self, plan_id: str | None = None) -> list[PlanRow]:
        """Per plan and projection: log length, checkpoint, lag, dead letters, generation, worker."""
        redis, keys = self.store.redis, self.store.keys
        plans = [plan_id] if plan_id else await self.store.plans()
        rows = []
        for plan in plans:
            outbox_dead = await redis.xlen(keys.outbox_dead(plan))
            rows += [PlanRow(await plan_status(redis, keys, plan, p), outbox_dead) for p in PROJECTIONS]
        return rows

    async def parked(self, plan_id: str) -> list[dict[str, str]]:
        """What the plan's read model passed over, each with its position and reason: entries the
        fold parked (`source` fold: not readable or not applicable — every reader passes over the
        same ones and carries on) and events given up on after retries (`source` retries)."""
        redis, keys = self.store.redis, self.store.keys
        generation = await current_generation(redis, keys, plan_id, projection=READ_MODEL)
        if not generation:
            return []
        entries = await redis.xrange(keys.dead_letters(plan_id, generation, READ_MODEL.name))
        return [
            {
                "position": str(f.get("position", "")),
                "type": str(f.get("type", "")),
                "source": str(f.get("source", "retries")),
                "reason": str(f.get("error", "")),
            }
            for _, f in entries or ()
            if f is not None
        ]

    async def plans(self) -> list[PlanOverview]:
        """Every published plan: events, lag, latest rollup."""
        redis, keys = self.store.redis, self.store.keys
        overviews = []
        for plan in await self.catalog.all():
            statuses = [await plan_status(redis, keys, plan.id, p) for p in PROJECTIONS]
            rollups = await list_rollups(redis, keys, plan.id)
            latest = max(rollups, key=lambda r: r.period) if rollups else None
            overviews.append(
                PlanOverview(
                    plan.id,
                    plan.name,
                    plan.timezone,
                    statuses[0].log_length,
                    max(s.lag for s in statuses),
                    latest.period if latest else None,
                    latest.version if latest else None,
                    latest.known_at if latest else None,
                )
            )
        return overviews

    async def freshness(self, plan_id: str) -> Freshness:
        newest = await self.store.redis.xrevrange(self.store.keys.events(plan_id), count=1)
        status = await plan_status(self.store.redis, self.store.keys, plan_id)
        last = recorded_at_of(str(newest[0][0])) if newest else None
        return Freshness(last, status.log_length, status.lag, status.owner)

    async def deliveries(self) -> list[tuple[Subscription, dict[str, int]]]:
        """Every subscription with its queued / sent / dead counts."""
        return await self.subscriptions.all_with_counts()

    async def readiness(self) -> Readiness:
        """Redis answers and no plan's projection lags the log by more than the allowed lag."""
        redis, keys = self.store.redis, self.store.keys
        try:
            await redis.ping()
            plans = await self.store.plans()
            statuses = await asyncio.gather(*(plan_status(redis, keys, p, j) for p in plans for j in PROJECTIONS))
        except Exception as exc:  # any failure to reach Redis means not ready
            return Readiness(False, {}, self.ready_max_lag, str(exc))
        lags: dict[str, int] = {}
        for status in statuses:
            lags[status.plan_id] = max(lags.get(status.plan_id, 0), status.lag)
        return Readiness(all(lag <= self.ready_max_lag for lag in lags.values()), lags, self.ready_max_lag)

    async def plan_ids(self) -> list[str]:
        """Every plan the workers project (the plans with events), in order."""
        return await self.store.plans()

    async def rebuild(self, plan_id: str, progress: Callable[[str], Progress] | None = None) -> list[RebuildResult]:
        """Replay the plan's log into a new generation of each projection (the read model, then the
        alerts), switching readers to each once it has caught up. `progress(label)` gives the
        callback for one projection's progress."""
        if not await self.store.length(plan_id):
            raise NotFound(f"plan {plan_id!r} has no events", f"计划“{plan_id}”没有事件")
        return [
            await rebuild(
                self.store.redis,
                self.store.keys,
                plan_id,
                progress(projection.label) if progress else None,
                projection=projection,
                snapshot_every=self.snapshot_every,
            )
            for projection in PROJECTIONS
        ]

    async def export(self, plan_id: str, out: IO[bytes]) -> ExportSummary:
        """Write the plan's log verbatim (and its rollup documents) as JSON Lines with a checksum line."""
        return await export_plan(self.store, plan_id, out)

    async def restore(
        self,
        path: Path,
        as_plan: str | None = None,
        progress: Callable[[str], Progress] | None = None,
    ) -> RestoreSummary:
        """Load an export into an empty plan (its own id, or `as_plan`) at the original positions,
        after verifying the whole file; then rebuild the plan's projections. `progress(label)` gives
        the callback of each stage ("restore", then each projection's rebuild)."""

        async def rebuild_all(plan_id: str) -> list[RebuildResult]:
            return await self.rebuild(plan_id, progress)

        return await restore_plan(self.store, path, as_plan, rebuild_all, progress("events") if progress else None)
