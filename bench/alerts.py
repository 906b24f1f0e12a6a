"""Alert latency: from the append of an event to a webhook receiving the alert it caused.

    python bench/alerts.py [--rate 1000] [--seconds 10] [--alerting 0.1]

A `planwatch worker --no-notify` process projects the plan and a `planwatch notifier` process
delivers its notices to a signed webhook that this process serves on 127.0.0.1. Events are
appended at a steady `--rate`; a share (`--alerting`) of them flips GDP between behind and
on target, so each of those raises or resolves an alert; the rest are ordinary updates.
Every notice names the event that caused it, so latency = receipt time − append time of that
event. In the same run, the raw Redis figure: XADD → a blocked XREAD reader at the same rate.
Uses PLANWATCH_REDIS_URL or the embedded Redis, under its own key prefix, deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from common import bench_redis, server_name, spawn, stop

from events.models import IndicatorUpdated
from services.app import load_plan, publish_plan
from services.demo import SEED_PLAN
from services.notify import SubscriptionRequest, SubscriptionStore
from services.store import EventStore, connect

# the benchmark's webhook receiver listens on loopback: allowed as an operator allows an intranet
os.environ["PLANWATCH_ALLOW_PRIVATE_TARGETS"] = "127.0.0.0/8"
LOCAL = (ipaddress.ip_network("127.0.0.0/8"),)

SHANGHAI = timezone(timedelta(hours=8))
AT = datetime(2025, 7, 15, 10, tzinfo=SHANGHAI)
QUIET = ["industry-va", "fai", "retail", "private-investment"]  # stats' other indicators, on target


class Webhook:
    """A minimal HTTP server: notes when each notice arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}  # cause position → first arrival

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive, as the robots' HTTPS endpoints do
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = json.loads(await reader.readexactly(length))
                now = time.perf_counter()
                for notice in body["notices"]:
                    self.arrivals.setdefault(notice["cause"], now)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def update(plan, subject: str, value: str) -> IndicatorUpdated:
    return IndicatorUpdated(
        event_id=uuid.uuid4(),
        plan_id=plan.id,
        department="stats",
        subject=subject,
        period="2025-06",
        occurred_at=AT,
        value=Decimal(value),
    )


def quantiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100)
    return f"p50 {q[49]:6.1f} ms   p95 {q[94]:6.1f} ms   p99 {q[98]:6.1f} ms   max {max(values):6.1f} ms"


async def raw_latency(url: str, redis, stream: str, rate: int, seconds: float) -> list[float]:
    """XADD at `rate` while a reader blocks on XREAD: the floor any Redis-based alert path stands on."""
    reader = connect(url)
    lags: list[float] = []

    async def read() -> None:
        last = "$"
        while True:
            reply = await reader.xread({stream: last}, block=1000, count=100)
            now = time.perf_counter()
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    lags.append((now - float(fields["sent"])) * 1000)
                    last = entry_id

    task = asyncio.create_task(read())
    await asyncio.sleep(0.2)
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        await redis.xadd(stream, {"sent": repr(time.perf_counter())})
        n += 1
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
    await asyncio.sleep(0.5)
    task.cancel()
    await reader.aclose()
    return lags


async def main(rate: int, seconds: float, alerting: float) -> None:
    plan = load_plan(SEED_PLAN)
    hook = Webhook()
    server = await asyncio.start_server(hook.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with bench_redis() as (url, redis, keys):
        store = EventStore(redis, keys)
        # the projection and the delivery in two processes, as in production
        notifier = spawn(url, keys, "notifier")
        worker = spawn(url, keys, "worker", "--lease-ttl", "2", "--no-notify")
        try:
            await publish_plan(store, plan)
            await SubscriptionStore(redis, keys, LOCAL).create(
                SubscriptionRequest(
                    name="bench",
                    channel="webhook",
                    url=f"http://127.0.0.1:{port}/hook",
                    secret="bench",
                    rate_per_minute=10_000,
                    filters={"subjects": ["gdp"], "rules": ["indicator_behind"]},
                )
            )
            while not await redis.get(keys.lease(plan.id, "alerts")):
                await asyncio.sleep(0.05)
            # warm up: one alert through the whole path, so start-up is not measured
            warm = await store.append([update(plan, "gdp", "5.0")])
            while warm.positions[0] not in hook.arrivals:
                await asyncio.sleep(0.05)
            appended: dict[str, float] = {}
            behind = True
            every = max(int(1 / alerting), 1) if alerting > 0 else 0
            start, n = time.perf_counter(), 0
            while time.perf_counter() - start < seconds:
                if every and n % every == 0:
                    behind = not behind
                    event = update(plan, "gdp", "5.0" if behind else "7.0")
                else:
                    event = update(plan, QUIET[n % len(QUIET)], f"{9 + n % 7}.{n % 10}")
                result = await store.append([event])
                if every and n % every == 0:
                    appended[result.positions[0]] = time.perf_counter()
                n += 1
                await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            sent_rate = n / (time.perf_counter() - start)
            deadline = time.perf_counter() + 30
            while time.perf_counter() < deadline and len(set(appended) & set(hook.arrivals)) < len(appended):
                await asyncio.sleep(0.1)
            lags = [(hook.arrivals[p] - t) * 1000 for p, t in appended.items() if p in hook.arrivals]
            missing = len(appended) - len(lags)
            # where the time goes: append → the projection's commit to the outbox (both Redis clock, ms)
            committed = []
            for entry_id, fields in await redis.xrange(keys.outbox(plan.id)):
                notice = json.loads(fields["notice"])
                if notice["cause"] in appended and notice["rule"] == "indicator_behind":
                    committed.append(float(int(entry_id.split("-")[0]) - int(notice["cause"].split("-")[0])))
            raw = await raw_latency(url, redis, f"{keys.prefix}:raw", rate, min(seconds, 5))
        finally:
            stop(worker)
            stop(notifier)
            server.close()

    where = server_name(url)
    print(f"alert benchmark: {n:,} events at {sent_rate:,.0f}/s for {seconds:g}s, redis={where}")
    print(f"  append → signed webhook received the alert ({len(lags):,} alerts, {missing} missing):")
    print(f"    {quantiles(lags)}")
    print(f"  of which append → committed to the outbox by the projection:\n    {quantiles(committed)}")
    print(f"  raw Redis XADD → blocked XREAD at the same rate ({len(raw):,} entries):")
    print(f"    {quantiles(raw)}")
    print(
        f"  p99 target ≤ 100 ms; p99 ratio alert path / raw Redis: "
        f"{statistics.quantiles(lags, n=100)[98] / statistics.quantiles(raw, n=100)[98]:.1f}×"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=1000, help="events/s appended")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--alerting", type=float, default=0.1, help="share of events that change an alert")
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds, args.alerting))
