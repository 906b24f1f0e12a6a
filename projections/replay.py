"""Folding a plan's log from Redis: the on-demand way to answer any as-of / known-at question."""

from __future__ import annotations

from datetime import datetime

from events.store import EventStore
from projections.state import PlanState, apply

MAX_SEQ = 2**64 - 1


def position_at(instant: datetime) -> str:
    """The last stream position recorded at or before `instant` (transaction time)."""
    if instant.tzinfo is None:
        raise ValueError("known_at needs a time zone, e.g. 2025-07-10T00:00+08:00")
    return f"{max(int(instant.timestamp() * 1000), 0)}-{MAX_SEQ}"  # before 1970 nothing was recorded


async def fold_log(store: EventStore, plan_id: str, known_at: datetime | None = None) -> PlanState:
    """The plan's state from every event recorded by `known_at` (all of them if None)."""
    state = PlanState(plan_id)
    until = position_at(known_at) if known_at else None
    async for stored in store.replay(plan_id, until=until):
        apply(state, stored)
    return state
