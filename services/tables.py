"""Reading a plan's report from Redis (used by `planwatch table` and, later, the API)."""

from __future__ import annotations

from datetime import date, datetime

from redis.asyncio import Redis

from events.store import EventStore
from projections.replay import fold_log
from projections.report import PlanReport, build_report


async def load_report(
    redis: Redis, plan_id: str, as_of: date | None = None, known_at: datetime | None = None
) -> PlanReport:
    """The report as of `as_of` (valid time) from the events recorded by `known_at`."""
    state = await fold_log(EventStore(redis), plan_id, known_at)
    if state.plan is None:
        when = f" as known at {known_at.isoformat()}" if known_at else ""
        raise LookupError(f"plan {plan_id!r} has not been published{when}")
    return build_report(state, as_of)
