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

from events.models import Event, validate_event_json
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


async def take_over(
    redis: Redis, keys: Keyspace, plan_ids: list[str], owner: str
) -> tuple[float, dict[str, list[float]]]:
    """Every unit taken by `owner`: ms until all are, and each unit's ms from constructing its
    projector to its first commit (the two projections' loads interleave, as in a worker)."""
    for plan_id in plan_ids:
        for projection in PROJECTIONS:
            await redis.set(keys.lease(plan_id, projection.name), owner)
    took: dict[str, list[float]] = {projection.name: [] for projection in PROJECTIONS}
    projectors: list[Projector] = []
    loading = {projection.name: asyncio.Semaphore(1) for projection in PROJECTIONS}

    async def unit(plan_id: str, projection: Projection) -> None:
        async with loading[projection.name]:  # as the supervisor: loads one at a time per projection
            started = time.perf_counter()
            projector = Projector(redis, keys, plan_id, owner, projection=projection, state_save_s=300)
            await projector.load()
            await projector.step()
            took[projection.name].append((time.perf_counter() - started) * 1000)
            projectors.append(projector)

    started = time.perf_counter()
    await asyncio.gather(*(unit(plan_id, projection) for plan_id in plan_ids for projection in PROJECTIONS))
    elapsed = (time.perf_counter() - started) * 1000
    now_ms = await redis_now_ms(redis)
    for projector in projectors:  # the state saved, as a caught-up worker does: every round starts alike
        projector.state_save_s = 0
        await projector.idle(now_ms)
    return elapsed, took


async def raw_reads(redis: Redis, keys: Keyspace, plan_ids: list[str], after_state: int) -> float:
    """ms for every unit's HMGET of its state, checkpoint and book, and a read + validation of
    the `after_state` events appended since its state was saved."""
    started = time.perf_counter()
    for plan_id in plan_ids:
        for projection in PROJECTIONS:
            generation = await current_generation(redis, keys, plan_id, projection=projection)
            key = keys.generation(plan_id, generation, projection.name)
            await redis.hmget(key, ["state", "checkpoint", "alert_book"])
            for _, fields in await redis.xrevrange(keys.events(plan_id), count=after_state):
                validate_event_json(fields["data"])  # the compiled validator, as the fold calls it
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
        best: tuple[float, dict[str, list[float]]] = (float("inf"), {})
        raw = float("inf")
        for round_ in range(rounds):
            await reports(store, plans, events)
            raw = min(raw, await raw_reads(redis, keys, plan_ids, events))
            taken = await take_over(redis, keys, plan_ids, f"b{round_}")
            best = min(best, taken, key=lambda result: result[0])
            print(f"  round {round_ + 1}: every unit taken in {taken[0] / 1000:.2f} s")
        stored, memory = await state_figures(redis, keys, plan_ids[0])
    units = 2 * count
    total, took = best
    print(f"takeover benchmark: {count} plans ({units} units), redis={server_name(url)}, best of {rounds} rounds")
    for name, times in took.items():
        print(
            f"  {name:<7} a unit, loads of the two projections interleaved: median {statistics.median(times):6.2f} ms"
        )
    print(f"  every unit taken in {total / 1000:.2f} s: {total / units:.2f} ms a unit")
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
