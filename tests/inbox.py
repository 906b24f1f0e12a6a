"""The departments' inbox as the tests drive it: a message's fields as `redis-cli XADD` writes
them, the consumer group at work in the test's process, and "everything sent was handled"."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.inbox import Inbox
from services.inbox.consumer import GROUP
from services.store import Keyspace

PLAN = "rongchang-2025"


def inbox_fields(token: str | None, plan: str = PLAN, **changes: str) -> dict[str, str]:
    """What `redis-cli XADD pw:inbox '*' token … value 5.5` writes: plain string fields (a change
    to "" leaves that field out; no token, none sent)."""
    base = {
        "token": token or "",
        "event_id": str(uuid.uuid4()),
        "plan_id": plan,
        "type": "indicator.updated",
        "subject": "gdp",
        "period": "2025-Q2",
        "occurred_at": "2025-07-15T10:00:00+08:00",
        "value": "5.5",
    }
    return {k: v for k, v in {**base, **changes}.items() if v != ""}


@asynccontextmanager
async def inbox_consumer(
    redis: Redis, keys: Keyspace, url: str, consumer: str = "w", reclaim_idle_ms: int = 500
) -> AsyncIterator[None]:
    """The inbox's consumer group at work in this process, wired as a worker (`consumer`) wires it."""
    broker = RedisBroker(url)
    inbox = Inbox(keys, consumer=consumer, reclaim_idle_ms=reclaim_idle_ms)
    inbox.attach(broker)
    await inbox.open(redis)
    async with broker:
        await broker.start()
        yield


async def inbox_settled(redis: Redis, keys: Keyspace) -> bool:
    """Everything sent to the inbox was handled: none left, none pending."""
    return not await redis.xlen(keys.inbox) and not (await redis.xpending(keys.inbox, GROUP))["pending"]
