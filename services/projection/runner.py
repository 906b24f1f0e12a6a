"""The Redis runner of the fold: per-plan projections, kept current, crash-safe, rebuildable.

A plan's log has two projections, each with its own checkpoint, dead letters and rebuild:
the read model (`rm`: the fold's views, what the table and the API read) and the alerts
(`alerts`: the fold judged instant by instant, the alert book, its history and the outbox).
Separate, the read model is never held back or broken by alert judgement (the costlier part),
and a change to the alert rules is rebuilt without touching the read model.

A projection lives in generations (`pw:{plan}:rm:{n}`, a hash); `pw:{plan}:rm:current` names
the one readers use. A `Projector` reads the plan's stream after its checkpoint, applies
events with the pure fold (and, for the alerts, the judgement), and commits in ONE Lua call:
what changed, the state snapshot and the new checkpoint — so after a crash it resumes exactly
at the last commit and nothing is lost or counted twice. The commit is fenced: a live projector
must still hold the plan's lease and its generation must still be current; a rebuild may only
write a generation that is not current yet, and switches it in when it has caught up with the log.

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
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from events.alerts import AlertNotice
from events.codec import decode_payload
from events.positions import StoredEvent, position_after, position_key
from projections import alerts
from projections.alerts import AlertBook, Memo
from projections.report import ReportBuilder
from projections.snapshot import dump_book, dump_state, load_book, load_state
from projections.state import PlanState, apply, fold
from projections.views import indicator_detail_view, project_detail_view, report_view
from services.projection.generations import current_generation
from services.projection.kinds import READ_MODEL, Projection
from services.store import Keyspace

log = logging.getLogger("planwatch.projector")

BATCH = 1000
STATE_EVERY = 5_000  # write the state snapshot at least every N events (and whenever caught up)
SNAPSHOT_EVERY = 10_000  # also keep the state every N events, for fast "as known at" queries

_COMMIT = """
-- KEYS: lease, current generation, the generation's hash, dead letters, attempts, alert history,
--       outbox, ids of the notices already written (a replay after a restart may produce one again)
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
  if ARGV[j + 1] ~= 'judgement' then redis.call('HINCRBY', KEYS[3], 'parked', 1) end  -- not applied
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

JUDGEMENT = "judgement"  # the type of a dead letter that records a skipped judgement


class JudgingFailed(Exception):
    """The alerts' judgement of the instant an event closed failed (the event is not to blame)."""


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
    ) -> None:
        if owner is None and generation is None:
            raise ValueError("a rebuild projector needs its generation")
        self.redis, self.keys, self.plan_id, self.owner = redis, keys, plan_id, owner
        self.projection = projection
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
        self._idle_failure = -1  # the open instant whose judgement last failed when idle

    # --- loading ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Resume from the last commit of the generation (the current one for a live projector):
        the last state snapshot, then the events between it and the checkpoint applied again
        without committing anything. The fold and the alert judgement are deterministic, so this
        reproduces the committed state exactly; the notices it regenerates were committed already
        and are dropped (and carry the same ids, were any to get through)."""
        if self.owner is not None:
            self.generation = await current_generation(
                self.redis, self.keys, self.plan_id, create=True, projection=self.projection
            )
        snapshot, book, checkpoint = await self.redis.hmget(self._hash, ["state", "alert_book", "checkpoint"])
        self.state = load_state(snapshot) if snapshot else PlanState(self.plan_id)
        self.book = load_book(book) if book else AlertBook()
        self._snapshot_applied = self.state.applied
        if checkpoint and position_key(checkpoint) > position_key(self.state.position):
            dead = [fields for _, fields in await self.redis.xrange(self._dead)]
            parked = {fields["position"] for fields in dead if fields["type"] != JUDGEMENT}
            unjudged = {fields["position"] for fields in dead if fields["type"] == JUDGEMENT}
            await self._apply_until(checkpoint, inclusive=True, skip=parked, unjudged=unjudged)
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
        try:
            self._apply_entries(entries)
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

    def _apply_entries(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        """Stream entries, in order (a replay's hot loop: one event per iteration, nothing else)."""
        if self.projection.judges:
            for position, fields in entries:
                self._apply(StoredEvent(position, decode_payload(fields["data"])))
        else:
            fold(((position, decode_payload(fields["data"])) for position, fields in entries), self.state)

    def _apply(self, stored: StoredEvent) -> None:
        """One event. The read model folds it. The alerts let time pass to its transaction time
        (alerts of the previous instant are judged, overdue deadlines checked), fold it, and the
        alert book notes the change."""
        if not self.projection.judges:
            apply(self.state, stored)
            return
        instant = alerts.instant_of(stored.position)
        if instant > self.book.clock_ms:
            try:
                self.notices += alerts.tick(self.book, self.state, instant, self._memo)
            except Exception as exc:
                raise JudgingFailed(f"judging the instant before {stored.position}: {exc!r}") from exc
        self.notices += alerts.judge(self.book, self.state, stored, self._memo)

    async def idle(self, now_ms: int) -> int:
        """Caught up with the log: the alerts judge the last instant and anything the clock
        brought (overdue data, projects that missed their start month); both bring the state
        snapshot up to date. Returns how many alert changes were committed."""
        if self.projection.judges:
            try:
                self.notices += alerts.tick(self.book, self.state, now_ms, self._memo)
            except Exception:  # a rule's bug: the next event retries it, then skips that judgement
                if self._idle_failure != self.book.pending_ms:
                    log.exception("plan %s: judging the last instant failed", self.plan_id)
                await self.load()  # the failed judgement may have half-changed the book
                self._idle_failure = self.book.pending_ms
                return 0
        changed = len(self.notices)
        if changed or self._snapshot_applied != self.state.applied:
            await self.commit(snapshot=True)
        return changed

    async def _failed(self, position: str, fields: dict[str, str], exc: Exception) -> int:
        """An event failed to apply: go back to the last commit (the failed apply may have half-
        changed the state), re-apply what came before it, then retry later or park it."""
        await self.load()
        await self._apply_until(position)
        attempts = await self.redis.hincrby(self._attempts, position, 1)
        error = "".join(traceback.format_exception_only(exc)).strip()
        if attempts >= self.max_attempts:
            data = fields.get("data", json.dumps(fields))
            parked = []
            if isinstance(exc, JudgingFailed):  # skip the judgement, not the event
                log.error("plan %s: skipping a judgement after %d attempts: %s", self.plan_id, attempts, error)
                parked.append(Parked(position, JUDGEMENT, error, data))
                alerts.skip(self.book, alerts.instant_of(position))
                try:
                    self._apply(StoredEvent(position, decode_payload(data)))
                except Exception as again:  # the event cannot be applied either: park it too
                    error = "".join(traceback.format_exception_only(again)).strip()
                    await self.load()
                    await self._apply_until(position)
                    alerts.skip(self.book, alerts.instant_of(position))
                else:
                    await self.commit(parked)
                    return 1
            log.error("plan %s: parking event %s after %d attempts: %s", self.plan_id, position, attempts, error)
            parked.append(Parked(position, fields.get("type", "?"), error, data))
            self.state.position = position
            await self.commit(parked)
            return 1
        log.warning("plan %s: event %s failed (attempt %d): %s", self.plan_id, position, attempts, error)
        await self.commit()
        await asyncio.sleep(self.retry_delay * 2 ** (attempts - 1))
        return 0

    async def _apply_until(
        self, position: str, inclusive: bool = False, skip: set[str] = frozenset(), unjudged: set[str] = frozenset()
    ) -> None:
        """Apply the events after the state's position up to `position` (they applied fine before;
        parked positions in `skip` are passed over, and the judgements skipped before the events
        in `unjudged` are skipped again, as they were then)."""
        high = position if inclusive else f"({position}"
        while True:
            entries = await self.redis.xrange(
                self.keys.events(self.plan_id), min=f"({self.state.position}", max=high, count=BATCH
            )
            for pos, fields in entries:
                if pos in unjudged:
                    alerts.skip(self.book, alerts.instant_of(pos))
                if pos in skip:
                    self.state.position = pos
                    continue
                self._apply(StoredEvent(pos, decode_payload(fields["data"])))
            if len(entries) < BATCH:
                return

    # --- committing --------------------------------------------------------------------------

    async def commit(self, parked: Sequence[Parked] = (), snapshot: bool = False, views: bool = True) -> None:
        """Write the checkpoint, the changed views and the new alert notices in one atomic, fenced
        call — and the state snapshot when asked, or every STATE_EVERY events (load() replays the
        rest), so a steady trickle of events does not re-serialise the whole state each time.
        `views=False` leaves the views for a later commit: a rebuild renders them once, at the end
        (nobody reads its generation before then)."""
        state = self.state
        fields: dict[str, str | bytes] = {}
        self._pending = {}
        judges = self.projection.judges
        if snapshot or parked or state.applied - self._snapshot_applied >= STATE_EVERY:
            state_json = dump_state(state)
            fields["state"] = state_json
            self._snapshot_applied = state.applied
            if judges:
                fields["alert_book"] = dump_book(self.book)
            elif state.applied // SNAPSHOT_EVERY > self._committed_applied // SNAPSHOT_EVERY:
                fields[f"snapshot:{state.position}"] = state_json  # for "as known at" queries
        if judges and (self.notices or "alerts" not in self._written):
            fields["alerts"] = (
                "[" + ",".join(self._notice_json(a.notice) for a in self.book.active.values() if a.notice) + "]"
            )
            self._pending["alerts"] = True
        if views and not judges and state.plan is not None:
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
            self.keys.updates(self.plan_id, self.projection.name),
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
                self.keys.projection_current(self.plan_id, self.projection.name),
                self._hash,
                self._dead,
                self._attempts,
                self.keys.alert_history(self.plan_id, self.generation),
                self.keys.outbox(self.plan_id),
                self.keys.alert_notice_ids(self.plan_id, self.generation),
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
