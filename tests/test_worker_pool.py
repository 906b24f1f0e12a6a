"""`planwatch worker --processes N` as a subprocess: N workers under one command, sharing the plans,
a process that dies started again, SIGTERM passed on to all of them."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

from redis.asyncio import Redis

from services.app import publish_plan
from services.projection import PROJECTIONS
from services.store import EventStore, Keyspace
from tests.conftest import Workers, eventually
from tests.factories import small_plan

PLANS = [f"pool-{n}-2025" for n in range(3)]


def pool_processes(worker_id: str) -> dict[str, int]:
    """The pool's worker processes running now: their worker id → pid (read from /proc)."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        if b"--worker-id" in arguments and b"--processes" in arguments:
            given = arguments[arguments.index(b"--worker-id") + 1].decode()
            if given.startswith(f"{worker_id}-") and arguments[arguments.index(b"--processes") + 1] == b"1":
                found[given] = int(entry.name)
    return found


async def holders(redis: Redis, keys: Keyspace) -> Counter[str]:
    """How many units (plan, projection) each worker holds the lease of."""
    values = await redis.mget([keys.lease(plan, projection.name) for plan in PLANS for projection in PROJECTIONS])
    return Counter(value for value in values if value)


async def test_processes_share_the_plans_are_restarted_and_stop_together(
    redis: Redis, keys: Keyspace, store: EventStore, workers: Workers
) -> None:
    for plan in PLANS:
        await publish_plan(store, small_plan(plan))
    pool = workers.start_with("pool", "--processes", "2", "--lease-ttl", "1")
    try:
        # two workers, each its fair share of the six units (three plans × read model and alerts)
        shared = await eventually(
            lambda: _when(holders(redis, keys), lambda held: held == Counter({"pool-1": 3, "pool-2": 3})), timeout=30
        )
        assert shared
        first = pool_processes("pool")
        assert set(first) == {"pool-1", "pool-2"} and pool.pid not in first.values()

        # a process that dies is started again (the other runs on), and every unit is held again
        os.kill(first["pool-1"], signal.SIGKILL)
        restarted = await eventually(
            lambda: (now := pool_processes("pool")).get("pool-1") not in (None, first["pool-1"]) and now, timeout=20
        )
        assert restarted["pool-2"] == first["pool-2"]
        await eventually(lambda: _when(holders(redis, keys), lambda held: sum(held.values()) == 6), timeout=30)

        # SIGTERM to the pool stops every process, and each lets go of its leases
        assert workers.terminate("pool", within=30) == 0
        assert pool_processes("pool") == {}
        assert await holders(redis, keys) == Counter()
    finally:
        for pid in pool_processes("pool").values():  # whatever failed above, nothing is left running
            os.kill(pid, signal.SIGKILL)


async def test_processes_end_with_a_killed_pool(store: EventStore, workers: Workers) -> None:
    """Killed with SIGKILL, the pool cannot pass anything on: the kernel sends its processes SIGTERM."""
    await publish_plan(store, small_plan(PLANS[0]))
    workers.start_with("orphans", "--processes", "2", "--lease-ttl", "1")
    try:
        await eventually(lambda: len(pool_processes("orphans")) == 2, timeout=20)
        workers.kill("orphans")
        await eventually(lambda: pool_processes("orphans") == {}, timeout=20)
    finally:
        for pid in pool_processes("orphans").values():
            os.kill(pid, signal.SIGKILL)


async def _when(found, check):
    """`check(await found)`: a condition over an awaited value, for `eventually`."""
    return check(await found)
