"""How far each projection of a plan has got."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from services.observability import metrics
from services.projection.kinds import READ_MODEL, Projection
from services.projection.runner import Projector
from services.store import Keyspace, stored_int


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
    for _ in range(3):  # two round trips, not five
        async with redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.projection_current(plan_id, name))
            pipe.xlen(keys.events(plan_id))
            pipe.get(keys.lease(plan_id, name))
            current, length, owner = await pipe.execute()
        generation = stored_int(current) or 0  # not a number: none (readers fold)
        checkpoint, applied, parked_events, parked = None, None, None, 0
        if not generation:
            break
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.generation(plan_id, generation, name), ["checkpoint", "applied", "parked"])
            pipe.xlen(keys.dead_letters(plan_id, generation, name))
            (checkpoint, applied, parked_events), parked = await pipe.execute()
        if checkpoint is not None:
            break
        # no such generation any more: a rebuild switched readers and deleted it between the two
        # reads (or it has committed nothing yet); look again rather than report nothing applied
    applied_count = stored_int(applied) or 0
    return PlanStatus(
        plan_id=plan_id,
        projection=projection,
        log_length=length,
        checkpoint=checkpoint,
        applied=applied_count,
        parked=parked,
        lag=max(length - applied_count - (stored_int(parked_events) or 0), 0),
        generation=generation,
        owner=owner,
    )


async def report_progress(redis: Redis, keys: Keyspace, projectors: Sequence[Projector]) -> None:
    """Set each projector's lag, checkpoint age and dead letters in the metrics: one round trip for
    all of them (the log's length, the generation's counts, the first event not applied yet)."""
    async with redis.pipeline(transaction=False) as pipe:
        for projector in projectors:
            plan_id, name, generation = projector.plan_id, projector.projection.name, projector.generation
            pipe.xlen(keys.events(plan_id))
            pipe.hmget(keys.generation(plan_id, generation, name), ["checkpoint", "applied", "parked"])
            pipe.xlen(keys.dead_letters(plan_id, generation, name))
        replies = await pipe.execute()
    now_ms = int(time.time() * 1000)
    firsts = []
    async with redis.pipeline(transaction=False) as pipe:
        for index, projector in enumerate(projectors):
            checkpoint = replies[3 * index + 1][0]
            low = f"({checkpoint}" if checkpoint else "-"
            pipe.xrange(keys.events(projector.plan_id), min=low, max="+", count=1)
        firsts = await pipe.execute()
    for index, projector in enumerate(projectors):
        length, (_, applied, parked_events), dead = replies[3 * index : 3 * index + 3]
        labels = (projector.plan_id, projector.projection.name)
        lag = length - (stored_int(applied) or 0) - (stored_int(parked_events) or 0)
        metrics.PROJECTION_LAG.labels(*labels).set(max(lag, 0))
        first = firsts[index]
        waiting_since = int(str(first[0][0]).split("-", 1)[0]) if first else now_ms
        metrics.CHECKPOINT_AGE.labels(*labels).set(max(now_ms - waiting_since, 0) / 1000)
        metrics.DEAD_LETTERS.labels(*labels).set(dead)
