"""Server time of the dashboard's overview page (计划总览) on the seed plan, next to a raw Redis
read measured in the same run.

    python bench/dashboard.py [--requests 400] [--warmup 40]

Loads the seed plan (plan + H1 2025 history) under a key prefix of its own, starts `planwatch
api` and a worker (so the read model is current, as in production) on a free port, signs in with
an analyst token and requests `/plans/rongchang-2025` one after another. The server's own time
comes from each answer's `Server-Timing` header (routing, the session and token checks, the use
cases, the template); the time a client waits (HTTP on loopback included) is printed beside it.
The raw figure: a round trip reading the stored summary (`HGET` of the read model's field), the
least any page showing the table could do. Target: overview p95 ≤ 200 ms.
Uses PLANWATCH_REDIS_URL or the embedded Redis; the prefix's keys are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time

import httpx
from common import bench_redis, server_name, spawn, stop

from services.app import App
from services.demo import load_seed
from services.projection import current_generation

PLAN = "rongchang-2025"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TIMING = re.compile(r"app;dur=([\d.]+)")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * share), len(ordered) - 1)]


def line(label: str, values: list[float]) -> str:
    return (
        f"{label:<44} p50 {percentile(values, 0.5):7.2f} ms   p95 {percentile(values, 0.95):7.2f} ms   "
        f"mean {statistics.fmean(values):7.2f} ms"
    )


async def main(requests: int, warmup: int) -> None:
    async with bench_redis() as (url, redis, keys):
        app = App(redis, keys)
        await load_seed(app.store)
        token, _ = await app.access.create_token("analyst", None, "bench")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        api, worker = spawn(url, keys, "api", "--port", str(port)), spawn(url, keys, "worker")
        try:
            async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as http:
                await _wait(http, app)
                form = await http.get("/login")
                await http.post("/login", data={"token": token, "csrf": CSRF.search(form.text)[1], "next": "/"})
                server, client = [], []
                for index in range(warmup + requests):
                    started = time.perf_counter()
                    page = await http.get(f"/plans/{PLAN}")
                    waited = (time.perf_counter() - started) * 1000
                    assert page.status_code == 200 and "主要计划目标完成情况" in page.text, page.status_code
                    if index >= warmup:
                        server.append(float(TIMING.search(page.headers["server-timing"])[1]))
                        client.append(waited)
            raw = await _raw_reads(app, requests)
        finally:
            stop(api)
            stop(worker)
        print(f"dashboard overview, seed plan ({requests} requests after {warmup} warm-up), Redis: {server_name(url)}")
        print(line("overview: server time (Server-Timing)", server))
        print(line("overview: client waits (HTTP on loopback)", client))
        print(line("raw Redis: HGET of the stored summary", raw))
        print(
            f"ratio server p95 / raw p95: {percentile(server, 0.95) / percentile(raw, 0.95):.0f}×; "
            f"target p95 ≤ 200 ms: {'met' if percentile(server, 0.95) <= 200 else 'NOT met'}"
        )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait(http: httpx.AsyncClient, app: App) -> None:
    """Until the API answers and the worker's read model has the whole log."""
    for _ in range(600):
        try:
            ready = (await http.get("/healthz")).status_code == 200
        except httpx.TransportError:
            ready = False
        if (
            ready
            and (await app.operations.freshness(PLAN)).lag == 0
            and await current_generation(app.redis, app.keys, PLAN)
        ):
            return
        await asyncio.sleep(0.1)
    raise SystemExit("the API or the worker did not come up within a minute")


async def _raw_reads(app: App, count: int) -> list[float]:
    generation = await current_generation(app.redis, app.keys, PLAN)
    key = app.keys.generation(PLAN, generation)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await app.redis.hget(key, "summary")
        times.append((time.perf_counter() - started) * 1000)
    return times


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=40)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.warmup))
