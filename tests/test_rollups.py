"""Monthly rollups: the seed's June report from events, versions after late data, and the
scheduler — once across replicas, catching up oldest first, in the plan's time zone."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.asyncio import Redis

from events.models import AlertAcknowledged, RollupPublished, recorded_at_of
from events.plan import RollupSchedule
from services.app import (
    App,
    RollupConflict,
    RollupResult,
    list_rollups,
    load_document,
    load_plan,
    produce_rollup,
    publish_plan,
)
from services.demo import PLAN_PUBLISHED_AT, SEED_PLAN, h1_history, load_seed
from services.notify import Notifier, SubscriptionRequest, SubscriptionStore
from services.projection import judge_log
from services.scheduler import RollupScheduler, due_periods, due_time, reported_month
from services.store import EventStore, Keyspace, SignedLinks, connect, node_url_for_key
from tests import seed_report
from tests.conftest import LOOPBACK, ROOT, api_client, planwatch
from tests.factories import indicator_update
from tests.receivers import Receiver

pytestmark = pytest.mark.cluster  # every test here also runs on a Redis Cluster

PLAN = "rongchang-2025"
JULY_16 = datetime.fromisoformat("2025-07-16T09:00:00+08:00")
MONTHS_TO_JUNE = [f"2025-{m:02d}" for m in range(1, 7)]


async def rollup_events(store: EventStore, plan_id: str = PLAN) -> list[RollupPublished]:
    return [s.event for s in await store.read(plan_id, limit=10_000) if isinstance(s.event, RollupPublished)]


async def assert_each_month_compared_with_the_one_before(redis: Redis, keys: Keyspace, periods: list[str]) -> None:
    """Every month after the first was compared with the previous month's rollup (the first
    version of a month is; a month written before the one before it is compared with nothing)."""
    for before, month in itertools.pairwise(periods):
        document = await load_document(redis, keys, PLAN, month)
        assert document is not None and document.compared_with == f"{before} v1", (month, document.compared_with)


async def test_the_june_rollup_carries_the_seed_table_and_project_line(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await load_seed(store)
    result = await produce_rollup(redis, keys, PLAN, "2025-06")
    assert (result.outcome, result.version) == ("published", 1)
    document = await load_document(redis, keys, PLAN, "2025-06")
    assert document is not None and document.column == "上半年完成"
    assert [(r.label, r.target, r.actual, r.deviation) for r in document.main] == seed_report.main_table()
    assert document.portfolio.line == seed_report.project_line()
    assert document.portfolio.completed_line == seed_report.completed_line()
    assert document.title == "重庆市荣昌区2025年上半年国民经济和社会发展计划执行情况"
    assert {o.name for o in document.off_track if o.kind == "indicator"} == {
        "地区生产总值",
        "一般公共预算收入",
        "进出口总额",
        "全体居民人均可支配收入增速",
    }
    assert "北部片区中心水厂" in {o.name for o in document.off_track if o.kind == "project"}
    [event] = await rollup_events(store)
    assert (event.period, event.version, event.content_hash) == ("2025-06", 1, document.content_hash)
    assert event.missed == ["gdp", "revenue", "trade", "income"] and event.subject == "rollup-2025-06"
    assert (await list_rollups(redis, keys, PLAN))[0].formats["html"] == f"/v1/plans/{PLAN}/rollups/2025-06.html"


async def test_a_late_correction_makes_version_two_saying_what_changed(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await load_seed(store)
    await produce_rollup(redis, keys, PLAN, "2025-06")
    again = await produce_rollup(redis, keys, PLAN, "2025-06")
    assert (again.outcome, again.version) == ("unchanged", 1)  # nothing new: no new version
    await store.append([indicator_update(PLAN, "fai", "2025-06", "13.4")])
    second = await produce_rollup(redis, keys, PLAN, "2025-06")
    assert (second.outcome, second.version) == ("published", 2)
    document = await load_document(redis, keys, PLAN, "2025-06")
    assert document.version == 2 and document.compared_with == "2025-06 v1"
    fai = next(r for r in document.main if r.id == "fai")
    assert (fai.actual, fai.deviation) == ("13.4%", "+5.4个百分点")
    revised = [c for c in document.changes if c.subject == "fai"]
    assert any(c.kind == "value" and c.before == "12.9%" and c.after == "13.4%" for c in revised)
    assert any(c.kind == "revised" and "12.9 → 13.4" in c.detail_zh for c in revised)
    assert [e.version for e in await rollup_events(store)] == [1, 2]
    assert (await load_document(redis, keys, PLAN, "2025-06", 1)).main[2].actual == "12.9%"  # v1 kept as it was


async def test_alerts_raised_and_resolved_since_the_last_rollup_are_listed_without_a_worker(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await load_seed(store)  # no projector runs: the rollup judges the log itself
    first = (await produce_rollup(redis, keys, PLAN, "2025-06")).document
    raised = {c.subject for c in first.changes if c.kind == "alert.raised"}
    assert {"gdp", "revenue", "trade", "income"} <= raised
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "6.6")])  # GDP revised back on track
    second = (await produce_rollup(redis, keys, PLAN, "2025-06")).document
    kinds = {(c.kind, c.subject) for c in second.changes}
    assert ("alert.resolved", "gdp") in kinds and ("status", "gdp") in kinds
    assert not any(c.kind == "alert.raised" and c.subject == "revenue" for c in second.changes)  # not new
    assert [r.deviation for r in second.main if r.id == "gdp"] == ["+0.1个百分点"]


async def test_an_acknowledged_alert_is_no_change_of_the_month(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    """Someone acknowledging an alert changes no alert: the month's rollup is written as before,
    listing the alerts' changes only (it failed on the acknowledgement's notice)."""
    await load_seed(store)
    before = (await produce_rollup(redis, keys, PLAN, "2025-06")).document
    acknowledged = AlertAcknowledged(
        event_id=uuid.uuid4(),
        plan_id=PLAN,
        period="2025-06",
        department="office",
        subject=PLAN,
        occurred_at=datetime.now(UTC),
        fingerprint=f"{PLAN}:indicator_behind:revenue",
        acknowledged_by="cli",
        note="已知悉，正在核实",
    )
    await store.append([acknowledged])
    after = (await produce_rollup(redis, keys, PLAN, "2025-06")).document
    assert after is not None and after.changes == before.changes


async def test_a_rollup_asked_in_the_very_millisecond_of_the_last_event_judges_that_event(store: EventStore) -> None:
    await load_seed(store)
    appended = await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "6.6")])
    same_millisecond = recorded_at_of(appended.positions[0])
    _, notices = await judge_log(store, PLAN, same_millisecond)
    assert [n.type for n in notices if n.subject == "gdp"][-1] == "alert.resolved"


async def test_two_writers_of_the_same_new_version_store_it_once(
    redis: Redis, keys: Keyspace, store: EventStore, server_url: str
):
    await load_seed(store)
    listener = connect(node_url_for_key(server_url, keys.plans), 1)  # plain pub/sub hears every node
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.outbox_written.of(PLAN))
    await produce_rollup(redis, keys, PLAN, "2025-06")
    await store.append([indicator_update(PLAN, "fai", "2025-06", "13.4")])
    results = await asyncio.gather(
        *(produce_rollup(redis, keys, PLAN, "2025-06") for _ in range(3)), return_exceptions=True
    )
    for result in results:  # each either wrote version 2 or was told it lost, having stored nothing
        assert isinstance(result, RollupConflict) or (result.outcome, result.version) == ("published", 2), result
    assert [e.version for e in await rollup_events(store)] == [1, 2]
    document = await load_document(redis, keys, PLAN, "2025-06")
    assert document.version == 2 and document.content_hash == (await rollup_events(store))[-1].content_hash
    assert [r.version for r in await list_rollups(redis, keys, PLAN)] == [2]
    announced = await redis.xrange(keys.outbox(PLAN))
    assert [json.loads(f["notice"])["actual"] for _, f in announced] == ["第1版", "第2版"]
    heard = []  # each announcement in the outbox told on its channel too: the fan-out reads it at once
    deadline = asyncio.get_running_loop().time() + 10
    while len(heard) < 2 and asyncio.get_running_loop().time() < deadline:
        if (message := await pubsub.get_message(timeout=1)) is not None:  # None: the subscription's own
            heard.append(message["data"])
    assert heard == ["2025-06", "2025-06"]
    await pubsub.aclose()
    await listener.aclose()


async def test_a_crash_after_the_append_is_finished_by_the_next_run(
    redis: Redis, keys: Keyspace, store: EventStore, monkeypatch
) -> None:
    import services.app.rollups

    await load_seed(store)
    finish = services.app.rollups._finish

    async def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after the event is in the log

    monkeypatch.setattr(services.app.rollups, "_finish", crash)
    with pytest.raises(KeyboardInterrupt):
        await produce_rollup(redis, keys, PLAN, "2025-06", scheduled=True)
    assert len(await rollup_events(store)) == 1 and await list_rollups(redis, keys, PLAN) == []
    monkeypatch.setattr(services.app.rollups, "_finish", finish)
    again = await produce_rollup(redis, keys, PLAN, "2025-06", scheduled=True)
    assert (again.outcome, again.version) == ("exists", 1) and len(await rollup_events(store)) == 1
    assert [r.version for r in await list_rollups(redis, keys, PLAN)] == [1]
    await produce_rollup(redis, keys, PLAN, "2025-06", scheduled=True)
    assert len(await redis.xrange(keys.outbox(PLAN))) == 1  # announced once, by the run that finished it


async def test_rollup_compares_with_the_month_before(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    await load_seed(store)
    await produce_rollup(redis, keys, PLAN, "2025-05")
    june = await produce_rollup(redis, keys, PLAN, "2025-06")
    assert june.document.compared_with == "2025-05 v1"
    assert any(
        c.kind == "status" and c.name == "小刀电动车生产基地" and c.after == "建成投产" for c in june.document.changes
    )


def test_due_times_follow_the_plan_time_zone() -> None:
    plan = load_plan(SEED_PLAN)
    assert due_time(plan, 6) == datetime.fromisoformat("2025-07-16T08:00:00+08:00")  # = 00:00 UTC
    assert due_periods(plan, datetime.fromisoformat("2025-07-15T23:59:00+00:00"))[-1] == "2025-05"
    assert due_periods(plan, datetime.fromisoformat("2025-07-16T00:00:00+00:00"))[-1] == "2025-06"
    # midnight on the 1st in Shanghai is still the last day of the month before in UTC
    first = plan.model_copy(update={"rollup": RollupSchedule(cron="0 0 1 * *")})
    fire = due_time(first, 6)
    assert fire.isoformat() == "2025-07-01T00:00:00+08:00" and fire.astimezone(UTC).day == 30
    assert reported_month(first, fire.astimezone(UTC)) == "2025-06"  # not May, as UTC's date would say
    assert due_periods(first, datetime.fromisoformat("2025-06-30T15:59:00+00:00"))[-1] == "2025-05"
    assert due_periods(first, datetime.fromisoformat("2025-06-30T16:00:00+00:00"))[-1] == "2025-06"


async def test_the_cron_job_is_scheduled_in_the_plan_time_zone(redis: Redis, keys: Keyspace, store: EventStore):
    await load_seed(store)
    rollups = RollupScheduler(App(redis, keys), clock=lambda: JULY_16)
    await rollups.start()
    try:
        job = rollups.scheduler.get_job(f"rollup:{PLAN}")
        fire = job.trigger.get_next_fire_time(None, datetime.fromisoformat("2025-07-01T00:00:00+08:00"))
        assert fire == due_time(load_plan(SEED_PLAN), 6)
        assert [e.period for e in await rollup_events(store)] == MONTHS_TO_JUNE  # the start's catch-up
    finally:
        rollups.stop()


async def test_the_cron_firing_writes_the_month_before_in_the_plan_time_zone(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await load_seed(store)
    now = [datetime.fromisoformat("2025-06-16T00:00:00+00:00")]  # 08:00 on 16 June in Shanghai
    rollups = RollupScheduler(App(redis, keys), clock=lambda: now[0])
    rollups.scheduler = AsyncIOScheduler(timezone=UTC)
    await rollups.sync_jobs()
    job = rollups.scheduler.get_job(f"rollup:{PLAN}")
    await job.func(*job.args)  # what APScheduler runs when the trigger fires
    # May, the month before in Shanghai (not June) — and, oldest first, the months still missing before it
    assert [e.period for e in await rollup_events(store)] == MONTHS_TO_JUNE[:5]
    await job.func(*job.args)  # a second replica's firing of the same month
    now[0] = datetime.fromisoformat("2025-07-16T00:00:00+00:00")
    await job.func(*job.args)
    assert [e.period for e in await rollup_events(store)] == MONTHS_TO_JUNE
    await assert_each_month_compared_with_the_one_before(redis, keys, MONTHS_TO_JUNE)


async def test_a_scheduler_in_shanghai_writes_june_at_midnight_on_1_july_while_utc_is_still_in_june(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    plan = load_plan(SEED_PLAN).model_copy(update={"rollup": RollupSchedule(cron="0 0 1 * *")})
    assert plan.timezone == "Asia/Shanghai"
    await publish_plan(store, plan, PLAN_PUBLISHED_AT)
    history = h1_history(plan)
    for start in range(0, len(history), 500):
        await store.append(history[start : start + 500])
    midnight = datetime.fromisoformat("2025-06-30T16:00:00+00:00")  # 1 July 00:00 in Shanghai
    now = [datetime.fromisoformat("2025-06-30T15:59:59+00:00")]  # 30 June 23:59:59 in Shanghai
    rollups = RollupScheduler(App(redis, keys), clock=lambda: now[0])
    assert [r.period for r in await rollups.catch_up()] == MONTHS_TO_JUNE[:5]  # June not due yet
    rollups.scheduler = AsyncIOScheduler(timezone=UTC)
    await rollups.sync_jobs()
    job = rollups.scheduler.get_job(f"rollup:{PLAN}")
    assert job.trigger.get_next_fire_time(None, now[0]) == midnight
    now[0] = midnight
    await job.func(*job.args)  # the cron firing at midnight Shanghai time
    assert [e.period for e in await rollup_events(store)] == MONTHS_TO_JUNE
    assert await RollupScheduler(App(redis, keys), clock=lambda: midnight).catch_up() == []  # written once
    june = await load_document(redis, keys, PLAN, "2025-06")
    assert june is not None and june.compared_with == "2025-05 v1" and june.column == "上半年完成"


async def test_a_month_another_replica_is_writing_stops_the_catch_up_there(
    redis: Redis, keys: Keyspace, store: EventStore, caplog: pytest.LogCaptureFixture
) -> None:
    await load_seed(store)
    other = redis.lock(keys.rollup_lock(PLAN, "2025-04"), timeout=60)  # another replica is on April
    assert await other.acquire(blocking=False)
    rollups = RollupScheduler(App(redis, keys), clock=lambda: JULY_16)
    with caplog.at_level(logging.INFO, logger="planwatch.scheduler"):
        written = await rollups.catch_up()
    assert [r.period for r in written] == MONTHS_TO_JUNE[:3]  # not May and June before April
    assert [e.period for e in await rollup_events(store)] == MONTHS_TO_JUNE[:3]
    assert "2025-04 is being written by another replica" in caplog.text
    await other.release()  # the other replica is done (here: gave up), the next catch-up goes on
    assert [r.period for r in await rollups.catch_up()] == MONTHS_TO_JUNE[3:]
    assert [e.period for e in await rollup_events(store)] == MONTHS_TO_JUNE
    await assert_each_month_compared_with_the_one_before(redis, keys, MONTHS_TO_JUNE)


async def test_a_rollup_written_by_hand_at_the_same_moment_does_not_stop_the_catch_up(
    redis: Redis, keys: Keyspace, store: EventStore, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    import services.app.rollups

    await load_seed(store)
    load = services.app.rollups.load_document
    by_hand: list[RollupResult] = []
    started = []

    async def meanwhile(redis_, keys_, plan_id, period, version=None):
        # The scheduled run of March has read the log (no version yet) and looks up February's
        # rollup to compare with: at this moment someone runs March's rollup by hand.
        if period == "2025-02" and not started:
            started.append(True)
            by_hand.append(await produce_rollup(redis, keys, PLAN, "2025-03"))
        return await load(redis_, keys_, plan_id, period, version)

    monkeypatch.setattr(services.app.rollups, "load_document", meanwhile)
    rollups = RollupScheduler(App(redis, keys), clock=lambda: JULY_16)
    with caplog.at_level(logging.INFO, logger="planwatch.scheduler"):
        written = await rollups.catch_up()
    # the hand run wrote version 1 of March; the scheduled one lost the race
    assert [(r.period, r.version, r.outcome) for r in by_hand] == [("2025-03", 1, "published")]
    assert "2025-03 was written at the same moment by another run" in caplog.text
    assert [r.period for r in written] == ["2025-01", "2025-02", "2025-04", "2025-05", "2025-06"]
    assert [(e.period, e.version) for e in await rollup_events(store)] == [(p, 1) for p in MONTHS_TO_JUNE]
    assert await redis.get(keys.rollup_done(PLAN, "2025-03")) == "1"  # the month counts as done
    await assert_each_month_compared_with_the_one_before(redis, keys, MONTHS_TO_JUNE)
    assert await rollups.catch_up() == []


async def test_a_rollup_that_outlives_its_lock_does_not_stop_the_catch_up(
    redis: Redis, keys: Keyspace, store: EventStore, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    import services.app.rollups

    await load_seed(store)
    load = services.app.rollups.load_document

    async def slow(redis_, keys_, plan_id, period, version=None):
        if period == "2025-02":  # March's rollup, still being written, outlives its lock
            await redis.delete(keys.rollup_lock(PLAN, "2025-03"))  # what the lock's expiry does
        return await load(redis_, keys_, plan_id, period, version)

    monkeypatch.setattr(services.app.rollups, "load_document", slow)
    rollups = RollupScheduler(App(redis, keys), clock=lambda: JULY_16)
    with caplog.at_level(logging.WARNING, logger="planwatch.scheduler"):
        written = await rollups.catch_up()
    assert "2025-03 took longer than its lock" in caplog.text
    assert [r.period for r in written] == MONTHS_TO_JUNE
    assert [e.period for e in await rollup_events(store)] == MONTHS_TO_JUNE
    assert await redis.get(keys.rollup_done(PLAN, "2025-03")) == "1"


def scheduler(env: dict[str, str], now: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "services", "scheduler", "--once", "--now", now],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_three_schedulers_started_together_write_each_month_once_oldest_first(
    redis: Redis, keys: Keyspace, store: EventStore, cli_env
) -> None:
    await load_seed(store)
    procs = [scheduler(cli_env, "2025-07-16T09:00+08:00") for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    periods = [e.period for e in await rollup_events(store)]
    assert periods == MONTHS_TO_JUNE  # each due month exactly once, oldest first in the log
    assert sum(out.count("published") for out, _ in outputs) == 6
    await assert_each_month_compared_with_the_one_before(redis, keys, periods)


async def test_a_scheduler_back_after_two_missed_months_writes_both_oldest_first(store: EventStore, cli_env) -> None:
    await load_seed(store)
    first = scheduler(cli_env, "2025-05-17T09:00+08:00")
    first.communicate(timeout=120)
    assert [e.period for e in await rollup_events(store)] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    back = scheduler(cli_env, "2025-07-17T09:00+08:00")  # down through May and June's due dates
    out, _ = back.communicate(timeout=120)
    assert [e.period for e in await rollup_events(store)][4:] == ["2025-05", "2025-06"]  # oldest first
    assert out.splitlines() == ["rongchang-2025 2025-05 v1 published", "rongchang-2025 2025-06 v1 published"]
    restart = scheduler(cli_env, "2025-07-17T09:00+08:00")
    out, _ = restart.communicate(timeout=120)
    assert out == "" and len(await rollup_events(store)) == 6  # none twice


async def test_rollup_subscribers_get_a_summary_with_a_link(
    redis: Redis, keys: Keyspace, store: EventStore, receiver: Receiver
) -> None:
    await load_seed(store)
    receiver.reply(200, {"errcode": 0, "errmsg": "ok"})
    for rollups in (True, False):
        await SubscriptionStore(redis, keys, LOOPBACK).create(
            SubscriptionRequest(
                name="领导群",
                channel="wecom",
                url=receiver.url(f"/wecom?key={rollups}"),
                filters={"rollups": rollups, "rules": ["data_stale"], "plans": [PLAN]},
                group_wait=0,  # grouping has its own tests (test_delivery.py)
            )
        )
    await produce_rollup(redis, keys, PLAN, "2025-06")
    async with httpx.AsyncClient(trust_env=False) as http:
        links = await SignedLinks.load(redis, keys, "https://planwatch.example.gov.cn")
        notifier = Notifier(redis, keys, "n", http, links=links, allowed_targets=LOOPBACK)
        for _ in range(3):
            await notifier.fan_out(block_ms=10)
            await notifier.deliver_all()
    [message] = receiver.requests  # only the subscription that asked for rollups
    assert message.raw_query == "key=True"
    content = json.loads(message.body)["markdown"]["content"]
    assert "【月度报告】" in content and "2025-06" in content
    # a signed link to that very version, which a phone opens without a token (test_dashboard.py)
    assert "(https://planwatch.example.gov.cn/shared/plans/rongchang-2025/rollups/2025-06.html?v=1&expires=" in content
    assert seed_report.project_line() in content


# --- serving: the API and the CLI ----------------------------------------------------------------


async def test_the_api_lists_rollups_and_serves_each_format(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    from services.reports import DOCX_MEDIA_TYPE as DOCX
    from services.reports import XLSX_MEDIA_TYPE as XLSX
    from services.store import TokenStore

    await load_seed(store)
    await produce_rollup(redis, keys, PLAN, "2025-05")
    await produce_rollup(redis, keys, PLAN, "2025-06")
    token, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys, token) as http:
        listed = (await http.get(f"/v1/plans/{PLAN}/rollups")).json()
        assert [(r["period"], r["version"]) for r in listed] == [("2025-05", 1), ("2025-06", 1)]
        assert listed[1]["missed"] == ["gdp", "revenue", "trade", "income"]
        markdown = await http.get(listed[1]["formats"]["md"])
        assert markdown.status_code == 200 and markdown.headers["content-type"].startswith("text/markdown")
        assert "| 指标 | 全年目标 | 上半年完成 | 与目标± |" in markdown.text
        assert seed_report.project_line() in markdown.text
        html = await http.get(f"/v1/plans/{PLAN}/rollups/2025-06.html")
        assert html.headers["content-type"].startswith("text/html") and "<table" in html.text
        xlsx = await http.get(f"/v1/plans/{PLAN}/rollups/2025-06.xlsx")
        assert xlsx.headers["content-type"] == XLSX and xlsx.content[:2] == b"PK"
        assert 'filename="rongchang-2025-2025-06-v1.xlsx"' in xlsx.headers["content-disposition"]
        docx = await http.get(listed[1]["formats"]["docx"])
        assert docx.headers["content-type"] == DOCX and docx.content[:2] == b"PK"
        assert 'attachment; filename="rongchang-2025-2025-06-v1.docx"' in docx.headers["content-disposition"]
        for path, status in [
            ("2025-06.pdf", 404),
            ("2025-07.md", 404),
            ("2025-06.md?version=2", 404),
            ("2025-06.md?version=0", 422),
        ]:
            response = await http.get(f"/v1/plans/{PLAN}/rollups/{path}")
            assert response.status_code == status, (path, response.text)
        assert (await http.get("/v1/plans/nowhere-2025/rollups")).status_code == 404
    async with api_client(redis, keys) as anonymous:
        assert (await anonymous.get(f"/v1/plans/{PLAN}/rollups")).status_code == 401


async def test_a_stored_rollup_that_cannot_be_read_is_passed_over_and_written_again(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    """A damaged document fails no reader: the listing leaves it out, asking for it says there is
    none, and the next run of the month writes it again as a new version."""
    from services.store import TokenStore

    await load_seed(store)
    await produce_rollup(redis, keys, PLAN, "2025-05")
    june = await produce_rollup(redis, keys, PLAN, "2025-06")
    assert june.document is not None
    await redis.set(keys.rollup_document(PLAN, "2025-06", 1, june.document.content_hash), '{"damaged": true}')
    assert [r.period for r in await list_rollups(redis, keys, PLAN)] == ["2025-05"]
    token, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys, token) as http:
        assert (await http.get(f"/v1/plans/{PLAN}/rollups/2025-06.md")).status_code == 404
        assert (await http.get(f"/v1/plans/{PLAN}/rollups")).status_code == 200
    again = await produce_rollup(redis, keys, PLAN, "2025-06")
    assert (again.outcome, again.version) == ("published", 2)
    assert [(r.period, r.version) for r in await list_rollups(redis, keys, PLAN)] == [("2025-05", 1), ("2025-06", 2)]


async def test_the_cli_writes_a_rollup_by_hand_in_each_format(store: EventStore, cli_env, tmp_path) -> None:
    import docx
    import openpyxl

    await load_seed(store)
    markdown = planwatch(cli_env, "rollup", "--plan", PLAN, "--period", "2025-06")
    assert markdown.returncode == 0, markdown.stderr
    assert "published version 1" in markdown.stderr and seed_report.project_line() in markdown.stdout
    workbook_path = tmp_path / "june.xlsx"
    again = planwatch(cli_env, "rollup", "--plan", PLAN, "--period", "2025-06", "-f", "xlsx", "-o", str(workbook_path))
    assert again.returncode == 0 and "unchanged since version 1" in again.stderr
    assert "1﹒地区生产总值" in [c.value for c in openpyxl.load_workbook(workbook_path).worksheets[0]["A"]]
    document_path = tmp_path / "june.docx"
    word = planwatch(cli_env, "rollup", "--plan", PLAN, "--period", "2025-06", "-f", "docx", "-o", str(document_path))
    assert word.returncode == 0 and f"wrote {document_path}" in word.stderr
    assert docx.Document(str(document_path)).tables[0].rows[1].cells[0].text == "1﹒地区生产总值"
    listed = planwatch(cli_env, "rollups", "--plan", PLAN)
    assert listed.stdout.startswith("2025-06  v1  ") and "未达目标：gdp、revenue、trade、income" in listed.stdout
    for args, says in [
        (("--period", "2025-13"), "period"),
        (("--period", "2025-06", "-f", "pdf"), "--format"),
        (("--period", "2025-06", "-f", "xlsx"), "-o FILE"),
        (("--period", "2025-06", "-f", "docx"), "-o FILE"),
    ]:
        bad = planwatch(cli_env, "rollup", "--plan", PLAN, *args)
        assert bad.returncode != 0 and says in bad.stderr, (args, bad.stderr)
    assert len(await rollup_events(store)) == 1  # nothing stored by the refusals
