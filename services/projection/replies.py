"""Redis replies typed as what they are. Every client planwatch opens decodes responses
(`services.store.connect`), so a reply holds strings where redis-py's types also allow bytes, and
the connection speaks RESP2, so XREAD answers with a list of (stream, entries) pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from redis.asyncio import Redis

Entry = tuple[str, dict[str, str]]  # a stream entry: its position and its fields


async def read_after(redis: Redis, stream: str, after: str, count: int, block_ms: int | None = None) -> list[Entry]:
    """Up to `count` entries after position `after` (waiting up to `block_ms` for the first)."""
    reply = cast("list[tuple[str, list[Entry]]]", await redis.xread({stream: after}, count=count, block=block_ms))
    return reply[0][1] if reply else []


async def read_range(
    redis: Redis, stream: str, low: str = "-", high: str = "+", count: int | None = None
) -> list[Entry]:
    """Entries from `low` to `high` (a position, "(" before one to exclude it, or "-" and "+")."""
    return cast("list[Entry]", await redis.xrange(stream, min=low, max=high, count=count))


async def read_latest(redis: Redis, stream: str, count: int) -> list[Entry]:
    """The last `count` entries, newest first."""
    return cast("list[Entry]", await redis.xrevrange(stream, count=count))


async def hash_values(redis: Redis, key: str, fields: Sequence[str]) -> list[str | None]:
    """The values of `fields` in the hash at `key`, None where absent."""
    return cast("list[str | None]", await redis.hmget(key, list(fields)))


async def hash_value(redis: Redis, key: str, field: str) -> str | None:
    return cast("str | None", await redis.hget(key, field))


async def hash_names(redis: Redis, key: str) -> list[str]:
    """The field names of the hash at `key`."""
    return cast("list[str]", await redis.hkeys(key))
