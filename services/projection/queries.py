"""Folding a plan's log from Redis: the on-demand way to answer any as-of / known-at question.

A reader starts from a snapshot and folds only the entries after it: an "as known at" query from
the read model's latest periodic snapshot at or before that instant (one every `snapshot_every`
entries and one at each month's end, so it folds at most one interval), a question about now from
the read model's state; a rollup from the alerts' state and alert book, taking the alert history
the projection wrote for what came before. A snapshot that cannot be read (an older or damaged
one) is passed over: the reader takes the one before it, or folds the whole log. How many
entries each reader folded is counted (`planwatch_events_folded`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from events.alerts import AlertNotice
from events.positions import position_at, position_key
from projections.alerts import AlertBook, Memo, judge_run, runs, settle, tick
from projections.snapshot import load_book, load_state
from projections.state import PlanState, fold
from services.observability import metrics
from services.projection.generations import current_generation, history_notices
from services.projection.kinds import ALERTS
from services.projection.read_model import snapshot_fields
from services.projection.replies import hash_names, hash_value, hash_values, read_range
from services.store import EventStore, Keyspace, redis_now_ms

log = logging.getLogger("planwatch.queries")

QUERY, ROLLUP = "query", "rollup"  # the readers counted in planwatch_events_folded
CLOCK_SKEW = timedelta(seconds=1)  # history entries are read from this long before a rollup's `since`


async def fold_log(
    store: EventStore,
    plan_id: str,
    known_at: datetime | None = None,
    start: PlanState | None = None,
    reader: str | None = None,
) -> PlanState:
    """The plan's state from every event recorded by `known_at` (all of them if None); from a
    `start` state (a snapshot, folded in place) only the events after its position. With a
    `reader`, the entries folded are counted under its name."""
    state = start or PlanState(plan_id)
    until = position_at(known_at) if known_at else None
    folded = 0
    async for page in store.replay_pages(plan_id, after=state.position, until=until):
        fold(page, state)
        folded += len(page)
    if reader:
        metrics.EVENTS_FOLDED.labels(reader, plan_id).inc(folded)
    return state


async def judge_log(store: EventStore, plan_id: str, known_at: datetime) -> tuple[PlanState, list[AlertNotice]]:
    """The plan's state as known at `known_at`, and every alert change the log had given rise to
    by then: judged event by event as the projector judges them, and the clock's deadlines up
    to `known_at`. Needs no worker, so it never lags (a rollup starts from a snapshot: judge_now)."""
    state, notices = PlanState(plan_id), list[AlertNotice]()
    await _judge_after(store, state, AlertBook(), Memo(), notices, known_at)
    return state, notices


async def _judge_after(
    store: EventStore, state: PlanState, book: AlertBook, memo: Memo, notices: list[AlertNotice], known_at: datetime
) -> int:
    """Judge the events after the state's position recorded by `known_at`, then the last instant
    and the clock's deadlines up to `known_at`; returns how many entries were folded."""
    folded = 0
    async for page in store.replay_pages(state.plan_id, after=state.position, until=position_at(known_at)):
        for run in runs(page):
            notices += judge_run(book, state, run, memo)
        folded += len(page)
    # Every event recorded by `known_at` is in, so the last instant is complete even when it is
    # the very millisecond of `known_at` (which `tick` would leave open): judge it.
    notices += settle(book, state, memo)
    notices += tick(book, state, int(known_at.timestamp() * 1000), memo)
    return folded


async def state_as_known(redis: Redis, keys: Keyspace, plan_id: str, known_at: datetime | None = None) -> PlanState:
    """The fold of the log as known at `known_at` (now if None): from the read model's state (or
    its latest periodic snapshot at or before `known_at`) plus the events recorded after it."""
    start = await _read_model_start(redis, keys, plan_id, known_at)
    return await fold_log(EventStore(redis, keys), plan_id, known_at, start, QUERY)


async def _read_model_start(redis: Redis, keys: Keyspace, plan_id: str, known_at: datetime | None) -> PlanState | None:
    """The read model's snapshot a query starts from: its state for now, else the latest periodic
    snapshot at or before `known_at` (the live state may be past it); one that cannot be read is
    passed over for the one before it. None: fold the whole log."""
    generation = await current_generation(redis, keys, plan_id)
    if not generation:
        return None
    rm = keys.generation(plan_id, generation)
    names = await hash_names(redis, rm)
    candidates = snapshot_fields(names, position_at(known_at) if known_at else None)
    if known_at is None:
        candidates.insert(0, "state")
    for field in candidates:
        state = _loaded(plan_id, field, await hash_value(redis, rm, field))
        if state is not None:
            return state
    return None


def _loaded(plan_id: str, field: str, data: str | None) -> PlanState | None:
    """A stored snapshot, or None if it is absent or cannot be read as a state of this plan."""
    if not data:
        return None
    try:
        state = load_state(data)
    except Exception as exc:  # an older or damaged snapshot: never fatal, the log has it all
        log.warning("plan %s: snapshot %s cannot be read, passed over: %.200s", plan_id, field, exc)
        return None
    return state if state.plan_id == plan_id else None


@dataclass(frozen=True)
class Judged:
    """What a rollup is written from: the state as known at `known_at` and the alert changes
    after `since`, as `judge_log` gives them."""

    known_at: datetime
    state: PlanState
    notices: list[AlertNotice]


async def judge_now(redis: Redis, keys: Keyspace, plan_id: str, since: datetime | None) -> Judged:
    """The state as known now (Redis' clock) and the alert changes after `since` (all if None),
    equal to `judge_log`'s: from the alerts projection's state and alert book, the events
    recorded after them judged, and the history the projection wrote for what came before."""
    now, start, state, _, later = await _judged_now(redis, keys, plan_id, ROLLUP)
    earlier = await _history(redis, plan_id, start.history, since, now) if start else []
    written = {notice.notice_id for notice in earlier}
    return Judged(now, state, earlier + [n for n in _after(later, since) if n.notice_id not in written])


async def firing_now(redis: Redis, keys: Keyspace, plan_id: str) -> list[AlertNotice]:
    """The alerts firing now, as the alerts projection lists them (latest notice of each, with
    its status): judged from its last state and alert book and the events after them, for when
    the list it stored cannot be read."""
    _, _, _, book, _ = await _judged_now(redis, keys, plan_id, QUERY)
    return [notice for alert in book.active.values() if (notice := alert.listed())]


async def _judged_now(
    redis: Redis, keys: Keyspace, plan_id: str, reader: str
) -> tuple[datetime, _AlertsStart | None, PlanState, AlertBook, list[AlertNotice]]:
    """Now (Redis' clock), the alerts snapshot started from (None: the whole log), and the state,
    alert book and alert changes after judging what came after it, up to now."""
    start = await _alerts_start(redis, keys, plan_id)
    now_ms = await redis_now_ms(redis)  # read after the snapshot: a snapshot is never past it
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    if start is not None and (start.book.clock_ms > now_ms or position_key(start.state.position)[0] > now_ms):
        start = None  # written by a clock ahead of Redis' (not expected): judge the whole log
    state, book = (start.state, start.book) if start else (PlanState(plan_id), AlertBook())
    later: list[AlertNotice] = []
    folded = await _judge_after(EventStore(redis, keys), state, book, Memo(), later, now)
    metrics.EVENTS_FOLDED.labels(reader, plan_id).inc(folded)
    return now, start, state, book, later


@dataclass(frozen=True)
class _AlertsStart:
    state: PlanState
    book: AlertBook
    history: str  # the key of the generation's alert history


async def _alerts_start(redis: Redis, keys: Keyspace, plan_id: str) -> _AlertsStart | None:
    """The alerts projection's state and alert book as last saved together, or None (no
    generation yet, or a snapshot that cannot be read)."""
    generation = await current_generation(redis, keys, plan_id, projection=ALERTS)
    if not generation:
        return None
    key = keys.generation(plan_id, generation, ALERTS.name)
    state_data, book_data = await hash_values(redis, key, ["state", "alert_book"])
    state = _loaded(plan_id, "state", state_data)
    if state is None or not book_data:
        return None
    try:
        book = load_book(book_data)
    except Exception as exc:  # as for a state: an older or damaged book is passed over
        log.warning("plan %s: alert book cannot be read, the log is judged whole: %.200s", plan_id, exc)
        return None
    return _AlertsStart(state, book, keys.alert_history(plan_id, generation))


async def _history(redis: Redis, plan_id: str, key: str, since: datetime | None, now: datetime) -> list[AlertNotice]:
    """The notices of an alerts generation's history after `since` and by `now`, in order. A
    notice is committed once its instant has come by Redis' clock (events carry its time, and
    the idle ticks read it), and the history's ids are that clock when written: a notice after
    `since` has an id after it, so the stream is read from `since` (less a second, should the
    clock have stepped back), not from its start."""
    low = "-" if since is None else str(max(int((since - CLOCK_SKEW).timestamp() * 1000), 0))
    notices = [notice for _, notice in history_notices(plan_id, await read_range(redis, key, low))]
    return [n for n in _after(notices, since) if n.at <= now]


def _after(notices: list[AlertNotice], since: datetime | None) -> list[AlertNotice]:
    return notices if since is None else [n for n in notices if n.at > since]
