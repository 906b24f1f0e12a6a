"""The fold: deterministic, indifferent to batching, corrections supersede, revisions by valid time."""

from __future__ import annotations

import itertools
import subprocess
import sys
import uuid
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.codec import encode
from events.models import (
    IndicatorUpdated,
    InvestmentCompleted,
    ProjectCompleted,
    ProjectStarted,
    TargetRevised,
    event_adapter,
    plan_published,
)
from events.positions import StoredEvent, position_after, position_key
from projections.report import build_report
from projections.state import PlanState, event_types_handled, fold
from tests.conftest import ROOT
from tests.factories import AT, indicator_update, investment, one_of_each, small_plan

PLAN = "test-2025"


def stored(events) -> list[StoredEvent]:
    return [StoredEvent(f"{1_700_000_000_000 + i}-0", e) for i, e in enumerate(events)]


def publish():
    return one_of_each(PLAN)[0]


def update(subject: str, period: str, value: str, department: str = "stats") -> IndicatorUpdated:
    return indicator_update(PLAN, subject, period, value, department)


def test_every_event_type_has_a_handler() -> None:
    assert {type(e) for e in one_of_each()} == event_types_handled()


def test_a_correction_supersedes_and_both_stay_in_the_log() -> None:
    log = stored([publish(), update("gdp", "2025-Q2", "5.3"), update("gdp", "2025-Q2", "5.5")])
    state = fold(log, plan_id=PLAN)
    observation = state.indicators["gdp"].observations["2025-Q2"]
    assert observation.value == Decimal("5.5") and observation.revision == 2 and observation.previous == Decimal("5.3")
    assert [s.event.value for s in log[1:]] == [Decimal("5.3"), Decimal("5.5")]  # the fold changed no event


def test_a_revised_target_applies_from_its_period() -> None:
    revise = TargetRevised(
        event_id=uuid.uuid4(),
        plan_id=PLAN,
        department="fgw",
        subject="gdp",
        period="2025-07",
        occurred_at=AT,
        target="6%左右",
        reason="年中调整",
    )
    state = fold(
        stored([publish(), update("gdp", "2025-Q2", "5.5"), update("gdp", "2025-Q3", "5.8"), revise]), plan_id=PLAN
    )
    june = {r.indicator.id: r for r in build_report(state, date(2025, 6, 30)).main}["gdp"]
    september = {r.indicator.id: r for r in build_report(state, date(2025, 9, 30)).main}["gdp"]
    assert (june.target_text, june.evaluation.deviation_text) == ("6.5%左右", "-1.0个百分点")
    assert (september.target_text, september.evaluation.deviation_text) == ("6%左右", "-0.2个百分点")


def test_investment_report_for_a_period_replaces_the_earlier_one() -> None:
    def invest(period: str, amount: str) -> InvestmentCompleted:
        return investment(PLAN, period, amount)

    state = fold(
        stored([publish(), invest("2025-03", "100"), invest("2025-04", "50"), invest("2025-03", "120")]), plan_id=PLAN
    )
    assert build_report(state, date(2025, 6, 30)).portfolio.investment_wan == Decimal(170)


# --- properties ---------------------------------------------------------------------------

SUBJECTS = ["gdp", "income", "new-projects"]
PERIODS = ["2025-01", "2025-02", "2025-03", "2025-Q1", "2025-04", "2025-06", "2025-Q2", "2025"]


@st.composite
def logs(draw) -> list[StoredEvent]:
    events = [publish()]
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(["update", "update", "start", "invest", "complete"]))
        if kind == "update":
            value = draw(st.decimals(-50, 200, places=1, allow_nan=False, allow_infinity=False))
            events.append(update(draw(st.sampled_from(SUBJECTS)), draw(st.sampled_from(PERIODS)), str(value)))
        else:
            month = draw(st.integers(1, 12))
            base = {
                "event_id": uuid.uuid4(),
                "plan_id": PLAN,
                "department": "econ",
                "subject": "kp-001",
                "period": f"2025-{month:02d}",
                "occurred_at": AT,
            }
            day = date(2025, month, draw(st.integers(1, 28)))
            if kind == "start":
                events.append(ProjectStarted(started_on=day, **base))
            elif kind == "invest":
                events.append(InvestmentCompleted(amount_wan=Decimal(draw(st.integers(0, 9999))), **base))
            else:
                events.append(ProjectCompleted(completed_on=day, **base))
    return stored(events)


@settings(max_examples=60, deadline=None)
@given(log=logs(), cuts=st.lists(st.integers(0, 60), max_size=5))
def test_fold_does_not_depend_on_batching(log: list[StoredEvent], cuts: list[int]) -> None:
    whole = fold(log, plan_id=PLAN)
    state = PlanState(PLAN)
    bounds = sorted({0, len(log), *(c % (len(log) + 1) for c in cuts)})
    for start, end in itertools.pairwise(bounds):
        state = fold(log[start:end], state)
    assert state == whole


@settings(max_examples=60, deadline=None)
@given(log=logs(), cuts=st.tuples(st.integers(0, 60), st.integers(0, 60)))
def test_an_overlapping_redelivery_applies_only_what_is_new(log: list[StoredEvent], cuts: tuple[int, int]) -> None:
    """A read that starts before the state's position (a redelivery) skips what the state has."""
    first, second = sorted(c % (len(log) + 1) for c in cuts)
    assert fold(log[first:], fold(log[:second], plan_id=PLAN)) == fold(log, plan_id=PLAN)


def test_a_failing_event_leaves_the_position_at_the_last_one_applied() -> None:
    log = stored([publish(), update("gdp", "2025-Q1", "5.3"), update("gdp", "2025-Q2", "5.5")])
    broken = [log[0], log[1], StoredEvent(log[2].position, object())]
    state = PlanState(PLAN)
    with pytest.raises(KeyError):  # no handler for an object that is not an event
        fold(broken, state)
    assert (state.position, state.applied) == (log[1].position, 2)
    assert set(state.indicators["gdp"].observations) == {"2025-Q1"}


@settings(max_examples=60, deadline=None)
@given(log=logs(), as_of=st.dates(date(2025, 1, 1), date(2026, 3, 31)))
def test_fold_is_deterministic(log: list[StoredEvent], as_of: date) -> None:
    # the second fold is of the log as it comes back from storage: decoded from its JSON
    stored = [StoredEvent(s.position, event_adapter.validate_json(s.event.model_dump_json())) for s in log]
    first, second = fold(log, plan_id=PLAN), fold(stored, plan_id=PLAN)
    assert first == second
    assert build_report(first, as_of) == build_report(second, as_of)


def _values(state: PlanState) -> dict[str, dict[str, Decimal]]:
    return {k: {p: o.value for p, o in v.observations.items()} for k, v in state.indicators.items()}


@settings(max_examples=40, deadline=None)
@given(log=logs())
def test_replaying_the_same_events_again_changes_nothing(log: list[StoredEvent]) -> None:
    """Applying a log a second time (a redelivery) leaves every value, project and judgement as it was."""
    once = fold(log, plan_id=PLAN)
    twice = fold(log, fold(log, plan_id=PLAN))
    assert once == twice  # revisions, previous values and the count of applied events included
    assert build_report(once) == build_report(twice)


@settings(max_examples=80, deadline=None)
@given(
    target=st.decimals(-20, 20, places=1, allow_nan=False, allow_infinity=False),
    value=st.decimals(-60, 60, places=1, allow_nan=False, allow_infinity=False),
)
def test_at_most_and_mirrored_at_least_judge_alike(target: Decimal, value: Decimal) -> None:
    from events.targets import RateTarget
    from projections.evaluate import evaluate
    from projections.state import Observation

    def judge(bound: str, t: Decimal, v: Decimal):
        return evaluate(
            RateTarget(text="x", value=t, bound=bound), {"2025-06": Observation("2025-06", v)}, date(2025, 6, 30)
        )

    cap, floor = judge("at_most", target, value), judge("at_least", -target, -value)
    assert cap.status == floor.status and cap.deviation == floor.deviation


def test_events_before_the_plan_are_kept_for_it() -> None:
    state = fold(stored([update("gdp", "2025-Q2", "5.5"), publish()]), plan_id=PLAN)
    row = {r.indicator.id: r for r in build_report(state).main}["gdp"]
    assert row.evaluation.actual_text == "5.5%"


def test_the_pure_rooms_import_nothing_that_does_io() -> None:
    """The I/O line is the folder line: every module of `events/` and `projections/` loads without
    Redis, FastStream, FastAPI, httpx, APScheduler, openpyxl or any of `services/`."""
    edge = ("redis", "faststream", "fastapi", "httpx", "apscheduler", "openpyxl", "uvicorn", "services")
    code = (
        "import importlib, pkgutil, sys\n"
        "import events, projections\n"
        "names = [f'{p.__name__}.{m.name}' for p in (events, projections) for m in pkgutil.iter_modules(p.__path__)]\n"
        "for name in names: importlib.import_module(name)\n"
        f"print(len(names), sorted(m for m in sys.modules if m.split('.')[0] in {edge!r}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    count, loaded = result.stdout.strip().split(" ", 1)
    assert int(count) >= 20  # every module was imported, not an empty list
    assert loaded == "[]"


_IDS = st.builds(lambda ms, seq: f"{ms}-{seq}", st.integers(0, 10**14), st.integers(0, 10**6)) | st.sampled_from(
    ["0-0", "1764255600123-9", "1764255600123-10", "999-0", "1000-0"]
)


@given(_IDS, _IDS)
def test_position_after_orders_like_position_key(a: str, b: str) -> None:
    assert position_after(a, b) == (position_key(a) > position_key(b))


def test_every_fold_of_a_published_plan_holds_one_plan_object() -> None:
    """A worker folds each plan twice (the read model and the alerts); a decoded plan takes a
    quarter of a megabyte. The same plan.published, decoded apart, gives one plan object; a
    revised plan its own; an event reusing the id with other content (written by hand) its own."""
    plan = small_plan()
    published = plan_published(plan, 0, AT, None)
    decoded = [event_adapter.validate_json(encode(published)) for _ in range(2)]
    assert decoded[0].plan is not decoded[1].plan
    read_model, alerts = (fold([StoredEvent("1-0", event)]) for event in decoded)
    assert read_model.plan is alerts.plan and read_model.plan == plan
    revised = plan_published(plan.model_copy(update={"name": plan.name + "（修订）"}), 1, AT, None)
    assert fold([StoredEvent("2-0", revised)]).plan is not read_model.plan
    forged = revised.model_copy(update={"event_id": published.event_id})
    state = fold([StoredEvent("3-0", forged)])
    assert state.plan is forged.plan and state.plan is not read_model.plan
