"""The live alert feed, shared: one blocking read of a plan's outbox per process, however many
pages and API clients are listening to that plan.

A listener per connection would hold one Redis connection per open page for as long as the page
is open; with the connection pool bounded (services.store.connect), a few dozen officials
watching the 预警 page would starve every other request. Here each plan being watched has one
reader task; each listener gets what it reads through a queue of its own. A listener that comes
back with `Last-Event-ID` first gets what it missed (one XRANGE), then joins the broadcast.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from events.positions import position_key

Item = tuple[str, str, str] | None  # (position, notice type, notice JSON), or None: nothing for a while
Sent = Item | Exception  # … or why the reader stopped


@dataclass
class _Broadcast:
    """One plan's reader: XREAD after `position`, each entry to every listener's queue."""

    redis: Redis
    stream: str
    position: str
    block_ms: int
    listeners: set[asyncio.Queue[Sent]] = field(default_factory=set)
    task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        try:
            while self.listeners:
                reply: Any = await self.redis.xread({self.stream: self.position}, count=100, block=self.block_ms)
                if not reply:
                    self._send(None)
                    continue
                for entry_id, fields in reply[0][1]:
                    self.position = str(entry_id)
                    self._send((self.position, str(fields["type"]), str(fields["notice"])))
        except Exception as exc:  # Redis went away: the listeners end, and reconnect with Last-Event-ID
            self._send(exc)
            raise

    def _send(self, item: Sent) -> None:
        for queue in self.listeners:
            queue.put_nowait(item)


class LiveFeed:
    """Per process: the plans' outboxes as streams of notices, one Redis reader per watched plan."""

    def __init__(self, redis: Redis, block_ms: int = 15_000) -> None:
        self.redis, self.block_ms = redis, block_ms
        self._plans: dict[str, _Broadcast] = {}

    async def listen(self, stream: str, after: str | None) -> AsyncIterator[Item]:
        """Every entry of `stream` after `after` (None: from now on) as it comes, and None after
        `block_ms` without one (for keep-alives)."""
        broadcast = await self._broadcast(stream)
        queue: asyncio.Queue[Sent] = asyncio.Queue()
        broadcast.listeners.add(queue)  # from here on every entry read reaches this queue …
        joined_at = broadcast.position  # … and what was read before is up to here
        if broadcast.task is None:
            broadcast.task = asyncio.create_task(broadcast.run(), name=f"live feed {stream}")
            broadcast.task.add_done_callback(_retrieve)
        try:
            last = joined_at if after is None else after
            if after is not None and position_key(after) < position_key(joined_at):
                missed: Any = await self.redis.xrange(stream, f"({after}", joined_at)  # decoded: str fields
                for entry_id, fields in missed:
                    last = str(entry_id)
                    yield last, str(fields["type"]), str(fields["notice"])
            while True:
                item = await queue.get()
                if isinstance(item, Exception):
                    raise item
                if item is None:
                    yield None
                elif position_key(item[0]) > position_key(last):
                    last = item[0]
                    yield item
        finally:  # no await here: a page that closes cancels this very generator
            broadcast.listeners.discard(queue)
            if not broadcast.listeners:
                if broadcast.task is not None:
                    broadcast.task.cancel()
                if self._plans.get(stream) is broadcast:
                    del self._plans[stream]

    async def _broadcast(self, stream: str) -> _Broadcast:
        """The plan's reader: the running one, or a new one starting after the newest entry."""
        broadcast = self._plans.get(stream)
        if broadcast is not None and not (broadcast.task and broadcast.task.done()):
            return broadcast
        newest = await self.redis.xrevrange(stream, count=1)
        broadcast = self._plans.get(stream)  # another listener may have started one meanwhile
        if broadcast is None or (broadcast.task and broadcast.task.done()):
            start = str(newest[0][0]) if newest else "0-0"
            broadcast = self._plans[stream] = _Broadcast(self.redis, stream, start, self.block_ms)
        return broadcast


def _retrieve(task: asyncio.Task[None]) -> None:
    """A reader's failure was handed to its listeners: mark it seen (no "never retrieved" warning)."""
    if not task.cancelled():
        task.exception()
