"""`planwatch scheduler`: the monthly rollup, written by itself, once, and caught up after downtime.

The clock (injectable, for tests and `--now`) decides which months are due; the rollup itself
is always written as known at the moment it is written.

APScheduler 3.11 `AsyncIOScheduler`, one cron job per plan in the plan's time zone (default
08:00 on the 16th, for the previous month). Several replicas may run: every replica's job
fires, and the run for a month takes a Redis lock and checks the month's done marker — and
`produce_rollup(scheduled=True)` checks the log itself — so one rollup is written. On start,
every few minutes, and when the cron job fires, each replica writes every month of the plan
year whose time has come and that has no rollup yet, oldest first (catch-up), with the same
guard.

Oldest first holds across replicas: a month's first version is compared with the month
before's rollup, so a month is only written once the month before has its rollup. A replica
that finds a month locked by another stops that plan's catch-up there (the other replica goes
on to the later months; the next catch-up finds them done) instead of skipping ahead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from redis.exceptions import LockNotOwnedError, RedisError

from events.plan import Plan
from services.app import App, RollupConflict, RollupResult
from services.observability import metrics

log = logging.getLogger("planwatch.scheduler")


def due_time(plan: Plan, month: int) -> datetime:
    """When the rollup of `month` of the plan year is due: the schedule's first firing after the
    month has ended, in the plan's time zone."""
    zone = ZoneInfo(plan.timezone)
    after = datetime(plan.year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    trigger = CronTrigger.from_crontab(plan.rollup.cron, timezone=zone)
    fire = trigger.get_next_fire_time(None, after)
    assert fire is not None
    return fire


def due_periods(plan: Plan, now: datetime) -> list[str]:
    """Months of the plan year whose rollup is due by `now`, oldest first. Compared as instants
    (UTC): two times in the plan's own zone would be compared by their wall clocks, and in the
    hour a DST change repeats, 01:10 after the change would read as before 01:30 ahead of it."""
    instant = now.astimezone(UTC)
    return [f"{plan.year:04d}-{m:02d}" for m in range(1, 13) if due_time(plan, m).astimezone(UTC) <= instant]


def reported_month(plan: Plan, fired_at: datetime) -> str:
    """The month a firing is for: the month before the firing, in the plan's time zone."""
    local = fired_at.astimezone(ZoneInfo(plan.timezone))
    previous = local.replace(day=1) - timedelta(days=1)
    return f"{previous.year:04d}-{previous.month:02d}"


class MonthBusy(Exception):
    """Another replica holds the month's lock: it is writing that month now."""


class RollupScheduler:
    def __init__(
        self, app: App, clock: Callable[[], datetime] = lambda: datetime.now(UTC), lock_timeout_s: float = 600
    ) -> None:
        self.app, self.clock, self.lock_timeout_s = app, clock, lock_timeout_s
        self.redis, self.keys, self.catalog = app.redis, app.keys, app.catalog
        self.scheduler: AsyncIOScheduler | None = None

    async def run_month(self, plan_id: str, period: str) -> RollupResult | None:
        """Write a month's scheduled rollup unless it has one (then None). Raises `MonthBusy` if
        another replica is writing it now."""
        done = self.keys.rollup_done(plan_id, period)
        if await self.redis.exists(done):
            return None
        lock = self.redis.lock(self.keys.rollup_lock(plan_id, period), timeout=self.lock_timeout_s, blocking=False)
        if not await lock.acquire():
            raise MonthBusy(f"{plan_id} {period}")
        try:
            if await self.redis.exists(done):
                return None
            try:
                result = await self.app.rollups.produce(plan_id, period, scheduled=True)
            except RollupConflict:
                # Written at the same moment by someone else (a run by hand, or a replica that took
                # the lock after ours expired): the month has its rollup now. Asked again, the log
                # says "exists" (and the index and announcement are finished if still missing).
                log.info(
                    "rollup %s %s was written at the same moment by another run; keeping that one", plan_id, period
                )
                result = await self.app.rollups.produce(plan_id, period, scheduled=True)
            await self.redis.set(done, result.version)
            if result.outcome == "published":
                log.info("rollup %s %s v%d published", plan_id, period, result.version)
            return result
        finally:
            try:
                await lock.release()
            except LockNotOwnedError:  # the rollup outlived the lock; the log kept one version all the same
                log.warning(
                    "rollup %s %s took longer than its lock (%ss): the lock had expired when it was done",
                    plan_id,
                    period,
                    self.lock_timeout_s,
                )

    async def catch_up(self) -> list[RollupResult]:
        """Every due month of every plan that has no rollup yet, oldest first."""
        results = []
        now = self.clock()
        for plan in await self.catalog.all():
            results += await self._catch_up_plan(plan, now)
        return results

    async def _catch_up_plan(self, plan: Plan, now: datetime) -> list[RollupResult]:
        """The plan's due months without a rollup, oldest first; stops at a month another replica
        is writing (it goes on to the later ones), so no month is written before the one before it."""
        results = []
        for period in due_periods(plan, now):
            try:
                result = await self.run_month(plan.id, period)
            except MonthBusy:
                log.info(
                    "rollup %s %s is being written by another replica; the later months are left to it", plan.id, period
                )
                break
            if result is not None and result.outcome == "published":
                results.append(result)
        return results

    async def start(self) -> None:
        """Catch up, then keep one cron job per plan (re-read every few minutes for new plans)."""
        self.scheduler = AsyncIOScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "misfire_grace_time": 3600, "max_instances": 1}
        )
        self.scheduler.start()
        await self.catch_up()
        await self.sync_jobs()
        self.scheduler.add_job(self._refresh, "interval", minutes=5, id="refresh", replace_existing=True)

    async def _refresh(self) -> None:
        try:
            await self.sync_jobs()
            await self.catch_up()  # a month missed while the job could not run is written now
        except RedisError as exc:  # Redis away: the next refresh tries again
            metrics.REDIS_UP.set(0)
            log.warning("scheduler: %s; trying again in 5 minutes", exc)
        else:
            metrics.REDIS_UP.set(1)

    async def sync_jobs(self) -> None:
        assert self.scheduler is not None
        for plan in await self.catalog.all():
            trigger = CronTrigger.from_crontab(plan.rollup.cron, timezone=ZoneInfo(plan.timezone))
            self.scheduler.add_job(self._fire, trigger, args=[plan.id], id=f"rollup:{plan.id}", replace_existing=True)

    async def _fire(self, plan_id: str) -> None:
        """The cron job: the month before (`reported_month`) is due now. Written through the
        plan's catch-up, so a month still missing before it is written first."""
        plan = await self.catalog.get(plan_id)
        if plan is None:
            return
        await self._catch_up_plan(plan, self.clock())

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)


async def run_forever(app: App, retry_s: float = 5.0) -> None:
    scheduler = RollupScheduler(app)
    while True:  # Redis may still be starting: say so once per try, without a traceback
        try:
            await scheduler.start()
            break
        except RedisError as exc:
            metrics.REDIS_UP.set(0)
            log.warning("scheduler: cannot start: %s; trying again in %.0fs", exc, retry_s)
            scheduler.stop()
            await asyncio.sleep(retry_s)
    metrics.REDIS_UP.set(1)
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        scheduler.stop()
