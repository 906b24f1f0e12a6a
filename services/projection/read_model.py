"""The read model (`rm`): the fold's views, what the table and the API read.

Its generation's hash holds the views — `summary`, `indicator:{id}`, `project:{id}` — and, besides
the state snapshot, the periodic snapshots the projector takes for it (`snapshot:{position}`, every
`snapshot_every` entries and at each month's end in the plan's zone), from which "as known at"
queries start (queries.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from events.alerts import AlertNotice
from events.codec import decode_stored
from events.positions import StoredEvent, position_key
from projections.packing import pack
from projections.report import ReportBuilder
from projections.series import indicator_series
from projections.state import PlanState, apply, fold
from projections.views import indicator_detail_view, project_detail_view, summary_json
from services.projection.replies import Entry
from services.store import Keyspace

_SNAPSHOT = "snapshot:"  # a periodic snapshot's field, named for the state's position

Fields = dict[str, str | bytes]


def snapshot_fields(names: Iterable[str], until: str | None = None) -> list[str]:
    """Of a read model's hash field `names`, those of the periodic snapshots of the state at or
    before position `until` (all if None), the latest first."""
    limit = position_key(until) if until else (1 << 63, 0)
    positions = [name.removeprefix(_SNAPSHOT) for name in names if name.startswith(_SNAPSHOT)]
    return [_SNAPSHOT + p for p in sorted((p for p in positions if position_key(p) <= limit), key=position_key)][::-1]


class ReadModelStrategy:
    """Folds the events; writes the views that changed since the last commit."""

    saved_fields: tuple[str, ...] = ()
    notices: Sequence[AlertNotice] = ()  # the read model judges nothing
    keeps_snapshots = True  # "as known at" queries start from them

    def __init__(self) -> None:
        self._builder = ReportBuilder()
        self._written: dict[str, object] = {}  # field → the row/view object last written
        self._pending: dict[str, object] = {}  # … and those being written by the commit under way

    def restore(self, saved: Sequence[str | None]) -> None:
        pass  # the read model keeps nothing besides the state

    def resume(self, state: PlanState) -> None:
        self._builder = ReportBuilder()
        self._written.clear()
        self._pending.clear()

    def apply_batch(self, state: PlanState, entries: Sequence[Entry]) -> None:
        fold(((position, decode_stored(fields["data"])) for position, fields in entries), state)

    def apply(self, state: PlanState, stored: StoredEvent) -> None:
        apply(state, stored)

    def skip_judgement(self, position: str) -> None:
        pass  # nothing judged, nothing to skip

    def idle(self, state: PlanState, now_ms: int) -> None:
        pass  # the views do not change with the clock

    def due_ms(self, state: PlanState) -> int | None:
        return None

    def fields(self, state: PlanState, state_json: bytes | None, views: bool) -> Fields:
        fields: Fields = {}
        self._pending = {}
        if views and state.plan is not None:
            self._add_views(state, fields)
        return fields

    def committed(self, state: PlanState) -> None:
        self._written.update(self._pending)

    def linger_ms(self, linger_ms: int) -> int:
        # Half as long as the alerts: in one process the read model then commits before the
        # alerts judge, instead of waiting behind them half the time.
        return linger_ms // 2

    def extra_keys(self, keys: Keyspace, plan_id: str, generation: int) -> list[str]:
        return []

    def _add_views(self, state: PlanState, fields: Fields) -> None:
        """The summary, and the views of the indicators and projects whose rows changed."""
        report = self._builder.build(state)
        fields["summary"] = pack(summary_json(report))  # rewritten at every commit: packed (read_fields unpacks)
        for row in report.rows():
            name = f"indicator:{row.indicator.id}"
            if self._changed(name, row):
                series = indicator_series(state, row.indicator, report.as_of)
                fields[name] = _packed_json(indicator_detail_view(row, state.indicator(row.indicator.id), series))
        for project in report.portfolio.projects:
            name = f"project:{project.id}"
            if self._changed(name, project):
                fields[name] = _packed_json(project_detail_view(project, state.projects[project.id]))

    def _changed(self, name: str, view: object) -> bool:
        """Whether the view of field `name` is to be written (noted as being written if so). Rows
        and views are memoised by the report builder: the same object means nothing changed."""
        if self._written.get(name) is view:
            return False
        self._pending[name] = view
        return True


def _packed_json(view: dict[str, Any]) -> bytes:
    return pack(json.dumps(view, ensure_ascii=False))
