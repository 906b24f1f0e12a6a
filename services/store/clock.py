"""Redis' clock: the time stream ids are made from."""

from __future__ import annotations

from redis.asyncio import Redis


async def redis_now_ms(redis: Redis) -> int:
    """The clock the stream ids come from: alerts that time raises are judged by the same clock
    as the events, so an event appended after a tick never carries an earlier time."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000
