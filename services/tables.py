"""Reading a plan's report from Redis, as `planwatch table` prints it."""

from __future__ import annotations

from datetime import date, datetime

from redis.asyncio import Redis

from events.keys import Keyspace
from projections.report import PlanReport, build_report
from projections.runner import state_as_known


async def load_report(
    redis: Redis,
    plan_id: str,
    as_of: date | None = None,
    known_at: datetime | None = None,
    keys: Keyspace | None = None,
) -> PlanReport:
    """The report as of `as_of` (valid time) from the events recorded by `known_at`
    (transaction time): the read model's state, plus any events it has not applied yet."""
    state = await state_as_known(redis, keys or Keyspace.from_env(), plan_id, known_at)
    if state.plan is None:
        when = f" as known at {known_at.isoformat()}" if known_at else ""
        raise LookupError(f"plan {plan_id!r} has not been published{when}")
    return build_report(state, as_of)
