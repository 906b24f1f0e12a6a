"""What every benchmark shares: a key prefix of its own, deleted afterwards, and how it names
the Redis server it measured."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from events.keys import Keyspace


def bench_keyspace() -> Keyspace:
    return Keyspace(f"bench{uuid.uuid4().hex[:8]}")


async def drop(redis: Redis, keys: Keyspace) -> None:
    async for key in redis.scan_iter(match=f"{keys.prefix}:*", count=1000):
        await redis.unlink(key)


def server_name(url: str) -> str:
    return "embedded" if url.startswith("unix://") else url
