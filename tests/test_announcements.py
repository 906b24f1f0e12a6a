"""The process's one pub/sub subscription (services/store/announcements.py): each kind of
announcement reaches its hearer, and a lost connection is noticed, told as `missed()` and mended."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from services.store import Announcements, Keyspace, connect
from tests.conftest import eventually


class Notebook:
    """A hearer that writes down what it is told."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.misses = 0

    def heard(self, plan_id: str, data: str) -> None:
        self.messages.append((plan_id, data))

    def missed(self) -> None:
        self.misses += 1


async def test_each_hearer_hears_its_own_pattern_and_a_lost_connection_is_mended(
    redis: Redis, keys: Keyspace, redis_url: str
) -> None:
    name = f"planwatch-test-announcements-{uuid.uuid4().hex[:8]}"
    listener = connect(redis_url, 1, client_name=name)
    announcements = Announcements(listener)
    appended, written = Notebook(), Notebook()
    announcements.add(keys.appended, appended)
    announcements.add(keys.outbox_written, written)
    listening = asyncio.create_task(announcements.run())
    try:
        await asyncio.wait_for(announcements.listening.wait(), 30)
        assert (appended.misses, written.misses) == (1, 1)  # what came before the subscription: read it all
        await redis.publish(f"{keys.prefix}x:{{p4}}:outbox:written", "8-0")  # another installation's: not heard
        await redis.publish(keys.appended.of("p1"), "5-0")
        await redis.publish(keys.outbox_written.of("p2"), "6-0")
        await eventually(lambda: appended.messages and written.messages)
        assert appended.messages == [("p1", "5-0")]
        assert written.messages == [("p2", "6-0")]

        [client] = [c for c in await redis.client_list() if c.get("name") == name]
        await redis.client_kill_filter(_id=client["id"])  # the connection is lost
        await eventually(lambda: written.misses >= 3, timeout=15)  # told on losing it and on subscribing again
        await eventually(announcements.listening.is_set, timeout=15)
        await redis.publish(keys.outbox_written.of("p3"), "7-0")
        await eventually(lambda: len(written.messages) == 2, timeout=15)
        assert written.messages[-1] == ("p3", "7-0") and len(appended.messages) == 1
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await listener.aclose()
    assert not announcements.listening.is_set()  # stopped: hearers go by their own timeouts


async def test_a_hearer_added_after_the_subscription_started_is_refused(redis_url: str, keys: Keyspace) -> None:
    listener = connect(redis_url, 1)
    announcements = Announcements(listener)
    announcements.add(keys.appended, Notebook())
    listening = asyncio.create_task(announcements.run())
    try:
        await asyncio.wait_for(announcements.listening.wait(), 30)
        with pytest.raises(RuntimeError, match="after the subscription started"):  # it would never be heard
            announcements.add(keys.outbox_written, Notebook())
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await listener.aclose()
