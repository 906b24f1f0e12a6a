"""The alerts judge each change by its severity alone, reusing what did not change (a period's
status until its value, target or reference changes; the key projects no event touched): on
random logs of the seed plan and of the level-and-growth example, that brief judgement is the
table's at every event, and the tally of key projects kept between events is the one judged
afresh. Pure: no Redis."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from events.models import (
    Event,
    EventRetracted,
    IndicatorUpdated,
    InvestmentCompleted,
    ProjectStarted,
    TargetRevised,
    plan_published,
)
from events.plan import Plan
from events.positions import StoredEvent
from projections.alerts import AlertBook, Memo, judge, judging_date
from projections.report import PeriodMemo, data_through, evaluate_indicator, indicator_severity
from projections.state import PlanState, apply
from services.app import load_plan
from services.demo import SEED_PLAN

ROOT = Path(__file__).resolve().parent.parent
PLANS = {"seed": load_plan(SEED_PLAN), "growth": load_plan(ROOT / "plans/examples/level-growth-2025.yaml")}
AT = datetime(2025, 7, 1, 9, tzinfo=UTC)
START_MS = 1_735_700_000_000  # the first instant of the log (2025-01-01)
PERIODS = {
    "monthly": [f"2025-{m:02d}" for m in range(1, 13)],
    "quarterly": [f"2025-Q{q}" for q in range(1, 5)],
    "annual": ["2025"],
}
VALUES = ["-1.5", "0", "0.5", "1.9", "2.1", "5.5", "6", "6.4", "6.6", "40", "90", "150", "299", "400", "5000"]
GROWTHS = [None, "-2.3", "4.9", "5", "5.1", "6.2", "8"]  # None: a level reported without its growth
TARGETS = ["6.5%左右", "增长5%以上", "3%以内", "4.5%—5%", "完成100亿元", "完成3000亿元"]


def fields(plan: Plan, subject: str, department: str, period: str) -> dict[str, object]:
    return {
        "event_id": uuid.uuid4(),
        "plan_id": plan.id,
        "department": department,
        "subject": subject,
        "period": period,
        "occurred_at": AT,
    }


@st.composite
def logs(draw: st.DrawFn) -> tuple[Plan, list[StoredEvent]]:
    """A plan and its log: values (some reported again, some with their growth and some without),
    now and then a target revised or a value retracted, investments and starts of key projects;
    one event per instant, or several."""
    plan = PLANS[draw(st.sampled_from(sorted(PLANS)))]
    log = [StoredEvent(f"{START_MS}-0", plan_published(plan, 0, AT))]
    reported: dict[tuple[str, str], str] = {}  # (indicator, period) → its report's position
    ms = START_MS
    for n in range(draw(st.integers(1, 60))):
        ms += draw(st.sampled_from([0, 1, 1, 1, 3_600_000]))
        position = f"{ms}-{n + 1}"
        kind = draw(st.sampled_from(["value"] * 6 + ["revise", "retract", "invest", "start"]))
        indicator = draw(st.sampled_from(plan.indicators))
        period = draw(st.sampled_from(PERIODS[indicator.frequency]))
        about = fields(plan, indicator.id, indicator.department, period)
        event: Event
        if kind == "revise":
            event = TargetRevised(**about, target=draw(st.sampled_from(TARGETS)), reason="人大调整（测试）")
        elif kind == "retract" and (indicator.id, period) in reported:
            event = EventRetracted(
                **about,
                retracted_event_id=uuid.uuid4(),
                retracted_position=reported.pop((indicator.id, period)),
                retracted_type="indicator.updated",
                reason="数据填报错误（测试）",
                requested_by="cli",
                restores=None,
            )
        elif kind in ("invest", "start") and plan.projects:
            project = draw(st.sampled_from(plan.projects))
            month = draw(st.integers(1, 12))
            about = fields(plan, project.id, project.department, f"2025-{month:02d}")
            if kind == "invest":
                event = InvestmentCompleted(**about, amount_wan=Decimal(draw(st.sampled_from(VALUES[3:]))))
            else:
                event = ProjectStarted(**about, started_on=date(2025, month, 3))
        else:
            growth = draw(st.sampled_from(GROWTHS))
            event = IndicatorUpdated(
                **about,
                value=Decimal(draw(st.sampled_from(VALUES))),
                growth=Decimal(growth) if growth is not None else None,
                assessment=draw(st.sampled_from([None, "met", "not_met"])),
            )
            reported[(indicator.id, period)] = position
        log.append(StoredEvent(position, event))
    return plan, log


@settings(max_examples=60, deadline=None)
@given(case=logs())
def test_the_brief_severity_is_the_tables_at_every_event(case: tuple[Plan, list[StoredEvent]]) -> None:
    plan, log = case
    state, memo = PlanState(plan.id), PeriodMemo()  # the memo kept across the whole log
    for stored in log:
        apply(state, stored)
        as_of = data_through(state)
        for indicator in plan.indicators:
            row = evaluate_indicator(state, indicator, as_of)  # judged afresh, worded
            brief = indicator_severity(state, indicator, as_of, memo)
            assert brief == (row.judgement.severity, row.evaluation.period), (indicator.id, stored.position)
            assert evaluate_indicator(state, indicator, as_of, memo).judgement == row.judgement


@settings(max_examples=40, deadline=None)
@given(case=logs(), unjudged=st.sets(st.integers(1, 60), max_size=3))
def test_the_key_projects_kept_between_events_are_the_ones_judged_afresh(
    case: tuple[Plan, list[StoredEvent]], unjudged: set[int]
) -> None:
    """Events the alerts judge tell the memo which projects changed; an event folded behind its
    back (`unjudged`) makes it look at them all again."""
    plan, log = case
    state, book, memo = PlanState(plan.id), AlertBook(), Memo()
    for n, stored in enumerate(log):
        if n in unjudged:
            apply(state, stored)
        else:
            judge(book, state, stored, memo)
        day = judging_date(state, plan, int(stored.position.split("-")[0]) + 86_400_000 * 200)
        kept, fresh = memo.tally_for(state, plan, day), Memo().tally_for(state, plan, day)
        assert {p: j.finding for p, j in kept.judged.items()} == {p: j.finding for p, j in fresh.judged.items()}
        assert (kept.due, kept.started_due, kept.planned, kept.invested, kept.reported) == (
            fresh.due,
            fresh.started_due,
            fresh.planned,
            fresh.invested,
            fresh.reported,
        )
        assert kept.findings(plan, None) == fresh.findings(plan, None)
