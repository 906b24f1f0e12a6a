"""Leases: one holder at a time for a key, with an expiry the holder keeps renewing (a plan's
projection, a subscription's delivery). A holder that stalls past its expiry loses the lease."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from services.store.connection import is_cluster

_LEASE = """
-- KEYS: lease   ARGV: owner, ttl ms.  Take a free lease or renew our own.
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


CHUNK = 200  # leases per round trip: 2,000 at once held the worker's event loop for some 40 ms


class Lease:
    """A lease on a key: one holder at a time, with an expiry the holder keeps renewing (a plan's
    projection, a subscription's delivery)."""

    def __init__(self, redis: Redis, owner: str, ttl_ms: int) -> None:
        self.redis, self.owner, self.ttl_ms = redis, owner, ttl_ms
        self._take = redis.register_script(_LEASE)
        self._release = redis.register_script(_RELEASE)

    async def hold(self, key: str) -> bool:
        """Take the lease if free, renew it if ours. False if another holder has it."""
        return bool(await self._take(keys=[key], args=[self.owner, self.ttl_ms]))

    async def release(self, key: str) -> None:
        await self._release(keys=[key], args=[self.owner])

    async def hold_many(self, keys: Sequence[str]) -> list[bool]:
        """`hold` for many keys in one round trip (a worker renews a thousand leases each tick)."""
        return await self._many(self._take, keys, [self.owner, self.ttl_ms], _LEASE)

    async def release_many(self, keys: Sequence[str]) -> None:
        await self._many(self._release, keys, [self.owner], _RELEASE)

    async def _many(self, script: AsyncScript, keys: Sequence[str], args: list[str | int], source: str) -> list[bool]:
        if not keys:
            return []
        if is_cluster(self.redis):  # a Cluster pipeline does not load a missing script: on every primary first
            await self.redis.script_load(source)
        replies = []
        for start in range(0, len(keys), CHUNK):  # the event loop runs the projectors between chunks
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys[start : start + CHUNK]:
                    await script(keys=[key], args=args, client=pipe)
                replies += await pipe.execute()
        return [bool(reply) for reply in replies]
