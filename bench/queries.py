"""As-of / as-known-at queries and rollups at growing log lengths, against the raw Redis limit.

    python bench/queries.py [--sizes 10000,100000,1000000] [--queries 40]

For each size N (a fresh plan under the run's own key prefix, deleted afterwards):

1. Fills the seed plan (37 indicators, 112 projects) with N events (bench/projection.py's mix)
   and rebuilds both projections (`rebuild`: the read model with its periodic snapshots every
   `PLANWATCH_SNAPSHOT_EVERY` entries, the alerts with their state and alert book).
2. As known at: `App.reports.table(plan, known_at=…)` — what `planwatch table --known-at` runs,
   in-process — at instants spread over the whole log, p50/p95; and the same over HTTP,
   `GET /v1/plans/{plan}?known_at=…` through the real ASGI app on httpx's ASGI transport (no
   sockets: the app's own cost). The entries each query folded come from
   `planwatch_events_folded_total` (mean and largest).
3. As of: `App.reports.table(plan, as_of=…)` and `GET /v1/plans/{plan}?as_of=…`, p50/p95.
4. Rollups: `produce_rollup` of April (the plan's first: its changes list every alert change so
   far, which grows with this synthetic log), May's, then June's, compared with May's as the
   scheduler writes them month after month (CLI start-up excluded), with the entries it folded;
   then, for comparison, June judged by a replay of the whole log (`judge_log` + `build_rollup`:
   what every rollup did before).
5. Raw limit, same run: XRANGE of one snapshot interval (the most a query folds; read just
   before each as-known-at query, so both see the same load) and of the whole log, in pages of
   1000, with each event's JSON validated.

Uses PLANWATCH_REDIS_URL or the embedded Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, date, datetime

import httpx
from common import bench_keyspace, bench_redis, drop, server_name
from projection import fill
from prometheus_client import REGISTRY

from events.models import validate_event_json
from events.positions import position_instant
from projections.rollup import build_rollup
from services.api import create_api
from services.app import App, load_document, load_plan, produce_rollup, publish_plan
from services.app.rollups import rollup_sources
from services.demo import SEED_PLAN
from services.heap import settle_heap
from services.projection import ALERTS, READ_MODEL, judge_log, rebuild
from services.projection.queries import QUERY, ROLLUP
from services.settings import Settings
from services.store import EventStore, Keyspace, TokenStore, redis_now_ms

PLAN_ID = "rongchang-2025"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def folded_total(reader: str = QUERY) -> float:
    return REGISTRY.get_sample_value("planwatch_events_folded_total", {"reader": reader, "plan": PLAN_ID}) or 0.0


async def raw_range(redis, keys: Keyspace, low: str, count: int) -> float:
    """Seconds to XRANGE `count` entries from `low` in pages of 1000, validating each event."""
    started, done = time.perf_counter(), 0
    while done < count:
        entries = await redis.xrange(keys.events(PLAN_ID), min=low, max="+", count=min(1000, count - done))
        for _, fields in entries:
            validate_event_json(fields["data"])  # the compiled validator, as the fold calls it
        done += len(entries)
        if len(entries) < 1000:
            break
        low = f"({entries[-1][0]}"
    return time.perf_counter() - started


async def timed(calls: list) -> list[float]:
    times = []
    for call in calls:
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def one_size(redis, size: int, queries: int, rng: random.Random) -> dict[str, float]:
    keys = bench_keyspace()
    figures: dict[str, float] = {"size": size}
    try:
        store = EventStore(redis, keys)
        plan = load_plan(SEED_PLAN)
        await publish_plan(store, plan)
        await fill(store, plan, size - 1)
        started = time.perf_counter()
        snapshot_every = Settings.from_env().snapshot_every
        await rebuild(redis, keys, PLAN_ID, snapshot_every=snapshot_every)
        figures["rebuild_rm_s"] = time.perf_counter() - started
        started = time.perf_counter()
        await rebuild(redis, keys, PLAN_ID, projection=ALERTS)
        figures["rebuild_alerts_s"] = time.perf_counter() - started
        rm = keys.generation(PLAN_ID, int(await redis.get(keys.projection_current(PLAN_ID, READ_MODEL.name))))
        names = [name for name in await redis.hkeys(rm) if name.startswith("snapshot:")]
        figures["snapshots"] = len(names)
        figures["snapshot_kb"] = (await redis.hstrlen(rm, names[-1])) / 1000 if names else 0
        await query_figures(redis, keys, store, queries, rng, figures)
        await rollup_figures(redis, keys, store, figures)
        figures["raw_log_s"] = await raw_range(redis, keys, "-", size)
        figures["snapshot_every"] = snapshot_every
    finally:
        await drop(redis, keys)
    return figures


async def query_figures(redis, keys: Keyspace, store: EventStore, queries: int, rng: random.Random, f: dict) -> None:
    app = App(redis, keys)
    token, _ = await TokenStore(redis, keys).create("analyst", None, "bench")
    [(first, _)] = await redis.xrange(keys.events(PLAN_ID), count=1)
    [(last, _)] = await redis.xrevrange(keys.events(PLAN_ID), count=1)
    low, high = position_instant(first), position_instant(last)
    instants = [datetime.fromtimestamp(rng.randint(low, high) / 1000, UTC) for _ in range(queries)]
    days = [date(2025, rng.randint(1, 12), 28) for _ in range(queries)]
    await app.reports.table(PLAN_ID, known_at=instants[0])  # warm: the plan, the code paths
    before = folded_total()
    counts: list[float] = []

    async def known(instant: datetime) -> None:
        mark = folded_total()
        await app.reports.table(PLAN_ID, known_at=instant)
        counts.append(folded_total() - mark)

    raw: list[float] = []

    async def raw_then_known(instant: datetime) -> float:
        """A raw read of one interval just before each query: the limit under the same load."""
        raw.append(await raw_range(redis, keys, "-", Settings.from_env().snapshot_every) * 1000)
        started = time.perf_counter()
        await known(instant)
        return (time.perf_counter() - started) * 1000

    in_process = [await raw_then_known(i) for i in instants]
    f["raw_interval_p50"], f["raw_interval_p95"] = pct(raw, 0.5), pct(raw, 0.95)
    f["folded_mean"], f["folded_max"] = statistics.mean(counts), max(counts)
    f["known_p50"], f["known_p95"] = pct(in_process, 0.5), pct(in_process, 0.95)
    as_of = await timed([lambda d=d: app.reports.table(PLAN_ID, as_of=d) for d in days])
    f["asof_p50"], f["asof_p95"] = pct(as_of, 0.5), pct(as_of, 0.95)
    transport = httpx.ASGITransport(app=create_api(redis=redis, keys=keys))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://planwatch", headers=headers) as http:
        url = f"/v1/plans/{PLAN_ID}"
        assert (await http.get(url, params={"known_at": instants[0].isoformat()})).status_code == 200

        async def get(params: dict[str, str]) -> None:
            response = await http.get(url, params=params)
            assert response.status_code == 200, response.text

        over_http = await timed([lambda i=i: get({"known_at": i.isoformat()}) for i in instants])
        f["http_known_p50"], f["http_known_p95"] = pct(over_http, 0.5), pct(over_http, 0.95)
        over_http = await timed([lambda d=d: get({"as_of": d.isoformat()}) for d in days])
        f["http_asof_p50"], f["http_asof_p95"] = pct(over_http, 0.5), pct(over_http, 0.95)
    f["folded_all"] = folded_total() - before


async def rollup_figures(redis, keys: Keyspace, store: EventStore, f: dict) -> None:
    """April's rollup (the plan's first: it lists every alert change so far), May's, then June's —
    compared with May's, as the scheduler writes them month after month — then June judged by a
    replay of the whole log."""
    started = time.perf_counter()
    assert (await produce_rollup(redis, keys, PLAN_ID, "2025-04")).outcome == "published"
    f["rollup_first_s"] = time.perf_counter() - started
    assert (await produce_rollup(redis, keys, PLAN_ID, "2025-05")).outcome == "published"
    before = folded_total(ROLLUP)
    started = time.perf_counter()
    result = await produce_rollup(redis, keys, PLAN_ID, "2025-06")
    f["rollup_s"] = time.perf_counter() - started
    f["rollup_folded"] = folded_total(ROLLUP) - before
    assert result.outcome == "published" and result.document is not None
    started = time.perf_counter()
    previous = await load_document(redis, keys, PLAN_ID, "2025-05")
    assert previous is not None
    now = datetime.fromtimestamp(await redis_now_ms(redis) / 1000, tz=UTC)
    state, notices = await judge_log(store, PLAN_ID, now)
    replayed = build_rollup(state, "2025-06", now, [n for n in notices if n.at > previous.known_at], previous)
    replayed.sources = await rollup_sources(store, state, replayed.as_of)
    f["rollup_replay_s"] = time.perf_counter() - started


def show(f: dict[str, float]) -> None:
    n = int(f["size"])
    print(
        f"\n{n:,} events ({int(f['snapshots'])} snapshots, one every {int(f['snapshot_every']):,} entries, "
        f"{f['snapshot_kb']:.0f} kB each: {f['snapshots'] * f['snapshot_kb'] / 1000:.1f} MB)"
    )
    print(f"  rebuild: read model {f['rebuild_rm_s']:.1f} s, alerts {f['rebuild_alerts_s']:.1f} s")
    print(
        f"  as known at, in-process: p50 {f['known_p50']:.1f} ms, p95 {f['known_p95']:.1f} ms; "
        f"over HTTP (ASGI): p50 {f['http_known_p50']:.1f} ms, p95 {f['http_known_p95']:.1f} ms"
    )
    print(f"    entries folded per query: mean {f['folded_mean']:.0f}, largest {f['folded_max']:.0f}")
    print(
        f"  as of, in-process: p50 {f['asof_p50']:.1f} ms, p95 {f['asof_p95']:.1f} ms; "
        f"over HTTP (ASGI): p50 {f['http_asof_p50']:.1f} ms, p95 {f['http_asof_p95']:.1f} ms"
    )
    print(
        f"  raw limit: XRANGE + validation of one interval (before each query) p50 {f['raw_interval_p50']:.1f} ms, "
        f"p95 {f['raw_interval_p95']:.1f} ms (known-at p95 / raw p95: {f['known_p95'] / f['raw_interval_p95']:.2f}); "
        f"of the whole log {f['raw_log_s']:.2f} s"
    )
    print(
        f"  June rollup (after May's): {f['rollup_s'] * 1000:.0f} ms, {f['rollup_folded']:.0f} entries folded; "
        f"by a replay of the whole log, as before: {f['rollup_replay_s']:.2f} s"
    )
    print(f"  April rollup, the plan's first (every alert change so far): {f['rollup_first_s'] * 1000:.0f} ms")


async def main(sizes: list[int], queries: int) -> None:
    settle_heap()
    rng = random.Random(18)
    async with bench_redis() as (url, redis, _):
        print(f"Redis: {server_name(url)}")
        results = [await one_size(redis, size, queries, rng) for size in sizes]
    for figures in results:
        show(figures)
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(
            f"\nrollup at {int(last['size']):,} / at {int(first['size']):,}: "
            f"{last['rollup_s'] / first['rollup_s']:.2f}× (goal ≤ 2×); known-at p95 at {int(last['size']):,}: "
            f"{last['known_p95']:.1f} ms (goal ≤ 50 ms); raw interval p95 there / at {int(first['size']):,}: "
            f"{last['raw_interval_p95'] / first['raw_interval_p95']:.2f}× (the machine's drift)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="log lengths, comma-separated")
    parser.add_argument("--queries", type=int, default=40, help="queries of each kind per size")
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")], args.queries))
