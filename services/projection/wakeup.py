"""Waking the projectors of many plans on one connection.

A projector that has read its plan's whole log waits here for more, instead of holding a pooled
connection in an `XREAD BLOCK` of its own (a connection per plan and projection ran a worker out
of connections between 30 and 50 plans). The append script publishes the last position of each
batch on the plan's `appended` channel (`Keyspace.appended`); one pattern subscription hears
every plan, remembers each plan's last position and wakes whoever waits for a later one, which
then reads with a non-blocking XREAD. On a Cluster, one connection to any node hears them all:
classic pub/sub reaches every node, whereas one XREAD may not span slots (each plan has its own).

A notice can be missed (the subscription reconnecting, an entry written into the stream by
hand): a waiter gives up after its timeout and reads anyway, so nothing waits longer than that.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from events.positions import position_key
from services.store import Keyspace
from services.tasks import raise_if_cancelled

log = logging.getLogger("planwatch.wakeup")

Position = tuple[int, int]


class Wakeup:
    def __init__(self, redis: Redis, keys: Keyspace) -> None:
        """`redis`: a client whose subscription may hold one connection for good."""
        self.redis, self.keys = redis, keys
        self.listening = asyncio.Event()  # set while subscribed
        self._last: dict[str, Position] = {}  # plan → the last position heard
        self._signals: dict[str, asyncio.Event] = {}  # plan → what its waiters wait on

    async def run(self) -> None:
        """Listen until cancelled, subscribing again after a lost connection."""
        delay = 0.5
        while True:
            raise_if_cancelled()  # a cancellation swallowed by a Redis call (services/tasks.py)
            try:
                await self._listen()
            except (RedisError, OSError) as exc:
                log.warning("wake-up subscription: %s; again in %.1fs", exc, delay)
            self.listening.clear()
            self._wake_all()  # notices may have been missed meanwhile: everyone reads again
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)

    async def _listen(self) -> None:
        async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.psubscribe(self.keys.appended_pattern)
            self.listening.set()
            self._wake_all()  # what was appended before we listened: everyone reads once
            async for message in pubsub.listen():
                raise_if_cancelled()
                if message and message.get("type") == "pmessage":
                    self.heard(str(message["channel"]), str(message["data"]))

    def heard(self, channel: str, position: str) -> None:
        """A batch was appended to a plan's log, ending at `position`."""
        plan_id = self.keys.plan_of_appended(channel)
        if plan_id is None:
            return
        try:
            key = position_key(position)
        except ValueError:
            return
        if key > self._last.get(plan_id, (0, 0)):
            self._last[plan_id] = key
            self._wake(plan_id)

    async def wait(self, plan_id: str, after: str, timeout: float) -> bool:
        """Until the plan's log is heard to go past `after`, or `timeout` seconds. True when woken
        (the log may have more: read it), False when the time ran out."""
        if self.heard_past(plan_id, after):
            return True  # heard while the caller was reading
        signal = self._signals.get(plan_id)
        if signal is None:
            signal = self._signals[plan_id] = asyncio.Event()
        try:
            async with asyncio.timeout(timeout):
                await signal.wait()
        except TimeoutError:
            return False
        return True

    def heard_past(self, plan_id: str, position: str) -> bool:
        """Whether the plan's log was heard to go past `position`."""
        return self._last.get(plan_id, (0, 0)) > position_key(position)

    def forget(self, plan_id: str) -> None:
        """A wake-up found nothing to read (the log was replaced, say): wait for the next notice."""
        self._last.pop(plan_id, None)

    def _wake(self, plan_id: str) -> None:
        signal = self._signals.pop(plan_id, None)
        if signal is not None:
            signal.set()

    def _wake_all(self) -> None:
        for plan_id in list(self._signals):
            self._wake(plan_id)
