"""The Redis runner of the fold: per-plan projections, kept current, crash-safe, rebuildable.

A plan's log has two projections, each with its own checkpoint, dead letters and rebuild:
the read model (`rm`: the fold's views, what the table and the API read) and the alerts
(`alerts`: the fold judged instant by instant, the alert book, its history and the outbox).
Separate, the read model is never held back or broken by alert judgement (the costlier part),
and a change to the alert rules is rebuilt without touching the read model. What each does with
the events is its strategy (strategy.py: read_model.py and alerts.py); the `Projector` here runs
either the same way.

A projection lives in generations (`pw:{plan}:rm:{n}`, a hash); `pw:{plan}:rm:current` names
the one readers use. A `Projector` reads the plan's stream after its checkpoint, applies
events through its strategy (the pure fold, and for the alerts the judgement), and commits in ONE
Lua call: what changed, the state snapshot and the new checkpoint — so after a crash it resumes
exactly at the last commit and nothing is lost or counted twice. The commit is fenced: a live
projector must still hold the plan's lease and its generation must still be current; a rebuild
may only write a generation that is not current yet, and switches it in when it has caught up
with the log.

An event that fails to apply is retried (`max_attempts`, counted in Redis so restarts count
too) and then parked in the generation's dead-letter stream with the error; the checkpoint
moves past it and later events — including later events of the same subject — are applied
(skip and continue: one bad report must not freeze a department's indicator for the rest of
the year). `planwatch status` counts parked events; a rebuild after a fix applies them again.
When the alerts' judgement of an instant fails (a bug in a rule, not a bad event), it is retried
the same way, blamed on the event whose arrival closed the instant; then that judgement is
skipped — its dead letter says so (type `judgement`) — and the event itself is applied.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import traceback
from bisect import bisect_left
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from redis.exceptions import RedisError

from events.codec import decode_stored
from events.positions import StoredEvent, position_after, position_instant, position_key
from projections.snapshot import dump_state, load_state
from projections.state import PlanState
from services.observability import metrics
from services.projection.generations import current_generation
from services.projection.kinds import READ_MODEL, Projection
from services.projection.replies import Entry, hash_values, read_after, read_range
from services.projection.strategy import JudgingFailed
from services.store import DamagedKey, EventStore, Keyspace, drop_damaged, entry_data, is_position

log = logging.getLogger("planwatch.projector")

BATCH = 1000
STATE_EVERY = 5_000  # write the state snapshot at least every N events (and when caught up: see idle)
# a caught-up projector writes its state at once, not `state_save_s` later, when this many events
# came since: whoever takes the plan over next (a worker joining, or one killed) would replay them,
# with the alerts judging each (~40 ms for 200 single reports; writing the state: ~2 ms)
SAVE_AFTER_EVENTS = 200
SNAPSHOT_EVERY = 2_500  # keep a periodic snapshot every N stream entries (PLANWATCH_SNAPSHOT_EVERY)
SNAPSHOT = "snapshot:"  # a periodic snapshot's hash field: `snapshot:{position}`

_COMMIT = """
-- KEYS: lease, current generation, the generation's hash, dead letters, attempts, alert history,
--       outbox, ids of the notices already written (a replay after a restart may produce one again)
-- ARGV: owner ('' for a rebuild of a new generation), generation, checkpoint, applied, channel,
--       n_fields, (field, value) * n_fields,
--       n_parked, (position, type, error, data, source) * n_parked,
--       n_notices, (fingerprint, type, notice json, notice id, notify '1' or '0') * n_notices
if ARGV[1] ~= '' then
  local holder = redis.call('GET', KEYS[1])
  if holder ~= ARGV[1] then return 'lease-lost:' .. (holder or '') end  -- '' : it expired
  if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 'generation-changed' end
elseif redis.call('GET', KEYS[2]) == ARGV[2] then
  return 'generation-live'
end
local function parts(p)
  local ms, seq = string.match(p, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local previous = redis.call('HGET', KEYS[3], 'checkpoint')
local pm, ps = nil, nil
if previous then pm, ps = parts(previous) end
if pm then  -- one that is not a position (written by hand) is written over, as load() passed it over
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
if n_parked > 0 and not tonumber(redis.call('HGET', KEYS[3], 'parked') or '0') then
  redis.call('HSET', KEYS[3], 'parked', 0)  -- a count that is not one: counted again from here
end
for j = i + 1, i + 5 * n_parked, 5 do
  redis.call('XADD', KEYS[4], '*', 'position', ARGV[j], 'type', ARGV[j + 1], 'error', ARGV[j + 2],
             'data', ARGV[j + 3], 'source', ARGV[j + 4])
  redis.call('HDEL', KEYS[5], ARGV[j])
  if ARGV[j + 1] ~= 'judgement' then redis.call('HINCRBY', KEYS[3], 'parked', 1) end  -- not applied
end
i = i + 1 + 5 * n_parked
local n_notices = tonumber(ARGV[i])
local told = false
for j = i + 1, i + 5 * n_notices, 5 do
  if redis.call('HSETNX', KEYS[8], ARGV[j + 3], 1) == 1 then
    local fields = {'fingerprint', ARGV[j], 'type', ARGV[j + 1], 'notice', ARGV[j + 2]}
    redis.call('XADD', KEYS[6], '*', unpack(fields))
    -- only the live projection notifies (a rebuild tells no one again), and not of a silenced,
    -- inhibited or acknowledged alert: those go to the history only
    if ARGV[1] ~= '' and ARGV[j + 4] == '1' then
      redis.call('XADD', KEYS[7], 'MAXLEN', '~', 100000, '*', unpack(fields))
      told = true
    end
  end
end
if told then redis.call('PUBLISH', KEYS[7] .. ':written', ARGV[3]) end  -- Keyspace.outbox_written.of(plan)
redis.call('PUBLISH', ARGV[5], ARGV[3])
return 'ok'
"""

JUDGEMENT = "judgement"  # the type of a dead letter that records a skipped judgement
FOLD = "fold"  # the source of a dead letter the fold parked (not readable, or not applicable)
RETRIES = "retries"  # … of one given up on after `max_attempts`


@dataclass(frozen=True)
class _ReadAhead:
    after: str  # the position the next step starts after
    held: list[Entry]  # entries after it read already (the rest of a page cut at a snapshot point)
    reading: asyncio.Task[list[Entry]]  # the read of the page after those


class LeaseLost(Exception):
    """Another worker holds the plan now; this projector must stop writing."""


def _save_stretch() -> float:
    return random.uniform(1.0, 1.5)


class GenerationChanged(Exception):
    """A rebuild switched readers to a new generation; reload from it."""


@dataclass(frozen=True)
class Parked:
    position: str
    type: str
    error: str
    data: str
    source: str = RETRIES  # FOLD: parked by the pure fold, as every reader parks it


class Projector:
    """Keeps one generation of one of a plan's projections up to date.

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
        projection: Projection = READ_MODEL,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
        snapshot_every: int | None = None,
        state_save_s: float = 0.0,
    ) -> None:
        """`state_save_s`: a caught-up projector writes its state at most this often (0: whenever
        it is caught up; each interval is drawn from 1–1.5 × it, so that many do not write at
        once). The state is the whole fold (~100 KB for the seed plan, ~1 ms to serialise);
        written after every event of a trickle, it was the largest cost of a worker following
        many plans. load() re-applies the events after it, so this bounds only the work of a
        restart."""
        if owner is None and generation is None:
            raise ValueError("a rebuild projector needs its generation")
        self.redis, self.keys, self.plan_id, self.owner = redis, keys, plan_id, owner
        self.projection = projection
        self.strategy = projection.strategy()
        self.generation = generation or 0
        self.max_attempts, self.retry_delay = max_attempts, retry_delay
        self.state = PlanState(plan_id)
        self._commit_script = redis.register_script(_COMMIT)
        self._snapshot_applied = 0  # events applied in the last state snapshot written
        self.state_save_s = state_save_s
        self._state_saved_at = time.monotonic()  # when the state was last written (or loaded)
        # each interval drawn from 1–1.5 × state_save_s: a worker's projectors, caught up together,
        # would otherwise all write their states in the same second, every `state_save_s`
        self._save_stretch = _save_stretch()
        self._parked_listed = 0  # entries the fold parked, as far as written to the dead letters
        self._batch: Sequence[Entry] = ()  # the entries being applied (the fields of one the fold parks)
        # a rebuild's next page, asked for before the page before it is applied: Redis serves it
        # while this process folds
        self._ahead: _ReadAhead | None = None
        # periodic snapshots (a strategy that keeps them): every `snapshot_every` stream entries and
        # at each month's end in the plan's zone; taken when the fold reaches one, written at the
        # next commit
        self.snapshot_every = snapshot_every or SNAPSHOT_EVERY
        self._snapshots: dict[str, tuple[int, bytes]] = {}  # position → (events applied, state), not committed yet
        self._snapshotted = ""  # position of the last periodic snapshot taken
        self._month_memo: tuple[str, int] = ("", 0)  # (zone, ms) memo of the next month's start

    # --- loading ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Resume from the last commit of the generation (the current one for a live projector):
        the last state snapshot, then the events between it and the checkpoint applied again
        without committing anything. The fold and the alert judgement are deterministic, so this
        reproduces the committed state exactly; the notices it regenerates were committed already
        and are dropped (and carry the same ids, were any to get through)."""
        try:
            await self._load()
        except DamagedKey as damage:  # one of its own keys: dropped (the generation is replayed from the log)
            await self._repaired(damage)
            await self._load()

    async def _load(self) -> None:
        if self.owner is not None:
            self.generation = await current_generation(
                self.redis, self.keys, self.plan_id, create=True, projection=self.projection
            )
        state, checkpoint, *saved = await hash_values(
            self.redis, self._hash, ["state", "checkpoint", *self.strategy.saved_fields]
        )
        end = await EventStore(self.redis, self.keys).head(self.plan_id)  # a damaged commit may be past it
        # one that could not be read is written again at the next commit
        self._snapshot_applied = self.state.applied if self._restore(state, saved, end) else -STATE_EVERY
        if checkpoint and (unread := _unusable(checkpoint, end)):
            # how far the commits got is unknown: from the state on, every event is applied and
            # judged again; the alert changes it finds again carry the ids they were committed with.
            # Dropped, or the commit script would refuse every commit as behind it.
            log.warning("plan %s %s: the checkpoint %.40r %s", self.plan_id, self.projection.label, checkpoint, unread)
            await self.redis.hdel(self._hash, "checkpoint")
            checkpoint = None
        if checkpoint and position_key(checkpoint) > position_key(self.state.position):
            await self._reapply_until(checkpoint)
        self._parked_listed = len(self.state.parked)  # the fold parks them again: listed already
        self.strategy.resume(self.state)

    def _restore(self, state: str | None, saved: Sequence[str | None], end: str | None) -> bool:
        """The state and what the strategy saved with it; if they cannot be read (damaged, or not
        this plan's), a fresh start (returns False): load() then replays the log up to the
        checkpoint, which gives the same state and alert book (the fold and the judgement are
        deterministic)."""
        try:
            self.state = load_state(state) if state else PlanState(self.plan_id)
            if self.state.plan_id != self.plan_id:
                raise ValueError(f"the state is plan {self.state.plan_id!r}'s")
            if self.state.position and _past(self.state.position, end):
                raise ValueError(f"the state is at {self.state.position}, past the log's end ({end or 'no events'})")
            self.strategy.restore(saved)
        except Exception as exc:
            log.warning(
                "plan %s %s: the saved state cannot be read, replaying the log up to the checkpoint: %.200s",
                self.plan_id,
                self.projection.label,
                exc,
            )
            self.state = PlanState(self.plan_id)
            self.strategy.restore([None] * len(saved))
            return False
        return True

    async def _reapply_until(self, checkpoint: str) -> None:
        """Apply the events up to the checkpoint as they were applied before: the parked ones
        passed over, the judgements skipped before skipped again."""
        dead = [fields for _, fields in await read_range(self.redis, self._dead)]
        # the fold parks its own again, as it did the first time; those given up on are passed over
        # read with .get: a dead letter written by hand without a field must not stop the plan
        parked = {
            f.get("position", "") for f in dead if f.get("type") != JUDGEMENT and f.get("source", RETRIES) != FOLD
        }
        unjudged = {fields.get("position", "") for fields in dead if fields.get("type") == JUDGEMENT}
        await self._apply_until(checkpoint, inclusive=True, skip=parked, unjudged=unjudged)

    async def _apply_until(
        self,
        position: str,
        inclusive: bool = False,
        skip: AbstractSet[str] = frozenset(),
        unjudged: AbstractSet[str] = frozenset(),
    ) -> None:
        """Apply the events after the state's position up to `position` (they applied fine before;
        parked positions in `skip` are passed over, and the judgements skipped before the events
        in `unjudged` are skipped again, as they were then)."""
        high = position if inclusive else f"({position}"
        while True:
            entries = await read_range(
                self.redis, self.keys.events(self.plan_id), f"({self.state.position}", high, BATCH
            )
            for pos, fields in entries:
                if pos in unjudged:
                    self.strategy.skip_judgement(pos)
                if pos in skip:
                    self.state.position = pos
                    continue
                self.strategy.apply(self.state, StoredEvent(pos, decode_stored(entry_data(fields))))
            if len(entries) < BATCH:
                return

    async def _reload_before(self, position: str) -> None:
        """Back to the last commit (a failed apply may have half-changed the state), then on to
        just before `position`."""
        await self.load()
        await self._apply_until(position)

    # --- the loop ------------------------------------------------------------------------------

    async def step(self, block_ms: int | None = None, commit: bool = True) -> int:
        """Read the next batch after the checkpoint, apply it, and (by default) commit. (A worker
        lingers a moment before reading when woken, so a steady trickle of single events is
        committed a few at a time: the cost of a commit is mostly fixed.) Returns how many
        stream entries were handled (applied or parked)."""
        read = entries = await self._read(block_ms)
        if not entries:
            return 0
        boundary = False
        if self.strategy.keeps_snapshots:
            entries, boundary = self._up_to_boundary(entries)
        if not commit:  # a rebuild reads on while it folds (a live projector keeps to its one connection)
            await self._read_ahead(entries[-1][0], held=read[len(entries) :])
        self._batch = entries
        try:
            self.strategy.apply_batch(self.state, entries)
            if boundary or self._entries_seen() % self.snapshot_every == 0:
                self._take_snapshot()
        except Exception as exc:  # any failure of one event must not stall the plan
            # the failed event is the first one after the state's position (apply sets it last)
            after = (i for i, (p, _) in enumerate(entries) if position_after(p, self.state.position))
            index = next(after, len(entries) - 1)
            position, fields = entries[index]
            return index + await self._failed(position, fields, exc)
        if commit:
            try:
                await self.commit()
            except (LeaseLost, GenerationChanged, RedisError):
                raise
            except Exception:  # the views could not be built: find the event that broke them
                return await self._isolate(entries)
        return len(entries)

    async def _read(self, block_ms: int | None) -> list[Entry]:
        """The entries after the state's position: those read ahead if they start there, else
        read now (read ahead after another position — the fold stopped elsewhere — is dropped)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.after == self.state.position:
            if ahead.held:  # the rest of a page cut at a snapshot point; the read after it goes on
                self._ahead = _ReadAhead(ahead.held[-1][0], [], ahead.reading)
                return ahead.held
            try:
                return await ahead.reading
            except RedisError:
                pass  # read again below: a failure then is the step's
        return await read_after(self.redis, self.keys.events(self.plan_id), self.state.position, BATCH, block_ms)

    async def _read_ahead(self, after: str, held: list[Entry]) -> None:
        """Read on after `after`, or after `held` — entries read already, past a snapshot point —
        which the next step takes first."""
        start = held[-1][0] if held else after
        pending = self._ahead
        if pending is not None and not pending.held and pending.after == start:
            self._ahead = _ReadAhead(after, held, pending.reading)  # read there already (after held ones)
            return
        reading = asyncio.create_task(read_after(self.redis, self.keys.events(self.plan_id), start, BATCH))
        # a rebuild that stops on an error leaves its last read unawaited: its failure is not news
        reading.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._ahead = _ReadAhead(after, held, reading)
        await asyncio.sleep(0)  # the read's command goes out before this process folds

    # --- periodic snapshots ----------------------------------------------------------------------

    def _entries_seen(self) -> int:
        """Stream entries the fold has taken: applied, or parked by the fold."""
        return self.state.applied + len(self.state.parked)

    def _up_to_boundary(self, entries: list[Entry]) -> tuple[list[Entry], bool]:
        """The entries up to the next snapshot point — the next multiple of `snapshot_every`
        entries, or the last entry recorded before a month ends in the plan's zone — and whether
        the fold reaches a month's end with them. A state whose month is over when the first
        entry comes is that month's end: its snapshot is taken before the entries are applied."""
        entries = entries[: self.snapshot_every - self._entries_seen() % self.snapshot_every]
        if self.state.plan is None:  # the zone months end in comes with the plan: one entry at a time
            return entries[:1], False
        month_start = self._next_month_start(self.state.position)
        if month_start is None:
            return entries, False
        if position_instant(entries[0][0]) >= month_start:  # the state is its month's end
            self._take_snapshot()
            month_start = self._next_month_start(entries[0][0])
            assert month_start is not None
        cut = bisect_left(entries, month_start, key=lambda entry: position_instant(entry[0]))
        return entries[:cut], cut < len(entries)

    def _next_month_start(self, position: str) -> int | None:
        """The first millisecond of the month after that of `position`, in the plan's zone (None
        before the plan is published, or at the log's start)."""
        plan = self.state.plan
        if plan is None or position in ("", "0-0"):
            return None
        ms = position_instant(position)
        zone, start = self._month_memo
        if zone == plan.timezone and ms < start and start - ms < 28 * 86_400_000:
            return start
        local = datetime.fromtimestamp(ms / 1000, ZoneInfo(plan.timezone))
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        start = int(datetime(year, month, 1, tzinfo=local.tzinfo).timestamp() * 1000)
        self._month_memo = (plan.timezone, start)
        return start

    def _take_snapshot(self) -> None:
        """Keep a copy of the state as it is now, for the next commit to write."""
        position = self.state.position
        if position != self._snapshotted and position not in ("", "0-0"):
            self._snapshots[position] = (self.state.applied, dump_state(self.state))
            self._snapshotted = position

    async def _isolate(self, entries: list[Entry]) -> int:
        """Apply and commit a batch one event at a time, so an event that applies but leaves the
        state unrenderable is caught, retried and parked like any other failure."""
        await self.load()
        for index, (position, fields) in enumerate(entries):
            try:
                self.strategy.apply(self.state, StoredEvent(position, decode_stored(entry_data(fields))))
                await self.commit()
            except (LeaseLost, GenerationChanged, RedisError):
                raise
            except Exception as exc:
                return index + await self._failed(position, fields, exc)
        return len(entries)

    def _state_save_in_s(self) -> float:
        if self.state.applied - self._snapshot_applied >= SAVE_AFTER_EVENTS:
            return 0.0
        return self.state_save_s * self._save_stretch - (time.monotonic() - self._state_saved_at)

    def idle_in_s(self, now_ms: int) -> float | None:
        """Seconds from `now_ms` (Redis' clock) until `idle` has something to do: the strategy's
        judgement the clock brings, or the state to write; None: nothing until the next event."""
        waits = []
        due = self.strategy.due_ms(self.state)
        if due is not None:
            waits.append((due - now_ms) / 1000)
        if self.state.applied != self._snapshot_applied:
            waits.append(self._state_save_in_s())
        return max(min(waits), 0.0) if waits else None

    async def idle(self, now_ms: int) -> int:
        """Caught up with the log: the alerts judge the last instant and anything the clock
        brought (overdue data, projects that missed their start month), committed if it changed
        an alert; both write the state snapshot if events came since the last one and
        `state_save_s` has passed, or if SAVE_AFTER_EVENTS came (a replay of the log reproduces
        the same alert changes with the same ids, so a restart from an older state tells no one
        twice). Returns how many alert changes were committed."""
        try:
            self.strategy.idle(self.state, now_ms)
        except JudgingFailed:  # a rule's bug: the next event retries it, then skips that judgement
            await self.load()  # the failed judgement may have half-changed the alert book
            return 0
        changed = len(self.strategy.notices)
        unsaved = self.state.applied != self._snapshot_applied
        due = unsaved and self._state_save_in_s() <= 0
        if changed or due:
            await self.commit(snapshot=due)
        return changed

    # --- failures --------------------------------------------------------------------------

    async def _failed(self, position: str, fields: dict[str, str], exc: Exception) -> int:
        """An event failed to apply: go back to just before it, then retry it later (returns 0)
        or, after `max_attempts`, skip the judgement that failed or park the event (returns 1)."""
        await self._reload_before(position)
        attempts = await self.redis.hincrby(self._attempts, position, 1)
        error = _described(exc)
        if attempts < self.max_attempts:
            log.warning("plan %s: event %s failed (attempt %d): %s", self.plan_id, position, attempts, error)
            await self.commit()
            await asyncio.sleep(self.retry_delay * 2 ** (attempts - 1))
            return 0
        data = fields.get("data", json.dumps(fields))
        if isinstance(exc, JudgingFailed):
            log.error("plan %s: skipping a judgement after %d attempts: %s", self.plan_id, attempts, error)
            await self._skip_judgement(Parked(position, JUDGEMENT, error, data), fields, attempts)
        else:
            await self._park(Parked(position, fields.get("type", "?"), error, data), attempts)
        return 1

    async def _skip_judgement(self, skipped: Parked, fields: dict[str, str], attempts: int) -> None:
        """Skip the judgement that failed, not the event: apply it unjudged (or park it too if
        it cannot be applied either)."""
        position = skipped.position
        self.strategy.skip_judgement(position)
        try:
            self.strategy.apply(self.state, StoredEvent(position, decode_stored(skipped.data)))
        except Exception as again:
            await self._reload_before(position)
            self.strategy.skip_judgement(position)
            event = Parked(position, fields.get("type", "?"), _described(again), skipped.data)
            await self._park(event, attempts, skipped)
        else:
            await self.commit([skipped])

    async def _park(self, event: Parked, attempts: int, skipped: Parked | None = None) -> None:
        """Move past an event that cannot be applied, into the dead letters (after the judgement
        `skipped` before it, if any)."""
        log.error(
            "plan %s: parking event %s after %d attempts: %s", self.plan_id, event.position, attempts, event.error
        )
        self.state.position = event.position
        await self.commit([skipped, event] if skipped else [event])
        metrics.EVENTS_PARKED.labels(self.plan_id, self.projection.name).inc()

    # --- committing --------------------------------------------------------------------------

    async def commit(self, parked: Sequence[Parked] = (), snapshot: bool = False, views: bool = True) -> None:
        """Write the checkpoint, what the strategy changed (the views, or the alerts and their
        notices) and the dead letters in one atomic, fenced call — and the state snapshot when
        asked, or every STATE_EVERY events (load() replays the rest), so a steady trickle of
        events does not re-serialise the whole state each time. `views=False` leaves the views
        for a later commit: a rebuild renders them once, at the end (nobody reads its generation
        before then)."""
        state = self.state
        parked = [*parked, *self._newly_parked()]
        state_json = None
        if snapshot or parked or state.applied - self._snapshot_applied >= STATE_EVERY:
            state_json = dump_state(state)
        fields: dict[str, str | bytes] = {} if state_json is None else {"state": state_json}
        fields.update(self.strategy.fields(state, state_json, views))
        snapshots, saved_applied = self._snapshots, state.applied if state_json is not None else self._snapshot_applied
        for position, (applied, data) in snapshots.items():
            fields[SNAPSHOT + position] = data
            if applied > saved_applied:  # the latest periodic snapshot serves as the state too
                fields["state"], saved_applied = data, applied
        try:
            reply = await self._commit_script(keys=self._commit_keys(), args=self._commit_args(fields, parked))
        except DamagedKey as damage:
            raise await self._repaired(damage) from damage
        if reply != "ok":
            raise self._refused(reply)
        snapshots.clear()
        if saved_applied != self._snapshot_applied or state_json is not None:
            self._state_saved_at, self._save_stretch = time.monotonic(), _save_stretch()
        self._snapshot_applied = saved_applied
        self._parked_listed = len(state.parked)
        self.strategy.committed(state)

    async def _repaired(self, damage: DamagedKey) -> Exception:
        """One of the projection's keys holds another Redis type (written by hand, or damaged): it
        is dropped, with a warning — the lease is then free to take again (LeaseLost), the
        generation's own keys are replayed from the log by the next load (GenerationChanged).
        Raises `damage` for a key that is not the projection's (the log: read as empty, not dropped)."""
        lease = self.keys.lease(self.plan_id, self.projection.name)
        owned = {*self._commit_keys(), self.keys.projection_generations(self.plan_id, self.projection.name)}
        if damage.key not in owned:
            raise damage
        await drop_damaged(self.redis, damage, f"{self.projection.label} of {self.plan_id}, rebuilt")
        if damage.key == lease:
            return LeaseLost(f"{self.plan_id} {self.projection.name}: the lease key was damaged (dropped)")
        return GenerationChanged(self.plan_id)

    def _newly_parked(self) -> list[Parked]:
        """The entries the fold parked since the last commit, as dead letters with their data."""
        parked, batch = [], dict(self._batch) if len(self.state.parked) > self._parked_listed else {}
        for entry in self.state.parked[self._parked_listed :]:
            fields = batch.get(entry.position, {})  # the entry's `type` field names it even when its data cannot
            event_type = entry.event_type if entry.event_type != "?" else fields.get("type", "?")
            parked.append(Parked(entry.position, event_type, entry.reason, fields.get("data", ""), FOLD))
        return parked

    def _refused(self, reply: str) -> Exception:
        """The commit script's refusal as an exception: the lease or the generation moved on
        (the caller stops or reloads), or anything else (a bug)."""
        reason, _, holder = reply.partition(":")
        if reason == "lease-lost":  # the message tells a stalled worker from a taken-over plan
            taken = f"held by {holder}" if holder else "expired"
            return LeaseLost(f"{self.plan_id} {self.projection.name}: the lease of {self.owner} {taken}")
        if reply == "generation-changed":
            return GenerationChanged(self.plan_id)
        return RuntimeError(f"{self.projection.label} commit for {self.plan_id} refused: {reply}")

    def _commit_keys(self) -> list[str]:
        return [
            self.keys.lease(self.plan_id, self.projection.name),
            self.keys.projection_current(self.plan_id, self.projection.name),
            self._hash,
            self._dead,
            self._attempts,
            self.keys.alert_history(self.plan_id, self.generation),
            self.keys.outbox(self.plan_id),
            self.keys.alert_notice_ids(self.plan_id, self.generation),
        ]

    def _commit_args(self, fields: dict[str, str | bytes], parked: Sequence[Parked]) -> list[str | bytes | int]:
        """The ARGV of the commit script (its header describes them)."""
        state = self.state
        args: list[str | bytes | int] = [
            self.owner or "",
            self.generation,
            state.position,
            state.applied,
            self.keys.updates(self.plan_id, self.projection.name),
            len(fields),
        ]
        for name, value in fields.items():
            args += [name, value]
        args.append(len(parked))
        for item in parked:
            args += [item.position, item.type, item.error, item.data, item.source]
        notices = self.strategy.notices
        args.append(len(notices))
        for notice in notices:
            args += [notice.fingerprint, notice.type, notice.model_dump_json(), notice.notice_id, int(notice.notifies)]
        return args

    @property
    def _hash(self) -> str:
        """The generation's hash: checkpoint, state, views or alerts."""
        return self.keys.generation(self.plan_id, self.generation, self.projection.name)

    @property
    def _dead(self) -> str:
        return self.keys.dead_letters(self.plan_id, self.generation, self.projection.name)

    @property
    def _attempts(self) -> str:
        return self.keys.attempts(self.plan_id, self.generation, self.projection.name)


def _described(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(exc)).strip()


def _past(position: str, end: str | None) -> bool:
    """Whether `position` is past the log's last event `end` (None: the log has none)."""
    return end is None or position_key(position) > position_key(end)


def _unusable(checkpoint: str, end: str | None) -> str | None:
    """Why a stored checkpoint cannot be resumed from (written by hand, or the log restored from an
    older backup), or None."""
    if not is_position(checkpoint):
        return "is not a position"
    if _past(checkpoint, end):
        return f"is past the log's end ({end or 'no events'}): replaying"
    return None
