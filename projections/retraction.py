"""What a retraction restores: the subject's report for the period as if the retracted event (and
every event retracted before it) had never been sent. Worked out by folding the subject's own
events without them — the same fold as everywhere — so a retraction carries a plain fact that
every later fold applies alike (projections.state)."""

from __future__ import annotations

from collections.abc import Sequence

from events.codec import Unreadable
from events.models import Event, EventRetracted, Restored
from events.positions import StoredEvent
from projections.state import PlanState, fold, investment_key


def retracted_ids(events: Sequence[StoredEvent]) -> set[str]:
    """The ids of the events a subject's retractions retract."""
    return {str(s.event.retracted_event_id) for s in events if isinstance(s.event, EventRetracted)}


def restoration(subject_events: Sequence[StoredEvent], event: Event) -> Restored | None:
    """What the period of `event` (being retracted) shows once it is: the latest of the subject's
    other reports for that period not retracted, with its revision counted among those (None: none)."""
    gone = retracted_ids(subject_events) | {str(event.event_id)}
    kept = [
        (s.position, s.event)
        for s in subject_events
        if not isinstance(s.event, EventRetracted | Unreadable) and _id(s.event) not in gone
    ]
    state = fold(kept, PlanState("retraction"))
    period = event.period
    if event.type == "indicator.updated":
        observation = state.indicators.get(event.subject)
        found = observation.observations.get(period) if observation else None
        if found is None:
            return None
        return Restored(
            position=found.position,
            value=found.value,
            qualifier=found.qualifier,
            assessment=found.assessment,
            revision=found.revision,
            previous=found.previous,
            growth=found.growth,
        )
    project = state.projects.get(event.subject)
    if project is None:
        return None
    if event.type == "investment.completed" and (key := investment_key(event)) in project.investment:
        return Restored(position=project.investment_positions[key], amount_wan=project.investment[key])
    if event.type == "project.started" and project.started_on:
        return Restored(position=project.started_position, day=project.started_on)
    if event.type == "project.completed" and project.completed_on:
        return Restored(position=project.completed_position, day=project.completed_on)
    return None


def _id(event: Event | Unreadable) -> str:
    return event.event_id if isinstance(event, Unreadable) else str(event.event_id)
