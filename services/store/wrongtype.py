"""A key holding another Redis type than planwatch keeps there — a hash where a string was, a
string for a stream — written by hand, by another program, or damaged. Redis answers every command
on it `WRONGTYPE Operation against a key holding the wrong kind of value`.

Handled here, once, in the client `connect` hands out (and its pipelines), rather than at each of
the many places that read:

- a read (GET, HGETALL, XRANGE, LRANGE, SMEMBERS, …) answers as for a missing key — nothing, an
  empty hash, list, set or log — with a warning naming the key, once per key and type found. A
  reader shows what is left (a plan without that index, a projection to rebuild), never fails;
- anything else (a write, a script, a blocking read of several streams) raises `DamagedKey`, a
  ResponseError naming the key, the type found and the one expected: a writer stores nothing
  over a damaged key, and the API answers 503 naming it. The caller that owns the key (a
  projector, the notifier, a lease's taker) may drop it (`drop_damaged`) and carry on.

Nothing is asked of Redis unless a command failed: the hot paths pay nothing (the key's type is
asked only to name it in the refusal)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.exceptions import ResponseError

from services.store.keys import stored_type

log = logging.getLogger("planwatch.store")

TOLD_AT_MOST = 10_000  # keys remembered as told of (a damaged key is told of once, not at every read)
BLOCK_AT_MOST_S = 1.0  # a blocking read of a damaged stream waits this long at most, then answers nothing

# A read's answer for a missing key, as the client returns it (after its reply callbacks)
_EMPTY: dict[str, Callable[[Sequence[Any]], Any]] = {
    "GET": lambda _: None,
    "GETRANGE": lambda _: "",
    "STRLEN": lambda _: 0,
    "HGET": lambda _: None,
    "HGETALL": lambda _: {},
    "HMGET": lambda args: [None] * (len(args) - 2),
    "HKEYS": lambda _: [],
    "HVALS": lambda _: [],
    "HLEN": lambda _: 0,
    "HEXISTS": lambda _: False,
    "HSTRLEN": lambda _: 0,
    "XRANGE": lambda _: [],
    "XREVRANGE": lambda _: [],
    "XLEN": lambda _: 0,
    "LRANGE": lambda _: [],
    "LLEN": lambda _: 0,
    "LINDEX": lambda _: None,
    "SMEMBERS": lambda _: set(),
    "SISMEMBER": lambda _: False,
    "SCARD": lambda _: 0,
    "ZRANGE": lambda _: [],
    "ZRANGEBYSCORE": lambda _: [],
    "ZREVRANGE": lambda _: [],
    "ZREVRANGEBYSCORE": lambda _: [],
    "ZCARD": lambda _: 0,
    "ZSCORE": lambda _: None,
}
_SCRIPTS = ("EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL", "FCALL_RO")
_STREAM_READS = ("XREAD", "XREADGROUP")
_told: dict[str, str] = {}


class DamagedKey(ResponseError):
    """A command met a key holding another Redis type than planwatch keeps there: nothing was
    written. `key` names it (the first such key of a script's), `found` its type now, `expected`
    planwatch's."""

    def __init__(self, key: str, found: str, expected: str | None, command: str) -> None:
        self.key, self.found, self.expected, self.command = key, found, expected, command
        kept = f"a {expected}" if expected else "another type"
        super().__init__(
            f"WRONGTYPE: key {key} holds a {found} where planwatch keeps {kept} ({command} refused, nothing "
            "written): a damaged or hand-written key; restore it from a backup, or delete it"
        )


def is_wrong_type(exc: BaseException) -> bool:
    """Redis' refusal of a command on a key of another type (alone, in a pipeline or in a script)."""
    return isinstance(exc, ResponseError) and "WRONGTYPE" in str(exc)


def _name(arg: Any) -> str:
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def _keys_of(args: Sequence[Any]) -> list[str]:
    """The keys a command names: a script's KEYS, a stream read's streams, else its first argument."""
    command = _name(args[0]).upper()
    if command in _SCRIPTS and len(args) > 2:
        return [_name(key) for key in args[3 : 3 + int(args[2])]]
    if command in _STREAM_READS:
        names = [_name(arg) for arg in args]
        upper = [name.upper() for name in names]
        if "STREAMS" in upper:
            streams = names[upper.index("STREAMS") + 1 :]
            return streams[: len(streams) // 2]
    return [_name(args[1])] if len(args) > 1 else []


async def _types(client: Any, keys: list[str]) -> dict[str, str]:
    found = {}
    for key in keys:
        try:
            found[key] = _name(await client.type(key))
        except ResponseError:
            found[key] = "?"
    return found


async def damaged(client: Any, args: Sequence[Any]) -> DamagedKey:
    """The refusal naming the key of the command that Redis refused with WRONGTYPE: the first of
    its keys whose type is not planwatch's (asked of Redis, on this error path only)."""
    keys = _keys_of(args)
    found = await _types(client, keys)
    wrong = [key for key in keys if found[key] != "none" and stored_type(key) not in (None, found[key])]
    key = (wrong or keys or ["?"])[0]
    return DamagedKey(key, found.get(key, "?"), stored_type(key), _name(args[0]).upper())


def warn_once(damage: DamagedKey) -> None:
    """A warning naming the damaged key, once per key and type found (a loop meeting it each
    second would drown the log)."""
    if _told.get(damage.key) != damage.found:
        _tell(damage.key, damage.found, damage.command)


def _tell(key: str, found: str, command: str) -> None:
    if _told.get(key) == found:
        return
    if len(_told) >= TOLD_AT_MOST:
        _told.clear()
    _told[key] = found
    expected = stored_type(key)
    log.warning(
        "key %s holds a %s, not the %s planwatch keeps there: read as empty, not written (%s); restore or delete it",
        key,
        found,
        expected or "type",
        command,
    )


def _single_stream_read(args: Sequence[Any]) -> bool:
    return _name(args[0]).upper() in _STREAM_READS and len(_keys_of(args)) == 1


def _block_s(args: Sequence[Any]) -> float:
    upper = [_name(arg).upper() for arg in args]
    if "BLOCK" not in upper:
        return 0.0
    return min(int(_name(args[upper.index("BLOCK") + 1])) / 1000, BLOCK_AT_MOST_S)


async def answer(client: Any, args: Sequence[Any], exc: ResponseError) -> Any:
    """What a command Redis refused with WRONGTYPE answers: a read, as for a missing key (told of
    once); anything else raises `DamagedKey`."""
    command = _name(args[0]).upper()
    if command in _EMPTY:
        key = _name(args[1])
        _tell(key, (await _types(client, [key]))[key], command)
        return _EMPTY[command](args)
    if _single_stream_read(args):  # one stream, read as empty after waiting as asked (no busy loop)
        key = _keys_of(args)[0]
        _tell(key, (await _types(client, [key]))[key], command)
        await asyncio.sleep(_block_s(args))
        return []
    raise await damaged(client, args) from exc


async def settle(client: Any, commands: list[Sequence[Any]], results: list[Any], raise_on_error: bool) -> list[Any]:
    """A pipeline's results, its reads of damaged keys answered as for missing keys; the first other
    error raised (as a `DamagedKey` for a WRONGTYPE) if asked to."""
    for i, (args, result) in enumerate(zip(commands, results, strict=False)):
        if isinstance(result, ResponseError) and is_wrong_type(result):
            try:
                results[i] = await answer(client, args, result)
            except DamagedKey as exc:
                results[i] = exc
    if raise_on_error:
        for result in results:
            if isinstance(result, Exception):
                raise result
    return results


class TolerantPipeline(Pipeline):
    """A pipeline whose reads of damaged keys answer as for missing keys (`settle`)."""

    owner: AsyncRedis

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[Sequence[Any]] = []

    def pipeline_execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(args)
        return super().pipeline_execute_command(*args, **options)

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        sent, self.sent = self.sent, []
        results = await super().execute(raise_on_error=False)
        return await settle(self.owner, sent, results, raise_on_error)


class TolerantRedis(AsyncRedis):
    """The asyncio client planwatch uses on a standalone server (`connect`)."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return await super().execute_command(*args, **options)
        except ResponseError as exc:
            if not is_wrong_type(exc) or isinstance(exc, DamagedKey):
                raise
            return await answer(self, args, exc)

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> TolerantPipeline:
        pipe = TolerantPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.owner = self
        return pipe


class TolerantClusterPipeline(ClusterPipeline):
    """A Cluster pipeline whose reads of damaged keys answer as for missing keys (`settle`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[Sequence[Any]] = []

    def execute_command(self, *args: Any, **kwargs: Any) -> ClusterPipeline:
        self.sent.append(args)
        return super().execute_command(*args, **kwargs)

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> list[Any]:
        sent, self.sent = self.sent, []
        results = await super().execute(raise_on_error=False, allow_redirections=allow_redirections)
        return await settle(self.cluster_client, sent, results, raise_on_error)


class TolerantCluster(RedisCluster):
    """The asyncio client planwatch uses on a Redis Cluster (`connect`)."""

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_command(*args, **kwargs)
        except ResponseError as exc:
            if not is_wrong_type(exc) or isinstance(exc, DamagedKey):
                raise
            return await answer(self, args, exc)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> TolerantClusterPipeline:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # type: ignore[return-value]  # refused
        return TolerantClusterPipeline(self, transaction)  # type: ignore[abstract]  # as redis-py makes one


_DROP = """
if redis.call('TYPE', KEYS[1])['ok'] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


async def drop_damaged(client: Any, damage: DamagedKey, why: str) -> bool:
    """Delete the damaged key if it still holds the type found (atomically: a key repaired meanwhile
    is kept) — for a key its owner can do without (a projection's, which it rebuilds; a lease,
    which is taken again). Logged as a warning with `why`."""
    dropped = bool(await client.eval(_DROP, 1, damage.key, damage.found))
    if dropped:
        log.warning("key %s held a %s, not a %s: deleted (%s)", damage.key, damage.found, damage.expected, why)
    return dropped
