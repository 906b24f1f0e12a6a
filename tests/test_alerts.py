"""Alerts: which rules fire for the seed, the lifecycle, the clock, and that the history is a
pure function of the log (however it is read)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from events.alerts import AlertNotice
from events.models import IndicatorUpdated, ProjectStarted
from events.positions import StoredEvent
from projections.alerts import AlertBook, judge, tick
from projections.state import PlanState
from services.app import publish_plan
from services.demo import load_seed
from services.projection import ALERTS, Projector
from services.store import EventStore, Keyspace, Lease, redis_now_ms
from tests.factories import AT, indicator_update, investment, small_plan

PLAN = "test-2025"
SHANGHAI_NOON = datetime(2025, 7, 16, 4, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def update(subject: str, period: str, value: str, department: str = "stats") -> IndicatorUpdated:
    return indicator_update(PLAN, subject, period, value, department)


class Timeline:
    """Events with transaction times of our choosing, fed through the alert lifecycle like the projector."""

    def __init__(self) -> None:
        self.state, self.book, self.notices, self.seq = PlanState(PLAN), AlertBook(), [], 0

    def post(self, when: datetime, *events) -> list[AlertNotice]:
        before = len(self.notices)
        for event in events:
            self.seq += 1
            self.notices += judge(self.book, self.state, StoredEvent(f"{ms(when)}-{self.seq}", event))
        return self.notices[before:]

    def idle(self, when: datetime) -> list[AlertNotice]:
        before = len(self.notices)
        self.notices += tick(self.book, self.state, ms(when))
        return self.notices[before:]


def plan_event():
    from tests.factories import one_of_each

    return one_of_each(PLAN)[0]


def kinds(notices: list[AlertNotice]) -> list[tuple[str, str, str, str]]:
    return [(n.type, n.rule, n.subject, n.severity) for n in notices]


def test_raised_escalated_and_resolved_with_the_report_wording() -> None:
    line = Timeline()
    line.post(datetime(2025, 1, 20, tzinfo=UTC), plan_event())
    line.idle(datetime(2025, 1, 21, tzinfo=UTC))
    raised = line.post(datetime(2025, 4, 16, 2, tzinfo=UTC), update("gdp", "2025-Q1", "5.8"))
    assert [n for n in raised if n.subject == "gdp"] == []  # judged when the instant closes …
    line.idle(datetime(2025, 4, 16, 3, tzinfo=UTC))  # … which it is now
    gdp = [n for n in line.notices if n.subject == "gdp" and n.rule == "indicator_behind"]
    assert kinds(gdp) == [("alert.raised", "indicator_behind", "gdp", "warning")]
    notice = gdp[0]
    assert (notice.target, notice.actual, notice.deviation, notice.department_name) == (
        "6.5%左右",
        "5.8%",
        "-0.7个百分点",
        "区统计局",
    )
    assert notice.summary_zh == "地区生产总值一季度完成5.8%，全年目标6.5%左右，与目标-0.7个百分点（区统计局）"
    assert notice.at == datetime(2025, 4, 16, 2, tzinfo=UTC) and notice.cause and notice.state == "firing"

    # still behind a period later: it rises a level (Sanya: two periods running → red)
    line.post(datetime(2025, 7, 16, 2, tzinfo=UTC), update("gdp", "2025-Q2", "5.5"))
    escalated = [n for n in line.idle(datetime(2025, 7, 16, 3, tzinfo=UTC)) if n.rule == "indicator_behind"]
    assert kinds(escalated) == [("alert.escalated", "indicator_behind", "gdp", "critical")]
    assert escalated[0].started_at == notice.started_at

    # a correction brings it back: resolved once, with the new figures
    line.post(datetime(2025, 7, 20, 2, tzinfo=UTC), update("gdp", "2025-Q2", "6.6"))
    resolved = [n for n in line.idle(datetime(2025, 7, 20, 3, tzinfo=UTC)) if n.rule == "indicator_behind"]
    assert kinds(resolved) == [("alert.resolved", "indicator_behind", "gdp", "critical")]
    assert (
        resolved[0].state == "resolved"
        and resolved[0].summary_zh.startswith("已恢复：")
        and "+0.1个百分点" in resolved[0].summary_zh
    )
    again = line.post(datetime(2025, 7, 21, 2, tzinfo=UTC), update("gdp", "2025-Q2", "6.6"))  # same value again
    quiet = again + line.idle(datetime(2025, 7, 21, 3, tzinfo=UTC))
    assert [n for n in quiet if n.rule == "indicator_behind"] == []


def test_a_batch_is_judged_as_one_instant() -> None:
    line = Timeline()
    line.post(datetime(2025, 1, 20, tzinfo=UTC), plan_event())
    # a department sends a value and its correction in one batch: no alert flaps
    line.post(datetime(2025, 4, 16, 2, tzinfo=UTC), update("gdp", "2025-Q1", "5.0"), update("gdp", "2025-Q1", "6.6"))
    assert [n for n in line.idle(datetime(2025, 4, 17, tzinfo=UTC)) if n.rule == "indicator_behind"] == []


def test_relative_target_alert_names_the_reference() -> None:
    line = Timeline()
    line.post(datetime(2025, 1, 20, tzinfo=UTC), plan_event())
    line.post(datetime(2025, 7, 16, 2, tzinfo=UTC), update("gdp", "2025-Q2", "5.5"), update("income", "2025-Q2", "4.7"))
    [income] = [n for n in line.idle(datetime(2025, 7, 17, tzinfo=UTC)) if n.rule == "relative_target"]
    assert (income.rule, income.deviation) == ("relative_target", "-0.8个百分点")
    assert "对比指标5.5%" in income.summary_zh


def test_overdue_data_fires_on_the_clock_and_clears_when_the_value_comes() -> None:
    line = Timeline()
    line.post(datetime(2025, 1, 20, tzinfo=UTC), plan_event())
    line.post(datetime(2025, 4, 16, 2, tzinfo=UTC), update("gdp", "2025-Q1", "6.6"), update("income", "2025-Q1", "7.0"))
    line.idle(datetime(2025, 4, 17, tzinfo=UTC))

    # Q2 ends 30 June; 20 days later, at midnight Shanghai on 21 July, the value is overdue
    def quarterly(notices):  # new-projects, a monthly indicator never reported, is overdue all along
        return [n for n in notices if n.rule == "data_stale" and n.subject in ("gdp", "income")]

    assert quarterly(line.idle(datetime(2025, 7, 20, 15, 59, tzinfo=UTC))) == []
    stale = quarterly(line.idle(datetime(2025, 7, 21, 9, tzinfo=UTC)))
    assert {n.subject for n in stale} == {"gdp", "income"}
    gdp = next(n for n in stale if n.subject == "gdp")
    assert gdp.at == datetime(2025, 7, 20, 16, tzinfo=UTC)  # the deadline itself, not when the timer ran
    assert gdp.period == "2025-Q2" and "逾期未报送" in gdp.summary_zh and "2025-07-21" in gdp.summary_zh
    late = line.post(datetime(2025, 7, 25, tzinfo=UTC), update("gdp", "2025-Q2", "6.6"))
    late += line.idle(datetime(2025, 7, 25, 1, tzinfo=UTC))
    assert kinds(quarterly(late)) == [("alert.resolved", "data_stale", "gdp", "warning")]


def test_a_project_is_overdue_once_its_start_month_is_over() -> None:
    line = Timeline()
    line.post(datetime(2025, 1, 20, tzinfo=UTC), plan_event())  # kp-001 is planned to start 2025-02
    assert [n for n in line.idle(datetime(2025, 2, 27, tzinfo=UTC)) if n.subject == "kp-001"] == []
    line.post(datetime(2025, 3, 5, tzinfo=UTC), update("gdp", "2025-02", "6.6"))  # data through February
    overdue = [n for n in line.idle(datetime(2025, 3, 6, tzinfo=UTC)) if n.subject == "kp-001"]
    assert kinds(overdue) == [("alert.raised", "project_not_started", "kp-001", "warning")]
    started = ProjectStarted(
        event_id=uuid.uuid4(),
        plan_id=PLAN,
        department="econ",
        subject="kp-001",
        period="2025-03",
        occurred_at=AT,
        started_on=date(2025, 3, 10),
    )
    line.post(datetime(2025, 3, 11, tzinfo=UTC), started)
    after = [n for n in line.idle(datetime(2025, 3, 12, tzinfo=UTC)) if n.subject == "kp-001"]
    assert ("alert.resolved", "project_not_started", "kp-001", "warning") in kinds(after)
    resolved = next(n for n in after if n.type == "alert.resolved")
    assert resolved.summary_zh.endswith("计划2025-02开工，已于2025-03-10开工") and resolved.actual == "2025-03-10开工"


@st.composite
def scripts(draw):
    """A log of updates at increasing times, and where a reader pauses (idle) between them."""
    start = datetime(2025, 1, 20, tzinfo=UTC)
    steps, moment = [], start
    for _ in range(draw(st.integers(1, 25))):
        moment += timedelta(hours=draw(st.integers(1, 24 * 40)))  # a reader pauses only after an instant
        subject = draw(st.sampled_from(["gdp", "income", "new-projects"]))
        period = draw(st.sampled_from(["2025-Q1", "2025-Q2", "2025-03", "2025-06", "2025-09"]))
        value = draw(st.sampled_from(["0.5", "5.5", "6.6", "40", "90"]))
        same_instant = draw(st.integers(1, 3))
        idle_after = draw(st.booleans())
        steps.append((moment, subject, period, value, same_instant, idle_after))
    return steps


@settings(max_examples=40, deadline=None)
@given(script=scripts())
def test_the_history_does_not_depend_on_when_the_reader_pauses(script) -> None:
    def run(with_pauses: bool) -> list[dict]:
        line = Timeline()
        line.post(datetime(2025, 1, 20, tzinfo=UTC), plan_event())
        for moment, subject, period, value, copies, idle_after in script:
            department = "econ" if subject == "new-projects" else "stats"
            line.post(moment, *(update(subject, period, value, department) for _ in range(copies)))
            if with_pauses and idle_after:
                line.idle(moment + timedelta(milliseconds=1))
        line.idle(script[-1][0] + timedelta(days=400))  # a long while after the last report
        return [n.model_dump(exclude={"cause"}) for n in line.notices]

    assert run(with_pauses=True) == run(with_pauses=False)


def about_alerts(kind: str, moment: datetime):
    """A silence made, or an acknowledgement of gdp's alert (nothing, if it is not firing)."""
    from events.models import AlertAcknowledged, AlertSilenced
    from tests.factories import eid

    base = {"event_id": eid(), "plan_id": PLAN, "occurred_at": moment, "subject": PLAN, "period": "2025"}
    if kind == "silence":
        return AlertSilenced(
            **base,
            department="fgw",
            silence_id=eid().hex[:12],
            matchers={"subject": "gdp"},
            starts_at=moment,
            ends_at=moment + timedelta(days=20),
            created_by="0123456789ab",
        )
    return AlertAcknowledged(
        **base, department="stats", fingerprint=f"{PLAN}:indicator_behind:gdp", acknowledged_by="0123456789ab"
    )


@settings(max_examples=40, deadline=None)
@given(
    script=scripts(), said=st.lists(st.sampled_from(["", "silence", "ack"]), min_size=25, max_size=25), data=st.data()
)
def test_judging_in_runs_of_one_instant_is_judging_one_by_one(script, said, data) -> None:
    """A projector folds a batch read in runs of one instant (`runs`, `judge_run`); a replay after
    a failure, one event at a time (`judge`). Same notices, same book, however the reads split
    the log, with silences and acknowledgements in the same instants as reports."""
    from projections.alerts import Memo, judge_run, runs

    log, seq = [StoredEvent(f"{ms(datetime(2025, 1, 20, tzinfo=UTC))}-0", plan_event())], 0
    subjects = st.sampled_from(["gdp", "income", "new-projects"])
    for (moment, subject, period, value, copies, _), kind in zip(script, said, strict=False):
        events = [update(subject, period, value, "econ" if subject == "new-projects" else "stats")]
        for other in data.draw(st.lists(subjects, max_size=copies - 1)):  # other subjects in the instant
            events.append(update(other, period, value, "econ" if other == "new-projects" else "stats"))
        if kind:
            events.insert(data.draw(st.integers(0, copies)), about_alerts(kind, moment))
        for event in events:
            seq += 1
            log.append(StoredEvent(f"{ms(moment)}-{seq}", event))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(log) - 1), max_size=6)))
    one, book_one = PlanState(PLAN), AlertBook()
    many, book_many = PlanState(PLAN), AlertBook()
    memo_one, memo_many = Memo(), Memo()  # as the projector keeps one
    notices_one = [n for stored in log for n in judge(book_one, one, stored, memo_one)]
    notices_many = []
    for start, end in zip([0, *cuts], [*cuts, len(log)], strict=True):
        for run in runs(log[start:end]):
            notices_many += judge_run(book_many, many, run, memo_many)
    end = ms(script[-1][0] + timedelta(days=400))
    notices_one += tick(book_one, one, end, memo_one)
    notices_many += tick(book_many, many, end, memo_many)
    assert [n.model_dump() for n in notices_many] == [n.model_dump() for n in notices_one]
    assert book_many == book_one and many.position == one.position and many.applied == one.applied


# --- through the projector and Redis ---------------------------------------------------------


async def live(redis: Redis, keys: Keyspace, plan_id: str) -> Projector:
    assert await Lease(redis, "w", 60_000).hold(keys.lease(plan_id, "alerts"))
    projector = Projector(redis, keys, plan_id, owner="w", projection=ALERTS)
    await projector.load()
    return projector


async def catch_up(projector: Projector) -> None:
    while await projector.step():
        pass
    await projector.idle(await redis_now_ms(projector.redis) + 1)


async def outbox(redis: Redis, keys: Keyspace, plan_id: str) -> list[dict]:
    return [json.loads(f["notice"]) for _, f in await redis.xrange(keys.outbox(plan_id))]


@pytest.mark.cluster
async def test_the_seed_history_alerts_exactly_the_indicators_the_report_names(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    from tests import seed_report

    plan_id, *_ = await load_seed(store)
    await catch_up(await live(redis, keys, plan_id))
    notices = await outbox(redis, keys, plan_id)
    targets = {
        n["subject_name"]
        for n in notices
        if n["rule"] in ("indicator_behind", "relative_target") and n["type"] == "alert.raised"
    }
    main = {
        "地区生产总值",
        "规上工业增加值",
        "全社会固定资产投资",
        "社会消费品零售总额",
        "一般公共预算收入",
        "进出口总额",
        "全体居民人均可支配收入增速",
        "城镇调查失业率",
        "粮食总产量",
        "万元GDP能耗",
    }
    missed = set(seed_report.missed_indicators())
    assert {name for name in targets if name in main} == {
        "地区生产总值",
        "一般公共预算收入",
        "进出口总额",
        "全体居民人均可支配收入增速",
    }
    assert all(any(full.startswith(name) for full in missed) for name in targets & main)
    assert not targets - main  # no further target of part 三 is behind either
    overdue = {n["subject"] for n in notices if n["rule"] == "project_not_started"}
    assert "kp-025" in overdue  # 北部片区中心水厂, which the report wants started "尽早"
    firing = json.loads(await redis.hget(keys.generation(plan_id, 1, "alerts"), "alerts"))
    assert {a["subject"] for a in firing if a["rule"] == "indicator_behind"} == {"gdp", "revenue", "trade"}


@pytest.mark.cluster
async def test_a_correction_resolves_and_a_repeat_stays_quiet(redis: Redis, keys: Keyspace, store: EventStore):
    await publish_plan(store, small_plan(PLAN))
    projector = await live(redis, keys, PLAN)
    await store.append([update("gdp", "2025-Q2", "5.5")])
    await catch_up(projector)
    first = update("gdp", "2025-Q2", "6.6")
    await store.append([first])
    await catch_up(projector)
    await store.append([first])  # the same update posted twice: a duplicate, stored once
    await store.append([update("gdp", "2025-Q2", "6.6")])  # the same figure reported again
    await catch_up(projector)
    gdp = [(n["type"], n["rule"]) for n in await outbox(redis, keys, PLAN) if n["subject"] == "gdp"]
    assert gdp.count(("alert.raised", "indicator_behind")) == 1
    assert gdp.count(("alert.resolved", "indicator_behind")) == 1
    assert gdp[-1] == ("alert.resolved", "indicator_behind")


@pytest.mark.cluster
async def test_a_restarted_projector_does_not_repeat_alerts(redis: Redis, keys: Keyspace, store: EventStore):
    await publish_plan(store, small_plan(PLAN))
    await store.append([update("gdp", "2025-Q2", "5.5")])
    await catch_up(await live(redis, keys, PLAN))
    sent = await outbox(redis, keys, PLAN)
    await catch_up(await live(redis, keys, PLAN))  # a new process resumes from the commit
    assert await outbox(redis, keys, PLAN) == sent and sent


def test_a_report_about_one_project_does_not_resolve_a_portfolio_alert_that_still_fires() -> None:
    line = Timeline()
    line.post(datetime(2025, 1, 20, tzinfo=UTC), plan_event())
    line.post(datetime(2025, 4, 10, tzinfo=UTC), update("new-projects", "2025-03", "10", "econ"))
    line.idle(datetime(2025, 4, 11, tzinfo=UTC))  # kp-001 was due to start in February and has not
    assert ("portfolio_start_rate", "portfolio") in {(n.rule, n.subject) for n in line.notices if n.state == "firing"}
    line.post(datetime(2025, 4, 12, tzinfo=UTC), investment(PLAN, "2025-03", 500))  # money spent, still not started
    after = line.idle(datetime(2025, 4, 13, tzinfo=UTC))
    assert [n for n in after if n.rule == "portfolio_start_rate"] == []  # it still fires: nothing to say
    assert kinds([n for n in after if n.subject == "portfolio"]) == [
        ("alert.raised", "portfolio_investment_rate", "portfolio", "warning")  # judged now there is money
    ]


def test_judging_only_when_the_clock_is_due_says_what_judging_every_six_hours_says() -> None:
    """The worker lets an idle plan's alerts sleep until `next_due_ms` (the open instant, the next
    overdue-data deadline, a silence's start or end) instead of ticking every second. A timeline
    ticked every six hours and one ticked only when due agree, notice for notice and in every
    firing alert's status at every moment, through a silence and a year of deadlines."""
    from projections.alerts import next_due_ms
    from tests.factories import silence_of

    silence = silence_of(PLAN, datetime(2025, 5, 3, 7, 30, tzinfo=UTC), datetime(2025, 8, 9, 13, 15, tzinfo=UTC))
    every, when_due = Timeline(), Timeline()
    for line in (every, when_due):
        line.post(datetime(2025, 1, 20, tzinfo=UTC), plan_event())
        line.post(datetime(2025, 3, 1, tzinfo=UTC), silence)
        line.post(datetime(2025, 4, 16, 2, tzinfo=UTC), update("gdp", "2025-Q1", "5.8"))
    now, ticks = datetime(2025, 4, 16, 2, tzinfo=UTC), 0
    while now < datetime(2026, 3, 1, tzinfo=UTC):
        now += timedelta(hours=6)
        every.idle(now)
        due = next_due_ms(when_due.book, when_due.state.plan)
        if due is not None and due <= ms(now):
            when_due.idle(now)
            ticks += 1
        statuses = [(k, a.silence_ids, a.inhibited_by) for k, a in every.book.active.items()]
        assert statuses == [(k, a.silence_ids, a.inhibited_by) for k, a in when_due.book.active.items()], now
    assert [n.model_dump() for n in every.notices] == [n.model_dump() for n in when_due.notices]
    assert any(n.silence_ids for n in every.notices) and any(n.rule == "data_stale" for n in every.notices)
    assert 0 < ticks < 60  # the deadlines and the silence's bounds, not 1 300 ticks
    assert next_due_ms(when_due.book, when_due.state.plan) is None  # the year is over: nothing until an event


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(
        ["Asia/Shanghai", "America/New_York", "Europe/London", "Asia/Kathmandu", "Australia/Lord_Howe"]
    ),
    ms_=st.integers(ms(datetime(2020, 1, 1, tzinfo=UTC)), ms(datetime(2030, 1, 1, tzinfo=UTC))),
    near=st.sampled_from([0, 1, 899_999, 900_000, -1]),
)
def test_the_date_judged_is_the_zones_date_at_every_instant(zone: str, ms_: int, near: int) -> None:
    """Judging reads the date at the instant from a quarter-hour's worked-out date; around
    midnight and the zone's changes of offset (New York's and London's summer time, Lord Howe's
    half hour, Kathmandu's +5:45) it is the date the zone gives."""
    from zoneinfo import ZoneInfo

    from projections.alerts import local_date

    for instant in (ms_, ms_ - ms_ % 900_000 + near):  # anywhere, and at a quarter-hour's edges
        exact = datetime.fromtimestamp(instant / 1000, tz=UTC).astimezone(ZoneInfo(zone)).date()
        assert local_date(zone, instant) == exact


def test_the_date_judged_turns_at_the_zones_midnight_and_through_its_changes_of_offset() -> None:
    from zoneinfo import ZoneInfo

    from projections.alerts import local_date

    zones = ["Asia/Shanghai", "America/New_York", "Europe/London", "Asia/Kathmandu", "Australia/Lord_Howe"]
    for zone in zones:
        local = ZoneInfo(zone)
        moments = [datetime(2025, month, 1, tzinfo=local) for month in range(1, 13)]  # local midnights
        moments += [datetime(2025, 3, 9, 7, tzinfo=UTC), datetime(2025, 11, 2, 6, tzinfo=UTC)]  # New York's changes
        moments += [datetime(2025, 3, 30, 1, tzinfo=UTC), datetime(2025, 4, 5, 15, tzinfo=UTC)]  # London's, Lord Howe's
        for moment in moments:
            for minute in range(-45, 46):
                instant = ms(moment) + minute * 60_000 - 1
                expected = datetime.fromtimestamp(instant / 1000, tz=UTC).astimezone(local).date()
                assert local_date(zone, instant) == expected, (zone, moment, minute)
