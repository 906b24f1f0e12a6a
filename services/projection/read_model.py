"""The read model (`rm`): the fold's views, what the table and the API read.

Its generation's hash holds the views — `summary`, `indicator:{id}`, `project:{id}` — and, besides
the state snapshot, the periodic snapshots the projector takes for it (`snapshot:{position}`, every
`snapshot_every` entries and at each month's end in the plan's zone), from which "as known at"
queries start (queries.py), and `views_code`: which code rendered the views (`VIEWS_CODE`).

A projector writes only the views whose rows changed since its last commit. One that takes a plan
over (a worker joining, or one that died) starts from the views its predecessor wrote at the
checkpoint when they were rendered by the same code: the state it loads is the state they were
rendered from, so rendering them again would give the same bytes (149 views of the seed plan,
~25 ms). It notes what each view's row was a function of at the checkpoint (`row_inputs`,
`project_inputs`) and builds no report until its first commit, where a view whose inputs are
unchanged is not written: a load costs no report (~14 ms of the seed plan's ~24), and a plan that
stays quiet never builds one. Rendered by other code (planwatch upgraded), all are written again
at its first commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import events
import projections
from events.alerts import AlertNotice
from events.codec import decode_stored
from events.plan import Indicator
from events.positions import StoredEvent, position_key
from projections.packing import pack
from projections.portfolio import ProjectProgress, projects_in_plan_order
from projections.report import IndicatorRow, PlanReport, ReportBuilder, data_through, project_inputs, row_inputs
from projections.series import indicator_series
from projections.state import PlanState, apply, fold
from projections.views import indicator_detail_view, project_detail_view, summary_json
from services.projection.replies import Entry
from services.store import Keyspace

_SNAPSHOT = "snapshot:"  # a periodic snapshot's field, named for the state's position

Fields = dict[str, str | bytes]
Inputs = Callable[[], tuple[object, ...]]  # what a view is a function of, asked when needed
VIEWS_CODE_FIELD = "views_code"


def _code_digest() -> str:
    """A digest of the code that renders the views: the pure rooms and this module."""
    digest = hashlib.sha256()
    for package in (events, projections):
        for path in sorted(Path(package.__path__[0]).glob("*.py")):
            digest.update(path.name.encode() + path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


VIEWS_CODE = _code_digest()


def snapshot_fields(names: Iterable[str], until: str | None = None) -> list[str]:
    """Of a read model's hash field `names`, those of the periodic snapshots of the state at or
    before position `until` (all if None), the latest first."""
    limit = position_key(until) if until else (1 << 63, 0)
    positions = [name.removeprefix(_SNAPSHOT) for name in names if name.startswith(_SNAPSHOT)]
    return [_SNAPSHOT + p for p in sorted((p for p in positions if position_key(p) <= limit), key=position_key)][::-1]


class ReadModelStrategy:
    """Folds the events; writes the views that changed since the last commit."""

    saved_fields: tuple[str, ...] = (VIEWS_CODE_FIELD,)
    notices: Sequence[AlertNotice] = ()  # the read model judges nothing
    keeps_snapshots = True  # "as known at" queries start from them

    def __init__(self) -> None:
        self._builder = ReportBuilder()
        self._written: dict[str, object] = {}  # field → the row/view object last written
        self._pending: dict[str, object] = {}  # … and those being written by the commit under way
        self._stored_code: str | None = None  # which code rendered the views stored at the checkpoint
        self._stored_inputs: dict[str, tuple[object, ...]] = {}  # field → its view's inputs, as stored

    def restore(self, saved: Sequence[str | None]) -> None:
        (self._stored_code,) = saved

    def resume(self, state: PlanState) -> None:
        """Loaded at the checkpoint: the views stored are this state's, as this code renders them,
        unless other code rendered them; note what each was rendered from."""
        self._builder = ReportBuilder()
        self._written.clear()
        self._pending.clear()
        self._stored_inputs = {}
        if self._stored_code == VIEWS_CODE and state.plan is not None:
            as_of = data_through(state)
            plan = state.plan
            for indicator in plan.indicators:
                self._stored_inputs[f"indicator:{indicator.id}"] = row_inputs(state, indicator, as_of)
            for project in projects_in_plan_order(state):
                if project.spec is not None:
                    self._stored_inputs[f"project:{project.id}"] = project_inputs(state, project, as_of)

    def apply_batch(self, state: PlanState, entries: Sequence[Entry]) -> None:
        # the entry's data as it came (decode_stored takes it so): `entry_data` per entry was 3 % of a rebuild;
        # decoded into a list, not a generator the fold resumes per entry: 0.1 µs an entry, 2 % of a rebuild
        fold([(position, decode_stored(fields.get("data", ""))) for position, fields in entries], state)

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
        elif not views:  # the views wait for a later commit (a rebuild's): they are not this checkpoint's
            fields[VIEWS_CODE_FIELD] = ""
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
        fields[VIEWS_CODE_FIELD] = VIEWS_CODE
        for name, view, inputs, render in self._views(state, report):
            if self._changed(name, view, inputs):
                fields[name] = render()

    @staticmethod
    def _views(state: PlanState, report: PlanReport) -> Iterator[tuple[str, object, Inputs, Callable[[], bytes]]]:
        """Each view's field, the row or project it shows (a new object when it changed), what
        that is a function of (asked only at the first commit after a load: a thousand plans'
        commits would work it out for nothing), and how to render it."""
        as_of = report.as_of
        for row in report.rows():
            indicator = row.indicator

            def indicator_view(row: IndicatorRow = row, indicator: Indicator = indicator) -> bytes:
                series = indicator_series(state, indicator, as_of)
                return _packed_json(indicator_detail_view(row, state.indicator(indicator.id), series))

            yield f"indicator:{indicator.id}", row, partial(row_inputs, state, indicator, as_of), indicator_view
        for project in report.portfolio.projects:

            def project_view(project: ProjectProgress = project) -> bytes:
                return _packed_json(project_detail_view(project, state.projects[project.id]))

            inputs = partial(project_inputs, state, state.projects[project.id], as_of)
            yield f"project:{project.id}", project, inputs, project_view

    def _changed(self, name: str, view: object, inputs: Inputs) -> bool:
        """Whether the view of field `name` is to be written (noted as being written if so). Rows
        and views are memoised by the report builder: the same object means nothing changed; at
        the first commit after a load, the same inputs as at the checkpoint mean the view stored
        is this one."""
        stored = self._stored_inputs.pop(name, None) if self._stored_inputs else None
        if stored is not None and stored == inputs():
            self._written[name] = view
            return False
        if self._written.get(name) is view:
            return False
        self._pending[name] = view
        return True


def _packed_json(view: dict[str, Any]) -> bytes:
    return pack(json.dumps(view, ensure_ascii=False))
