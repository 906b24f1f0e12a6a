"""Append throughput: the event store against bare pipelined XADD, same server, same run.

    python bench/append.py [--events 200000] [--batch 500]

Uses PLANWATCH_REDIS_URL or the embedded Redis; writes under its own key prefix and deletes
it afterwards. The bare run XADDs the very same stream fields the store writes (type, data),
already encoded, so the ratio is what dedup, versioning and validation cost on top of Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from common import bench_redis, server_name

from events.codec import encode
from events.models import IndicatorUpdated
from services.store import EventStore

SHANGHAI = timezone(timedelta(hours=8))


def make_events(count: int, plan_id: str) -> list[IndicatorUpdated]:
    return [
        IndicatorUpdated(
            event_id=uuid.uuid4(),
            plan_id=plan_id,
            department="stats",
            subject=f"ind-{i % 40}",
            period=f"2025-{i % 12 + 1:02d}",
            occurred_at=datetime(2025, 7, 1, 9, tzinfo=SHANGHAI),
            value=Decimal(i % 1000) / 10,
            note="基准测试",
        )
        for i in range(count)
    ]


async def main(count: int, batch: int) -> None:
    events = make_events(count, "bench-2025")
    batches = [events[i : i + batch] for i in range(0, count, batch)]
    async with bench_redis() as (url, redis, keys):
        store = EventStore(redis, keys)
        start = time.perf_counter()
        for chunk in batches:
            await store.append(chunk)
        store_rate = count / (time.perf_counter() - start)
        assert await store.length("bench-2025") == count

        encoded = [[{"type": e.type, "data": encode(e)} for e in chunk] for chunk in batches]
        bare_stream = f"{keys.prefix}:bare"
        start = time.perf_counter()
        for chunk in encoded:
            async with redis.pipeline(transaction=False) as pipe:
                for fields in chunk:
                    pipe.xadd(bare_stream, fields)
                await pipe.execute()
        bare_rate = count / (time.perf_counter() - start)

        start = time.perf_counter()
        for chunk in batches:
            await store.append(chunk)
        retry_rate = count / (time.perf_counter() - start)

    server = server_name(url)
    print(f"append benchmark: {count} events in batches of {batch}, redis={server}")
    print(f"  store.append (dedup + version + XADD, one Lua call per batch): {store_rate:>10,.0f} events/s")
    print(f"  bare pipelined XADD of the same fields:                        {bare_rate:>10,.0f} events/s")
    print(f"  retry of every batch (all duplicates, nothing stored):         {retry_rate:>10,.0f} events/s")
    print(f"  ratio store / bare XADD: {store_rate / bare_rate:.2f}  (target ≥ 0.5)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.batch))
