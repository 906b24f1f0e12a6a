"""Where a printed number comes from: the log positions of the events behind one row of the
report — an indicator's value, its target and a relative target's reference; a key project's plan,
start, counted investment reports and completion. Pure: the fold already keeps the position of
every report in force (`projections.state`), so provenance costs the fold nothing; services
resolve the positions into events (id, department, transaction time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from events.bounds import canonical_decimal_text
from events.codec import Unreadable
from events.models import (
    Event,
    IndicatorUpdated,
    InvestmentCompleted,
    PlanPublished,
    ProjectCompleted,
    ProjectStarted,
    TargetRevised,
    recorded_at_of,
)
from events.periods import Period
from events.plan import Plan
from events.positions import StoredEvent, position_key
from projections.evaluate import growth_text
from projections.formatting import money_wan, percent
from projections.portfolio import ProjectProgress, counted_investment_periods
from projections.report import PlanReport
from projections.state import IndicatorState, Observation, PlanState

Role = Literal["value", "target", "reference", "plan", "started", "investment", "completed"]
ROLE_ZH: dict[str, str] = {
    "value": "实际值",
    "target": "年度目标",
    "reference": "参照指标",
    "plan": "计划",
    "started": "开工",
    "investment": "完成投资",
    "completed": "建成投产",
}


@dataclass(frozen=True)
class SourceRef:
    """One event behind a printed number: what it gave (`role`), for which subject and period, and
    where it sits in the plan's log."""

    role: Role
    subject: str
    position: str
    period: str | None = None
    revision: int | None = None  # for a value: 1 = first report of the period, 2 = its first correction …


def indicator_sources(state: PlanState, report: PlanReport, subject: str) -> list[SourceRef]:
    """The events behind an indicator's row of `report` (built from `state`): the value judged
    (the report in force for its period), the target in force on the report's date, and for a
    relative target the referenced indicator's value of the same period. Empty parts are left out:
    an indicator with nothing reported has only its target."""
    row = next((r for r in report.rows() if r.indicator.id == subject), None)
    if row is None:
        return []
    current = state.indicators.get(subject) or IndicatorState(subject)
    sources = _value(current, subject, row.evaluation.period)
    sources += _target(state, current, subject, report.as_of)
    if row.evaluation.reference and row.evaluation.period:
        reference = state.indicators.get(row.evaluation.reference)
        if reference is not None:
            sources += [
                SourceRef("reference", reference.id, o.position, o.period, o.revision)
                for o in _same_end(reference, row.evaluation.period)
            ]
    return sources


def project_sources(state: PlanState, subject: str, as_of: date) -> list[SourceRef]:
    """The events behind a key project's figures as of `as_of`: the plan that lists it, its start,
    the investment reports its total counts (the latest 累计 and the period amounts after it), and
    its completion — each only if it had happened by `as_of`."""
    project = state.projects.get(subject)
    if project is None or state.plan is None:
        return []
    sources = [SourceRef("plan", subject, state.plan_position)] if state.plan.project(subject) else []
    if project.started_on and project.started_on <= as_of and project.started_position:
        sources.append(SourceRef("started", subject, project.started_position))  # its day is what it said
    sources += [
        SourceRef("investment", subject, project.investment_positions[period], period)
        for period in counted_investment_periods(project, state.plan.year, as_of)
        if period in project.investment_positions
    ]
    if project.completed_on and project.completed_on <= as_of and project.completed_position:
        sources.append(SourceRef("completed", subject, project.completed_position))
    return sources


def _value(current: IndicatorState, subject: str, period: str | None) -> list[SourceRef]:
    observation = current.observations.get(period) if period else None
    if observation is None or not observation.position:
        return []
    return [SourceRef("value", subject, observation.position, period, observation.revision)]


def _target(state: PlanState, current: IndicatorState, subject: str, as_of: date) -> list[SourceRef]:
    """The revision in force on `as_of` (as `IndicatorState.target_at` picks it), else the plan."""
    in_force = [
        (Period.parse(change.period).start, index, change)
        for index, change in enumerate(current.target_changes)
        if Period.parse(change.period).start <= as_of
    ]
    if in_force:
        change = max(in_force, key=lambda item: (item[0], item[1]))[2]
        return [SourceRef("target", subject, change.position, change.period)]
    spec = state.plan.indicator(subject) if state.plan else None
    if spec is not None and spec.target is None:
        return []  # monitored only: no target, so no event set one
    return [SourceRef("target", subject, state.plan_position)] if state.plan_position else []


def _same_end(reference: IndicatorState, period: str) -> list[Observation]:
    """The referenced value the evaluation compared: of the periods ending the same day, the latest recorded."""
    end = Period.parse(period).end
    matches = [o for text, o in reference.observations.items() if Period.parse(text).end == end]
    return [max(matches, key=lambda o: position_key(o.position))] if matches else []


# ---- the trail as the read side serves it -----------------------------------------------------


class SourceEvent(BaseModel):
    """One event behind a printed number, as `planwatch why` and the API show it."""

    model_config = ConfigDict(frozen=True)

    row: str = Field(description="the indicator or project whose printed figures this event is behind")
    role: Role
    role_zh: str = Field(description="实际值 / 年度目标 / 参照指标 / 计划 / 开工 / 完成投资 / 建成投产")
    subject: str = Field(description="the event's subject: the row's, or the referenced indicator's")
    period: str | None = Field(description="the period (or day) the event reports")
    revision: int | None = Field(description="for a value: 1 = first report of the period, 2 = its first correction …")
    position: str = Field(description="the event's stream id in the plan's log")
    recorded_at: datetime = Field(description="transaction time: when planwatch stored it (UTC)")
    event_id: str | None = Field(description="None only if the entry can no longer be read")
    event_type: str
    department: str | None
    department_name: str | None
    what: str = Field(description="what it said, as the report prints it: 5.5%, 1250.5万元, 2025-03-18 …")


class Provenance(BaseModel):
    """The events behind one row of the report: every number it prints, traced."""

    model_config = ConfigDict(frozen=True)

    plan_id: str
    kind: Literal["indicator", "project"]
    subject: str
    subject_name: str
    as_of: date
    printed: dict[str, str] = Field(description="the row's numbers as the report prints them")
    sources: list[SourceEvent]


def project_printed(progress: ProjectProgress) -> dict[str, str]:
    """A key project's figures as the report prints them."""
    printed = {
        "planned_investment": money_wan(progress.planned_investment_wan),
        "investment": money_wan(progress.investment_wan),
        "investment_rate": percent(progress.investment_rate) if progress.investment_rate is not None else "-",
        "started_on": progress.started_on.isoformat() if progress.started_on else "未开工",
    }
    if progress.completed_on:
        printed["completed_on"] = progress.completed_on.isoformat()
    return printed


def source_event(row: str, ref: SourceRef, stored: StoredEvent | None, plan: Plan) -> SourceEvent:
    """`ref`, behind `row`'s figures, with what its event says; an entry gone or unreadable is
    listed by its position alone."""
    event = stored.event if stored is not None else None
    readable = event is not None and not isinstance(event, Unreadable)
    department = getattr(event, "department", None) if readable else None
    return SourceEvent(
        row=row,
        role=ref.role,
        role_zh=ROLE_ZH[ref.role],
        subject=ref.subject,
        period=ref.period,
        revision=ref.revision,
        position=ref.position,
        recorded_at=recorded_at_of(ref.position),
        event_id=str(event.event_id) if event is not None else None,
        event_type=event.type if readable else getattr(event, "event_type", "unreadable"),  # type: ignore[union-attr]
        department=department,
        department_name=plan.department_name(department) if department else None,
        what=describe(event, plan) if readable else "（无法读取）",  # type: ignore[arg-type]
    )


def describe(event: Event, plan: Plan) -> str:
    """What an event said, in the report's words."""
    if isinstance(event, IndicatorUpdated):
        spec = plan.indicator(event.subject)
        unit = spec.unit if spec else ""
        text = f"{canonical_decimal_text(event.value)}{unit}"
        return text + growth_text(event.growth)  # ，增长5.1% (nothing without a rate)
    if isinstance(event, TargetRevised):
        return f"{event.target.text}（{event.reason}）" if event.reason else event.target.text
    if isinstance(event, InvestmentCompleted):
        return f"{money_wan(event.amount_wan)}（{'年初至今累计' if event.year_to_date else '当期'}）"
    if isinstance(event, ProjectStarted):
        return f"{event.started_on.isoformat()}开工"
    if isinstance(event, ProjectCompleted):
        return f"{event.completed_on.isoformat()}建成投产"
    if isinstance(event, PlanPublished):
        return f"发布计划：{event.plan.name}"
    return event.type
