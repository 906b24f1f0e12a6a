"""The event store: one append-only Redis stream per plan.

`append` runs one Lua script per batch, so a batch is atomic: dedup by `event_id` (permanent,
a retry returns the original positions), optional expected version per subject (a conflict
stores nothing), then XADD — every event of a batch with the same millisecond, so a batch is
one instant of transaction time. Each stream entry has two fields, `type` and `data` (the event as
JSON without `recorded_at`); `recorded_at` is the time encoded in the entry's stream id.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic_core
from redis.asyncio import Redis
from redis.typing import StreamRangeResponse

from events.codec import Unreadable, canonical_form, decode_entry, decode_stored, encode
from events.models import Event
from events.positions import StoredEvent
from services.observability import metrics
from services.store.keys import Keyspace
from services.store.values import is_position, stored_int

_APPEND = """
-- KEYS: stream, event ids hash, versions hash, the plan's own positions list, then one positions
--       list per subject of the batch or of its expected versions
-- Publishes the last position written on the channel `<stream>:appended` (Keyspace.appended.of(plan)).
-- ARGV: plan id, the plan's version the caller checked the batch against ('' for none: the check
--       folded in here saves ingest a round trip per request), then
--       n_expected, (subject, version) * n_expected, n_subjects, subject * n_subjects (in KEYS
--       order), then one argument per event:
--       event_id US subject US digest US type US data   (US = \\31, which JSON never contains raw)
--       where digest is that of the canonical form, followed by ",<digest of the bytes as sent>" when
--       the two differ (an event stored before digests were canonical was hashed as sent)
-- A count that is not a count (written by hand, or damaged) is counted again from the subject's
-- positions list, which grows with it: compared as it is, the plan would never be in force, and
-- HINCRBY would fail half-way through the batch.
local function count_of(subject, list)
  local count = redis.call('HGET', KEYS[3], subject) or '0'
  if not string.match(count, '^%d+$') then
    count = tostring(redis.call('LLEN', list))
    redis.call('HSET', KEYS[3], subject, count)
  end
  return count
end
if ARGV[2] ~= '' and count_of(ARGV[1], KEYS[4]) ~= ARGV[2] then return {'stale-plan'} end
table.remove(ARGV, 1)
table.remove(ARGV, 1)
local n_expected = tonumber(ARGV[1])
local n_subjects = tonumber(ARGV[2 + 2 * n_expected])
local subject_key = {}
for k = 1, n_subjects do subject_key[ARGV[2 + 2 * n_expected + k]] = KEYS[4 + k] end
local first = 3 + 2 * n_expected + n_subjects
local n = #ARGV - first + 1
local sub, find = string.sub, string.find
local eid, subject, digest, etype, data = {}, {}, {}, {}, {}
for i = 1, n do
  local s = ARGV[first + i - 1]
  local a = find(s, '\\31', 1, true)
  local b = find(s, '\\31', a + 1, true)
  local c = find(s, '\\31', b + 1, true)
  local d = find(s, '\\31', c + 1, true)
  eid[i], subject[i], digest[i] = sub(s, 1, a - 1), sub(s, a + 1, b - 1), sub(s, b + 1, c - 1)
  etype[i], data[i] = sub(s, c + 1, d - 1), sub(s, d + 1)
end
local status, pos = {}, {}
local batch_digest = {}
local any_new = false
local legacy = {}
for i = 1, n do
  local comma = find(digest[i], ',', 1, true)
  if comma then digest[i], legacy[i] = sub(digest[i], 1, comma - 1), sub(digest[i], comma + 1) end
end
local function data_of(fields)
  for k = 1, #fields - 1, 2 do
    if fields[k] == 'data' then return fields[k + 1] end
  end
end
-- Where event i was stored, and the digest recorded then; nil if it was not. A record without its
-- digest (written by hand, or damaged) says nothing of the content: the event is there if the
-- entry it names, or one of the subject's latest 100, holds these very bytes (the record is
-- mended); otherwise it counts as new, and its record is written again.
local function recorded(i)
  local prior = redis.call('HGET', KEYS[2], eid[i])
  if not prior then return nil end
  local sep = find(prior, '|', 1, true)
  if sep then return sub(prior, 1, sep - 1), sub(prior, sep + 1) end
  local candidates = redis.call('LRANGE', subject_key[subject[i]], -100, -1)
  table.insert(candidates, prior)
  for k = #candidates, 1, -1 do
    local at = candidates[k]
    local entry = string.match(at, '^%d+%-%d+$') and redis.call('XRANGE', KEYS[1], at, at)[1]
    if entry and data_of(entry[2]) == data[i] then
      redis.call('HSET', KEYS[2], eid[i], at .. '|' .. digest[i])
      return at, digest[i]
    end
  end
end
for i = 1, n do
  local at, known = recorded(i)
  if at then
    if known ~= digest[i] and known ~= legacy[i] then return {'reused', eid[i], at} end
    status[i], pos[i] = 'dup', at
  elseif batch_digest[eid[i]] then
    if batch_digest[eid[i]] ~= digest[i] then return {'reused', eid[i], ''} end
    status[i] = 'dup'
  else
    batch_digest[eid[i]] = digest[i]
    status[i] = 'new'
    any_new = true
  end
end
if any_new then
  local counted = {}
  for i = 1, n do  -- each new event's subject is counted (and mended) before anything is written
    if status[i] == 'new' and not counted[subject[i]] then
      counted[subject[i]] = tonumber(count_of(subject[i], subject_key[subject[i]]))
    end
  end
  for j = 1, n_expected do
    local subj, expected = ARGV[2 * j], tonumber(ARGV[2 * j + 1])
    local actual = counted[subj] or tonumber(count_of(subj, subject_key[subj]))
    if actual ~= expected then return {'conflict', subj, tostring(expected), tostring(actual)} end
  end
end
-- The whole batch gets one timestamp: it is one transaction, recorded at one instant. Ids are
-- given explicitly (ms-seq), after the stream's last id even if the clock went back.
local clock = redis.call('TIME')
local ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local seq = 0
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if last then
  local last_ms, last_seq = string.match(last[1], '^(%d+)-(%d+)$')
  if tonumber(last_ms) >= ms then
    ms, seq = tonumber(last_ms), tonumber(last_seq) + 1
  end
end
local stored = {}
for i = 1, n do
  if status[i] == 'new' then
    local id = redis.call('XADD', KEYS[1], string.format('%d-%d', ms, seq), 'type', etype[i], 'data', data[i])
    seq = seq + 1
    redis.call('HSET', KEYS[2], eid[i], id .. '|' .. digest[i])
    redis.call('HINCRBY', KEYS[3], subject[i], 1)
    redis.call('RPUSH', subject_key[subject[i]], id)
    pos[i] = id
    stored[eid[i]] = id
  elseif not pos[i] then
    pos[i] = stored[eid[i]]
  end
end
if any_new then  -- wake the workers following the plan: the last position written
  redis.call('PUBLISH', KEYS[1] .. ':appended', string.format('%d-%d', ms, seq - 1))
end
local out = {'ok'}
for i = 1, n do
  out[#out + 1] = status[i]
  out[#out + 1] = pos[i]
end
return out
"""


_RESTORE = """
-- KEYS: stream, event ids hash, versions hash, restore marker, then one positions list per subject
-- ARGV: the file's checksum, n_subjects, subject * n_subjects (in KEYS order), then one argument per
--       entry: position US event_id US subject US digest US type US data   (US = \\31)
-- Entries keep their original positions (XADD with explicit ids, which must increase), so what was
-- known at any instant is the same after a restore. Only into an empty plan, or one whose restore
-- from the same file was interrupted: entries at or before the stream's last position are skipped.
local marker = redis.call('GET', KEYS[4])
if marker ~= ARGV[1] then
  if marker or redis.call('XLEN', KEYS[1]) > 0 or redis.call('HLEN', KEYS[2]) > 0 then return {'not-empty'} end
  redis.call('SET', KEYS[4], ARGV[1])
end
local function parts(p)
  return string.match(p, '^(%d+)-(%d+)$')
end
-- compared as text (stream ids have no leading zeros: longer is larger): a Lua number is a double,
-- which cannot tell 2^53 from 2^53 + 1, and an id's parts go up to 2^64 - 1
local function above(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local n_subjects = tonumber(ARGV[2])
local subject_key = {}
for k = 1, n_subjects do subject_key[ARGV[2 + k]] = KEYS[4 + k] end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local last_ms, last_seq = '', ''
if last then last_ms, last_seq = parts(last[1]) end
local sub, find = string.sub, string.find
local written = 0
for i = 3 + n_subjects, #ARGV do
  local s = ARGV[i]
  local a = find(s, '\\31', 1, true)
  local b = find(s, '\\31', a + 1, true)
  local c = find(s, '\\31', b + 1, true)
  local d = find(s, '\\31', c + 1, true)
  local e = find(s, '\\31', d + 1, true)
  local position = sub(s, 1, a - 1)
  local ms, seq = parts(position)
  if above(ms, last_ms) or (ms == last_ms and above(seq, last_seq)) then
    local eid, subject, digest = sub(s, a + 1, b - 1), sub(s, b + 1, c - 1), sub(s, c + 1, d - 1)
    redis.call('XADD', KEYS[1], position, 'type', sub(s, d + 1, e - 1), 'data', sub(s, e + 1))
    redis.call('HSET', KEYS[2], eid, position .. '|' .. digest)
    redis.call('HINCRBY', KEYS[3], subject, 1)
    redis.call('RPUSH', subject_key[subject], position)
    last_ms, last_seq = ms, seq
    written = written + 1
  end
end
return {'ok', written}
"""


_DISCARD_RESTORE = """
-- KEYS: the restore marker, then every key the restore wrote; ARGV: the file's checksum
-- Only while the plan is still marked as this file's: never what another restore wrote.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 1, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
"""


def digest_of(data: bytes) -> str:
    """The digest the dedup index keeps of an event's stored JSON."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True)
class RawEntry:
    """A stream entry as stored: its position, its type and its data, byte for byte."""

    position: str
    type: str
    data: str


@dataclass(frozen=True)
class Restored:
    """An entry to restore: as stored, with what the dedup and subject indexes need."""

    entry: RawEntry
    event_id: str
    subject: str


class PlanNotEmpty(Exception):
    """A restore's target plan already has events (and is not a restore of the same file resumed)."""


class VersionConflict(Exception):
    """The subject's version is not what the caller expected; nothing of the batch was stored."""

    def __init__(self, subject: str, expected: int, actual: int) -> None:
        super().__init__(f"version conflict on {subject!r}: expected version {expected}, actual {actual}")
        self.subject, self.expected, self.actual = subject, expected, actual


class PlanChanged(Exception):
    """The plan was published again since the caller checked the batch against it; nothing was stored."""


class EventIdReused(Exception):
    """An event_id already stored (or repeated in the batch) with different content."""

    def __init__(self, event_id: str, position: str) -> None:
        where = f" at {position}" if position else " earlier in the same batch"
        super().__init__(f"event_id {event_id} was already used{where} for an event with different content")
        self.event_id, self.position = event_id, position


@dataclass(frozen=True)
class AppendResult:
    positions: list[str]
    duplicate: list[bool]
    event_ids: list[str]  # the batch's event ids as text, in order

    @property
    def stored(self) -> int:
        return self.duplicate.count(False)

    @property
    def all_duplicates(self) -> bool:
        return all(self.duplicate)


class EventStore:
    def __init__(self, redis: Redis, keys: Keyspace) -> None:
        self.redis = redis
        self.keys = keys
        self._append = redis.register_script(_APPEND)
        self._restore = redis.register_script(_RESTORE)
        self._discard_restore = redis.register_script(_DISCARD_RESTORE)
        self._registered: set[str] = set()  # plans this process has listed (nothing unlists a plan)

    async def append(
        self,
        events: Sequence[Event],
        expected_version: int | Mapping[str, int] | None = None,
        plan_version: int | None = None,
    ) -> AppendResult:
        """Append a batch atomically. `expected_version` (an int for every subject of the batch,
        or a mapping subject → version) is the number of events stored for the subject so far.
        `plan_version`: the number of events about the plan itself (PlanCatalog.versioned) when
        the batch was checked against it; PlanChanged (nothing stored) if it has changed since."""
        if not events:
            return AppendResult([], [], [])
        plan_ids = {event.plan_id for event in events}
        if len(plan_ids) != 1:
            raise ValueError(f"a batch must belong to one plan, got {sorted(plan_ids)}")
        plan_id = plan_ids.pop()
        if isinstance(expected_version, int):
            expected = {event.subject: expected_version for event in events}
        else:
            expected = dict(expected_version or {})
        args: list[str | int | bytes] = [plan_id, "" if plan_version is None else plan_version, len(expected)]
        for subject, version in expected.items():
            args += [subject, version]
        # the positions list of every subject counted, to count again one whose count was damaged
        subjects = list(dict.fromkeys([*(event.subject for event in events), *expected]))
        args += [len(subjects), *subjects]
        # str(UUID) is slow in Python 3.11: one round trip through Rust gives the batch's ids as text
        event_ids: list[str] = pydantic_core.from_json(pydantic_core.to_json([event.event_id for event in events]))
        for event, event_id in zip(events, event_ids, strict=True):
            data = encode(event)
            digest = digest_of(data)
            canonical = canonical_form(event)
            if canonical is not None:  # dedup compares numbers, not how they were written
                digest = f"{digest_of(encode(canonical))},{digest}"
            args.append(f"{event_id}\x1f{event.subject}\x1f{digest}\x1f{event.type}\x1f".encode() + data)
        keys = self.keys
        # Register the plan first: a registered plan with no events is harmless, the reverse is not.
        # Once per process and plan: the set only grows, and a round trip per request is a third of one.
        if plan_id not in self._registered:
            await self.redis.sadd(keys.plans, plan_id)
            self._registered.add(plan_id)
        with metrics.timed_append():
            reply = await self._append(
                keys=[
                    keys.events(plan_id),
                    keys.event_ids(plan_id),
                    keys.versions(plan_id),
                    keys.subject_events(plan_id, plan_id),
                    *(keys.subject_events(plan_id, subject) for subject in subjects),
                ],
                args=args,
            )
        kind = _text(reply[0])
        if kind == "stale-plan":
            raise PlanChanged(plan_id)
        if kind == "conflict":
            raise VersionConflict(_text(reply[1]), int(reply[2]), int(reply[3]))
        if kind == "reused":
            raise EventIdReused(_text(reply[1]), _text(reply[2]))
        flat = [_text(x) for x in reply[1:]]
        return AppendResult(positions=flat[1::2], duplicate=[s == "dup" for s in flat[0::2]], event_ids=event_ids)

    async def restore(self, plan_id: str, checksum: str, entries: Sequence[Restored]) -> int:
        """Write entries of an export at their original positions, in one atomic call (a page of a
        restore); returns how many were new. Refuses (PlanNotEmpty) a plan that has events, unless
        they were written by a restore of the file with this `checksum` that was interrupted. The
        plan is not registered: a worker must not project it before the restore has rebuilt it."""
        subjects = list(dict.fromkeys(item.subject for item in entries))
        args: list[str | int] = [checksum, len(subjects), *subjects]
        for item in entries:
            entry = item.entry
            digest = digest_of(entry.data.encode())
            args.append(
                f"{entry.position}\x1f{item.event_id}\x1f{item.subject}\x1f{digest}\x1f{entry.type}\x1f{entry.data}"
            )
        keys = self.keys
        reply = await self._restore(
            keys=[
                keys.events(plan_id),
                keys.event_ids(plan_id),
                keys.versions(plan_id),
                keys.restoring(plan_id),
                *(keys.subject_events(plan_id, subject) for subject in subjects),
            ],
            args=args,
        )
        if _text(reply[0]) == "not-empty":
            raise PlanNotEmpty(plan_id)
        return int(reply[1])

    async def discard_restore(self, plan_id: str, checksum: str, also: Sequence[str] = ()) -> bool:
        """Delete what a failed restore of the file with this `checksum` wrote — the log, its
        indexes, the marker and the keys `also` — so that the plan is empty again; False (nothing
        deleted) when the plan is not, or no longer, marked as that file's."""
        keys = self.keys
        subjects = [_text(s) for s in await self.redis.hkeys(keys.versions(plan_id))]  # each one written
        written = [keys.events(plan_id), keys.event_ids(plan_id), keys.versions(plan_id)]
        subject_keys = [keys.subject_events(plan_id, subject) for subject in subjects]
        reply = await self._discard_restore(
            keys=[keys.restoring(plan_id), *written, *subject_keys, *also], args=[checksum]
        )
        return bool(reply)

    async def raw_entries(self, plan_id: str, until: str, batch: int = 1000) -> AsyncIterator[RawEntry]:
        """Every entry up to `until` as stored (type and data untouched), in append order."""
        stream, low = self.keys.events(plan_id), "-"
        while True:
            entries = []
            for position, fields in await self.redis.xrange(stream, min=low, max=until, count=batch) or ():
                assert position is not None and fields is not None  # XRANGE of a stream never trimmed
                kind = fields.get("type", "")  # an entry written by hand may lack it: kept as it is
                entries.append(RawEntry(_text(position), _text(kind), entry_data(fields)))
            for entry in entries:
                yield entry
            if len(entries) < batch:
                return
            low = f"({entries[-1].position}"

    async def head(self, plan_id: str) -> str | None:
        """The position of the plan's last event, None without events."""
        for position, _ in await self.redis.xrevrange(self.keys.events(plan_id), count=1) or ():
            return _text(position) if position is not None else None
        return None

    async def register(self, plan_id: str) -> None:
        """List the plan among those with a log (workers project the plans listed)."""
        await self.redis.sadd(self.keys.plans, plan_id)

    async def read(self, plan_id: str, after: str = "0-0", limit: int = 1000) -> list[StoredEvent]:
        """Up to `limit` events after `after`, in append order (an entry that does not decode is an
        `Unreadable` in its place)."""
        low = "-" if after in ("0", "0-0") else f"({after}"
        entries = _entries(await self.redis.xrange(self.keys.events(plan_id), min=low, max="+", count=limit))
        return [StoredEvent(position, decode_entry(position, data)) for position, data in entries]

    async def replay(
        self, plan_id: str, after: str = "0-0", until: str | None = None, batch: int = 1000
    ) -> AsyncIterator[StoredEvent]:
        """Every event after `after` (and at or before `until`, if given), in append order — for
        folds, which take transaction time from the position: the events come without
        `recorded_at` (`decode_stored`), which would cost a third of the decoding."""
        async for page in self.replay_pages(plan_id, after, until, batch):
            for position, event in page:
                yield StoredEvent(position, event)

    async def replay_pages(
        self, plan_id: str, after: str = "0-0", until: str | None = None, batch: int = 1000
    ) -> AsyncIterator[list[tuple[str, Event | Unreadable]]]:
        """`replay` a page of up to `batch` (position, event) pairs at a time, for the fold's hot
        loop (`projections.state.fold`)."""
        stream, low, high = self.keys.events(plan_id), f"({after}", until or "+"
        if after in ("0", "0-0"):
            low = "-"
        while True:
            entries = _entries(await self.redis.xrange(stream, min=low, max=high, count=batch))
            if entries:
                yield [(position, decode_stored(data)) for position, data in entries]
            if len(entries) < batch:
                return
            low = f"({entries[-1][0]}"

    async def subject_events(self, plan_id: str, subject: str, limit: int = 1000) -> list[StoredEvent]:
        """The latest `limit` events about one subject, in append order (from the subject index)."""
        listed = await self.redis.lrange(self.keys.subject_events(plan_id, subject), -limit, -1)
        positions = [text for p in listed if is_position(text := _text(p))]  # what else is there was not ours
        entries = await self._at(plan_id, positions)
        return [StoredEvent(position, decode_entry(position, entry_data(fields))) for position, fields in entries]

    async def latest_about(self, plan_id: str, subject: str, event_type: str, page: int = 50) -> StoredEvent | None:
        """The latest readable event of `event_type` about `subject`, walking the subject's index
        back a page at a time: a plan's own index holds its silences and acknowledgements too, so
        the plan in force may be far back. Entries of other types are passed over undecoded."""
        index, end = self.keys.subject_events(plan_id, subject), -1
        while listed := await self.redis.lrange(index, end - page + 1, end):
            positions = [text for p in listed if is_position(text := _text(p))]
            for position, fields in reversed(await self._at(plan_id, positions)):
                if _text(fields.get("type", "")) != event_type:
                    continue
                if not isinstance(event := decode_entry(position, entry_data(fields)), Unreadable):
                    return StoredEvent(position, event)
            if len(listed) < page:
                return None
            end -= page
        return None

    async def count_about(self, plan_id: str, subject: str, event_type: str, page: int = 200) -> int:
        """How many events of `event_type` about `subject` are stored (the plans published, among a
        plan's silences and acknowledgements), by the type of each entry of the subject's index;
        nothing is decoded. Rare: a plan is published a few times a year."""
        index, start, count = self.keys.subject_events(plan_id, subject), 0, 0
        while listed := await self.redis.lrange(index, start, start + page - 1):
            positions = [text for p in listed if is_position(text := _text(p))]
            count += sum(
                _text(fields.get("type", "")) == event_type for _, fields in await self._at(plan_id, positions)
            )
            if len(listed) < page:
                break
            start += page
        return count

    async def events_at(self, plan_id: str, positions: Sequence[str]) -> dict[str, StoredEvent]:
        """The events at `positions` in one round trip (provenance names hundreds for a rollup);
        a position with no entry is left out."""
        entries = await self._at(plan_id, list(dict.fromkeys(positions)))
        return {
            position: StoredEvent(position, decode_entry(position, entry_data(fields))) for position, fields in entries
        }

    async def _at(self, plan_id: str, positions: Sequence[str]) -> list[tuple[str, Mapping[Any, Any]]]:
        """(position, fields) of the entries at `positions`, in their order, in one round trip; a
        position with no entry is left out."""
        if not positions:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for position in positions:
                pipe.xrange(self.keys.events(plan_id), min=position, max=position)
            replies = await pipe.execute()
        return [(_text(position), fields) for reply in replies for position, fields in reply or ()]

    async def event_at(self, plan_id: str, position: str) -> StoredEvent | None:
        """The entry at `position`, if there is one."""
        entries = _entries(await self.redis.xrange(self.keys.events(plan_id), min=position, max=position))
        return StoredEvent(entries[0][0], decode_entry(*entries[0])) if entries else None

    async def length(self, plan_id: str) -> int:
        return await self.redis.xlen(self.keys.events(plan_id))

    async def version(self, plan_id: str, subject: str) -> int:
        """The number of events stored about `subject`. A count that cannot be read (written by
        hand, or damaged) or that is missing is the length of the subject's positions list, which
        grows with it (and which the next append writes in its place): a versions hash replaced by
        another type reads as empty, and the plan's versions are still known."""
        async with self.redis.pipeline(transaction=False) as pipe:  # one round trip for both
            pipe.hget(self.keys.versions(plan_id), subject)
            pipe.llen(self.keys.subject_events(plan_id, subject))
            stored, listed = await pipe.execute()
        count = stored_int(stored)
        if count is None or count < 0:  # none (or the hash of another type, read as empty): the list's
            return int(listed)
        return count

    async def stored_event(self, plan_id: str, event_id: str) -> StoredEvent | None:
        """The event stored under `event_id` (as the dedup index writes it), if one was: the entry
        its id record names. A record that names no entry, or an entry that is another event
        (written by hand, or damaged), is not trusted: the log is searched for the id instead. No
        record: the event was never stored (nothing is searched)."""
        record = await self.redis.hget(self.keys.event_ids(plan_id), event_id)
        if record is None:
            return None
        position = _text(record).split("|", 1)[0]
        named = await self.event_at(plan_id, position) if is_position(position) else None
        if named is not None and _is_event(named, event_id):
            return named
        found = await self._search(plan_id, event_id)
        if found is None and named is not None and isinstance(named.event, Unreadable):
            return named  # the entry named is damaged past reading its id, and no other entry is the event
        return found

    async def _search(self, plan_id: str, event_id: str) -> StoredEvent | None:
        """The log's entry of `event_id`, page by page; only entries whose text names the id are
        decoded. A repair path: an index that reads right never needs it."""
        stream, low = self.keys.events(plan_id), "-"
        while entries := _entries(await self.redis.xrange(stream, min=low, max="+", count=1000)):
            for position, data in entries:
                if event_id not in data:
                    continue
                stored = StoredEvent(position, decode_entry(position, data))
                if _is_event(stored, event_id):
                    return stored
            low = f"({entries[-1][0]}"
        return None

    async def plans(self) -> list[str]:
        return sorted(_text(p) for p in await self.redis.smembers(self.keys.plans))


def _is_event(stored: StoredEvent, event_id: str) -> bool:
    """Whether the entry is the event `event_id` (an unreadable one says what id it could make out)."""
    return str(stored.event.event_id) == event_id


def entry_data(fields: Mapping[Any, Any]) -> str:
    """An entry's event JSON; "" for an entry written without one (by hand, or by another program),
    which every reader then decodes as an `Unreadable` and the fold parks: it makes none fail."""
    return _text(fields.get("data", ""))


def _entries(reply: StreamRangeResponse | None) -> list[tuple[str, str]]:
    """(position, data) of each entry of an XRANGE reply."""
    entries = []
    for position, fields in reply or ():
        # XRANGE always gives an entry's id and fields: only XREADGROUP and XAUTOCLAIM give None
        # for an entry deleted meanwhile, and this stream is never trimmed
        assert position is not None and fields is not None
        entries.append((_text(position), entry_data(fields)))
    return entries


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
