"""Leases: one holder at a time for a key, with an expiry the holder keeps renewing (a plan's
projection, a subscription's delivery). A holder that stalls past its expiry loses the lease."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import cast

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from services.store.connection import connect_sync, is_cluster

log = logging.getLogger("planwatch.leases")

_LEASE = """
-- KEYS: lease   ARGV: owner, ttl ms.  Take a free lease or renew our own. One without an expiry
-- was not written by a holder (each sets one): by hand, or damaged; kept, no one would ever hold it.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder or redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_HAND_OVER = """
-- KEYS: lease   ARGV: holder, taker, ttl ms.  Take a lease from the holder that offered it,
-- if it still holds it (it may have let go, or another taker been quicker).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

_WITHDRAW = """
-- KEYS: offers   ARGV: offerer, lease keys.  Withdraw the offerer's own offers of these leases
-- (a lease taken from it may since have been offered by its new holder: that offer stays).
local withdrawn = 0
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then
    withdrawn = withdrawn + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return withdrawn
"""


CHUNK = 200  # leases per round trip: 2,000 at once held the worker's event loop for some 40 ms


class Lease:
    """A lease on a key: one holder at a time, with an expiry the holder keeps renewing (a plan's
    projection, a subscription's delivery)."""

    def __init__(self, redis: Redis, owner: str, ttl_ms: int) -> None:
        self.redis, self.owner, self.ttl_ms = redis, owner, ttl_ms
        self._take = redis.register_script(_LEASE)
        self._release = redis.register_script(_RELEASE)
        self._hand_over = redis.register_script(_HAND_OVER)

    async def hold(self, key: str) -> bool:
        """Take the lease if free, renew it if ours. False if another holder has it."""
        return bool(await self._take(keys=[key], args=[self.owner, self.ttl_ms]))

    async def release(self, key: str) -> None:
        await self._release(keys=[key], args=[self.owner])

    async def hold_many(self, keys: Sequence[str]) -> list[bool]:
        """`hold` for many keys in one round trip (a worker renews a thousand leases each tick)."""
        return await self._many(self._take, [(key, [self.owner, self.ttl_ms]) for key in keys], _LEASE)

    async def release_many(self, keys: Sequence[str]) -> None:
        await self._many(self._release, [(key, [self.owner]) for key in keys], _RELEASE)

    async def take_offered(self, offered: Sequence[tuple[str, str]]) -> list[bool]:
        """Take each (lease key, holder) from the holder that offered it (`Offers`), if it still
        holds it; one round trip per chunk."""
        calls: list[tuple[str, list[str | int]]] = [(key, [holder, self.owner, self.ttl_ms]) for key, holder in offered]
        return await self._many(self._hand_over, calls, _HAND_OVER)

    async def _many(self, script: AsyncScript, calls: Sequence[tuple[str, list[str | int]]], source: str) -> list[bool]:
        """`script` on each (key, arguments), a chunk of them per round trip."""
        if not calls:
            return []
        if is_cluster(self.redis):  # a Cluster pipeline does not load a missing script: on every primary first
            await self.redis.script_load(source)
        replies = []
        for start in range(0, len(calls), CHUNK):  # the event loop runs the projectors between chunks
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, args in calls[start : start + CHUNK]:
                    await script(keys=[key], args=args, client=pipe)
                replies += await pipe.execute()
        return [bool(reply) for reply in replies]


class Offers:
    """Leases their holders offer to hand over: a worker above its share, or one leaving. The holder
    goes on running what it offered until another worker takes the lease from it
    (`Lease.take_offered`), so a plan changing hands is never left without one, and a taker takes
    only as much as it can load at once. One hash, lease key → the worker offering it."""

    def __init__(self, redis: Redis, key: str, owner: str) -> None:
        self.redis, self.key, self.owner = redis, key, owner
        self._withdraw = redis.register_script(_WITHDRAW)

    async def offer(self, lease_keys: Sequence[str]) -> None:
        if lease_keys:
            await self.redis.hset(self.key, mapping=dict.fromkeys(lease_keys, self.owner))

    async def withdraw(self, lease_keys: Sequence[str], offerer: str | None = None) -> None:
        """Withdraw `offerer`'s (default: our own) offers of these leases."""
        for start in range(0, len(lease_keys), CHUNK):
            await self._withdraw(keys=[self.key], args=[offerer or self.owner, *lease_keys[start : start + CHUNK]])

    async def standing(self) -> dict[str, str]:
        """Every offer: lease key → the worker offering it."""
        return cast(dict[str, str], await self.redis.hgetall(self.key))


_RENEW = """
-- KEYS: lease   ARGV: owner, ttl ms.  Renew our own lease; never take one (it may have been let go).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


class LeaseKeeper:
    """Renews a worker's leases from a thread of its own, over a connection of its own.

    A worker's event loop can be busy for seconds at a time: two thousand projectors catching up
    each fold a thousand events between two awaits, and every await of the supervisor's tick waits
    its turn behind them. Renewing from the loop, a worker lost ~200 of its 2,000 leases while
    catching up (5 s expiry). The thread gets the interpreter every few milliseconds whatever the
    loop does. It renews only while the loop shows it is alive (`beat()` within `stall_s`): a
    worker that is stuck still loses its leases, as it should. Leases it finds gone are handed to
    `on_lost` on the loop."""

    def __init__(
        self,
        url: str,
        owner: str,
        ttl_ms: int,
        on_lost: Callable[[list[str]], None],
        *,
        every_s: float = 1.0,
        stall_s: float = 60.0,
        client_name: str | None = None,
    ) -> None:
        self.url, self.owner, self.ttl_ms, self.on_lost = url, owner, ttl_ms, on_lost
        self.every_s, self.stall_s, self.client_name = every_s, stall_s, client_name
        self._keys: set[str] = set()
        self._guard = threading.Lock()
        self._beat = time.monotonic()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0  # renewal rounds done (a first one waits for the connection: Cluster takes long)
        self._loop: asyncio.AbstractEventLoop | None = None

    def hold(self, keys: Sequence[str]) -> None:
        with self._guard:
            self._keys.update(keys)

    def drop(self, keys: Sequence[str]) -> None:
        with self._guard:
            self._keys.difference_update(keys)

    def beat(self) -> None:
        """The loop is alive: keep renewing."""
        self._beat = time.monotonic()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._beat = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"leases:{self.owner}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop renewing (before the leases are let go: a renewal never takes one back anyway)."""
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        client: SyncRedis | None = None  # connected at the first round: Redis may be away at start
        try:
            while not self._stopping.wait(self.every_s):
                if time.monotonic() - self._beat > self.stall_s:
                    continue  # the loop is stuck: let the leases expire
                try:
                    if client is None:
                        client = connect_sync(self.url, self.client_name)
                        sha = client.script_load(_RENEW)  # on every primary of a Cluster
                    try:
                        lost = self._renew(client, sha)
                    except NoScriptError:  # Redis restarted or flushed its scripts: load it again now, the
                        sha = client.script_load(_RENEW)  # leases may expire before a new connection is up
                        lost = self._renew(client, sha)
                except Exception as exc:  # Redis away (or restarted, its scripts gone): the thread must not end
                    log.warning("lease renewals of %s: %r", self.owner, exc)
                    if client is not None:
                        client.close()
                    client = None  # connect and load the script again next round
                    continue
                self.rounds += 1
                if lost and self._loop is not None:
                    self._loop.call_soon_threadsafe(self.on_lost, lost)
        finally:
            if client is not None:
                client.close()

    def _renew(self, client: SyncRedis, sha: str) -> list[str]:
        with self._guard:
            keys = sorted(self._keys)
        lost = []
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            pipe = client.pipeline(transaction=False)
            for key in chunk:
                pipe.evalsha(sha, 1, key, self.owner, self.ttl_ms)
            replies = pipe.execute(raise_on_error=False)  # one lease key damaged must not cost the others
            if any(isinstance(reply, NoScriptError) for reply in replies):
                raise NoScriptError("the renewal script is gone")  # loaded again by the caller
            # a key of another type (WRONGTYPE) is lost too: the supervisor drops it and takes the plan again
            lost += [key for key, kept in zip(chunk, replies, strict=True) if isinstance(kept, Exception) or not kept]
        with self._guard:  # a lease dropped meanwhile was let go on purpose, not lost
            return [key for key in lost if key in self._keys]
