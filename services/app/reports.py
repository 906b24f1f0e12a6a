"""Reading a plan's state and report from Redis, as `planwatch table` and the API use them."""

from __future__ import annotations

from datetime import date, datetime

from redis.asyncio import Redis

from projections.report import PlanReport, build_report
from projections.state import PlanState
from services.projection import state_as_known
from services.store import Keyspace


async def load_report(
    redis: Redis,
    plan_id: str,
    as_of: date | None = None,
    known_at: datetime | None = None,
    keys: Keyspace | None = None,
) -> PlanReport:
    """The report as of `as_of` (valid time) from the events recorded by `known_at`
    (transaction time): the read model's state, plus any events it has not applied yet."""
    return build_report(await published_state(redis, keys or Keyspace.from_env(), plan_id, known_at), as_of)


async def published_state(redis: Redis, keys: Keyspace, plan_id: str, known_at: datetime | None) -> PlanState:
    """The plan's state as known at `known_at`; LookupError if the plan was not published by then."""
    state = await state_as_known(redis, keys, plan_id, known_at)
    if state.plan is None:
        when = f" as known at {known_at.isoformat()}" if known_at else ""
        raise LookupError(f"plan {plan_id!r} has not been published{when}")
    return state
