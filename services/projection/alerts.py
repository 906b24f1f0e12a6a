"""The alerts (`alerts`): the fold judged instant by instant (projections.alerts).

Its generation's hash holds, besides the state snapshot, the alert book (`alert_book`, saved with
the state) and the alerts firing now (`alerts`, a JSON list of their latest notices). Every alert
change is a notice, committed to the generation's history stream once (its id is noted in the
generation's notice-ids hash) and, by the live projection only, to the plan's outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from events.alerts import AlertNotice
from events.codec import decode_stored
from events.positions import StoredEvent
from projections import alerts
from projections.alerts import AlertBook, Memo
from projections.snapshot import dump_book, load_book
from projections.state import PlanState
from services.projection.replies import Entry
from services.projection.strategy import JudgingFailed
from services.store import Keyspace

log = logging.getLogger("planwatch.projector")


class AlertsStrategy:
    """Lets time pass to each event's transaction time (the instant before it is judged, overdue
    deadlines checked), folds the event, and notes in the alert book what it changed."""

    saved_fields: tuple[str, ...] = ("alert_book",)
    keeps_snapshots = False  # a rollup starts from the latest state and book (queries.judge_now)

    def __init__(self) -> None:
        self.book = AlertBook()
        self.notices: list[AlertNotice] = []  # alert changes not committed yet
        self._memo = Memo()
        self._listed = False  # whether the firing list was written since loading
        self._notice_json: dict[str, tuple[AlertNotice, str]] = {}  # fingerprint → latest notice, as JSON
        self._idle_failure = -1  # the open instant whose judgement last failed when idle
        self._listed_statuses: list[tuple[str, list[str], str | None, object]] = []  # as last listed

    def restore(self, saved: Sequence[str | None]) -> None:
        [book] = saved
        self.book = load_book(book) if book else AlertBook()

    def resume(self, state: PlanState) -> None:
        self.notices = []
        self._listed = False

    def apply_batch(self, state: PlanState, entries: Sequence[Entry]) -> None:
        events = [(position, decode_stored(fields.get("data", ""))) for position, fields in entries]  # as read_model's
        for run in alerts.runs(events):
            self._judge(state, run)

    def apply(self, state: PlanState, stored: StoredEvent) -> None:
        self._judge(state, [stored])

    def _judge(self, state: PlanState, run: Sequence[alerts.EventAt]) -> None:
        instant = alerts.instant_of(run[0][0])
        if instant > self.book.clock_ms:
            try:
                self.notices += alerts.tick(self.book, state, instant, self._memo)
            except Exception as exc:
                raise JudgingFailed(f"judging the instant before {run[0][0]}: {exc!r}") from exc
        self.notices += alerts.judge_run(self.book, state, run, self._memo)

    def skip_judgement(self, position: str) -> None:
        alerts.skip(self.book, alerts.instant_of(position))

    def idle(self, state: PlanState, now_ms: int) -> None:
        """Judge the last instant and anything the clock brought (overdue data, projects that
        missed their start month). A failure is logged once for the instant left open; the next
        event retries it, then skips that judgement."""
        open_instant = self.book.pending_ms
        try:
            self.notices += alerts.tick(self.book, state, now_ms, self._memo)
        except Exception as exc:
            if self._idle_failure != open_instant:
                log.exception("plan %s: judging the last instant failed", state.plan_id)
            self._idle_failure = open_instant
            raise JudgingFailed(f"judging the last instant: {exc!r}") from exc

    def due_ms(self, state: PlanState) -> int | None:
        return alerts.next_due_ms(self.book, state.plan)

    def fields(self, state: PlanState, state_json: bytes | None, views: bool) -> dict[str, str | bytes]:
        fields: dict[str, str | bytes] = {}
        if state_json is not None:
            fields["alert_book"] = dump_book(self.book)
        statuses = self._statuses()
        if self.notices or not self._listed or statuses != self._listed_statuses:
            self._listed_statuses = statuses
            listed = (a.listed() for a in self.book.active.values())
            fields["alerts"] = "[" + ",".join(self._json(n) for n in listed if n) + "]"
        return fields

    def _statuses(self) -> list[tuple[str, list[str], str | None, object]]:
        # a silence, an acknowledgement or an inhibitor changes the firing list without a notice
        return [(k, a.silence_ids, a.inhibited_by, a.acknowledged) for k, a in self.book.active.items()]

    def committed(self, state: PlanState) -> None:
        self.notices = []
        self._listed = True

    def linger_ms(self, linger_ms: int) -> int:
        return linger_ms

    def extra_keys(self, keys: Keyspace, plan_id: str, generation: int) -> list[str]:
        return [keys.alert_history(plan_id, generation), keys.alert_notice_ids(plan_id, generation)]

    def _json(self, notice: AlertNotice) -> str:
        # a firing alert's notice is listed at every commit until it changes: serialise it once
        cached = self._notice_json.get(notice.fingerprint)
        if cached is None or cached[0] is not notice:
            cached = (notice, notice.model_dump_json())
            self._notice_json[notice.fingerprint] = cached
        return cached[1]
