"""The Redis runner of the fold: per-plan read models, kept current, crash-safe, rebuildable.

A plan's read model lives in generations (`pw:{plan}:rm:{n}`, a hash); `pw:{plan}:rm:current`
names the one readers use. A `Projector` reads the plan's stream after its checkpoint, applies
events with the pure fold, and commits in ONE Lua call: the views that changed, the state
snapshot and the new checkpoint — so after a crash it resumes exactly at the last commit and
nothing is lost or counted twice. The commit is fenced: a live projector must still hold the
plan's lease and its generation must still be current; a rebuild may only write a generation
that is not current yet, and switches it in when it has caught up with the log.

An event that fails to apply is retried (`max_attempts`, counted in Redis so restarts count
too) and then parked in the generation's dead-letter stream with the error; the checkpoint
moves past it and later events — including later events of the same subject — are applied
(skip and continue: one bad report must not freeze a department's indicator for the rest of
the year). `planwatch status` counts parked events; a rebuild after a fix applies them again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from events.alerts import AlertNotice
from events.keys import Keyspace
from events.positions import StoredEvent, position_key
from events.store import EventStore, decode_payload
from projections import alerts
from projections.alerts import AlertBook, Memo
from projections.replay import fold_log, position_at
from projections.report import ReportBuilder
from projections.snapshot import dump_book, dump_state, load_book, load_state
from projections.state import PlanState
from projections.views import indicator_detail_view, project_detail_view, report_view

log = logging.getLogger("planwatch.projector")

BATCH = 1000
STATE_EVERY = 5_000  # write the state snapshot at least every N events (and whenever caught up)
SNAPSHOT_EVERY = 10_000  # also keep the state every N events, for fast "as known at" queries

_COMMIT = """
-- KEYS: lease, current generation, read model, dead letters, attempts, alert history, outbox,
--       ids of the notices already written (a replay after a restart may produce one again)
-- ARGV: owner ('' for a rebuild of a new generation), generation, checkpoint, applied, channel,
--       n_fields, (field, value) * n_fields,
--       n_parked, (position, type, error, data) * n_parked,
--       n_notices, (fingerprint, type, notice json, notice id) * n_notices
if ARGV[1] ~= '' then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lease-lost' end
  if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 'generation-changed' end
elseif redis.call('GET', KEYS[2]) == ARGV[2] then
  return 'generation-live'
end
local function parts(p)
  local ms, seq = string.match(p, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local previous = redis.call('HGET', KEYS[3], 'checkpoint')
if previous then
  local pm, ps = parts(previous)
  local nm, ns = parts(ARGV[3])
  if nm < pm or (nm == pm and ns < ps) then return 'behind' end
end
redis.call('HSET', KEYS[3], 'checkpoint', ARGV[3], 'applied', ARGV[4])
local n = tonumber(ARGV[6])
local i = 7
while i < 7 + 2 * n do  -- in chunks: unpack() has a stack limit
  local chunk = {}
  local stop = math.min(i + 999, 6 + 2 * n)
  for j = i, stop do chunk[#chunk + 1] = ARGV[j] end
  redis.call('HSET', KEYS[3], unpack(chunk))
  i = stop + 1
end
i = 7 + 2 * n
local n_parked = tonumber(ARGV[i])
for j = i + 1, i + 4 * n_parked, 4 do
  redis.call('XADD', KEYS[4], '*', 'position', ARGV[j], 'type', ARGV[j + 1], 'error', ARGV[j + 2],
             'data', ARGV[j + 3])
  redis.call('HDEL', KEYS[5], ARGV[j])
end
i = i + 1 + 4 * n_parked
local n_notices = tonumber(ARGV[i])
for j = i + 1, i + 4 * n_notices, 4 do
  if redis.call('HSETNX', KEYS[8], ARGV[j + 3], 1) == 1 then
    local fields = {'fingerprint', ARGV[j], 'type', ARGV[j + 1], 'notice', ARGV[j + 2]}
    redis.call('XADD', KEYS[6], '*', unpack(fields))
    if ARGV[1] ~= '' then  -- only the live projection notifies: a rebuild tells no one again
      redis.call('XADD', KEYS[7], 'MAXLEN', '~', 100000, '*', unpack(fields))
    end
  end
end
redis.call('PUBLISH', ARGV[5], ARGV[3])
return 'ok'
"""

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

_SWITCH = """
-- KEYS: current, new read model, event stream   ARGV: new generation
-- Switch readers to the new generation only if it has applied everything in the log.
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local head = last[1] and last[1][1] or '0-0'
local checkpoint = redis.call('HGET', KEYS[2], 'checkpoint') or '0-0'
if checkpoint ~= head then return {0, head} end
local old = redis.call('GET', KEYS[1]) or ''
redis.call('SET', KEYS[1], ARGV[1])
return {1, old}
"""


class LeaseLost(Exception):
    """Another worker holds the plan now; this projector must stop writing."""


class GenerationChanged(Exception):
    """A rebuild switched readers to a new generation; reload from it."""


@dataclass(frozen=True)
class Parked:
    position: str
    type: str
    error: str
    data: str


class Projector:
    """Keeps one plan's read model generation up to date.

    `owner` is the worker id holding the plan's lease (live projection of the current
    generation); `owner=None` with a `generation` writes a new generation for a rebuild.
    """

    def __init__(
        self,
        redis: Redis,
        keys: Keyspace,
        plan_id: str,
        owner: str | None,
        generation: int | None = None,
        *,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
    ) -> None:
        if owner is None and generation is None:
            raise ValueError("a rebuild projector needs its generation")
        self.redis, self.keys, self.plan_id, self.owner = redis, keys, plan_id, owner
        self.generation = generation or 0
        self.max_attempts, self.retry_delay = max_attempts, retry_delay
        self.state = PlanState(plan_id)
        self.book = AlertBook()
        self.notices: list[AlertNotice] = []  # alert changes not committed yet
        self._memo = Memo()
        self._commit_script = redis.register_script(_COMMIT)
        self._builder = ReportBuilder()
        self._written: dict[str, object] = {}  # field → the row/view object last written
        self._pending: dict[str, object] = {}  # … and those being written by the commit under way
        self._snapshot_applied = 0  # events applied in the last state snapshot written
        self._notice_cache: dict[str, tuple[AlertNotice, str]] = {}
        self._committed_applied = 0

    # --- loading ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Resume from the last commit of the generation (the current one for a live projector):
        the last state snapshot, then the events between it and the checkpoint applied again
        without committing anything. The fold and the alert judgement are deterministic, so this
        reproduces the committed state exactly; the notices it regenerates were committed already
        and are dropped (and carry the same ids, were any to get through)."""
        if self.owner is not None:
            self.generation = await current_generation(self.redis, self.keys, self.plan_id, create=True)
        rm = self.keys.rm(self.plan_id, self.generation)
        snapshot, book, checkpoint = await self.redis.hmget(rm, ["state", "alert_book", "checkpoint"])
        self.state = load_state(snapshot) if snapshot else PlanState(self.plan_id)
        self.book = load_book(book) if book else AlertBook()
        self._snapshot_applied = self.state.applied
        if checkpoint and position_key(checkpoint) > position_key(self.state.position):
            parked = {
                fields["position"]
                for _, fields in await self.redis.xrange(self.keys.rm_dead(self.plan_id, self.generation))
            }
            await self._apply_until(checkpoint, inclusive=True, skip=parked)
        self.notices = []
        self._builder = ReportBuilder()
        self._written.clear()
        self._committed_applied = self.state.applied

    # --- the loop ------------------------------------------------------------------------------

    async def step(self, block_ms: int | None = None, commit: bool = True, linger_ms: int = 0) -> int:
        """Read the next batch after the checkpoint, apply it, and (by default) commit.
        With `linger_ms`, a short batch waits that long for more before committing: under a
        steady trickle of single events one commit then covers many (the cost of a commit is
        mostly fixed). Returns how many stream entries were handled (applied or parked)."""
        stream = self.keys.events(self.plan_id)
        reply = await self.redis.xread({stream: self.state.position}, count=BATCH, block=block_ms)
        if not reply:
            return 0
        entries = reply[0][1]
        if linger_ms and len(entries) < BATCH:
            await asyncio.sleep(linger_ms / 1000)
            more = await self.redis.xread({stream: entries[-1][0]}, count=BATCH - len(entries))
            if more:
                entries = entries + more[0][1]
        for index, (position, fields) in enumerate(entries):
            try:
                self._apply(StoredEvent(position, decode_payload(fields["data"])))
            except Exception as exc:  # any failure of one event must not stall the plan
                return index + await self._failed(position, fields, exc)
        if commit:
            try:
                await self.commit()
            except (LeaseLost, GenerationChanged, RedisError):
                raise
            except Exception:  # the views could not be built: find the event that broke them
                return await self._isolate(entries)
        return len(entries)

    async def _isolate(self, entries: list[tuple[str, dict[str, str]]]) -> int:
        """Apply and commit a batch one event at a time, so an event that applies but leaves the
        state unrenderable is caught, retried and parked like any other failure."""
        await self.load()
        for index, (position, fields) in enumerate(entries):
            try:
                self._apply(StoredEvent(position, decode_payload(fields["data"])))
                await self.commit()
            except (LeaseLost, GenerationChanged, RedisError):
                raise
            except Exception as exc:
                return index + await self._failed(position, fields, exc)
        return len(entries)

    def _apply(self, stored: StoredEvent) -> None:
        """One event: time passes to its transaction time (alerts of the previous instant are
        judged, overdue deadlines checked), then the fold, then the alert book notes the change."""
        self.notices += alerts.judge(self.book, self.state, stored, self._memo)

    async def idle(self, now_ms: int) -> int:
        """Caught up with the log: judge the last instant and anything the clock brought (overdue
        data, projects that missed their start month), and bring the state snapshot up to date.
        Returns how many alert changes were committed."""
        self.notices += alerts.tick(self.book, self.state, now_ms, self._memo)
        changed = len(self.notices)
        if changed or self._snapshot_applied != self.state.applied:
            await self.commit(snapshot=True)
        return changed

    async def _failed(self, position: str, fields: dict[str, str], exc: Exception) -> int:
        """An event failed to apply: go back to the last commit (the failed apply may have half-
        changed the state), re-apply what came before it, then retry later or park it."""
        await self.load()
        await self._apply_until(position)
        attempts = await self.redis.hincrby(self.keys.rm_attempts(self.plan_id, self.generation), position, 1)
        error = "".join(traceback.format_exception_only(exc)).strip()
        if attempts >= self.max_attempts:
            log.error("plan %s: parking event %s after %d attempts: %s", self.plan_id, position, attempts, error)
            self.state.position = position
            await self.commit(
                [Parked(position, fields.get("type", "?"), error, fields.get("data", json.dumps(fields)))]
            )
            return 1
        log.warning("plan %s: event %s failed (attempt %d): %s", self.plan_id, position, attempts, error)
        await self.commit()
        await asyncio.sleep(self.retry_delay * 2 ** (attempts - 1))
        return 0

    async def _apply_until(self, position: str, inclusive: bool = False, skip: set[str] | None = None) -> None:
        """Apply the events after the state's position up to `position` (they applied fine before;
        parked positions in `skip` are passed over, as they were then)."""
        high = position if inclusive else f"({position}"
        while True:
            entries = await self.redis.xrange(
                self.keys.events(self.plan_id), min=f"({self.state.position}", max=high, count=BATCH
            )
            for pos, fields in entries:
                if skip and pos in skip:
                    self.state.position = pos
                    continue
                self._apply(StoredEvent(pos, decode_payload(fields["data"])))
            if len(entries) < BATCH:
                return

    # --- committing --------------------------------------------------------------------------

    async def commit(self, parked: Sequence[Parked] = (), snapshot: bool = False) -> None:
        """Write the checkpoint, the changed views and the new alert notices in one atomic, fenced
        call — and the state snapshot when asked, or every STATE_EVERY events (load() replays the
        rest), so a steady trickle of events does not re-serialise the whole state each time."""
        state = self.state
        fields: dict[str, str | bytes] = {}
        self._pending = {}
        if snapshot or parked or state.applied - self._snapshot_applied >= STATE_EVERY:
            state_json = dump_state(state)
            fields["state"] = state_json
            fields["alert_book"] = dump_book(self.book)
            self._snapshot_applied = state.applied
            if state.applied // SNAPSHOT_EVERY > self._committed_applied // SNAPSHOT_EVERY:
                fields[f"snapshot:{state.position}"] = state_json
        if self.notices or "alerts" not in self._written:
            fields["alerts"] = (
                "[" + ",".join(self._notice_json(a.notice) for a in self.book.active.values() if a.notice) + "]"
            )
            self._pending["alerts"] = True
        if state.plan is not None:
            report = self._builder.build(state)
            fields["summary"] = json.dumps(report_view(report), ensure_ascii=False)
            for row in report.rows():
                self._changed(
                    fields,
                    f"indicator:{row.indicator.id}",
                    row,
                    lambda r=row: indicator_detail_view(r, state.indicator(r.indicator.id)),
                )
            for project in report.portfolio.projects:
                self._changed(
                    fields,
                    f"project:{project.id}",
                    project,
                    lambda p=project: project_detail_view(p, state.projects[p.id]),
                )
        args: list[str | bytes | int] = [
            self.owner or "",
            self.generation,
            state.position,
            state.applied,
            self.keys.rm_updates(self.plan_id),
            len(fields),
        ]
        for name, value in fields.items():
            args += [name, value]
        args.append(len(parked))
        for item in parked:
            args += [item.position, item.type, item.error, item.data]
        args.append(len(self.notices))
        for notice in self.notices:
            args += [notice.fingerprint, notice.type, notice.model_dump_json(), notice.notice_id]
        reply = await self._commit_script(
            keys=[
                self.keys.lease(self.plan_id),
                self.keys.rm_current(self.plan_id),
                self.keys.rm(self.plan_id, self.generation),
                self.keys.rm_dead(self.plan_id, self.generation),
                self.keys.rm_attempts(self.plan_id, self.generation),
                self.keys.rm_alerts(self.plan_id, self.generation),
                self.keys.outbox(self.plan_id),
                self.keys.rm_notice_ids(self.plan_id, self.generation),
            ],
            args=args,
        )
        if reply == "lease-lost":
            raise LeaseLost(self.plan_id)
        if reply == "generation-changed":
            raise GenerationChanged(self.plan_id)
        if reply != "ok":
            raise RuntimeError(f"read model commit for {self.plan_id} refused: {reply}")
        self._committed_applied = state.applied
        self._written.update(self._pending)
        self.notices = []

    def _notice_json(self, notice: AlertNotice) -> str:
        # a firing alert's notice is listed at every commit until it changes: serialise it once
        cached = self._notice_cache.get(notice.fingerprint)
        if cached is None or cached[0] is not notice:
            cached = (notice, notice.model_dump_json())
            self._notice_cache[notice.fingerprint] = cached
        return cached[1]

    def _changed(self, fields: dict[str, str | bytes], name: str, view: object, render: Callable[[], dict]) -> None:
        # Rows and views are memoised by the builder: the same object means nothing changed.
        if self._written.get(name) is view:
            return
        fields[name] = json.dumps(render(), ensure_ascii=False)
        self._pending[name] = view


async def redis_now_ms(redis: Redis) -> int:
    """The clock the stream ids come from: alerts that time raises are judged by the same clock
    as the events, so an event appended after a tick never carries an earlier time."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


# --- generations, leases and reads ---------------------------------------------------------


async def current_generation(redis: Redis, keys: Keyspace, plan_id: str, create: bool = False) -> int:
    """The generation readers use; with `create`, the first one is made if there is none."""
    current = await redis.get(keys.rm_current(plan_id))
    if current is None and create:
        fresh = await redis.incr(keys.rm_generations(plan_id))
        await redis.set(keys.rm_current(plan_id), fresh, nx=True)
        current = await redis.get(keys.rm_current(plan_id))
    return int(current or 0)


async def read_fields(redis: Redis, keys: Keyspace, plan_id: str, *fields: str) -> list[str | None] | None:
    """Fields of the current read model; None if the plan has no read model. A rebuild may
    delete the old generation between our two reads, so a vanished hash is read again."""
    for _ in range(3):
        generation = await current_generation(redis, keys, plan_id)
        if not generation:
            return None
        values = await redis.hmget(keys.rm(plan_id, generation), ["checkpoint", *fields])
        if values[0] is not None:
            return values[1:]
    return None


async def read_field(redis: Redis, keys: Keyspace, plan_id: str, field: str) -> str | None:
    """One field of the current read model (None without one)."""
    [value] = await read_fields(redis, keys, plan_id, field) or [None]
    return value


async def alert_notices(redis: Redis, keys: Keyspace, plan_id: str, limit: int) -> list[dict]:
    """The current generation's latest `limit` alert notices, oldest first, as JSON objects."""
    generation = await current_generation(redis, keys, plan_id)
    if not generation:
        return []
    entries = await redis.xrevrange(keys.rm_alerts(plan_id, generation), count=limit)
    return [json.loads(fields["notice"]) for _, fields in reversed(entries)]


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


# --- rebuild -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RebuildResult:
    plan_id: str
    generation: int
    previous: int
    applied: int
    parked: int


async def rebuild(
    redis: Redis,
    keys: Keyspace,
    plan_id: str,
    progress: Callable[[int, int], Awaitable[None] | None] | None = None,
    commit_every: int = 20_000,
) -> RebuildResult:
    """Replay the whole log into a new generation while the live one keeps serving, switch
    readers to it once it has caught up, then delete the old generation."""
    generation = int(await redis.incr(keys.rm_generations(plan_id)))
    projector = Projector(redis, keys, plan_id, owner=None, generation=generation)
    await redis.unlink(keys.rm(plan_id, generation), keys.rm_dead(plan_id, generation))
    switch = redis.register_script(_SWITCH)
    total = await redis.xlen(keys.events(plan_id))
    done = since_commit = 0
    while True:
        handled = await projector.step(commit=False)
        done += handled
        since_commit += handled
        if progress:
            maybe = progress(done, max(total, done))
            if maybe is not None:
                await maybe
        if handled and since_commit < commit_every:
            continue
        await projector.commit()
        since_commit = 0
        if handled:
            continue
        await projector.idle(await redis_now_ms(redis))  # judge the last instant, as the live one did
        switched, previous = await switch(
            keys=[keys.rm_current(plan_id), keys.rm(plan_id, generation), keys.events(plan_id)], args=[generation]
        )
        if switched:
            break
        total = await redis.xlen(keys.events(plan_id))  # more arrived while we replayed: catch up
    previous_generation = int(previous) if previous else 0
    if previous_generation:
        await redis.unlink(
            keys.rm(plan_id, previous_generation),
            keys.rm_dead(plan_id, previous_generation),
            keys.rm_attempts(plan_id, previous_generation),
            keys.rm_alerts(plan_id, previous_generation),
            keys.rm_notice_ids(plan_id, previous_generation),
        )
    parked = await redis.xlen(keys.rm_dead(plan_id, generation))
    return RebuildResult(plan_id, generation, previous_generation, projector.state.applied, parked)


# --- status ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanStatus:
    plan_id: str
    log_length: int
    checkpoint: str | None
    applied: int
    parked: int
    lag: int  # events in the log not yet applied or parked
    generation: int
    owner: str | None


async def plan_status(redis: Redis, keys: Keyspace, plan_id: str) -> PlanStatus:
    async with redis.pipeline(transaction=False) as pipe:  # two round trips, not five
        pipe.get(keys.rm_current(plan_id))
        pipe.xlen(keys.events(plan_id))
        pipe.get(keys.lease(plan_id))
        current, length, owner = await pipe.execute()
    generation = int(current or 0)
    checkpoint, applied, parked = None, None, 0
    if generation:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.rm(plan_id, generation), ["checkpoint", "applied"])
            pipe.xlen(keys.rm_dead(plan_id, generation))
            (checkpoint, applied), parked = await pipe.execute()
    applied_count = int(applied or 0)
    return PlanStatus(
        plan_id=plan_id,
        log_length=length,
        checkpoint=checkpoint,
        applied=applied_count,
        parked=parked,
        lag=max(length - applied_count - parked, 0),
        generation=generation,
        owner=owner,
    )


# --- reading state for queries ----------------------------------------------------------------


async def state_as_known(redis: Redis, keys: Keyspace, plan_id: str, known_at: datetime | None = None) -> PlanState:
    """The fold of the log as known at `known_at` (now if None): from the read model's state (or
    its nearest periodic snapshot before `known_at`) plus the events recorded after it."""
    snapshot = None
    generation = await current_generation(redis, keys, plan_id)
    if generation:
        rm = keys.rm(plan_id, generation)
        if known_at is None:
            snapshot = await redis.hget(rm, "state")
        else:  # the live state may be past known_at: the latest periodic snapshot before it
            until = position_key(position_at(known_at))
            candidates = [
                name.split(":", 1)[1]
                for name in await redis.hkeys(rm)
                if name.startswith("snapshot:") and position_key(name.split(":", 1)[1]) <= until
            ]
            best = max(candidates, key=position_key, default=None)
            snapshot = await redis.hget(rm, f"snapshot:{best}") if best else None
    start = load_state(snapshot) if snapshot else None
    return await fold_log(EventStore(redis, keys), plan_id, known_at, start)
