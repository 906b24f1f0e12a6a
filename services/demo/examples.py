"""The example plans (`plans/examples/*.yaml`): report shapes the seed does not have, each with a
SYNTHETIC history (`<plan>.history.yaml` beside it) written to exercise them.

A history file is compact: values per indicator and period, and per project its start and
completion days and investment per period, e.g.

    indicators:
      gdp: {2025-Q1: 5.2, 2025-Q2: 5.6}
      gdp-level: {2025-Q2: {value: 4126000, growth: 5.1}}   # a level (万元) and its growth rate
    projects:
      kp-001: {started: 2025-03-10, investment: {2025-03: 1200, 2025-06: 3000}}

Each entry becomes the event its owning department would post, with an id derived from the
plan, the subject and the period (a second load stores nothing) and a time in the plan's zone
16 days after the period ends, as official figures come out.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from events.models import Event, IndicatorUpdated, InvestmentCompleted, ProjectCompleted, ProjectStarted
from events.periods import Period
from events.plan import Plan
from services.app import MAX_FILE, files, load_plan, publish_plan
from services.store import EventStore

EXAMPLES = Path(__file__).resolve().parents[2] / "plans" / "examples"


class ExampleError(ValueError):
    """A history file that does not fit its plan, naming the entry."""


def history_file(plan_file: Path) -> Path:
    return plan_file.with_name(plan_file.stem + ".history.yaml")


def example_plans() -> list[Path]:
    """Every example plan that has a history beside it."""
    plans = (p for p in EXAMPLES.glob("*.yaml") if not p.name.endswith(".history.yaml"))
    return sorted(p for p in plans if history_file(p).exists())


def example_history(plan: Plan, history: Mapping[str, Any]) -> list[Event]:
    """The events a history file describes, in a deterministic order."""
    zone = ZoneInfo(plan.timezone)
    events: list[Event] = []
    for subject, values in (history.get("indicators") or {}).items():
        events += _indicator_events(plan, str(subject), values, zone)
    for subject, facts in (history.get("projects") or {}).items():
        events += _project_events(plan, str(subject), facts, zone)
    return events


def _indicator_events(plan: Plan, subject: str, values: Mapping[Any, Any], zone: ZoneInfo) -> list[Event]:
    indicator = plan.indicator(subject)
    if indicator is None:
        raise ExampleError(f"indicators.{subject}: no such indicator in plan {plan.id}")
    return [
        IndicatorUpdated(
            event_id=_id(plan.id, "indicator.updated", subject, period),
            plan_id=plan.id,
            department=indicator.department,
            subject=subject,
            period=str(period),
            occurred_at=_published(Period.parse(str(period)), zone),
            **_figures(value),
        )
        for period, value in values.items()
    ]


def _figures(value: Any) -> dict[str, Decimal]:
    """A value, or a level and its growth rate: `{value: 4126000, growth: 5.1}`."""
    if isinstance(value, Mapping):
        figures = {"value": Decimal(str(value["value"]))}
        return figures | ({"growth": Decimal(str(value["growth"]))} if "growth" in value else {})
    return {"value": Decimal(str(value))}


def _project_events(plan: Plan, subject: str, facts: Mapping[str, Any], zone: ZoneInfo) -> list[Event]:
    project = plan.project(subject)
    if project is None:
        raise ExampleError(f"projects.{subject}: no such project in plan {plan.id}")
    common = {"plan_id": plan.id, "department": project.department, "subject": subject}
    events: list[Event] = []
    if started := facts.get("started"):
        day = _day(started)
        events.append(
            ProjectStarted(
                **common,
                event_id=_id(plan.id, "project.started", subject),
                period=f"{day:%Y-%m}",
                occurred_at=_at(day, zone),
                started_on=day,
            )
        )
    for period, amount in (facts.get("investment") or {}).items():
        events.append(
            InvestmentCompleted(
                **common,
                event_id=_id(plan.id, "investment.completed", subject, period),
                period=str(period),
                occurred_at=_published(Period.parse(str(period)), zone),
                amount_wan=Decimal(str(amount)),
            )
        )
    if completed := facts.get("completed"):
        day = _day(completed)
        events.append(
            ProjectCompleted(
                **common,
                event_id=_id(plan.id, "project.completed", subject),
                period=f"{day:%Y-%m}",
                occurred_at=_at(day, zone),
                completed_on=day,
            )
        )
    return events


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "planwatch-example/" + "/".join(str(p) for p in parts))


def _at(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(10), tzinfo=zone)


def _published(period: Period, zone: ZoneInfo) -> datetime:
    return _at(period.end + timedelta(days=16), zone)


def read_example(plan_file: Path) -> tuple[Plan, list[Event]]:
    """The example plan and its history's events (checked before anything is stored)."""
    plan = load_plan(plan_file)
    # a regular file of at most 2 MB, as a plan file: /dev/zero or a pipe beside the plan is no history
    history = yaml.safe_load(files.read_regular(history_file(plan_file), MAX_FILE).decode("utf-8")) or {}
    return plan, example_history(plan, history)


async def load_example(store: EventStore, plan_file: Path) -> tuple[Plan, int]:
    """Publish an example plan (as of 20 January of its year) and its history; returns the plan
    and the number of events newly stored."""
    plan, history = read_example(plan_file)
    published_at = datetime(plan.year, 1, 20, 10, tzinfo=ZoneInfo(plan.timezone))
    stored = int((await publish_plan(store, plan, published_at)).stored)
    if history:
        stored += (await store.append(history)).stored
    return plan, stored
