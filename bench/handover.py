"""Plans changing hands between workers at N plans: a worker joining, one killed, one leaving.

    python bench/handover.py [--plans 1000] [--rate 200] [--seconds 30]

Under a key prefix of its own:

1. N copies of the seed plan with their H1 history (as bench/scale.py); worker A follows them all
   (2N leases: read model and alerts) until it has caught up and is quiet.
2. Five phases, each while single-event appends go on at `--rate` events/s spread over all plans
   for `--seconds` (append → read-model commit p50/p99/max, as bench/scale.py measures it):
   - *A alone*: nothing changes hands (the latency the others are held against);
   - *join*: worker B starts; the time until the two hold the units evenly (A offers its excess
     and runs it until B takes it, as fast as B brings what it took current);
   - *kill*: B is killed (SIGKILL: no goodbye, its leases run out); the time until A holds every
     unit again and has caught up;
   - *join again*, then *leave*: B is sent SIGTERM (it leaves the live workers and runs its units
     until A has taken them, `planwatch worker --hand-over`, 20 s at most); the time from the
     signal until A holds every unit and has caught up.
   After each phase: the events never committed (must be 0), and the most units seen without a
   holder at once (polled every 0.1 s: a unit handed over, rather than let go of, never is).
3. The limits of this run beside them: the lease period (a killed worker's units cannot be taken
   before its leases expire), the supervisor's tick (a unit let go of is taken at the other
   worker's next tick), and the raw XREAD round trip.

Uses PLANWATCH_REDIS_URL or the embedded Redis, under its own key prefix, deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from common import bench_keyspace, drop, server_name, spawn
from redis.asyncio import Redis
from scale import copies, fill, lagging_events, latency, lease_keys, pct, quiet, raw_xread_round_trip, stop_worker

from services.app import load_plan
from services.demo import SEED_PLAN
from services.projection import PROJECTIONS
from services.settings import Settings
from services.store import EventStore, Keyspace, connect

LEASE_TTL_S = 5.0  # `planwatch worker`'s default; its tick is a fifth of it
POLL_S = 0.1


@dataclass
class Settled:
    took_s: float
    moved: int  # units that changed holder
    unheld: int  # the most units seen without a holder at once


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    settled: Settled
    lags: list[float]
    uncommitted: int

    def line(self) -> str:
        settled = self.settled
        head = f"  {self.name:<11} {settled.took_s:6.1f} s until settled, {settled.moved:5d} units moved"
        if not self.lags:
            return f"{head}; no commit heard"
        return (
            f"{head}; append → read model p50 {pct(self.lags, 50):6.1f} ms, p99 {pct(self.lags, 99):7.1f} ms, "
            f"max {max(self.lags):7.1f} ms ({len(self.lags):,} events); never committed: {self.uncommitted}; "
            f"without a holder at most: {settled.unheld}"
        )


async def holders(redis: Redis, keys: Keyspace, plan_ids: list[str]) -> dict[str, str | None]:
    """Lease key → the worker holding it (None: free)."""
    leases = lease_keys(keys, plan_ids)
    return dict(zip(leases, await redis.mget(leases), strict=True))


async def settled_when(
    redis: Redis, keys: Keyspace, plan_ids: list[str], done: Callable[[Counter[str | None]], bool]
) -> Settled:
    """How long until the leases' holders satisfy `done` and nothing lags."""
    started, first = time.perf_counter(), await holders(redis, keys, plan_ids)
    unheld = 0
    while True:
        now = await holders(redis, keys, plan_ids)
        counts = Counter(now.values())
        unheld = max(unheld, counts[None])
        if done(counts) and not await lagging_events(redis, keys, plan_ids):
            moved = sum(1 for lease, holder in now.items() if holder != first[lease])
            return Settled(time.perf_counter() - started, moved, unheld)
        await asyncio.sleep(POLL_S)


async def phase(
    name: str,
    url: str,
    keys: Keyspace,
    store: EventStore,
    plans: list,
    args: argparse.Namespace,
    act: Callable[[], Awaitable[Settled]],
    seed: int,
) -> Phase:
    """`act` (it returns when the workers have settled) while appends go on for `args.seconds`."""
    appending = asyncio.create_task(latency(url, keys, store, plans, args.rate, args.seconds, seed))
    await asyncio.sleep(1)  # a second of steady appends before the change
    settled = await act()
    lags = await appending
    deadline = time.perf_counter() + 30
    plan_ids = [plan.id for plan, _ in plans]
    while (behind := await lagging_events(store.redis, keys, plan_ids)) and time.perf_counter() < deadline:
        await asyncio.sleep(0.25)
    return Phase(name, settled, lags, behind)


async def run(args: argparse.Namespace) -> None:
    url = Settings.from_env().redis_target()
    redis = connect(url)
    keys = bench_keyspace()
    store = EventStore(redis, keys)
    plans = copies(load_plan(SEED_PLAN), args.plans)
    plan_ids = [plan.id for plan, _ in plans]
    units = len(plan_ids) * len(PROJECTIONS)
    workers: dict[str, subprocess.Popen[bytes]] = {}

    def start(worker_id: str) -> None:
        command = ("worker", "--worker-id", worker_id, "--lease-ttl", str(LEASE_TTL_S))
        workers[worker_id] = spawn(url, keys, *command, log=args.worker_log)

    def alone(worker_id: str) -> Callable[[Counter[str | None]], bool]:
        return lambda counts: counts[worker_id] == units

    def even(counts: Counter[str | None]) -> bool:
        return counts[None] == 0 and len(counts) == 2 and max(counts.values()) <= -(-units // 2)

    async def steady() -> Settled:
        return await settled_when(redis, keys, plan_ids, alone("bench-a"))

    async def join() -> Settled:
        start("bench-b")
        return await settled_when(redis, keys, plan_ids, even)

    async def kill() -> Settled:
        workers.pop("bench-b").send_signal(signal.SIGKILL)
        return await settled_when(redis, keys, plan_ids, alone("bench-a"))

    async def leave() -> Settled:
        leaving = workers.pop("bench-b")
        leaving.terminate()
        settled = await settled_when(redis, keys, plan_ids, alone("bench-a"))
        await asyncio.to_thread(leaving.wait, 60)
        return settled

    try:
        print(f"Redis: {server_name(url)}; {args.plans} plans ({units} units); {args.rate} events/s")
        await fill(store, plans)
        trips = await raw_xread_round_trip(redis, keys, plan_ids[0])
        start("bench-a")
        started = time.perf_counter()
        await settled_when(redis, keys, plan_ids, alone("bench-a"))
        await quiet([workers["bench-a"].pid])
        print(f"  worker A caught up with every plan and quiet after {time.perf_counter() - started:.1f} s")
        results = []
        phases = (("A alone", steady), ("join", join), ("kill", kill), ("join again", join), ("leave", leave))
        for seed, (name, act) in enumerate(phases):
            results.append(await phase(name, url, keys, store, plans, args, act, seed))
            print(results[-1].line(), flush=True)
        tick = LEASE_TTL_S / 5
        print(
            f"  limits: lease period {LEASE_TTL_S:.1f} s (kill: {results[2].settled.took_s / LEASE_TTL_S:.1f}× it), "
            f"tick {tick:.1f} s (leave: {results[4].settled.took_s / tick:.1f} ticks), raw XREAD round trip "
            f"p50 {pct(trips, 50):.2f} ms, p99 {pct(trips, 99):.2f} ms"
        )
    finally:
        for worker in workers.values():
            stop_worker(worker)
        await drop(redis, keys)
        await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=200, help="events/s spread over all plans, in every phase")
    parser.add_argument("--seconds", type=float, default=30, help="how long each phase appends")
    parser.add_argument("--worker-log", type=Path, help="append the workers' logs to this file (default: dropped)")
    asyncio.run(run(parser.parse_args()))
