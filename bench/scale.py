"""Many plans on one worker: connections, memory, latency, rebuild and rollups at N plans.

    python bench/scale.py [--quick] [--plans 10,100,1000] [--rate 200] [--seconds 30] [--processes 1]

For each N (default 10, 100, 1,000; `--quick`: 10, 100), under a key prefix of its own:

1. N copies of the seed plan, each with its H1 2025 history (442 events a plan).
2. Raw limits of this run: bare pipelined XADD of the same events (events/s), and the round
   trip of a non-blocking XREAD of one entry (p50/p99): what an append → read model can not beat.
3. One `planwatch worker` follows all N plans (2N leases: read model and alerts), as one process
   or, with `--processes P`, as P processes under one command (`planwatch worker --processes P`).
   Reported: time until it has taken and caught up every plan, and until it is quiet (each
   plan's last instant judged, its state written; the latency is measured from then); the connections it holds
   (CLIENT LIST, by their names `planwatch-worker:<id>:*`); its RSS; Redis' used memory (the
   growth since before the fill).
4. Latency: single-event appends at `--rate` events/s spread over all plans at random, for
   `--seconds`; the time from an append to the read-model commit of that plan that covers it
   (heard on the plans' update channels), p50/p99; then the events never committed (every
   plan's read model and alerts against its log after a grace period: must be 0).
5. The worker stopped with SIGTERM, as `docker stop` does (which SIGKILLs after 10 s): the time
   until it exited, and the leases still held right after (0: it let go of them, so another
   worker takes its plans at once instead of after their expiry). Then the time to rebuild
   every plan (read model, then alerts) in this process, beside a raw XRANGE of every plan's
   log; the time `planwatch rebuild --all --processes P` takes for both; time to write every
   plan's June rollup.

Uses PLANWATCH_REDIS_URL or the embedded Redis, under its own key prefix, deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from common import bench_keyspace, cpu_s, drop, server_name, spawn
from redis.asyncio import Redis

from events.codec import encode
from events.models import Event
from events.plan import Plan
from events.positions import position_key
from services.app import load_plan, produce_rollup, publish_plan
from services.demo import SEED_PLAN
from services.demo.run import seed_history
from services.projection import ALERTS, PROJECTIONS, READ_MODEL, rebuild
from services.settings import Settings
from services.store import EventStore, Keyspace, connect

BATCH = 500


def copies(plan: Plan, count: int) -> list[tuple[Plan, list[Event]]]:
    """`count` copies of the plan with its H1 history (the same events under each plan's id)."""
    history = seed_history(plan)
    out = []
    for n in range(count):
        plan_id = f"scale{n:04d}-2025"
        copy = plan.model_copy(update={"id": plan_id})
        out.append((copy, [event.model_copy(update={"plan_id": plan_id}) for event in history]))
    return out


async def fill(store: EventStore, plans: list[tuple[Plan, list[Event]]]) -> None:
    async def one(plan: Plan, history: list[Event]) -> None:
        await publish_plan(store, plan)
        for start in range(0, len(history), BATCH):
            await store.append(history[start : start + BATCH])

    for chunk in range(0, len(plans), 8):
        await asyncio.gather(*(one(*item) for item in plans[chunk : chunk + 8]))


async def raw_xadd_rate(redis: Redis, keys: Keyspace, history: list[Event]) -> float:
    """Events/s of bare pipelined XADD (batches of 500) of the same events."""
    stream = f"{keys.prefix}:raw-xadd"
    payloads = [(event.type, encode(event)) for event in history] * 10
    start = time.perf_counter()
    for first in range(0, len(payloads), BATCH):
        async with redis.pipeline(transaction=False) as pipe:
            for kind, data in payloads[first : first + BATCH]:
                pipe.xadd(stream, {"type": kind, "data": data})
            await pipe.execute()
    return len(payloads) / (time.perf_counter() - start)


async def raw_xread_round_trip(redis: Redis, keys: Keyspace, plan_id: str, rounds: int = 2000) -> list[float]:
    """Milliseconds of a non-blocking XREAD of one entry of a plan's log."""
    stream, times = keys.events(plan_id), []
    for _ in range(rounds):
        start = time.perf_counter()
        await redis.xread({stream: "0-0"}, count=1)
        times.append((time.perf_counter() - start) * 1000)
    return times


async def lagging_events(redis: Redis, keys: Keyspace, plan_ids: list[str]) -> int:
    """Events of the logs not yet applied (or parked), summed over every plan and projection."""
    async with redis.pipeline(transaction=False) as pipe:
        for plan_id in plan_ids:
            pipe.xlen(keys.events(plan_id))
            for projection in PROJECTIONS:
                pipe.get(keys.projection_current(plan_id, projection.name))
        replies = await pipe.execute()
    step = len(PROJECTIONS) + 1
    async with redis.pipeline(transaction=False) as pipe:
        for index, plan_id in enumerate(plan_ids):
            for offset, projection in enumerate(PROJECTIONS, start=1):
                generation = int(replies[index * step + offset] or 0)
                pipe.hmget(keys.generation(plan_id, generation, projection.name), ["applied", "parked"])
        counts = await pipe.execute()
    behind = 0
    for index in range(len(plan_ids)):
        for offset in range(len(PROJECTIONS)):
            applied, parked = counts[index * len(PROJECTIONS) + offset]
            behind += max(replies[index * step] - int(applied or 0) - int(parked or 0), 0)
    return behind


def lease_keys(keys: Keyspace, plan_ids: list[str]) -> list[str]:
    """Every unit's lease: each plan's read model and alerts."""
    return [keys.lease(plan_id, projection.name) for plan_id in plan_ids for projection in PROJECTIONS]


async def held_leases(redis: Redis, keys: Keyspace, plan_ids: list[str]) -> int:
    async with redis.pipeline(transaction=False) as pipe:  # key by key: a Cluster spreads them over slots
        for lease in lease_keys(keys, plan_ids):
            pipe.exists(lease)
        return sum(await pipe.execute())


async def balanced(redis: Redis, keys: Keyspace, plan_ids: list[str], processes: int) -> bool:
    """Whether the worker's processes hold the units evenly: the process that starts first takes
    every plan and hands a tenth of its excess back per tick, and a unit that moves waits for the
    other process's next tick, which the latency would otherwise measure."""
    leases = lease_keys(keys, plan_ids)
    holders = Counter(holder for holder in await redis.mget(leases) if holder)
    share = -(-len(leases) // processes)
    return len(holders) == processes and max(holders.values()) <= share


async def worker_connections(redis: Redis) -> int:
    clients = await redis.client_list()
    return sum(1 for client in clients if str(client.get("name", "")).startswith("planwatch-worker:"))


async def quiet(pids: list[int], below: float = 0.2) -> float:
    """Wait until the worker's processes use less than `below` of a core for two seconds in a row
    (caught up, a worker still judges each plan's last instant and writes its state): the latency
    is measured from there. Returns the perf_counter time it went quiet."""
    calm = 0
    while calm < 2:
        before = sum(cpu_s(pid) for pid in pids)
        await asyncio.sleep(1)
        calm = calm + 1 if sum(cpu_s(pid) for pid in pids) - before < below else 0
    return time.perf_counter()


def children_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


async def worker_pids(worker: subprocess.Popen[bytes], processes: int) -> list[int]:
    """The processes doing the work: the worker itself, or the `processes` its pool started."""
    if processes == 1:
        return [worker.pid]
    while True:
        children = children_of(worker.pid)
        if len(children) == processes:
            return [int(pid) for pid in children]
        await asyncio.sleep(0.1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def latency(
    url: str,
    keys: Keyspace,
    store: EventStore,
    plans: list[tuple[Plan, list[Event]]],
    rate: int,
    seconds: float,
    seed: int = 18,
) -> list[float]:
    """Append → read-model commit, ms, for single-event appends at `rate` over all plans (events of
    ids drawn from `seed`: a second run with the same seed appends nothing, its events stored)."""
    listener_redis = connect(url, 2)
    pubsub = listener_redis.pubsub()
    await pubsub.psubscribe(f"{keys.prefix}:*:rm:updates")
    commits: dict[str, list[tuple[tuple[int, int], float]]] = {}

    async def listen() -> None:
        async for message in pubsub.listen():
            if message["type"] == "pmessage":
                plan_id = str(message["channel"]).split("{", 1)[1].split("}", 1)[0]
                commits.setdefault(plan_id, []).append((position_key(message["data"]), time.perf_counter()))

    listening = asyncio.create_task(listen())
    rng = random.Random(seed)
    sent: list[tuple[str, tuple[int, int], float]] = []
    try:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            plan, history = plans[rng.randrange(len(plans))]
            event = history[rng.randrange(len(history))].model_copy(update={"event_id": _fresh_id(rng)})
            result = await store.append([event])
            sent.append((plan.id, position_key(result.positions[0]), time.perf_counter()))
            await asyncio.sleep(max(0.0, start + len(sent) / rate - time.perf_counter()))
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline and not _all_heard(sent, commits):
            await asyncio.sleep(0.05)
    finally:
        listening.cancel()
        await pubsub.aclose()
        await listener_redis.aclose()
    lags = []
    for plan_id, position, at in sent:
        heard = [t for p, t in commits.get(plan_id, []) if p >= position]
        if heard:
            lags.append((min(heard) - at) * 1000)
    return lags


def _fresh_id(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _all_heard(
    sent: list[tuple[str, tuple[int, int], float]], commits: dict[str, list[tuple[tuple[int, int], float]]]
) -> bool:
    return all(any(p >= position for p, _ in commits.get(plan_id, [])) for plan_id, position, _ in sent)


def stop_worker(worker: subprocess.Popen[bytes]) -> float:
    """SIGTERM (it lets go of its 2N leases); seconds until it exited, or -1 if it had to be killed."""
    started = time.perf_counter()
    worker.terminate()
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        return -1.0
    return time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


async def one_size(
    url: str, plan: Plan, count: int, rate: int, seconds: float, offline: bool, worker_log: Path | None, processes: int
) -> dict[str, float]:
    redis = connect(url)
    keys = bench_keyspace()
    store = EventStore(redis, keys)
    figures: dict[str, float] = {"plans": count, "processes": processes}
    try:
        memory_before = (await redis.info("memory"))["used_memory"]
        plans = copies(plan, count)
        plan_ids = [p.id for p, _ in plans]
        started = time.perf_counter()
        await fill(store, plans)
        figures["fill_s"] = time.perf_counter() - started
        figures["log_events"] = sum(len(history) + 1 for _, history in plans)  # the rebuild counts them again
        figures["raw_xadd_per_s"] = await raw_xadd_rate(redis, keys, plans[0][1])
        await redis.unlink(f"{keys.prefix}:raw-xadd")
        trips = await raw_xread_round_trip(redis, keys, plan_ids[0])
        figures["raw_xread_p50_ms"], figures["raw_xread_p99_ms"] = pct(trips, 50), pct(trips, 99)

        worker = spawn(url, keys, "worker", "--processes", str(processes), log=worker_log)
        try:
            pids = await worker_pids(worker, processes)
            started = time.perf_counter()
            while await held_leases(redis, keys, plan_ids) < 2 * count or await lagging_events(redis, keys, plan_ids):
                await asyncio.sleep(0.25)
            figures["catch_up_s"] = time.perf_counter() - started
            while not await balanced(redis, keys, plan_ids, processes):  # units still moving to a late process
                await asyncio.sleep(0.25)
            figures["settle_s"] = await quiet(pids) - started
            lags = await latency(url, keys, store, plans, rate, seconds)
            figures["events_sent"] = rate * seconds
            figures["p50_ms"], figures["p99_ms"], figures["max_ms"] = pct(lags, 50), pct(lags, 99), max(lags)
            deadline = time.perf_counter() + 30
            while (behind := await lagging_events(redis, keys, plan_ids)) and time.perf_counter() < deadline:
                await asyncio.sleep(0.25)
            figures["uncommitted"] = behind
            figures["connections"] = await worker_connections(redis)
            figures["worker_rss_mb"] = sum(rss_mb(pid) for pid in pids)
            figures["redis_mb"] = ((await redis.info("memory"))["used_memory"] - memory_before) / 2**20
        finally:
            figures["stop_s"] = stop_worker(worker)
        figures["leases_after_stop"] = await held_leases(redis, keys, plan_ids)
        await redis.delete(*(keys.lease(p, projection.name) for p in plan_ids for projection in PROJECTIONS))
        if offline:
            await rebuild_and_rollups(redis, keys, plan_ids, figures)
            figures["rebuild_cli_s"] = rebuild_all_command(url, keys, processes)
    finally:
        await drop(redis, keys)
        await redis.aclose()
    return figures


def rebuild_all_command(url: str, keys: Keyspace, processes: int) -> float:
    """Seconds `planwatch rebuild --all --processes P` takes (both projections of every plan)."""
    env = {**os.environ, "PLANWATCH_REDIS_URL": url, "PLANWATCH_KEY_PREFIX": keys.prefix}
    command = [sys.executable, "-m", "services", "rebuild", "--all", "--processes", str(processes)]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


async def rebuild_and_rollups(redis: Redis, keys: Keyspace, plan_ids: list[str], figures: dict[str, float]) -> None:
    """With the worker stopped: every log read raw, every plan rebuilt, every June rollup written."""
    started = time.perf_counter()
    total = 0
    for plan_id in plan_ids:
        after = "-"
        while entries := await redis.xrange(keys.events(plan_id), min=after, count=1000):
            total += len(entries)
            after = f"({entries[-1][0]}"
    figures["raw_xrange_s"] = time.perf_counter() - started
    figures["log_events"] = total
    for projection, name in ((READ_MODEL, "rebuild_rm_s"), (ALERTS, "rebuild_alerts_s")):
        started = time.perf_counter()
        for plan_id in plan_ids:
            await rebuild(redis, keys, plan_id, projection=projection)
        figures[name] = time.perf_counter() - started
    started = time.perf_counter()
    for plan_id in plan_ids:
        await produce_rollup(redis, keys, plan_id, "2025-06")
    figures["june_rollups_s"] = time.perf_counter() - started


def show(f: dict[str, float]) -> None:
    n = int(f["plans"])
    print(f"\n== {n} plans ({int(f['log_events'])} events in their logs; filled in {f['fill_s']:.1f} s)")
    print(
        f"  worker caught up with all {n} plans ({2 * n} leases) in {f['catch_up_s']:.1f} s, "
        f"quiet (the last instants judged, states written) after {f['settle_s']:.1f} s"
    )
    print(f"  connections held by the worker: {int(f['connections'])}")
    print(f"  worker RSS (all its processes): {f['worker_rss_mb']:.0f} MB; Redis used memory: +{f['redis_mb']:.0f} MB")
    print(
        f"  append → read model at {f['events_sent'] / 1:.0f} events sent: p50 {f['p50_ms']:.1f} ms, "
        f"p99 {f['p99_ms']:.1f} ms, max {f['max_ms']:.1f} ms  "
        f"(raw XREAD round trip p50 {f['raw_xread_p50_ms']:.2f} ms, p99 {f['raw_xread_p99_ms']:.2f} ms)"
    )
    print(f"  events never committed: {int(f['uncommitted'])}")
    stopped = f"{f['stop_s']:.2f} s after SIGTERM" if f["stop_s"] >= 0 else "NOT within 60 s of SIGTERM (killed)"
    print(f"  worker exited {stopped}; leases still held right after: {int(f['leases_after_stop'])} of {2 * n}")
    if "raw_xrange_s" not in f:
        fill_rate = f["log_events"] / f["fill_s"]
        print(f"  raw pipelined XADD: {f['raw_xadd_per_s']:,.0f} events/s (the fill: {fill_rate:,.0f})")
        return
    raw_rate = f["log_events"] / f["raw_xrange_s"]
    for name, label in (("rebuild_rm_s", "read models"), ("rebuild_alerts_s", "alerts")):
        rate = f["log_events"] / f[name]
        print(
            f"  rebuild all {label}: {f[name]:.1f} s ({rate:,.0f} events/s; raw XRANGE of every log "
            f"{f['raw_xrange_s']:.1f} s = {raw_rate:,.0f} events/s, ratio {rate / raw_rate:.2f})"
        )
    one_by_one = f["rebuild_rm_s"] + f["rebuild_alerts_s"]
    print(
        f"  planwatch rebuild --all --processes {int(f['processes'])} (both projections, start-up included): "
        f"{f['rebuild_cli_s']:.1f} s, against {one_by_one:.1f} s for the two rebuilds above in one process"
    )
    per_plan = f["june_rollups_s"] / n * 1000
    print(f"  June rollups of all plans: {f['june_rollups_s']:.1f} s ({per_plan:.0f} ms a plan)")
    print(f"  raw pipelined XADD: {f['raw_xadd_per_s']:,.0f} events/s (the fill: {f['log_events'] / f['fill_s']:,.0f})")


async def main(
    sizes: list[int], rate: int, seconds: float, offline: bool, worker_log: Path | None, processes: int
) -> None:
    url = Settings.from_env().redis_target()
    plan = load_plan(SEED_PLAN)
    print(
        f"Redis: {server_name(url)}; {rate} events/s for {seconds:.0f} s at each size; "
        f"one worker of {processes} process{'es' if processes > 1 else ''}"
    )
    for count in sizes:
        show(await one_size(url, plan, count, rate, seconds, offline, worker_log, processes))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 10 and 100 only (a loaded machine)")
    parser.add_argument("--plans", default="10,100,1000", help="comma-separated plan counts")
    parser.add_argument("--rate", type=int, default=200, help="events/s spread over all plans")
    parser.add_argument("--seconds", type=float, default=30, help="how long to append at that rate")
    parser.add_argument("--no-rebuild", action="store_true", help="skip the rebuilds and the rollups")
    parser.add_argument("--worker-log", type=Path, help="append the worker's log to this file (default: dropped)")
    parser.add_argument("--processes", type=int, default=1, help="processes of the worker (`worker --processes`)")
    options = parser.parse_args()
    counts = [10, 100] if options.quick else [int(n) for n in options.plans.split(",")]
    asyncio.run(
        main(
            counts,
            options.rate,
            options.seconds,
            offline=not options.no_rebuild,
            worker_log=options.worker_log,
            processes=options.processes,
        )
    )
