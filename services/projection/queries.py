"""Folding a plan's log from Redis: the on-demand way to answer any as-of / known-at question."""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis

from events.alerts import AlertNotice
from events.positions import position_at
from projections.alerts import AlertBook, Memo, judge, settle, tick
from projections.snapshot import load_state
from projections.state import PlanState, apply
from services.projection.generations import current_generation
from services.projection.read_model import latest_snapshot_field
from services.projection.replies import hash_names, hash_value
from services.store import EventStore, Keyspace


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


async def state_as_known(redis: Redis, keys: Keyspace, plan_id: str, known_at: datetime | None = None) -> PlanState:
    """The fold of the log as known at `known_at` (now if None): from the read model's state (or
    its nearest periodic snapshot before `known_at`) plus the events recorded after it."""
    snapshot = None
    generation = await current_generation(redis, keys, plan_id)
    if generation:
        rm = keys.generation(plan_id, generation)
        if known_at is None:
            snapshot = await hash_value(redis, rm, "state")
        else:  # the live state may be past known_at: the latest periodic snapshot before it
            field = latest_snapshot_field(await hash_names(redis, rm), position_at(known_at))
            snapshot = await hash_value(redis, rm, field) if field else None
    start = load_state(snapshot) if snapshot else None
    return await fold_log(EventStore(redis, keys), plan_id, known_at, start)
