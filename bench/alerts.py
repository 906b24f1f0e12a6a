"""Alert latency: from the append of an event to a webhook receiving the alert it caused.

    python bench/alerts.py [--rate 1000] [--seconds 10] [--alerting 0.1]
                           [--subscriptions 100] [--failing 10] [--notifiers 1] [--idle-plans 0]

A `planwatch worker --no-notify` process projects the plan and a `planwatch notifier` process
delivers its notices to a signed webhook that this process serves on 127.0.0.1. Events are
appended at a steady `--rate`; a share (`--alerting`) of them flips GDP between behind and
on target, so each of those raises or resolves an alert; the rest are ordinary updates.
Every notice names the event that caused it, so latency = receipt time − append time of that
event.

Two rounds on the same processes: one subscription; then `--subscriptions` in all, of which
`--failing` point at a receiver answering 503 (retried with backoff, their queues growing), and
the latency is measured for every healthy one (each alert × each healthy subscriber). With
`--idle-plans N`, N more copies of the plan are published first, where nothing happens: the
notifier has N + 1 outboxes to look after (a province's), and its CPU time per round is printed.
In the same run, the raw Redis figure: XADD → a blocked XREAD reader at the same rate.
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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from common import bench_redis, cpu_s, server_name, spawn, stop

from events.models import IndicatorUpdated
from events.plan import Plan
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
    """A minimal HTTP server: notes when each notice arrives at each path (one per subscriber),
    or answers 503 to everything (`failing`)."""

    def __init__(self, failing: bool = False) -> None:
        self.arrivals: dict[tuple[str, str], float] = {}  # (path, cause position) → first arrival
        self.failing, self.refused = failing, 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive, as the robots' HTTPS endpoints do
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = json.loads(await reader.readexactly(length))
                now = time.perf_counter()
                if self.failing:
                    self.refused += 1
                    writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                for notice in body["notices"]:
                    self.arrivals.setdefault((path, notice["cause"]), now)
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


def subscription(name: str, url: str) -> SubscriptionRequest:
    return SubscriptionRequest(
        name=name,
        channel="webhook",
        url=url,
        secret="bench",
        rate_per_minute=10_000,
        filters={"subjects": ["gdp"], "rules": ["indicator_behind"]},
    )


@dataclass
class Load:
    """Appending at a steady rate, GDP flipping for a share of the events."""

    plan: Plan
    store: EventStore
    rate: int
    seconds: float
    alerting: float
    behind: bool = True

    async def flip(self) -> str:
        """One alert change (raised or resolved): the position of the event causing it."""
        self.behind = not self.behind
        result = await self.store.append([update(self.plan, "gdp", "5.0" if self.behind else "7.0")])
        return result.positions[0]

    async def run(self) -> tuple[dict[str, float], int, float]:
        """Append for `seconds`; returns the alert-changing events (position → append time), the
        number of events and the rate achieved."""
        appended: dict[str, float] = {}
        every = max(int(1 / self.alerting), 1) if self.alerting > 0 else 0
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < self.seconds:
            if every and n % every == 0:
                at = time.perf_counter()
                appended[await self.flip()] = at
            else:
                await self.store.append([update(self.plan, QUIET[n % len(QUIET)], f"{9 + n % 7}.{n % 10}")])
            n += 1
            await asyncio.sleep(max(0.0, start + n / self.rate - time.perf_counter()))
        return appended, n, n / (time.perf_counter() - start)


async def arrived(hook: Webhook, paths: list[str], causes: Iterable[str], timeout: float = 30) -> None:
    """Until every path has every cause (or `timeout`)."""
    wanted = {(path, cause) for path in paths for cause in causes}
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline and not wanted <= hook.arrivals.keys():
        await asyncio.sleep(0.1)


def lags_of(hook: Webhook, paths: list[str], appended: dict[str, float]) -> tuple[list[float], int]:
    """Latencies (ms) of every alert at every path, and how many never arrived."""
    lags = [
        (hook.arrivals[(path, cause)] - at) * 1000
        for path in paths
        for cause, at in appended.items()
        if (path, cause) in hook.arrivals
    ]
    return lags, len(paths) * len(appended) - len(lags)


@dataclass
class Round:
    label: str
    events: int
    rate: float
    lags: list[float]
    missing: int
    notifier_cpu_s: float  # the notifier processes' CPU time during the round
    seconds: float


async def measure(label: str, load: Load, hook: Webhook, paths: list[str], notifiers: list[int]) -> Round:
    # warm up: one alert through the whole path to every subscriber, so start-up is not measured
    await arrived(hook, paths, [await load.flip()], timeout=60)
    cpu, start = sum(cpu_s(pid) for pid in notifiers), time.perf_counter()
    appended, n, rate = await load.run()
    await arrived(hook, paths, appended)
    cpu, seconds = sum(cpu_s(pid) for pid in notifiers) - cpu, time.perf_counter() - start
    lags, missing = lags_of(hook, paths, appended)
    return Round(label, n, rate, lags, missing, cpu, seconds)


async def idle_copies(store: EventStore, plan: Plan, count: int) -> None:
    """`count` more plans like `plan` where nothing happens (their outboxes stay empty)."""
    for start in range(0, count, 16):
        copies = [plan.model_copy(update={"id": f"idle{n:04d}-2025"}) for n in range(start, min(start + 16, count))]
        await asyncio.gather(*(publish_plan(store, copy) for copy in copies))


async def main(
    rate: int, seconds: float, alerting: float, subscriptions: int, failing: int, notifiers: int, idle_plans: int
) -> None:
    plan = load_plan(SEED_PLAN)
    hook, down = Webhook(), Webhook(failing=True)
    server = await asyncio.start_server(hook.handle, "127.0.0.1", 0)
    down_server = await asyncio.start_server(down.handle, "127.0.0.1", 0)
    port, down_port = (s.sockets[0].getsockname()[1] for s in (server, down_server))
    async with bench_redis() as (url, redis, keys):
        store = EventStore(redis, keys)
        subs = SubscriptionStore(redis, keys, LOCAL)
        # the projection and the delivery in two processes, as in production
        started = [spawn(url, keys, "notifier") for _ in range(notifiers)]  # they share the subscriptions
        worker = spawn(url, keys, "worker", "--lease-ttl", "2", "--no-notify")
        try:
            await idle_copies(store, plan, idle_plans)
            await publish_plan(store, plan)
            await subs.create(subscription("bench", f"http://127.0.0.1:{port}/hook/0"))
            while not await redis.get(keys.lease(plan.id, "alerts")):
                await asyncio.sleep(0.05)
            load = Load(plan, store, rate, seconds, alerting)
            pids = [process.pid for process in started]
            one = await measure("1 subscription", load, hook, ["/hook/0"], pids)
            healthy = [f"/hook/{i}" for i in range(subscriptions - failing)]
            for path in healthy[1:]:
                await subs.create(subscription("bench", f"http://127.0.0.1:{port}{path}"))
            for i in range(failing):
                await subs.create(subscription("bench-down", f"http://127.0.0.1:{down_port}/down/{i}"))
            label = f"{subscriptions} subscriptions, {failing} of them answering 503"
            many = await measure(label, load, hook, healthy, pids)
            # where the time goes: append → the projection's commit to the outbox (both Redis clock, ms)
            committed = []
            for entry_id, fields in await redis.xrange(keys.outbox(plan.id)):
                notice = json.loads(fields["notice"])
                if notice["rule"] == "indicator_behind" and notice["cause"]:
                    committed.append(float(int(entry_id.split("-")[0]) - int(notice["cause"].split("-")[0])))
            raw = await raw_latency(url, redis, f"{keys.prefix}:raw", rate, min(seconds, 5))
        finally:
            stop(worker)
            for notifier in started:
                stop(notifier)
            server.close()
            down_server.close()

    raw_p99 = statistics.quantiles(raw, n=100)[98]
    print(
        f"alert benchmark: {rate:,} events/s for {seconds:g}s per round, {notifiers} notifier process(es), "
        f"{idle_plans + 1} plan(s) of which {idle_plans} idle, redis={server_name(url)}"
    )
    for measured in (one, many):
        p99 = statistics.quantiles(measured.lags, n=100)[98]
        print(f"  {measured.label}: {measured.events:,} events at {measured.rate:,.0f}/s")
        print(
            f"    append → signed webhook received the alert ({len(measured.lags):,} deliveries, "
            f"{measured.missing} missing):"
        )
        print(f"    {quantiles(measured.lags)}   (ratio p99 / raw Redis p99: {p99 / raw_p99:.1f}×)")
        share = measured.notifier_cpu_s / measured.seconds
        print(f"    notifier CPU {measured.notifier_cpu_s:.2f} s over {measured.seconds:.1f} s ({share:.0%} of a core)")
    print(f"  the failing receivers were tried {down.refused:,} times (503, retried with backoff)")
    print(f"  of all rounds, append → committed to the outbox by the projection:\n    {quantiles(committed)}")
    print(f"  raw Redis XADD → blocked XREAD at the same rate ({len(raw):,} entries):")
    print(f"    {quantiles(raw)}")
    print("  p99 target ≤ 100 ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=1000, help="events/s appended")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--alerting", type=float, default=0.1, help="share of events that change an alert")
    parser.add_argument("--subscriptions", type=int, default=100, help="subscriptions in the second round")
    parser.add_argument("--failing", type=int, default=10, help="of which answer 503")
    parser.add_argument("--notifiers", type=int, default=1, help="notifier processes")
    parser.add_argument("--idle-plans", type=int, default=0, help="more plans, where nothing happens")
    args = parser.parse_args()
    asyncio.run(
        main(args.rate, args.seconds, args.alerting, args.subscriptions, args.failing, args.notifiers, args.idle_plans)
    )
