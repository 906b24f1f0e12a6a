"""The lease keeper renews a worker's leases from a thread of its own: a worker whose event loop is
busy for longer than a lease lasts (two thousand projectors catching up) keeps its leases; one whose
loop is stuck loses them; a lease taken by another holder is reported; one let go stays let go."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.store import EmbeddedRedis, Keyspace, Lease, LeaseKeeper, connect

pytestmark = pytest.mark.cluster

TTL_MS = 500
MINUTE_MS = 60_000  # how long a test holds its leases before the keeper renews them at TTL_MS


def keeper_for(server_url: str, lost: list[str], stall_s: float = 60.0) -> LeaseKeeper:
    return LeaseKeeper(server_url, "w1", TTL_MS, lost.extend, every_s=0.1, stall_s=stall_s)


async def started(keeper: LeaseKeeper) -> None:
    """Start `keeper` and wait for its first round: its first connection (to a Cluster, on a loaded
    machine) may take longer than a lease, which is why the leases are first held for a minute."""
    keeper.start()
    for _ in range(200):
        if keeper.rounds:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the keeper did no round in 10 s")


async def test_a_busy_event_loop_keeps_its_leases(redis: Redis, keys: Keyspace, server_url: str, backend: str):
    held = [keys.lease(f"plan-{n}", "rm") for n in range(300)]  # more than one round trip's worth
    assert all(await Lease(redis, "w1", MINUTE_MS).hold_many(held))
    lost: list[str] = []
    keeper = keeper_for(server_url, lost)
    keeper.hold(held)
    await started(keeper)
    try:
        time.sleep(2.0)  # noqa: ASYNC251 — on purpose: the loop held for four times the lease
        assert [await redis.get(key) for key in held] == ["w1"] * len(held)
        assert lost == []
    finally:
        await keeper.stop()


async def test_a_stuck_event_loop_loses_its_leases(redis: Redis, keys: Keyspace, server_url: str, backend: str):
    key = keys.lease("plan-1", "rm")
    assert await Lease(redis, "w1", MINUTE_MS).hold(key)
    keeper = keeper_for(server_url, [], stall_s=0.3)
    keeper.hold([key])
    await started(keeper)
    try:
        await asyncio.sleep(0.2)
        keeper.beat()
        await asyncio.sleep(0.2)
        assert await redis.get(key) == "w1"  # beating: renewed
        await asyncio.sleep(1.5)  # no beat for five times `stall_s`: a stuck worker's leases expire
        assert await redis.get(key) is None
    finally:
        await keeper.stop()


async def test_a_lease_taken_over_is_reported_and_one_let_go_is_not_taken_back(
    redis: Redis, keys: Keyspace, server_url: str, backend: str
):
    taken, let_go = keys.lease("plan-1", "rm"), keys.lease("plan-2", "rm")
    assert all(await Lease(redis, "w1", TTL_MS).hold_many([taken, let_go]))
    lost: list[str] = []
    keeper = keeper_for(server_url, lost)
    keeper.hold([taken, let_go])
    keeper.start()
    try:
        await redis.set(taken, "w2")  # w1 stalled past its lease once; w2 took over
        keeper.drop([let_go])
        await Lease(redis, "w1", TTL_MS).release(let_go)
        await asyncio.sleep(0.5)
        assert set(lost) == {taken}
        assert await redis.get(taken) == "w2" and await redis.get(let_go) is None
    finally:
        await keeper.stop()


async def test_a_keeper_started_while_redis_is_away_renews_once_it_is_back(tmp_path: Path):
    server = EmbeddedRedis(tmp_path)  # not running yet: the worker started before its Redis
    keeper = LeaseKeeper(server.url, "w1", TTL_MS, [].extend, every_s=0.1)
    keeper.start()
    try:
        await asyncio.sleep(0.5)  # rounds that cannot connect
        redis = connect(server.ensure_running())
        key = Keyspace("t").lease("plan-1", "rm")
        assert await Lease(redis, "w1", TTL_MS).hold(key)
        keeper.hold([key])
        for _ in range(10):  # twice the lease, beating as a live loop does
            keeper.beat()
            await asyncio.sleep(0.1)
        assert await redis.get(key) == "w1"
        await redis.aclose()
    finally:
        await keeper.stop()
        server.stop()


async def test_a_keeper_renews_after_redis_forgot_its_script(
    redis: Redis, keys: Keyspace, server_url: str, caplog: pytest.LogCaptureFixture
):
    key = keys.lease("plan-1", "rm")
    assert await Lease(redis, "w1", MINUTE_MS).hold(key)
    keeper = keeper_for(server_url, [])
    keeper.hold([key])
    await started(keeper)
    try:
        await asyncio.sleep(0.3)
        await redis.script_flush()  # as after a restart: the keeper's script is gone
        for _ in range(10):  # twice the lease
            keeper.beat()
            await asyncio.sleep(0.1)
        assert await redis.get(key) == "w1"
        # loaded again on the same connection: no round lost to reconnecting (a Cluster's takes long)
        assert "lease renewals" not in caplog.text
    finally:
        await keeper.stop()


async def test_a_lease_key_of_another_type_is_reported_lost_and_the_others_renewed(
    redis: Redis, keys: Keyspace, server_url: str
):
    damaged, kept = keys.lease("plan-1", "rm"), keys.lease("plan-2", "rm")
    assert all(await Lease(redis, "w1", MINUTE_MS).hold_many([damaged, kept]))
    lost: list[str] = []
    keeper = keeper_for(server_url, lost)
    keeper.hold([damaged, kept])
    await started(keeper)
    try:
        await redis.delete(damaged)
        await redis.hset(damaged, "written", "by hand")  # a hash where the lease's string was
        for _ in range(10):  # twice the lease
            keeper.beat()
            await asyncio.sleep(0.1)
        assert await redis.get(kept) == "w1"  # renewed all along
        assert set(lost) == {damaged}
    finally:
        await keeper.stop()


async def test_a_lease_without_an_expiry_is_taken(redis: Redis, keys: Keyspace):
    """Every holder sets an expiry: a lease without one was written by hand (or damaged) and would
    otherwise keep the plan from every worker for ever. One with an expiry is left to its holder."""
    key = keys.lease("east-2025", "rm")
    await redis.set(key, "not a worker")
    assert await Lease(redis, "w1", TTL_MS).hold(key)
    assert await redis.get(key) == "w1" and 0 < await redis.pttl(key) <= TTL_MS
    assert not await Lease(redis, "w2", TTL_MS).hold(key)
