"""The projector against real Redis: catch-up, exactly-once commits, poison events, rebuild,
time travel, fencing. (Worker processes are tested in test_worker_processes.py.)"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from redis.asyncio import Redis

from events.alerts import AlertNotice
from events.positions import position_key
from projections.packing import PACKED, unpack, unpacked_text
from projections.report import PlanReport, ReportBuilder, build_report
from projections.snapshot import load_state
from projections.state import PlanState
from projections.views import report_view
from services.app import App, NotFound, load_plan, publish_plan
from services.demo import SEED_PLAN, load_seed
from services.projection import (
    ALERTS,
    READ_MODEL,
    GenerationChanged,
    LeaseLost,
    Projection,
    Projector,
    current_generation,
    fold_log,
    plan_status,
    read_fields,
    rebuild,
    runner,
    state_as_known,
)
from services.store import EventStore, Keyspace, Lease, redis_now_ms
from tests.conftest import eventually
from tests.factories import gdp_update, indicator_update, small_plan

pytestmark = pytest.mark.cluster  # every test here also runs on a Redis Cluster

PLAN = "test-2025"


async def live_projector(redis: Redis, keys: Keyspace, plan_id: str = PLAN, owner: str = "w1", **kw) -> Projector:
    projection = kw.get("projection", READ_MODEL)
    assert await Lease(redis, owner, 60_000).hold(keys.lease(plan_id, projection.name))
    projector = Projector(redis, keys, plan_id, owner=owner, retry_delay=0.01, **kw)
    await projector.load()
    return projector


async def drain(projector: Projector) -> None:
    """Apply everything in the log, then do what a caught-up worker does: judge the last instant
    (a millisecond on: idle in the millisecond of the last append, that instant is still open)."""
    while await projector.step():
        pass
    await projector.idle(await redis_now_ms(projector.redis) + 1)


def comparable(model: dict[str, str]) -> dict[str, object]:
    """A generation without the wall-clock time its alert book was last ticked at."""
    if "alert_book" not in model:
        return model
    book = json.loads(unpack(model["alert_book"]))
    del book["clock_ms"]
    return {**model, "alert_book": book}


async def alert_history(redis: Redis, keys: Keyspace, plan_id: str) -> list[dict]:
    generation = await current_generation(redis, keys, plan_id, projection=ALERTS)
    return [json.loads(fields["notice"]) for _, fields in await redis.xrange(keys.alert_history(plan_id, generation))]


async def read_model(
    redis: Redis, keys: Keyspace, plan_id: str = PLAN, projection: Projection = READ_MODEL
) -> dict[str, str]:
    generation = await current_generation(redis, keys, plan_id, projection=projection)
    return await redis.hgetall(keys.generation(plan_id, generation, projection.name))


async def assert_equals_fold(redis: Redis, store: EventStore, keys: Keyspace, plan_id: str = PLAN) -> None:
    model = await read_model(redis, keys, plan_id)
    folded = await fold_log(store, plan_id)
    assert load_state(model["state"]) == folded
    assert json.loads(unpacked_text(model["summary"])) == json.loads(
        json.dumps(report_view(build_report(folded)), ensure_ascii=False)
    )


async def test_catches_up_then_follows_and_equals_a_fresh_fold(redis: Redis, store: EventStore, keys: Keyspace):
    await publish_plan(store, small_plan(PLAN))
    await store.append([gdp_update(PLAN, "5.8", "2025-Q1")])
    projector = await live_projector(redis, keys)
    await drain(projector)
    await assert_equals_fold(redis, store, keys)
    await store.append([gdp_update(PLAN, "5.5", "2025-Q2")])
    assert await projector.step(block_ms=1000) == 1
    gdp = json.loads((await read_fields(redis, keys, PLAN, "indicator:gdp"))[0])
    assert (gdp["actual"], gdp["deviation"], gdp["period"]) == ("5.5%", "-1.0个百分点", "2025-Q2")
    assert [h["period"] for h in gdp["history"]] == ["2025-Q1", "2025-Q2"]
    assert load_state((await read_fields(redis, keys, PLAN, "state"))[0]).applied == 2  # views first, …
    await drain(projector)  # … the state snapshot when caught up (or every STATE_EVERY events)
    await assert_equals_fold(redis, store, keys)
    status = await plan_status(redis, keys, PLAN)
    assert (status.log_length, status.applied, status.lag, status.parked, status.owner) == (3, 3, 0, 0, "w1")


@pytest.mark.parametrize("projection", [READ_MODEL, ALERTS], ids=lambda p: p.name)
async def test_a_caught_up_projector_writes_its_state_at_most_every_state_save_s(
    redis: Redis, store: EventStore, keys: Keyspace, projection: Projection
):
    """Writing the whole state each time a trickle of events is caught up was a worker's largest
    cost at many plans: with `state_save_s` it waits that long; a restart meanwhile re-applies the
    events after the last state written and comes to the same state, telling no alert twice."""
    await publish_plan(store, small_plan(PLAN))
    await store.append([gdp_update(PLAN, "5.8", "2025-Q1")])
    first = await live_projector(redis, keys, projection=projection)  # state_save_s=0: written when caught up
    await drain(first)
    first.state_save_s = 60
    saved = load_state((await read_model(redis, keys, PLAN, projection))["state"]).applied
    await store.append([gdp_update(PLAN, "4.0", "2025-Q2")])  # off track: the alerts raise one
    await drain(first)
    model = await read_model(redis, keys, PLAN, projection)
    assert load_state(model["state"]).applied == saved < int(model["applied"]) == 3  # not written yet
    history = await redis.xlen(keys.alert_history(PLAN, first.generation))
    restarted = await live_projector(redis, keys, projection=projection, state_save_s=60)
    assert restarted.state == first.state == await fold_log(store, PLAN)
    await drain(restarted)
    assert await redis.xlen(keys.alert_history(PLAN, first.generation)) == history  # nothing told twice
    restarted.state_save_s = 0  # as when the interval has passed: written
    await restarted.idle(await redis_now_ms(redis) + 1)
    assert load_state((await read_model(redis, keys, PLAN, projection))["state"]) == await fold_log(store, PLAN)


@pytest.mark.parametrize("projection", [READ_MODEL, ALERTS], ids=lambda p: p.name)
async def test_a_caught_up_projector_writes_its_state_at_once_when_many_events_came(
    redis: Redis, store: EventStore, keys: Keyspace, projection: Projection, monkeypatch: pytest.MonkeyPatch
):
    """Not `state_save_s` later: whoever takes the plan over next (a worker joining, one killed)
    would replay them, the alerts judging each."""
    monkeypatch.setattr(runner, "SAVE_AFTER_EVENTS", 3)
    await publish_plan(store, small_plan(PLAN))
    projector = await live_projector(redis, keys, projection=projection, state_save_s=60)
    await drain(projector)
    await store.append([gdp_update(PLAN, "5.8", "2025-Q1")])
    await drain(projector)

    async def state_written() -> bool:
        model = await read_model(redis, keys, PLAN, projection)
        return "state" in model and load_state(model["state"]).applied == int(model["applied"])

    assert not await state_written()  # two events since: it waits for state_save_s
    await store.append([gdp_update(PLAN, "5.5", "2025-Q2")])
    await drain(projector)
    assert await state_written()


DAMAGED = PACKED + "damaged"  # a packing that cannot be unpacked


@pytest.mark.parametrize(
    ("projection", "damage"),
    [
        (READ_MODEL, {"state": DAMAGED}),
        (READ_MODEL, {"state": '{"plan_id": "another-plan"}'}),
        (READ_MODEL, {"state": "[1, 2]"}),
        (ALERTS, {"state": DAMAGED}),
        (ALERTS, {"alert_book": DAMAGED}),
        (ALERTS, {"alert_book": '{"active": 7}'}),
    ],
    ids=[
        "rm-state-unpackable",
        "rm-state-of-another-plan",
        "rm-not-a-state",
        "alerts-state",
        "alerts-book",
        "alerts-not-a-book",
    ],
)
async def test_a_saved_state_that_cannot_be_read_is_replayed_from_the_log(
    redis: Redis, store: EventStore, keys: Keyspace, projection: Projection, damage: dict[str, str]
):
    """The state (and the alert book saved with it) is where a projector resumes; one that cannot
    be read (damaged, or not this plan's) must not stop the plan: the projector replays the log up
    to its checkpoint instead, comes to the same state, and tells no alert twice."""
    await publish_plan(store, small_plan(PLAN))
    await store.append([gdp_update(PLAN, "5.8", "2025-Q1"), gdp_update(PLAN, "4.0", "2025-Q2")])
    first = await live_projector(redis, keys, projection=projection)
    await drain(first)
    generation = keys.generation(PLAN, first.generation, projection.name)
    await redis.hset(generation, mapping=damage)
    history = await redis.xlen(keys.alert_history(PLAN, first.generation))
    restarted = await live_projector(redis, keys, projection=projection, state_save_s=60)
    assert restarted.state == first.state == await fold_log(store, PLAN)
    await drain(restarted)  # the idle tick brings the alert book to now, as it did before
    assert load_state((await read_model(redis, keys, PLAN, projection))["state"]) == first.state  # written again
    if projection is READ_MODEL:
        await assert_equals_fold(redis, store, keys)
    else:
        assert restarted.strategy.book.active.keys() == first.strategy.book.active.keys()
        assert await redis.xlen(keys.alert_history(PLAN, first.generation)) == history  # nothing told twice
    await store.append([gdp_update(PLAN, "6.6", "2025-Q2")])
    await asyncio.sleep(0.005)  # the instant is judged once Redis' clock has passed it
    await drain(restarted)
    assert restarted.state == await fold_log(store, PLAN)
    if projection is ALERTS:  # the off-track value corrected: its alert resolves, nothing else is told
        told = [
            json.loads(fields["notice"]) for _, fields in await redis.xrange(keys.alert_history(PLAN, first.generation))
        ]
        assert [(n["type"], n["subject"]) for n in told[history:]] == [("alert.resolved", "gdp")]


async def test_a_projector_taking_a_plan_over_writes_only_the_views_that_changed(
    redis: Redis, store: EventStore, keys: Keyspace, monkeypatch: pytest.MonkeyPatch
):
    """The views its predecessor wrote at the checkpoint are those of the state it loads, rendered
    by the same code: its first commit writes the summary and the views of what changed since, as
    the predecessor's would have, and its load builds no report (a quiet plan never needs one).
    Views rendered by other code (planwatch upgraded) are all written again. Either way they are
    the views a rebuild renders."""
    plan_id, *_ = await load_seed(store)
    await drain(await live_projector(redis, keys, plan_id))
    written: list[set[str]] = []
    builds: list[PlanState] = []
    build = ReportBuilder.build

    def counted(builder: ReportBuilder, state: PlanState, *args: Any) -> PlanReport:
        builds.append(state)
        return build(builder, state, *args)

    monkeypatch.setattr(ReportBuilder, "build", counted)

    async def take_over_and_report(value: str) -> None:
        builds.clear()
        projector = await live_projector(redis, keys, plan_id)
        assert not builds
        fields = projector.strategy.fields

        def noted(*args: Any) -> dict[str, str | bytes]:
            out = fields(*args)
            written.append({name for name in out if name.startswith(("indicator:", "project:"))})
            return out

        projector.strategy.fields = noted  # type: ignore[method-assign]
        await store.append([indicator_update(plan_id, "gdp", "2025-06", value)])
        assert await projector.step() == 1

    await take_over_and_report("5.1")
    plan = load_plan(SEED_PLAN)  # an indicator whose target is relative to GDP's changes with it
    assert written[-1] == {f"indicator:{subject}" for subject in ("gdp", *plan.referencing("gdp"))}
    generation = await current_generation(redis, keys, plan_id)
    await redis.hset(keys.generation(plan_id, generation, READ_MODEL.name), "views_code", "older")
    await take_over_and_report("5.2")
    assert len(written[-1]) == 37 + 112 and "indicator:gdp" in written[-1]
    live = await read_model(redis, keys, plan_id)
    await store.append([indicator_update(plan_id, "gdp", "2025-06", "5.3")])
    behind = await live_projector(redis, keys, plan_id)  # a commit leaving the views for later (a rebuild's)
    assert await behind.step(commit=False) == 1
    await behind.commit(views=False)
    assert (await read_model(redis, keys, plan_id))["views_code"] == ""  # a taker renders them all
    await behind.commit()
    live = await read_model(redis, keys, plan_id)
    await rebuild(redis, keys, plan_id)
    rebuilt = await read_model(redis, keys, plan_id)
    views = [name for name in rebuilt if name.startswith(("summary", "indicator:", "project:"))]
    assert len(views) == 1 + 37 + 112
    assert [unpack(live[name]) for name in views] == [unpack(rebuilt[name]) for name in views]


async def test_a_restarted_projector_resumes_at_its_checkpoint(redis: Redis, store: EventStore, keys: Keyspace):
    await publish_plan(store, small_plan(PLAN))
    first = await live_projector(redis, keys)
    await drain(first)
    await store.append([gdp_update(PLAN, "5.5", "2025-Q2")])
    second = await live_projector(redis, keys)  # a new process: loads the last commit
    assert second.state.applied == 1
    await drain(second)
    assert second.state.applied == 2
    await assert_equals_fold(redis, store, keys)


@pytest.mark.parametrize("checkpoint", ["99999999999999-0", "18446744073709551616-0"])
async def test_a_checkpoint_past_the_log_or_no_stream_id_is_replayed_over_not_stuck_on(
    redis: Redis, store: EventStore, keys: Keyspace, checkpoint: str
):
    """Written by hand, or the log restored from an older backup: past the log's end, every commit
    after it was refused as behind it; beyond what a stream id holds, every read failed."""
    await publish_plan(store, small_plan(PLAN))
    await store.append([gdp_update(PLAN, "5.8", "2025-Q1")])
    first = await live_projector(redis, keys)
    await drain(first)
    await redis.hset(keys.generation(PLAN, first.generation, READ_MODEL.name), "checkpoint", checkpoint)
    restarted = await live_projector(redis, keys)
    await store.append([gdp_update(PLAN, "4.0", "2025-Q2")])
    await drain(restarted)
    assert restarted.state == await fold_log(store, PLAN)
    await assert_equals_fold(redis, store, keys)  # committed again


async def test_seed_read_model_equals_the_fold(redis: Redis, store: EventStore, keys: Keyspace) -> None:
    plan_id, *_ = await load_seed(store)
    projector = await live_projector(redis, keys, plan_id)
    await drain(projector)
    await assert_equals_fold(redis, store, keys, plan_id)
    summary = json.loads((await read_fields(redis, keys, plan_id, "summary"))[0])
    assert summary["projects"]["line"] == "112个区级重点项目开工68个，开工率60.7%，完成投资91亿元，投资完成率50.5%"
    project = json.loads((await read_fields(redis, keys, plan_id, "project:kp-001"))[0])
    assert project["name"] == "渝乐电子" and project["stage"] == "completed"


async def test_views_are_stored_packed_plain_ones_are_read_and_damaged_ones_folded_over(
    redis: Redis, store: EventStore, keys: Keyspace
) -> None:
    """The summary and views are rewritten at every commit: stored packed (a fifth of the bytes
    Redis and its append-only file take in). A plain view of an earlier release is still served;
    a damaged one is not an error: the reader folds instead."""
    plan_id, *_ = await load_seed(store)
    await drain(await live_projector(redis, keys, plan_id))
    model = await read_model(redis, keys, plan_id)
    reports = App(redis, keys).reports
    served = await reports.summary(plan_id)
    for field, ratio in (("summary", 3), ("indicator:gdp", 1.5), ("project:kp-001", 1.2)):
        plain = unpacked_text(model[field])
        assert model[field].startswith(PACKED) and len(model[field]) * ratio < len(plain.encode()), field
    generation = keys.generation(plan_id, await current_generation(redis, keys, plan_id), "rm")
    await redis.hset(generation, "summary", unpacked_text(model["summary"]))
    assert await reports.summary(plan_id) == served
    await redis.hset(generation, "summary", PACKED + "damaged")
    assert await reports.summary(plan_id) == served  # folded, not stored


@pytest.mark.parametrize("damage", ["garbage", '{"plan_id": 7}', "[]", PACKED + "damaged"])
async def test_a_stored_view_that_cannot_be_read_is_folded_over_by_every_reader(
    redis: Redis, store: EventStore, keys: Keyspace, damage: str
) -> None:
    """Whatever a view's field holds — not JSON, JSON of another shape, a damaged packing — the
    summary, an indicator, a project and the project list are answered, from the fold."""
    plan_id, *_ = await load_seed(store)
    await drain(await live_projector(redis, keys, plan_id))
    reports = App(redis, keys).reports
    served = (
        await reports.summary(plan_id),
        await reports.indicator(plan_id, "gdp"),
        await reports.project(plan_id, "kp-001"),
        await reports.projects(plan_id),
    )
    generation = keys.generation(plan_id, await current_generation(redis, keys, plan_id), "rm")
    await redis.hset(generation, mapping=dict.fromkeys(["summary", "indicator:gdp", "project:kp-001"], damage))
    answered = (
        await reports.summary(plan_id),
        await reports.indicator(plan_id, "gdp"),
        await reports.project(plan_id, "kp-001"),
        await reports.projects(plan_id),
    )
    assert answered == served


async def test_poison_event_is_parked_and_later_events_flow(redis: Redis, store: EventStore, keys: Keyspace):
    await publish_plan(store, small_plan(PLAN))
    # what a newer deployment (or a hand-typed XADD) might leave in the log: unreadable here
    await redis.xadd(keys.events(PLAN), {"type": "indicator.updated", "data": '{"schema_version": 9}'})
    await store.append([gdp_update(PLAN, "5.5", "2025-Q2")])
    projector = await live_projector(redis, keys, max_attempts=3)
    for _ in range(10):
        await projector.step()
    dead = await redis.xrange(keys.dead_letters(PLAN, projector.generation))
    assert len(dead) == 1
    assert dead[0][1]["type"] == "indicator.updated" and "ValidationError" in dead[0][1]["error"]
    assert dead[0][1]["data"] == '{"schema_version": 9}'
    assert projector.state.indicators["gdp"].observations["2025-Q2"].value == Decimal("5.5")
    status = await plan_status(redis, keys, PLAN)
    assert (status.log_length, status.applied, status.parked, status.lag) == (3, 2, 1, 0)
    assert not await redis.hgetall(keys.attempts(PLAN, projector.generation))


async def test_an_event_that_breaks_the_views_is_isolated_and_parked(
    redis: Redis, store: EventStore, keys: Keyspace, monkeypatch: pytest.MonkeyPatch
):
    import projections.report as report_module

    real = report_module.evaluate_indicator

    def fragile(state, indicator, as_of, *memo):  # a judging bug triggered by one particular value
        if any(o.value == 666 for o in state.indicator(indicator.id).observations.values()):
            raise ArithmeticError("judging bug")
        return real(state, indicator, as_of, *memo)

    monkeypatch.setattr(report_module, "evaluate_indicator", fragile)
    await publish_plan(store, small_plan(PLAN))
    await store.append(
        [gdp_update(PLAN, "5.8", "2025-Q1"), gdp_update(PLAN, "666", "2025-Q2"), gdp_update(PLAN, "5.5", "2025-Q3")]
    )
    projector = await live_projector(redis, keys, max_attempts=2)
    for _ in range(10):
        await projector.step()
    [(_, dead)] = await redis.xrange(keys.dead_letters(PLAN, projector.generation))
    assert "judging bug" in dead["error"] and '"666"' in dead["data"]
    assert set(projector.state.indicators["gdp"].observations) == {"2025-Q1", "2025-Q3"}


def break_the_alert_rules_on_666(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule's bug, met while an indicator's latest value is 666."""
    import projections.alerts as alerts_module

    def fragile(real):
        def judging(state, indicator, as_of, *memo):
            observations = state.indicator(indicator.id).observations.values()
            if observations and max(observations, key=lambda o: position_key(o.position)).value == 666:
                raise ArithmeticError("judging bug")
            return real(state, indicator, as_of, *memo)

        return judging

    # the brief judgement of every change, and the worded one of a notice
    for name in ("indicator_severity", "evaluate_indicator"):
        monkeypatch.setattr(alerts_module, name, fragile(getattr(alerts_module, name)))


async def test_a_judging_bug_skips_a_judgement_and_leaves_the_read_model_alone(
    redis: Redis, store: EventStore, keys: Keyspace, monkeypatch: pytest.MonkeyPatch
):
    """The projections are separate: the read model applies what the alert rules choke on."""
    break_the_alert_rules_on_666(monkeypatch)
    await publish_plan(store, small_plan(PLAN))
    await store.append([gdp_update(PLAN, "666", "2025-Q2")])
    await asyncio.sleep(0.005)  # two appends in one millisecond would be one instant, judged together
    await store.append([gdp_update(PLAN, "5.5", "2025-Q3")])
    for projection in (READ_MODEL, ALERTS):
        projector = await live_projector(redis, keys, projection=projection, max_attempts=2)
        for _ in range(6):
            await projector.step()
        await projector.idle(await redis_now_ms(redis) + 1)
    await assert_equals_fold(redis, store, keys)  # the read model has both values
    model = await read_model(redis, keys)
    assert [h["value"] for h in json.loads(unpacked_text(model["indicator:gdp"]))["history"]] == [666, 5.5]
    statuses = [await plan_status(redis, keys, PLAN, p) for p in (READ_MODEL, ALERTS)]
    assert [(s.applied, s.parked, s.lag) for s in statuses] == [(3, 0, 0), (3, 1, 0)]
    # the judgement of the 666 instant was skipped (blamed on the event that closed it), the
    # event that closed it applied and judged: no alert stands on the unjudged value
    [(_, dead)] = await redis.xrange(keys.dead_letters(PLAN, statuses[1].generation, "alerts"))
    assert dead["type"] == "judgement" and "judging bug" in dead["error"] and '"5.5"' in dead["data"]
    assert load_state((await read_model(redis, keys, PLAN, ALERTS))["state"]) == await fold_log(store, PLAN)
    firing = json.loads((await read_model(redis, keys, PLAN, ALERTS))["alerts"])
    assert [(a["subject"], a["actual"]) for a in firing if a["rule"] == "indicator_behind"] == [("gdp", "5.5%")]
    # a restarted projector resumes from that commit with the same state
    again = await live_projector(redis, keys, projection=ALERTS)
    assert again.state == load_state((await read_model(redis, keys, PLAN, ALERTS))["state"])


async def test_a_judging_bug_met_when_idle_is_logged_once_and_leaves_the_instant_open(
    redis: Redis, store: EventStore, keys: Keyspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """A caught-up worker idles every second: a rule's bug must not flood the log, and the
    instant stays open for the next event to retry (and, failing again, skip)."""
    break_the_alert_rules_on_666(monkeypatch)
    await publish_plan(store, small_plan(PLAN))
    await store.append([gdp_update(PLAN, "666", "2025-Q2")])
    projector = await live_projector(redis, keys, projection=ALERTS)
    assert await projector.step() == 2
    committed = await read_model(redis, keys, PLAN, ALERTS)
    now = await redis_now_ms(redis)
    with caplog.at_level(logging.ERROR, logger="planwatch.projector"):
        for later in range(1, 4):
            assert await projector.idle(now + later) == 0
    assert [r.getMessage() for r in caplog.records] == [f"plan {PLAN}: judging the last instant failed"]
    assert projector.strategy.book.pending  # reloaded from the last commit: the instant is still open
    assert await read_model(redis, keys, PLAN, ALERTS) == committed  # nothing judged, nothing written


async def test_rebuilding_one_projection_leaves_the_other_alone(redis: Redis, store: EventStore, keys: Keyspace):
    """Generation numbers are per projection: the read model's rebuild from generation 1 to 2
    must not delete the alerts' generation 1, its history or its notice ids."""
    await publish_plan(store, small_plan(PLAN))
    await store.append([gdp_update(PLAN, "5.5", "2025-Q2")])  # GDP behind: an alert
    for projection in (READ_MODEL, ALERTS):
        await drain(await live_projector(redis, keys, projection=projection))
    alerts_before = await read_model(redis, keys, PLAN, ALERTS)
    history = await alert_history(redis, keys, PLAN)
    notice_ids = await redis.hgetall(keys.alert_notice_ids(PLAN, 1))
    assert history and notice_ids
    result = await rebuild(redis, keys, PLAN, projection=READ_MODEL)
    assert (result.previous, result.generation) == (1, 2)
    assert await read_model(redis, keys, PLAN, ALERTS) == alerts_before
    assert await alert_history(redis, keys, PLAN) == history
    assert await redis.hgetall(keys.alert_notice_ids(PLAN, 1)) == notice_ids


async def test_rebuild_gives_exactly_the_live_state_and_switches_readers(
    redis: Redis, store: EventStore, keys: Keyspace
):
    plan_id, *_ = await load_seed(store)
    lives = [await live_projector(redis, keys, plan_id, projection=p) for p in (READ_MODEL, ALERTS)]
    for live in lives:
        await drain(live)
    before = {p: await read_model(redis, keys, plan_id, p) for p in (READ_MODEL, ALERTS)}
    history_before = await alert_history(redis, keys, plan_id)
    for projection in (READ_MODEL, ALERTS):
        seen: list[tuple[int, int]] = []
        result = await rebuild(redis, keys, plan_id, lambda *p, s=seen: s.append(p), 100, projection=projection)
        assert (result.previous, result.generation, result.applied) == (1, 2, 443)
        assert seen[-1] == (443, 443)
        assert comparable(await read_model(redis, keys, plan_id, projection)) == comparable(before[projection])
        assert not await redis.exists(keys.generation(plan_id, 1, projection.name))  # the old generation is gone
    assert "alert_book" not in before[READ_MODEL] and "summary" not in before[ALERTS]
    assert await alert_history(redis, keys, plan_id) == history_before and history_before  # the same alerts
    told = [n for n in history_before if AlertNotice.model_validate(n).notifies]  # not silenced or inhibited
    outbox = [json.loads(fields["notice"]) for _, fields in await redis.xrange(keys.outbox(plan_id))]
    assert outbox == told and told  # … and nobody told twice
    assert not await redis.exists(keys.alert_history(plan_id, 1))
    # the live projectors notice at their next commit and carry on in the new generation
    await store.append([gdp_update(plan_id, "5.6", "2025-Q3")])
    for live in lives:
        with pytest.raises(GenerationChanged):
            await live.step()
        await live.load()
        await drain(live)
        assert live.generation == 2
    await assert_equals_fold(redis, store, keys, plan_id)
    assert load_state((await read_model(redis, keys, plan_id, ALERTS))["state"]) == await fold_log(store, plan_id)


async def test_a_rebuild_reading_ahead_over_many_pages_equals_the_live_projection(
    redis: Redis, store: EventStore, keys: Keyspace
):
    """A rebuild asks for its next page before it folds the one it has (Redis serves the read
    meanwhile); pages are cut at snapshot points and one holds an unreadable entry: every entry
    is still applied once, in order, and the rebuilt generation is the live one, snapshots and all."""
    await publish_plan(store, small_plan(PLAN))
    for start in range(0, 2500, 500):
        await store.append([gdp_update(PLAN, f"5.{n % 10}", f"2025-Q{n % 4 + 1}") for n in range(start, start + 500)])
        if start == 1000:  # mid-page (pages are 1,000 entries)
            await redis.xadd(keys.events(PLAN), {"type": "indicator.updated", "data": '{"schema_version": 9}'})
    live = await live_projector(redis, keys, snapshot_every=300)
    await drain(live)
    before = comparable(await read_model(redis, keys, PLAN))
    result = await rebuild(redis, keys, PLAN, snapshot_every=300)
    assert (result.applied, result.parked) == (2501, 1)
    rebuilt = comparable(await read_model(redis, keys, PLAN))
    assert sorted(name for name in rebuilt if name.startswith("snapshot:")) == sorted(
        name for name in before if name.startswith("snapshot:")
    )
    assert rebuilt == before
    await assert_equals_fold(redis, store, keys)


async def test_rebuild_under_live_appends_catches_up_before_switching(redis: Redis, store: EventStore, keys: Keyspace):
    """The rebuild switches readers once it has applied at least what the serving generation has:
    what they read never goes back, and the live projector carries on in the new generation."""
    await publish_plan(store, small_plan(PLAN))
    live = await live_projector(redis, keys)
    stop = asyncio.Event()

    async def appender():  # bursts of an event every 2 ms, as an import posts them, with pauses between
        quarter = 0
        while not stop.is_set():
            quarter += 1
            await store.append([gdp_update(PLAN, f"5.{quarter % 10}", f"2025-Q{quarter % 4 + 1}")])
            await asyncio.sleep(0.05 if quarter % 50 == 0 else 0.002)

    async def follow():
        while not stop.is_set():
            try:
                await live.step(block_ms=50)
            except GenerationChanged:
                await live.load()

    seen: list[int] = []

    async def read():  # what a reader sees as applied, before, during and after the switch
        while not stop.is_set():
            seen.append((await plan_status(redis, keys, PLAN)).applied)
            await asyncio.sleep(0.001)

    tasks = [asyncio.create_task(job()) for job in (appender, follow, read)]
    await asyncio.sleep(0.3)
    result = await rebuild(redis, keys, PLAN, commit_every=50)
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*tasks)
    await drain(live)
    assert await current_generation(redis, keys, PLAN) == result.generation
    await assert_equals_fold(redis, store, keys)
    assert seen == sorted(seen) and len(set(seen)) > 50, seen[:20]


async def test_a_projector_without_the_lease_cannot_write(redis: Redis, store: EventStore, keys: Keyspace):
    await publish_plan(store, small_plan(PLAN))
    stale = await live_projector(redis, keys, owner="w1")
    await redis.set(keys.lease(PLAN, "rm"), "w2")  # w1 stalled past its lease; w2 took over
    with pytest.raises(LeaseLost, match="the lease of w1 held by w2"):
        await stale.step()
    await redis.delete(keys.lease(PLAN, "rm"))  # … or nobody renewed it
    stale = Projector(redis, keys, PLAN, owner="w1")
    await stale.load()
    with pytest.raises(LeaseLost, match="the lease of w1 expired"):
        await stale.step()
    assert (await plan_status(redis, keys, PLAN)).applied == 0


async def test_known_at_before_a_correction_shows_the_old_value(redis: Redis, store: EventStore, keys: Keyspace):
    await publish_plan(store, small_plan(PLAN))
    await store.append([gdp_update(PLAN, "5.3", "2025-Q2")])
    await asyncio.sleep(0.01)
    between = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await store.append([gdp_update(PLAN, "5.5", "2025-Q2")])  # the statistics bureau revises Q2
    projector = await live_projector(redis, keys)
    await drain(projector)

    def gdp(report) -> str:
        return report.main[0].evaluation.actual_text

    assert gdp(await App(redis, keys).reports.table(PLAN)) == "5.5%"
    assert gdp(await App(redis, keys).reports.table(PLAN, known_at=between)) == "5.3%"
    assert gdp(await App(redis, keys).reports.table(PLAN, known_at=datetime.now(UTC))) == "5.5%"
    with pytest.raises(NotFound, match="as known at"):
        await App(redis, keys).reports.table(PLAN, known_at=datetime(2020, 1, 1, tzinfo=UTC))


async def test_known_at_starts_from_the_nearest_periodic_snapshot(
    redis: Redis, store: EventStore, keys: Keyspace, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(runner, "STATE_EVERY", 1)
    await publish_plan(store, small_plan(PLAN))
    projector = await live_projector(redis, keys, snapshot_every=5)
    marks = []
    for i in range(12):
        await store.append([gdp_update(PLAN, f"5.{i}", "2025-Q2")])
        await projector.step()
        marks.append(datetime.now(UTC))
        await asyncio.sleep(0.005)
    fields = await read_model(redis, keys)
    assert len([f for f in fields if f.startswith("snapshot:")]) == 2
    for i, mark in enumerate(marks):
        state = await state_as_known(redis, keys, PLAN, mark)
        assert state.indicators["gdp"].observations["2025-Q2"].value == Decimal(f"5.{i}")
        assert state == await fold_log(store, PLAN, mark)


async def test_every_commit_is_announced(redis: Redis, store: EventStore, keys: Keyspace) -> None:
    await publish_plan(store, small_plan(PLAN))
    pubsub = redis.pubsub()
    await pubsub.subscribe(keys.updates(PLAN))
    projector = await live_projector(redis, keys)
    await projector.step()

    async def announced():
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        return message and message["data"]

    assert await eventually(announced) == projector.state.position
    await pubsub.aclose()
