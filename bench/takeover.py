"""What taking a plan's projection over costs a worker, unit by unit, against the raw reads it needs.

    python bench/takeover.py [--plans 100] [--events 20] [--rounds 3]

1. N copies of the seed plan with its H1 history (442 events a plan), each projection (read
   model and alerts) caught up by worker "a", its state saved, as a worker leaves them.
2. `--events` more single reports a plan (appended one per call, as departments post).
3. Worker "b" takes every unit over as a worker does when one dies: `Projector.load` (the state
   and alert book read and decoded, the events after the state replayed, the alerts judging
   them) and its first `step` (the new events, the first commit: the read model's report built
   and its changed views written, the alerts' notices) — per unit, loads one at a time per
   projection as the supervisor runs them.
4. Raw limit, same run: for every unit, the reads a takeover cannot do without — the state,
   checkpoint and alert book (one HMGET) and the events after the state (XRANGE, each event's
   JSON validated).
Also: the stored state's size, and the memory a loaded state takes (tracemalloc).
Rounds alternate takeovers and raw reads (new owners, more events each round); the best round
of each counts. Uses PLANWATCH_REDIS_URL or the embedded Redis, under its own key prefix.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import tracemalloc
import uuid

from common import bench_redis, server_name
from redis.asyncio import Redis
from scale import copies, fill

from events.models import Event, event_adapter
from events.plan import Plan
from projections.snapshot import load_state
from services.app import load_plan
from services.demo import SEED_PLAN
from services.heap import settle_heap
from services.projection import ALERTS, READ_MODEL, Projection, Projector, current_generation
from services.store import EventStore, Keyspace, redis_now_ms

PROJECTIONS = (READ_MODEL, ALERTS)


async def caught_up(redis: Redis, keys: Keyspace, plan_id: str, projection: Projection) -> None:
    """Worker "a" brings the unit current and saves its state, as when it is caught up."""
    await redis.set(keys.lease(plan_id, projection.name), "a")
    projector = Projector(redis, keys, plan_id, "a", projection=projection)
    await projector.load()
    while await projector.step():
        pass
    await projector.idle(await redis_now_ms(redis))


async def reports(store: EventStore, plans: list[tuple[Plan, list[Event]]], count: int) -> None:
    for _, history in plans:
        for n in range(count):
            await store.append([history[(n * 7) % len(history)].model_copy(update={"event_id": uuid.uuid4()})])


async def take_over(redis: Redis, keys: Keyspace, plan_ids: list[str], owner: str) -> dict[str, list[float]]:
    """Each unit taken by `owner`: ms from constructing its projector to its first commit."""
    for plan_id in plan_ids:
        for projection in PROJECTIONS:
            await redis.set(keys.lease(plan_id, projection.name), owner)
    took: dict[str, list[float]] = {projection.name: [] for projection in PROJECTIONS}
    loading = {projection.name: asyncio.Semaphore(1) for projection in PROJECTIONS}

    async def unit(plan_id: str, projection: Projection) -> None:
        async with loading[projection.name]:  # as the supervisor: loads one at a time per projection
            started = time.perf_counter()
            projector = Projector(redis, keys, plan_id, owner, projection=projection, state_save_s=300)
            await projector.load()
            await projector.step()
            took[projection.name].append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(unit(plan_id, projection) for plan_id in plan_ids for projection in PROJECTIONS))
    return took


async def raw_reads(redis: Redis, keys: Keyspace, plan_ids: list[str]) -> float:
    """ms for every unit's HMGET of its state, checkpoint and book, and XRANGE + validation of
    the events after its state."""
    started = time.perf_counter()
    for plan_id in plan_ids:
        for projection in PROJECTIONS:
            generation = await current_generation(redis, keys, plan_id, projection=projection)
            key = keys.generation(plan_id, generation, projection.name)
            state, _, _ = await redis.hmget(key, ["state", "checkpoint", "alert_book"])
            after = load_state(state).position if state else "-"
            for _, fields in await redis.xrange(keys.events(plan_id), min=f"({after}", max="+"):
                event_adapter.validate_json(fields["data"])
    return (time.perf_counter() - started) * 1000


async def state_figures(redis: Redis, keys: Keyspace, plan_id: str) -> tuple[int, float]:
    """The stored read-model state's bytes, and the kB of memory one loaded copy takes."""
    generation = await current_generation(redis, keys, plan_id)
    stored = await redis.hget(keys.generation(plan_id, generation, READ_MODEL.name), "state")
    held = load_state(stored)  # the plan held, as a worker holding the plan's other projection
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    loaded = [load_state(stored) for _ in range(10)]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename")) / len(loaded) / 1024
    assert held.plan is loaded[0].plan
    return len(stored), size


async def main(count: int, events: int, rounds: int) -> None:
    plans = copies(load_plan(SEED_PLAN), count)
    plan_ids = [plan.id for plan, _ in plans]
    async with bench_redis() as (url, redis, keys):
        store = EventStore(redis, keys)
        await fill(store, plans)
        for number, plan_id in enumerate(plan_ids, 1):
            for projection in PROJECTIONS:
                await caught_up(redis, keys, plan_id, projection)
            print(f"\r  caught up: {number}/{count} plans", end="", flush=True)
        print()
        settle_heap()  # as in a worker process
        best: dict[str, list[float]] = {}
        raw = float("inf")
        for round_ in range(rounds):
            await reports(store, plans, events)
            raw = min(raw, await raw_reads(redis, keys, plan_ids))
            took = await take_over(redis, keys, plan_ids, f"b{round_}")
            if not best or sum(map(sum, took.values())) < sum(map(sum, best.values())):
                best = took
            events_after = (round_ + 1) * events
            print(f"  round {round_ + 1}: {events_after} events a plan after the saved state")
        stored, memory = await state_figures(redis, keys, plan_ids[0])
    units = 2 * count
    total = sum(map(sum, best.values()))
    print(f"takeover benchmark: {count} plans ({units} units), redis={server_name(url)}, best of {rounds} rounds")
    for name, took in best.items():
        print(f"  {name:<7} per unit: median {statistics.median(took):6.2f} ms, max {max(took):6.2f} ms")
    print(f"  all units: {total / 1000:.2f} s, {total / units:.2f} ms a unit")
    print(f"  raw reads a takeover needs (HMGET + XRANGE + validation): {raw / units:.2f} ms a unit")
    print(f"  ratio raw / takeover: {raw / total:.2f}")
    print(f"  stored state: {stored:,} bytes packed; a loaded state: {memory:.0f} kB of memory")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=int, default=100)
    parser.add_argument("--events", type=int, default=20, help="single reports a plan per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.plans, args.events, args.rounds))
