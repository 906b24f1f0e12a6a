"""Ingest throughput over HTTP against direct store appends, same server, same run.

    python bench/ingest.py [--events 100000] [--batch 500] [--clients 4] [--singles 2000] [--workers 1]

Starts `planwatch api --workers N` (uvicorn) on a free port and posts through real HTTP (a
minimal keep-alive HTTP/1.1 client, light on the cores it shares with the server):
1. direct: `--clients` concurrent appenders calling `EventStore.append` with batches of `--batch`
   (the limit of the write path itself, with as many batches in flight as over HTTP);
2. HTTP batches: `--clients` concurrent clients posting batches of `--batch` events;
3. HTTP singles: `--clients` concurrent clients posting one event per request, to the API as it
   ships (an access-log line per request) and to a second one started `--no-access-log`;
4. bare singles: the same posts to a bare FastAPI app under the same uvicorn whose one route
   XADDs the body (bench/bare_xadd.py, no access log) — the raw limit of a single-event POST.
1 and 2, and 3 and 4, run three times, interleaved, and the best of each is kept: the speed of
this machine drifts by a factor of two between runs, and interleaving exposes both to the same drift.
Uses PLANWATCH_REDIS_URL or the embedded Redis, under its own key prefix, deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid

import httpx
from common import ROOT, bench_redis, server_name, spawn, stop

from events.models import IndicatorUpdated
from services.app import load_plan, publish_plan
from services.demo import SEED_PLAN
from services.heap import settle_heap
from services.store import EventStore, TokenStore

ROUNDS = 3
STATS = ["gdp", "industry-va", "fai", "retail", "income", "private-investment"]  # owned by stats
QUARTERLY = {"gdp", "income"}  # reported for a quarter's last month only (the seed plan's frequency)


def payload(n: int) -> dict:
    subject, month = STATS[n % len(STATS)], n % 12 + 1
    if subject in QUARTERLY:
        month = (month + 2) // 3 * 3
    return {
        "event_id": str(uuid.uuid4()),
        "type": "indicator.updated",
        "subject": subject,
        "period": f"2025-{month:02d}",
        "occurred_at": "2025-07-15T10:00:00+08:00",
        "value": f"{n % 997 / 10}",
        "note": "基准测试",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_up(url: str, path: str = "/healthz") -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"{url}{path}")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the API did not start")


def spawn_bare(url: str, prefix: str, port: int) -> subprocess.Popen:
    """bench/bare_xadd.py under uvicorn, as `planwatch api` runs (one process, same loop and parser)."""
    env = {**os.environ, "PLANWATCH_REDIS_URL": url, "PLANWATCH_KEY_PREFIX": prefix}
    command = [sys.executable, "-m", "uvicorn", "bare_xadd:create", "--factory", "--app-dir", str(ROOT / "bench")]
    return subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def append_all(store: EventStore, batches: list[list[IndicatorUpdated]], clients: int) -> float:
    """Append every batch with `clients` concurrent appenders sharing one connection pool, as the
    HTTP clients share one API process; returns seconds taken."""
    queue: asyncio.Queue = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def appender() -> None:
        while not queue.empty():
            await store.append(queue.get_nowait())

    start = time.perf_counter()
    await asyncio.gather(*(appender() for _ in range(clients)))
    return time.perf_counter() - start


async def post_all(port: int, token: str, bodies: list[bytes], clients: int) -> float:
    """Post every (pre-encoded) body with `clients` concurrent keep-alive connections; returns
    seconds taken. Bodies are encoded before the clock starts: the client's JSON work is not the
    server's. The client is a minimal HTTP/1.1 one (each response read in full, its status
    checked): it shares this machine's cores with the server, and httpx cost ~3 µs of CPU per
    event, a seventh of the server's whole path, which the server's figure should not carry."""
    queue: asyncio.Queue = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    head = (
        f"POST /v1/plans/rongchang-2025/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    ).encode()

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                body = queue.get_nowait()
                writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) != b"\r\n":
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                answer = await reader.readexactly(length)
                assert status.split()[1] == b"201", (status, answer[:500])
        finally:
            writer.close()
            await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - start


async def main(count: int, batch: int, clients: int, singles: int, workers: int) -> None:
    plan = load_plan(SEED_PLAN)
    port, bare_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    async with bench_redis() as (url_redis, redis, keys):
        store = EventStore(redis, keys)
        api = spawn(url_redis, keys, "api", "--port", str(port), "--workers", str(workers))
        quiet_port = free_port()
        quiet = spawn(url_redis, keys, "api", "--port", str(quiet_port), "--workers", str(workers), "--no-access-log")
        bare = spawn_bare(url_redis, keys.prefix, bare_port)
        try:
            await publish_plan(store, plan)
            token, _ = await TokenStore(redis, keys).create("department", "stats", "bench")
            await wait_up(url)
            await wait_up(f"http://127.0.0.1:{quiet_port}")
            await wait_up(f"http://127.0.0.1:{bare_port}", "/docs")

            settle_heap()  # as in the API's processes: both sides with the same collector settings
            direct = http_batch = 0.0
            for _ in range(ROUNDS):  # interleaved, best of each: this machine's speed drifts
                events = [
                    IndicatorUpdated(plan_id=plan.id, department="stats", **payload(n))  # type: ignore[arg-type]
                    for n in range(count)
                ]
                batches = [events[i : i + batch] for i in range(0, count, batch)]
                direct = max(direct, count / await append_all(store, batches, clients))

                bodies = [
                    json.dumps([payload(n) for n in range(i, min(i + batch, count))]).encode()
                    for i in range(0, count, batch)
                ]
                http_batch = max(http_batch, count / await post_all(port, token, bodies, clients))

            single_rate = quiet_rate = bare_rate = 0.0
            for _ in range(ROUNDS):
                single_bodies = [json.dumps(payload(n)).encode() for n in range(singles)]
                single_rate = max(single_rate, singles / await post_all(port, token, single_bodies, clients))
                single_bodies = [json.dumps(payload(n)).encode() for n in range(singles)]  # new event ids
                quiet_rate = max(quiet_rate, singles / await post_all(quiet_port, token, single_bodies, clients))
                bare_rate = max(bare_rate, singles / await post_all(bare_port, token, single_bodies, clients))
            assert await store.length(plan.id) == 1 + 2 * ROUNDS * count + 2 * ROUNDS * singles
        finally:
            stop(api)
            stop(quiet)
            stop(bare)

    server = server_name(url_redis)
    print(
        f"ingest benchmark: {count:,} events, batches of {batch}, {clients} concurrent clients, "
        f"API workers {workers}, redis={server}"
    )
    print(f"  best of {ROUNDS} interleaved rounds each:")
    print(f"  direct store.append ({clients} appenders):   {direct:>10,.0f} events/s")
    print(f"  HTTP POST batches ({batch}/request):     {http_batch:>10,.0f} events/s")
    print(f"  HTTP POST single events:              {single_rate:>10,.0f} requests/s")
    print(f"  the same, API --no-access-log:        {quiet_rate:>10,.0f} requests/s")
    print(f"  bare FastAPI + one XADD (raw limit):  {bare_rate:>10,.0f} requests/s")
    print(f"  ratio HTTP batch / direct: {http_batch / direct:.2f}  (target ≥ 0.5)")
    print(f"  ratio HTTP single / bare XADD endpoint: {single_rate / bare_rate:.2f}  (target ≥ 0.5)")
    print(f"  the same, both without an access log: {quiet_rate / bare_rate:.2f}  (target ≥ 0.5)")
    print(f"  ratio HTTP single / direct: {single_rate / direct:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--singles", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="processes of `planwatch api`")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.batch, args.clients, args.singles, args.workers))
