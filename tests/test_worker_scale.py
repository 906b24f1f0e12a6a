"""Many plans per worker: bounded connections, every event committed, plans split among workers
and taken over from a dead one (real `planwatch worker` processes on the real Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.cluster import RedisCluster as SyncRedisCluster

from services.app import publish_plan
from services.projection import PROJECTIONS
from services.projection.supervisor import MIN_TAKING, taking_window
from services.store import EventStore, Keyspace, connect, is_cluster_url, node_url_for_key, plain_url
from services.worker import CONNECTION_BOUND
from tests.conftest import Workers, eventually
from tests.factories import gdp_update, small_plan
from tests.test_worker_processes import assert_read_model_is_the_fold


async def publish_plans(store: EventStore, count: int, stem: str = "scale") -> list[str]:
    plans = [f"{stem}-{n:04d}-2025" for n in range(count)]
    for chunk in range(0, count, 50):  # concurrently, a chunk at a time
        await asyncio.gather(*(publish_plan(store, small_plan(plan_id)) for plan_id in plans[chunk : chunk + 50]))
    return plans


async def lagging(redis: Redis, keys: Keyspace, plans: list[str]) -> list[tuple[str, str]]:
    """The (plan, projection) units that have not applied their whole log, in two round trips."""
    async with redis.pipeline(transaction=False) as pipe:
        for plan_id in plans:
            pipe.xlen(keys.events(plan_id))
            for projection in PROJECTIONS:
                pipe.get(keys.projection_current(plan_id, projection.name))
        replies = await pipe.execute()
    per_plan = len(PROJECTIONS) + 1
    async with redis.pipeline(transaction=False) as pipe:
        for index, plan_id in enumerate(plans):
            for offset, projection in enumerate(PROJECTIONS, start=1):
                generation = int(replies[index * per_plan + offset] or 0)
                pipe.hget(keys.generation(plan_id, generation, projection.name), "applied")
        applied = await pipe.execute()
    behind = []
    for index, plan_id in enumerate(plans):
        length = replies[index * per_plan]
        for offset, projection in enumerate(PROJECTIONS):
            if int(applied[index * len(PROJECTIONS) + offset] or 0) != length:
                behind.append((plan_id, projection.name))
    return behind


def worker_connections(server_url: str) -> dict[str, Counter[str]]:
    """Per Redis node, how many connections each worker holds, by the worker id in their names."""
    if is_cluster_url(server_url):
        cluster = SyncRedisCluster.from_url(plain_url(server_url))
        try:
            lists = {node.name: node.redis_connection.client_list() for node in cluster.get_primaries()}
        finally:
            cluster.close()
    else:
        sync = SyncRedis.from_url(server_url)
        try:
            lists = {"standalone": sync.client_list()}
        finally:
            sync.close()
    counts: dict[str, Counter[str]] = {}
    for node, clients in lists.items():
        names = [str(client.get("name", "")) for client in clients]
        counts[node] = Counter(name.split(":")[1] for name in names if name.startswith("planwatch-worker:"))
    return counts


async def owners(redis: Redis, keys: Keyspace, plans: list[str]) -> Counter[str | None]:
    """How many units each worker holds the lease of (None: nobody)."""
    async with redis.pipeline(transaction=False) as pipe:
        for plan_id in plans:
            for projection in PROJECTIONS:
                pipe.get(keys.lease(plan_id, projection.name))
        return Counter(await pipe.execute())


@pytest.mark.cluster
async def test_a_worker_follows_200_plans_on_a_bounded_number_of_connections(
    redis: Redis, store: EventStore, keys: Keyspace, workers: Workers, server_url: str
):
    plans = await publish_plans(store, 200)
    workers.start("w-many", lease_ttl=2.0)
    await eventually(lambda: _all_held(redis, keys, plans, "w-many"), timeout=60, interval=0.5)
    for round_ in range(3):  # events to every plan while the worker follows them all
        for plan_id in plans:
            await store.append([gdp_update(plan_id, f"5.{round_}", f"2025-Q{round_ + 1}")])
        await asyncio.sleep(0.2)

    async def all_committed() -> bool:
        return not await lagging(redis, keys, plans)

    await eventually(all_committed, timeout=60, interval=0.5)
    held = worker_connections(server_url)
    for node, counts in held.items():
        assert 0 < counts["w-many"] <= CONNECTION_BOUND, (node, counts)
    for plan_id in plans[:3]:
        await assert_read_model_is_the_fold(redis, keys, plan_id)


async def test_a_worker_following_200_plans_stops_on_sigterm_and_lets_go_of_its_leases(
    redis: Redis, store: EventStore, keys: Keyspace, workers: Workers
):
    """SIGTERM while its 400 projectors are busy with appends: the worker exits (a single
    cancellation of each task used to be swallowed now and then on Python 3.11, and it waited
    for them forever) and its leases are free at once — not after their 60 s of expiry, so
    another worker takes the plans at its next tick."""
    plans = await publish_plans(store, 200, stem="stop")
    workers.start("w-stop", lease_ttl=60.0)
    await eventually(lambda: _all_held(redis, keys, plans, "w-stop"), timeout=60, interval=0.5)
    async with _appending(store, plans, pause_s=0.0):
        await asyncio.sleep(2)  # the projectors fold, commit and wait on Redis as the signal comes
        code = await asyncio.to_thread(workers.terminate, "w-stop", 30)
    assert code == 0
    assert await owners(redis, keys, plans) == Counter({None: len(plans) * len(PROJECTIONS)})
    assert await redis.zscore(keys.workers, "w-stop") is None  # no longer counted among the live


async def _append_round_robin(store: EventStore, plans: list[str], pause_s: float = 0.0) -> None:
    """Events to 50 plans at a time, round after round, `pause_s` between rounds."""
    for round_ in itertools.count():
        await asyncio.gather(
            *(store.append([gdp_update(plan_id, f"5.{round_ % 10}", "2025-Q1")]) for plan_id in plans[:50])
        )
        plans = plans[50:] + plans[:50]
        await asyncio.sleep(pause_s)


async def _all_held(redis: Redis, keys: Keyspace, plans: list[str], worker_id: str) -> bool:
    return await _owners_are(redis, keys, plans, Counter({worker_id: len(plans) * len(PROJECTIONS)}))


async def test_three_workers_split_the_plans_evenly_and_two_take_over_from_a_dead_one(
    redis: Redis, store: EventStore, keys: Keyspace, workers: Workers
):
    plans = await publish_plans(store, 30, stem="split")
    units = len(plans) * len(PROJECTIONS)
    for worker_id in ("w-1", "w-2", "w-3"):
        workers.start(worker_id)

    async def even() -> Counter[str | None] | None:
        held = await owners(redis, keys, plans)
        return held if set(held) == {"w-1", "w-2", "w-3"} and max(held.values()) <= units // 3 else None

    await eventually(even, timeout=60, interval=0.2)
    victim = "w-2"
    workers.kill(victim)
    killed_at = time.monotonic()
    for plan_id in plans:
        await store.append([gdp_update(plan_id, "5.5", "2025-Q2")])

    async def taken_over() -> Counter[str | None] | None:
        held = await owners(redis, keys, plans)
        split = set(held) == {"w-1", "w-3"} and max(held.values()) <= units // 2
        return held if split and not await lagging(redis, keys, plans) else None

    await eventually(taken_over, timeout=30, interval=0.2)
    assert time.monotonic() - killed_at < 10  # lease 1 s + heartbeat expiry + a few ticks
    for plan_id in plans[:3]:
        await assert_read_model_is_the_fold(redis, keys, plan_id)


async def _watch_holders(
    redis: Redis, keys: Keyspace, plans: list[str], done: Callable[[Counter[str | None]], bool], timeout: float
) -> int:
    """Poll the leases (every 20 ms) until their holders satisfy `done`; the most units seen
    without a holder at once."""
    deadline, unheld = time.monotonic() + timeout, 0
    while True:
        held = await owners(redis, keys, plans)
        unheld = max(unheld, held[None])
        if done(held):
            return unheld
        assert time.monotonic() < deadline, f"not settled within {timeout} s: {held}"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _appending(store: EventStore, plans: list[str], pause_s: float = 0.05) -> AsyncIterator[None]:
    """Events to the plans, 50 at a time with `pause_s` between, while the body runs."""
    appending = asyncio.create_task(_append_round_robin(store, plans, pause_s))
    try:
        yield
    finally:
        appending.cancel()
        await asyncio.gather(appending, return_exceptions=True)


async def _all_committed(redis: Redis, keys: Keyspace, plans: list[str]) -> None:
    """Every event is committed, and the read models are the fold of the logs."""
    await eventually(lambda: _none_lagging(redis, keys, plans), timeout=30, interval=0.2)
    for plan_id in plans[:3]:
        await assert_read_model_is_the_fold(redis, keys, plan_id)


def _even(units: int, *worker_ids: str) -> Callable[[Counter[str | None]], bool]:
    """Whether the workers named hold every unit, evenly."""
    return lambda held: set(held) == set(worker_ids) and max(held.values()) <= -(-units // len(worker_ids))


async def test_a_joining_worker_takes_its_share_as_offered_with_every_unit_held_throughout(
    redis: Redis, store: EventStore, keys: Keyspace, workers: Workers
):
    """The worker above its share offers its excess and runs it until the joining one takes it:
    no plan is left without a holder on the way (they were let go of, a tenth a tick, and free
    until the other's next tick)."""
    plans = await publish_plans(store, 30, stem="join")
    units = len(plans) * len(PROJECTIONS)
    workers.start("w-a")
    await eventually(lambda: _all_held(redis, keys, plans, "w-a"), timeout=60, interval=0.2)
    async with _appending(store, plans):
        workers.start("w-b")
        unheld = await _watch_holders(redis, keys, plans, _even(units, "w-a", "w-b"), timeout=60)
    assert unheld == 0
    await _all_committed(redis, keys, plans)
    assert not await redis.hgetall(keys.lease_offers)  # every offer answered


@pytest.mark.cluster
async def test_a_worker_stopped_runs_its_plans_until_the_other_has_taken_them(
    redis: Redis, store: EventStore, keys: Keyspace, workers: Workers
):
    """SIGTERM: the worker leaves the live workers, offers its units and runs each until the other
    takes it, then exits; no plan is left without a holder, no event uncommitted."""
    plans = await publish_plans(store, 30, stem="leave")
    units = len(plans) * len(PROJECTIONS)
    workers.start("w-stays")
    workers.start("w-goes")
    await _watch_holders(redis, keys, plans, _even(units, "w-stays", "w-goes"), timeout=60)
    async with _appending(store, plans):
        await asyncio.sleep(0.5)
        stopping = asyncio.create_task(asyncio.to_thread(workers.terminate, "w-goes", 30))
        unheld = await _watch_holders(redis, keys, plans, lambda held: held["w-stays"] == units, timeout=30)
        assert await stopping == 0
    assert unheld == 0
    await _all_committed(redis, keys, plans)
    assert await redis.zscore(keys.workers, "w-goes") is None


def test_a_worker_takes_about_a_seconds_worth_of_units_at_the_rate_it_brings_them_current() -> None:
    assert taking_window(0.0) == MIN_TAKING  # nothing brought current lately: a few to begin with
    assert taking_window(2.0) == MIN_TAKING
    assert taking_window(20.0) == 30  # and half as many again
    assert taking_window(33.4) == 51


async def test_idle_projectors_do_not_read_until_an_append_wakes_them(
    redis: Redis, store: EventStore, keys: Keyspace, server_url: str, monkeypatch: pytest.MonkeyPatch
):
    """A caught-up projector sleeps until its plan's append notice (or its clock's judgement, or a
    poll every 15–30 s): it used to read its log every second, so a worker following a thousand
    plans spent a third of a core on 2,000 reads a second of logs that had not moved. An append
    to one plan then wakes that plan's projectors only."""
    from services.projection import Projector
    from services.projection.supervisor import ProjectionSupervisor

    plans = await publish_plans(store, 20, stem="quiet")
    reads: Counter[tuple[str, str]] = Counter()
    step = Projector.step

    async def counted(self: Projector, *args: object, **kwargs: object) -> int:
        reads[(self.plan_id, self.projection.name)] += 1
        return await step(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Projector, "step", counted)
    supervisor = ProjectionSupervisor(redis, keys, "w-quiet", lease_url=server_url, tick=0.2, idle_s=0.3)
    running = asyncio.create_task(supervisor.run())
    try:
        await eventually(lambda: _all_held(redis, keys, plans, "w-quiet"), timeout=30, interval=0.2)
        await eventually(lambda: _none_lagging(redis, keys, plans), timeout=30, interval=0.2)
        await asyncio.sleep(1.0)  # the open instants judged after 0.3 s of quiet
        reads.clear()
        await asyncio.sleep(3.0)
        assert sum(reads.values()) == 0, reads  # every second, before: 120
        await store.append([gdp_update(plans[3], "5.1", "2025-Q1")])
        await eventually(lambda: _none_lagging(redis, keys, plans), timeout=10, interval=0.1)
        assert set(reads) == {(plans[3], projection.name) for projection in PROJECTIONS}
    finally:
        supervisor.close()
        await running


async def _none_lagging(redis: Redis, keys: Keyspace, plans: list[str]) -> bool:
    return not await lagging(redis, keys, plans)


@pytest.mark.cluster
async def test_an_append_wakes_the_projectors_waiting_for_that_plan_only(
    redis: Redis, store: EventStore, keys: Keyspace, server_url: str
):
    """The append script's notice reaches the one subscription (on a Cluster, from whichever node
    holds the plan's slot) and wakes the waiters of that plan, not those of another."""
    from services.projection.wakeup import Wakeup
    from services.store import Announcements

    plans = await publish_plans(store, 3, stem="wake")
    wakeup_redis = connect(node_url_for_key(server_url, keys.plans), 1)
    announcements = Announcements(wakeup_redis)
    wakeup = Wakeup(announcements, keys)
    listening = asyncio.create_task(announcements.run())
    try:
        await asyncio.wait_for(wakeup.listening.wait(), 30)
        heads = {plan_id: await store.head(plan_id) or "" for plan_id in plans}
        woken = asyncio.create_task(wakeup.wait(plans[1], heads[plans[1]], timeout=30))
        other = asyncio.create_task(wakeup.wait(plans[2], heads[plans[2]], timeout=2))
        await asyncio.sleep(0.2)
        await store.append([gdp_update(plans[1], "5.1", "2025-Q1")])
        assert await woken  # False would mean 30 s passed without a wake-up
        assert not await other  # another plan's waiter sleeps on
        # heard already: a later wait for a position before the append returns at once
        assert await asyncio.wait_for(wakeup.wait(plans[1], heads[plans[1]], timeout=30), 1)
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await wakeup_redis.aclose()


def test_a_projector_lingers_only_while_its_plans_events_keep_coming() -> None:
    """Woken after a quiet spell it reads at once (nothing to gather); woken again soon after, it
    waits a moment so the rest of the burst is committed with it."""
    from services.projection.supervisor import BURST_S, linger_for

    assert linger_for(100.0, -math.inf, 0.005) == 0.0  # the first wake-up
    assert linger_for(100.0, 100.0 - BURST_S - 0.1, 0.005) == 0.0  # after a quiet spell
    assert linger_for(100.0, 99.99, 0.005) == 0.005  # within a burst


@pytest.mark.cluster
async def test_a_lease_written_by_hand_does_not_keep_a_plan_from_the_workers(
    redis: Redis, store: EventStore, keys: Keyspace, server_url: str
):
    """A lease without an expiry (every holder sets one) was written by hand or damaged: a worker
    takes it rather than leave the plan unprojected for ever. A lease with an expiry held by a
    worker no longer live is left until it expires."""
    from services.projection.supervisor import ProjectionSupervisor

    plans = await publish_plans(store, 2, stem="byhand")
    await redis.set(keys.lease(plans[0], PROJECTIONS[0].name), "someone")
    await redis.set(keys.lease(plans[1], PROJECTIONS[0].name), "w-gone", px=60_000)
    supervisor = ProjectionSupervisor(redis, keys, "w-1", lease_url=server_url, tick=0.2, idle_s=0.3)
    running = asyncio.create_task(supervisor.run())
    try:
        held = Counter({"w-1": len(plans) * len(PROJECTIONS) - 1, "w-gone": 1})
        await eventually(lambda: _owners_are(redis, keys, plans, held), timeout=30, interval=0.2)
        await eventually(lambda: _none_lagging(redis, keys, plans[:1]), timeout=30, interval=0.2)
    finally:
        supervisor.close()
        await running


async def _owners_are(redis: Redis, keys: Keyspace, plans: list[str], expected: Counter[str]) -> bool:
    return await owners(redis, keys, plans) == expected
