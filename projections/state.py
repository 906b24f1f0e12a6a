"""The fold: a plan's execution state, built by applying its events in log order.

`apply(state, stored)` is pure (no I/O, no clock): the same events give the same state however
the log is split into batches. The state is an accumulator owned by the fold: `apply` updates
it and returns it, so folding a million events does not copy it a million times.

The state keeps what valid-time questions need ("as of 31 March"): observations per period,
investment per period, start and completion dates. Transaction-time questions ("as known on
10 July") are answered by folding only the events recorded by then.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from events.bounds import MAX_PLACES, model_number_problems, number_fits
from events.codec import Unreadable
from events.models import (
    AlertAcknowledged,
    AlertSilenced,
    Event,
    EventRetracted,
    IndicatorUpdated,
    InvestmentCompleted,
    PlanPublished,
    ProjectCompleted,
    ProjectRegistered,
    ProjectStarted,
    Restored,
    RollupPublished,
    SilenceExpired,
    TargetRevised,
    recorded_at_of,
)
from events.periods import Period, month_end, period_end, ytd_text
from events.plan import Plan, Project
from events.positions import StoredEvent, position_after
from events.targets import Target


@dataclass(slots=True)
class Observation:
    """The value an indicator has for one period; a later report for the period replaces it."""

    period: str
    value: Decimal
    qualifier: str = "exact"
    assessment: str | None = None
    position: str = ""
    revision: int = 1  # 1 = first report for the period, 2 = first correction, …
    previous: Decimal | None = None  # the value this one replaced
    growth: Decimal | None = None  # the growth rate (YoY %) reported beside the level (with_growth)

    @property
    def recorded_at(self) -> datetime | None:
        return recorded_at_of(self.position) if self.position else None


@dataclass
class TargetChange:
    """A revision of the annual target, in force from the start of `period` (valid time)."""

    period: str
    target: Target
    reason: str
    position: str


@dataclass
class IndicatorState:
    id: str
    observations: dict[str, Observation] = field(default_factory=dict)
    plan_target: Target | None = None
    target_changes: list[TargetChange] = field(default_factory=list)
    last_position: str = ""

    def target_at(self, as_of: date) -> Target | None:
        """The target in force on `as_of`: of the revisions in force by then, the one with the latest
        start (the later-logged one for equal starts); else the plan's."""
        if not self.target_changes:  # never revised: asked at every judgement
            return self.plan_target
        in_force = [
            (Period.parse(change.period).start, index, change.target)
            for index, change in enumerate(self.target_changes)
            if Period.parse(change.period).start <= as_of
        ]
        return max(in_force)[2] if in_force else self.plan_target


@dataclass
class ProjectState:
    id: str
    spec: Project | None = None
    started_on: date | None = None
    completed_on: date | None = None
    # period → 万元 completed in it; a year-to-date figure under its range, 2025-01..2025-06 → 万元
    # completed from January to June (projections.portfolio counts the latest one and what follows)
    investment: dict[str, Decimal] = field(default_factory=dict)
    last_position: str = ""
    # the positions of the reports in force, so a retraction knows whether it retracts one of them
    investment_positions: dict[str, str] = field(default_factory=dict)  # period → its report's position
    started_position: str = ""
    completed_position: str = ""


@dataclass(slots=True)
class ParkedEvent:
    """An entry of the log the fold passed over: it could not be read (`Unreadable`) or applied.
    Parked by the pure fold, so the live projection, a rebuild, an as-known-at fold and a rollup
    all park the same entries and carry on with the rest of the plan."""

    position: str
    event_type: str
    event_id: str
    subject: str
    reason: str


@dataclass
class PlanState:
    plan_id: str
    plan: Plan | None = None
    indicators: dict[str, IndicatorState] = field(default_factory=dict)
    projects: dict[str, ProjectState] = field(default_factory=dict)
    plan_position: str = ""  # position of the plan.published in force
    latest_end: dict[int, date] = field(default_factory=dict)  # year → last day of the latest month reported
    position: str = "0-0"  # last applied stream position
    applied: int = 0  # events applied (entries parked are not: they are listed in `parked`)
    parked: list[ParkedEvent] = field(default_factory=list)

    def indicator(self, subject: str) -> IndicatorState:
        if subject not in self.indicators:
            self.indicators[subject] = IndicatorState(subject)
        return self.indicators[subject]

    def project(self, subject: str) -> ProjectState:
        if subject not in self.projects:
            self.projects[subject] = ProjectState(subject)
        return self.projects[subject]


def apply(state: PlanState, stored: StoredEvent) -> PlanState:
    """Apply one stored event. Events about subjects the plan does not (yet) know are kept, so a
    later plan revision that adds the subject sees them. An event at or before the state's
    position was applied already (a redelivery): it changes nothing. An entry that cannot be read
    or applied is parked (`state.parked`), never raised: nothing stored can stop a reader."""
    position, event = stored  # unpacked: faster than a NamedTuple's attributes, a million times
    if not position_after(position, state.position):
        return state
    state.applied += _apply_one(state, event, position)
    state.position = position
    return state


def fold(
    events: Iterable[tuple[str, Event | Unreadable]], state: PlanState | None = None, plan_id: str = ""
) -> PlanState:
    """Apply (position, event) pairs — `StoredEvent`s, or plain pairs from a replay's hot loop —
    in stream order, as a stream read gives them. Those at or before the state's position were
    applied already (a redelivery) and change nothing; from the first new one on, the stream's
    order is trusted, not checked again for each of a million events. An entry that cannot be
    read or applied is parked, as `apply` does."""
    state = state or PlanState(plan_id)
    events = iter(events)
    handlers, done, applied = _HANDLERS, state.position, state.applied
    try:
        for position, event in events:  # past those applied before, to the first new one
            if position_after(position, done):
                applied += _apply_one(state, event, position)
                done = position
                break
        for position, event in events:
            handler = handlers[type(event)]  # an object that is no event at all is a bug: KeyError
            try:  # free unless raised (3.11): the hot loop keeps its speed
                handler(state, event, position)
                applied += 1
            except Exception as exc:
                _park(state, event, position, exc)
            done = position
    finally:
        state.position, state.applied = done, applied
    return state


def _apply_one(state: PlanState, event: Event | Unreadable, position: str) -> int:
    """Apply one entry: 1 if applied, 0 if parked."""
    handler = _HANDLERS[type(event)]  # an object that is no event at all is a bug: KeyError
    try:
        handler(state, event, position)
    except Exception as exc:
        _park(state, event, position, exc)
        return 0
    return 1


class _NotReadable(Exception):
    """Raised by the fold's handler of an `Unreadable`: parked like an event that fails to apply."""


def _park(state: PlanState, event: Event | Unreadable, position: str, exc: Exception) -> None:
    """Pass over an entry, noting it and why. Handlers check before they change anything, so a
    failed one has left the state as it was."""
    if isinstance(event, Unreadable):
        parked = ParkedEvent(position, event.event_type, event.event_id, event.subject, event.reason)
    else:
        reason = f"could not be applied: {exc!r}"
        parked = ParkedEvent(position, event.type, str(event.event_id), event.subject, reason)
    state.parked.append(parked)


def _unreadable(state: PlanState, event: Unreadable, position: str) -> None:
    raise _NotReadable(event.reason)


def _usable_numbers(model: BaseModel) -> None:
    """Raise (so the fold parks the event) if a target or project carries a number no report can
    compute with — stored by an older version that did not check it."""
    problems = model_number_problems(model)
    if problems:
        raise ValueError("; ".join(reason for _, reason in problems))


def _reported(state: PlanState, end: date) -> None:
    """Remember the end of the latest month anything was reported for (valid time); `end` is the
    end of a month (a period's end is one already)."""
    if end > state.latest_end.get(end.year, date.min):
        state.latest_end[end.year] = end


def _reported_day(state: PlanState, day: date) -> None:
    _reported(state, month_end(day.year, day.month))


# One object per published plan in a process, whoever folds it: a worker folds every plan twice
# (the read model and the alerts) and a decoded plan takes a quarter of a megabyte. Keyed by the
# event's id, which is derived from the plan's content and version; shared only if equal too.
_PLANS: weakref.WeakValueDictionary[UUID, Plan] = weakref.WeakValueDictionary()


def _shared(event: PlanPublished) -> Plan:
    held = _PLANS.get(event.event_id)
    if held is not None and held == event.plan:
        return held
    _PLANS[event.event_id] = event.plan
    return event.plan


def _plan_published(state: PlanState, event: PlanPublished, position: str) -> None:
    plan = _shared(event)
    state.plan = plan
    state.plan_position = position
    for indicator in plan.indicators:
        current = state.indicator(indicator.id)
        current.plan_target = indicator.target
        current.target_changes.clear()  # a republished plan carries its own targets
        current.last_position = position
    for project in plan.projects:
        state.project(project.id).spec = project


def _target_revised(state: PlanState, event: TargetRevised, position: str) -> None:
    _usable_numbers(event.target)
    current = state.indicator(event.subject)
    current.target_changes.append(TargetChange(event.period, event.target, event.reason, position))
    current.last_position = position


def _indicator_updated(state: PlanState, event: IndicatorUpdated, position: str) -> None:
    # the replay's hottest line: positional arguments, and one cached lookup for the period's end
    value, growth = event.value, event.growth
    if value and not -MAX_PLACES <= value.adjusted() < 15:  # number_fits, inlined: a million times
        raise ValueError(f"value {value} is beyond the numbers a report can compute with")
    if growth is not None and not number_fits(growth):
        raise ValueError(f"growth {growth} is beyond the numbers a report can compute with")
    period = event.period
    current = state.indicators.get(event.subject) or state.indicator(event.subject)
    observations = current.observations
    before = observations.get(period)
    if before is None:
        observations[period] = Observation(period, value, event.qualifier, event.assessment, position, 1, None, growth)
    else:
        observations[period] = Observation(
            period, value, event.qualifier, event.assessment, position, before.revision + 1, before.value, growth
        )
    current.last_position = position
    _reported(state, period_end(period))


def _project_registered(state: PlanState, event: ProjectRegistered, position: str) -> None:
    _usable_numbers(event.project)
    project = state.project(event.subject)
    project.spec = event.project
    project.last_position = position


def _project_started(state: PlanState, event: ProjectStarted, position: str) -> None:
    project = state.project(event.subject)
    project.started_on, project.started_position = event.started_on, position
    project.last_position = position
    _reported_day(state, event.started_on)


def _investment_completed(state: PlanState, event: InvestmentCompleted, position: str) -> None:
    if not number_fits(event.amount_wan):
        raise ValueError(f"amount_wan {event.amount_wan} is beyond the numbers a report can compute with")
    project = state.projects.get(event.subject) or state.project(event.subject)
    key = investment_key(event)
    project.investment[key] = event.amount_wan
    project.investment_positions[key] = position
    project.last_position = position
    _reported(state, period_end(event.period))


def investment_key(event: InvestmentCompleted) -> str:
    """Where an investment report is kept: its period, or for a year-to-date figure the range from
    January (2025-Q2 sent as ytd and 2025-01..2025-06 are one figure, the later replacing the other)."""
    if event.year_to_date:
        period = Period.parse(event.period)
        return ytd_text(period.year, period.last_month)
    return event.period


def _project_completed(state: PlanState, event: ProjectCompleted, position: str) -> None:
    project = state.project(event.subject)
    project.completed_on, project.completed_position = event.completed_on, position
    project.last_position = position
    _reported_day(state, event.completed_on)


def _rollup_published(state: PlanState, event: RollupPublished, position: str) -> None:
    """A rollup changes no target's execution (services/rollups reads its versions from the log)."""


def _about_alerts(state: PlanState, event: Event, position: str) -> None:
    """Silences and acknowledgements change no target's execution (the alerts projection folds
    them: projections.silences)."""


def _event_retracted(state: PlanState, event: EventRetracted, position: str) -> None:
    """Pass over the retracted event from now on: if its report is the one in force for the
    period, the report it had replaced counts again (`restores`, None: no report); a report that
    a later one had replaced already changes nothing now. Earlier positions keep what they showed."""
    at, restored, period = event.retracted_position, event.restores, event.period
    if event.retracted_type in ("indicator.updated", "target.revised"):
        indicator = state.indicators.get(event.subject)
        if indicator is None:
            return
        if event.retracted_type == "target.revised":
            indicator.target_changes = [c for c in indicator.target_changes if c.position != at]
        elif (current := indicator.observations.get(period)) is not None and current.position == at:
            if restored is None or restored.value is None:
                del indicator.observations[period]
            else:
                indicator.observations[period] = Observation(
                    period,
                    restored.value,
                    restored.qualifier or "exact",
                    restored.assessment,
                    restored.position,
                    restored.revision or 1,
                    restored.previous,
                    restored.growth,
                )
        indicator.last_position = position
        return
    project = state.projects.get(event.subject)
    if project is None:
        return
    _retract_project_report(project, event.retracted_type, at, restored)
    project.last_position = position


def _retract_project_report(project: ProjectState, kind: str, at: str, restored: Restored | None) -> None:
    back = restored.position if restored else ""
    if kind == "investment.completed":
        # found by its position: a year-to-date figure is kept under its range, not its period
        key = next((key for key, held in project.investment_positions.items() if held == at), None)
        if key is None:
            return
        if restored is None or restored.amount_wan is None:
            project.investment.pop(key, None)
            project.investment_positions.pop(key, None)
        else:
            project.investment[key], project.investment_positions[key] = restored.amount_wan, back
    elif kind == "project.started" and project.started_position == at:
        project.started_on, project.started_position = (restored.day if restored else None), back
    elif kind == "project.completed" and project.completed_position == at:
        project.completed_on, project.completed_position = (restored.day if restored else None), back


_HANDLERS: dict[type, Any] = {
    PlanPublished: _plan_published,
    TargetRevised: _target_revised,
    IndicatorUpdated: _indicator_updated,
    ProjectRegistered: _project_registered,
    ProjectStarted: _project_started,
    InvestmentCompleted: _investment_completed,
    ProjectCompleted: _project_completed,
    RollupPublished: _rollup_published,
    EventRetracted: _event_retracted,
    AlertSilenced: _about_alerts,
    SilenceExpired: _about_alerts,
    AlertAcknowledged: _about_alerts,
    Unreadable: _unreadable,
}


def event_types_handled() -> set[type]:  # for a test that every event type has a handler
    return set(_HANDLERS) - {Unreadable}
