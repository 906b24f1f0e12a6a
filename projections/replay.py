"""Folding a plan's log from Redis: the on-demand way to answer any as-of / known-at question."""

from __future__ import annotations

from datetime import datetime

from events.alerts import AlertNotice
from events.store import EventStore
from projections.alerts import AlertBook, Memo, judge, settle, tick
from projections.state import PlanState, apply

MAX_SEQ = 2**64 - 1


def position_at(instant: datetime) -> str:
    """The last stream position recorded at or before `instant` (transaction time)."""
    if instant.tzinfo is None:
        raise ValueError("known_at needs a time zone, e.g. 2025-07-10T00:00+08:00")
    return f"{max(int(instant.timestamp() * 1000), 0)}-{MAX_SEQ}"  # before 1970 nothing was recorded


async def fold_log(
    store: EventStore, plan_id: str, known_at: datetime | None = None, start: PlanState | None = None
) -> PlanState:
    """The plan's state from every event recorded by `known_at` (all of them if None); from a
    `start` state (a snapshot, folded in place) only the events after its position."""
    state = start or PlanState(plan_id)
    until = position_at(known_at) if known_at else None
    async for stored in store.replay(plan_id, after=state.position, until=until):
        apply(state, stored)
    return state


async def judge_log(store: EventStore, plan_id: str, known_at: datetime) -> tuple[PlanState, list[AlertNotice]]:
    """The plan's state as known at `known_at`, and every alert change the log had given rise to
    by then: judged event by event as the projector judges them, and the clock's deadlines up
    to `known_at`. Needs no worker, so it never lags."""
    state, book, memo, notices = PlanState(plan_id), AlertBook(), Memo(), []
    async for stored in store.replay(plan_id, until=position_at(known_at)):
        notices += judge(book, state, stored, memo)
    # Every event recorded by `known_at` is in, so the last instant is complete even when it is
    # the very millisecond of `known_at` (which `tick` would leave open): judge it.
    notices += settle(book, state, memo)
    notices += tick(book, state, int(known_at.timestamp() * 1000), memo)
    return state, notices
