"""Waking the projectors of many plans on one connection.

A projector that has read its plan's whole log waits here for more, instead of holding a pooled
connection in an `XREAD BLOCK` of its own (a connection per plan and projection ran a worker out
of connections between 30 and 50 plans). The append script publishes the last position of each
batch on the plan's `appended` channel (`Keyspace.appended`); the process's one subscription
(services/store/announcements.py) hears every plan, this remembers each plan's last position and
wakes whoever waits for a later one, which then reads with a non-blocking XREAD. (One XREAD may
not span the slots of a Cluster: each plan has its own.)

A notice can be missed (the subscription reconnecting, an entry written into the stream by
hand): a waiter gives up after its timeout and reads anyway, so nothing waits longer than that.
"""

from __future__ import annotations

import asyncio

from events.positions import position_key
from services.store import Announcements, Keyspace

Position = tuple[int, int]


class Wakeup:
    def __init__(self, announcements: Announcements, keys: Keyspace) -> None:
        self.listening = announcements.listening  # set while subscribed
        self._last: dict[str, Position] = {}  # plan → the last position heard
        self._signals: dict[str, asyncio.Event] = {}  # plan → what its waiters wait on
        announcements.add(keys.appended, self)

    def missed(self) -> None:
        """Appends may have gone unheard (the subscription began or came back): everyone reads again."""
        self._wake_all()

    def heard(self, plan_id: str, position: str) -> None:
        """A batch was appended to the plan's log, ending at `position`."""
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
