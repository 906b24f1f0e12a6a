"""What a projection does with its plan's events, behind one protocol; the `Projector` (runner.py)
does the rest for every projection alike: reading, retries and dead letters, loading, the commit.

A plan has two strategies (kinds.py names them): the read model folds the events and writes the
views (read_model.py); the alerts fold them and judge each instant, keeping the alert book, the
firing list and the notices (alerts.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from events.alerts import AlertNotice
from events.positions import StoredEvent
from projections.state import PlanState
from services.projection.replies import Entry
from services.store import Keyspace


class JudgingFailed(Exception):
    """The alerts' judgement of the instant an event closed failed (the event is not to blame)."""


class ProjectionStrategy(Protocol):
    """One projection's part of a `Projector`. It is handed the projector's state (the fold) and
    keeps whatever else it needs; methods that judge raise `JudgingFailed` when the judgement, not
    the event, fails — after its retries the projector skips that judgement, not the event."""

    saved_fields: tuple[str, ...]  # its own fields of the generation's hash that load() restores
    keeps_snapshots: bool  # whether the projector keeps periodic snapshots of the state for it

    @property
    def notices(self) -> Sequence[AlertNotice]:
        """Alert changes not committed yet (written to the history and the outbox)."""
        ...

    def restore(self, saved: Sequence[str | None]) -> None:
        """Loading: take the values of `saved_fields` from the last commit (None where absent),
        before the events after the state snapshot are applied again."""
        ...

    def resume(self, state: PlanState) -> None:
        """Loading done: `state` is that of the last commit again; what the re-applied events
        produced was committed already and is dropped."""
        ...

    def apply_batch(self, state: PlanState, entries: Sequence[Entry]) -> None:
        """Stream entries, in order: the hot loop of a replay. If one fails, the state's position
        is that of the last event applied."""
        ...

    def apply(self, state: PlanState, stored: StoredEvent) -> None:
        """One event."""
        ...

    def skip_judgement(self, position: str) -> None:
        """Pass over the judgement due before the event at `position`, as a failed one was."""
        ...

    def idle(self, state: PlanState, now_ms: int) -> None:
        """Caught up with the log, at time `now_ms`: judge what the clock brings."""
        ...

    def due_ms(self, state: PlanState) -> int | None:
        """The time (ms) from which `idle` has something to judge without a new event; None: not
        until the next event."""
        ...

    def fields(self, state: PlanState, state_json: bytes | None, views: bool) -> dict[str, str | bytes]:
        """The hash fields to commit with the checkpoint: `state_json` is the state snapshot when
        this commit writes one, `views=False` when the views may wait for a later commit."""
        ...

    def committed(self, state: PlanState) -> None:
        """The commit of `fields()` and `notices` succeeded."""
        ...

    def linger_ms(self, linger_ms: int) -> int:
        """How long a short batch waits for more before committing, given the worker's setting."""
        ...

    def extra_keys(self, keys: Keyspace, plan_id: str, generation: int) -> list[str]:
        """The keys of a generation besides its hash, dead letters and attempts (a rebuild
        deletes them with the generation it replaces)."""
        ...
