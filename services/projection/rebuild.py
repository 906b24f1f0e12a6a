"""Rebuild without downtime: replay the log into a new generation, switch readers when caught up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from services.observability import metrics
from services.projection.kinds import READ_MODEL, Projection
from services.projection.runner import Projector
from services.store import Keyspace, redis_now_ms

_SWITCH = """
-- KEYS: current, the new generation's hash, the serving generation's hash
-- ARGV: new generation, serving generation ('' if none)
-- Switch readers to the new generation once it has applied everything the serving one has: they
-- never see an older state, and the live projector carries on from its checkpoint. (Waiting for
-- the log's head instead never ended while a department appended faster than a final commit.)
local old = redis.call('GET', KEYS[1]) or ''
if old ~= ARGV[2] then return {0, old} end  -- another rebuild switched meanwhile: look again
local function parts(p)
  local ms, seq = string.match(p, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local nm, ns = parts(redis.call('HGET', KEYS[2], 'checkpoint') or '0-0')
if old ~= '' then
  local serving = redis.call('HGET', KEYS[3], 'checkpoint')
  if serving then
    local sm, ss = parts(serving)
    if nm < sm or (nm == sm and ns < ss) then return {0, serving} end
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return {1, old}
"""


@dataclass(frozen=True)
class RebuildResult:
    plan_id: str
    projection: Projection
    generation: int
    previous: int
    applied: int
    parked: int


async def rebuild(
    redis: Redis,
    keys: Keyspace,
    plan_id: str,
    progress: Callable[[int, int], Awaitable[None] | None] | None = None,
    commit_every: int = 20_000,
    projection: Projection = READ_MODEL,
    snapshot_every: int | None = None,
) -> RebuildResult:
    """Replay the whole log into a new generation of a projection while the live one keeps
    serving, switch readers to it once it has caught up with the log and applied at least what
    the serving generation has, then delete the old generation."""
    name = projection.name
    generation = int(await redis.incr(keys.projection_generations(plan_id, name)))
    projector = Projector(
        redis, keys, plan_id, owner=None, generation=generation, projection=projection, snapshot_every=snapshot_every
    )
    await redis.unlink(keys.generation(plan_id, generation, name), keys.dead_letters(plan_id, generation, name))
    switch = redis.register_script(_SWITCH)
    total = await redis.xlen(keys.events(plan_id))
    done = since_commit = 0
    done_gauge, total_gauge = metrics.REBUILD_DONE.labels(plan_id, name), metrics.REBUILD_TOTAL.labels(plan_id, name)
    while True:
        handled = await projector.step(commit=False)
        done += handled
        since_commit += handled
        done_gauge.set(done)
        total_gauge.set(max(total, done))
        if progress:
            maybe = progress(done, max(total, done))
            if maybe is not None:
                await maybe
        if handled and since_commit < commit_every:
            continue
        await projector.commit(views=not handled)  # the views once caught up, before the switch
        since_commit = 0
        if handled:
            continue
        await projector.idle(await redis_now_ms(redis))  # judge the last instant, as the live one did
        serving = await redis.get(keys.projection_current(plan_id, name)) or ""
        switched, previous = await switch(
            keys=[
                keys.projection_current(plan_id, name),
                keys.generation(plan_id, generation, name),
                keys.generation(plan_id, int(serving or 0), name),
            ],
            args=[generation, serving],
        )
        if switched:
            break
        total = await redis.xlen(keys.events(plan_id))  # the live projector moved on meanwhile: catch up
    previous_generation = int(previous) if previous else 0
    if previous_generation:
        old = [
            keys.generation(plan_id, previous_generation, name),
            keys.dead_letters(plan_id, previous_generation, name),
            keys.attempts(plan_id, previous_generation, name),
            *projector.strategy.extra_keys(keys, plan_id, previous_generation),
        ]
        await redis.unlink(*old)
    parked = await redis.xlen(keys.dead_letters(plan_id, generation, name))
    return RebuildResult(plan_id, projection, generation, previous_generation, projector.state.applied, parked)
