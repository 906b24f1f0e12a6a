"""How far each projection of a plan has got."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from services.projection.kinds import READ_MODEL, Projection
from services.store import Keyspace


@dataclass(frozen=True)
class PlanStatus:
    plan_id: str
    projection: Projection
    log_length: int
    checkpoint: str | None
    applied: int
    parked: int  # dead letters: events parked, and judgements skipped (applied events)
    lag: int  # events in the log not yet applied or parked
    generation: int
    owner: str | None


async def plan_status(redis: Redis, keys: Keyspace, plan_id: str, projection: Projection = READ_MODEL) -> PlanStatus:
    """How far a projection of the plan has got (the read model by default)."""
    name = projection.name
    async with redis.pipeline(transaction=False) as pipe:  # two round trips, not five
        pipe.get(keys.projection_current(plan_id, name))
        pipe.xlen(keys.events(plan_id))
        pipe.get(keys.lease(plan_id))
        current, length, owner = await pipe.execute()
    generation = int(current or 0)
    checkpoint, applied, parked_events, parked = None, None, None, 0
    if generation:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.generation(plan_id, generation, name), ["checkpoint", "applied", "parked"])
            pipe.xlen(keys.dead_letters(plan_id, generation, name))
            (checkpoint, applied, parked_events), parked = await pipe.execute()
    applied_count = int(applied or 0)
    return PlanStatus(
        plan_id=plan_id,
        projection=projection,
        log_length=length,
        checkpoint=checkpoint,
        applied=applied_count,
        parked=parked,
        lag=max(length - applied_count - int(parked_events or 0), 0),
        generation=generation,
        owner=owner,
    )
