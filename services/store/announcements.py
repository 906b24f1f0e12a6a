"""What the store's scripts announce on pub/sub, heard on one connection per process.

The append script publishes each batch's last position on the plan's `appended` channel (the
projectors wait for it: services/projection/wakeup.py); the alerts' commit script and a rollup
publish on the plan's `outbox:written` channel when they wrote notices to tell (the fan-out reads
only those outboxes: services/notify/fanout.py). One pattern subscription per kind hears every
plan; several kinds share the connection. On a Cluster one connection to any node hears them
all: classic pub/sub reaches every node.

An announcement can be missed (the connection lost, an entry written by hand): every hearer is
told `missed()` when the subscription (re)starts, and hearers bound their waits, so nothing is
late by more than a hearer's own timeout.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.store.keys import PlanChannel
from services.tasks import raise_if_cancelled

log = logging.getLogger("planwatch.announcements")


class Hearer(Protocol):
    def heard(self, plan_id: str, data: str) -> None:
        """An announcement on the plan's channel of the kind the hearer was added for."""

    def missed(self) -> None:
        """Announcements may have been missed: behave as if everything had been announced."""


class Announcements:
    def __init__(self, redis: Redis) -> None:
        """`redis`: a plain (not Cluster) client whose subscription may hold one connection for good."""
        self.redis = redis
        self.listening = asyncio.Event()  # set while subscribed
        self._hearers: dict[str, tuple[PlanChannel, Hearer]] = {}  # pattern → its channels, who hears them
        self._started = False

    def add(self, channel: PlanChannel, hearer: Hearer) -> None:
        """Have `hearer` told of announcements on every plan's `channel`; before `run()`."""
        if self._started:
            raise RuntimeError(f"announcements on {channel.pattern!r} added after the subscription started")
        self._hearers[channel.pattern] = (channel, hearer)

    async def run(self) -> None:
        """Listen until cancelled, subscribing again after a lost connection."""
        self._started = True
        delay = 0.5
        try:
            while True:
                raise_if_cancelled()  # a cancellation swallowed by a Redis call (services/tasks.py)
                try:
                    await self._listen()
                except (RedisError, OSError) as exc:
                    log.warning("announcement subscription: %s; again in %.1fs", exc, delay)
                self.listening.clear()
                self._missed()  # announcements may have been missed meanwhile
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
        finally:
            self.listening.clear()  # stopped: hearers go by their own timeouts again

    async def _listen(self) -> None:
        if not self._hearers:
            await asyncio.Event().wait()  # nobody to tell: hold no connection
        async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.psubscribe(*self._hearers)
            self.listening.set()
            self._missed()  # what was announced before we listened
            async for message in pubsub.listen():
                raise_if_cancelled()
                if message and message.get("type") == "pmessage":
                    self._tell(str(message["pattern"]), str(message["channel"]), str(message["data"]))

    def _tell(self, pattern: str, channel: str, data: str) -> None:
        kind = self._hearers.get(pattern)
        plan_id = kind[0].plan_of(channel) if kind is not None else None
        if kind is not None and plan_id is not None:
            kind[1].heard(plan_id, data)

    def _missed(self) -> None:
        for _, hearer in self._hearers.values():
            hearer.missed()
