"""What subscribers and operators read, audited against "users first": Chinese labels on what
Chinese users read, money as the report prints it, every time labelled and in the plan's zone
(including a zone with daylight saving time), and the scheduler and reminders keeping to that
zone's calendar. Messages are made from real data: the seed plan and its H1 history, or a copy
of the seed plan in another zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from redis.asyncio import Redis

from events.alerts import AlertNotice, example_notice
from projections.formatting import money_wan
from services.app import App, load_plan, produce_rollup, publish_plan
from services.demo.run import SEED_PLAN, load_seed
from services.notify import Notifier, SubscriptionRequest
from services.notify.channels import HTTP_CHANNELS, ChannelConfig, Draft
from services.notify.delivery import link_for
from services.notify.outgoing import Outgoing
from services.notify.reminders import Reminders
from services.notify.schedule import WorkingHours, next_reminder
from services.notify.subscriptions import Subscription
from services.notify.wording import digest_message, message
from services.projection import judge_log
from services.scheduler import RollupScheduler, due_periods
from services.settings import Settings
from services.store import EventStore, Keyspace, SignedLinks
from tests.conftest import LOOPBACK, eventually
from tests.factories import small_plan
from tests.receivers import Receiver

SHANGHAI = ZoneInfo("Asia/Shanghai")
URUMQI = ZoneInfo("Asia/Urumqi")
NEW_YORK = ZoneInfo("America/New_York")
SEED = "rongchang-2025"


def fields_of(said) -> dict[str, str]:
    return {label: value for label, value, _ in said.fields}


def plan_in_zone(tmp_path: Path, zone: str, cron: str | None = None) -> Path:
    """The seed plan file, copied with another time zone (and rollup schedule)."""
    text = SEED_PLAN.read_text(encoding="utf-8")
    extra = f"\nrollup:\n  cron: '{cron}'" if cron else ""
    copied = text.replace("timezone: Asia/Shanghai", f"timezone: {zone}{extra}", 1)
    assert copied != text
    path = tmp_path / f"rongchang-2025-{zone.replace('/', '-')}.yaml"
    path.write_text(copied, encoding="utf-8")
    return path


# --- times: labelled, in the plan's zone -------------------------------------------------------


def test_a_single_notice_tells_its_times_labelled_in_the_zone_given() -> None:
    notice = example_notice(type="alert.resolved", state="resolved", at=datetime(2025, 8, 15, 1, 30, tzinfo=UTC))
    beijing = fields_of(message([notice], None, None))
    assert beijing["开始时间"] == "2025-07-16 10:00（北京时间）"  # was "2025-07-16 10:00", no label
    assert beijing["恢复时间"] == "2025-08-15 09:30（北京时间）"
    urumqi = fields_of(message([notice], None, None, URUMQI))
    assert urumqi["开始时间"] == "2025-07-16 08:00（乌鲁木齐时间）"  # was Beijing time, whatever the plan
    test_plan = fields_of(message([notice], None, None, NEW_YORK))
    assert test_plan["开始时间"] == "2025-07-15 22:00（America/New_York）"


def test_a_digest_names_the_zone_as_the_reports_and_the_dashboard_do() -> None:
    now = datetime(2025, 7, 21, 3, 30, tzinfo=UTC)
    said = digest_message([example_notice()], "reminder", now=now, zone=URUMQI, link=None)
    assert fields_of(said)["截至"] == "2025-07-21 09:30（乌鲁木齐时间）"  # was （Asia/Urumqi）


def test_a_digest_says_the_year_an_alert_began_when_it_is_not_this_one() -> None:
    began = datetime(2025, 12, 30, 2, tzinfo=UTC)
    notice = example_notice(started_at=began, at=began)
    said = digest_message([notice], "reminder", now=datetime(2026, 1, 5, 2, tzinfo=UTC), zone=SHANGHAI, link=None)
    assert said.items[0].rest.endswith("（区统计局，自2025-12-30起，已持续6天）")  # was 自12-30起
    same_year = digest_message(
        [notice], "reminder", now=datetime(2025, 12, 31, 2, tzinfo=UTC), zone=SHANGHAI, link=None
    )
    assert same_year.items[0].rest.endswith("（区统计局，自12-30起，已持续1天）")


async def test_a_robot_tells_a_plan_in_urumqi_its_times_in_urumqi_time(
    redis: Redis, keys: Keyspace, store: EventStore, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    plan = small_plan("xj-2025").model_copy(update={"timezone": "Asia/Urumqi"})
    await publish_plan(store, plan)
    app = App(redis, keys, Settings(key_prefix=keys.prefix, allow_private_targets=LOOPBACK))
    request = SubscriptionRequest(
        name="新疆群",
        channel="wecom",
        url=receiver.url("/cgi-bin/webhook/send?key=k"),
        group_wait="0s",
        filters={"plans": [plan.id]},
    )
    subscribed = await app.alerting.subscribe(request)
    assert subscribed.subscription.hours.timezone == "Asia/Urumqi"
    receiver.answer = b'{"errcode":0,"errmsg":"ok"}'
    notifier = Notifier(redis, keys, "n1", client, allowed_targets=LOOPBACK)
    await notifier.fan_out(block_ms=10)
    notice = example_notice(fingerprint=f"{plan.id}:indicator_behind:gdp", plan_id=plan.id)
    await redis.xadd(keys.outbox(plan.id), {"fingerprint": notice.fingerprint, "notice": notice.model_dump_json()})

    async def sent() -> bool:
        await notifier.fan_out(block_ms=10)
        await notifier.deliver_all()
        return bool(receiver.requests)

    await eventually(sent, timeout=20)
    content = receiver.requests[0].json()["markdown"]["content"]
    # 2025-07-16 02:00 UTC: 08:00 in Urumqi (was 10:00, unlabelled: Beijing time)
    assert '> 开始时间：<font color="comment">2025-07-16 08:00（乌鲁木齐时间）</font>' in content


# --- the seed's own notices, read as the plan office reads them ---------------------------------


async def seed_notices(store: EventStore) -> list[AlertNotice]:
    await load_seed(store)
    _, notices = await judge_log(store, SEED, datetime.now(UTC))
    return notices


async def test_overdue_data_is_not_worded_as_a_missed_target(store: EventStore) -> None:
    notices = await seed_notices(store)
    stale = next(n for n in notices if n.rule == "data_stale" and n.subject == "fai")
    said = fields_of(message([stale], None, None))
    # was 全年目标：2025-12数据 / 完成：未报送（2025-12） / 与目标±：逾期（截止2026-01-21）
    assert {"全年目标", "完成", "与目标±"}.isdisjoint(said)
    assert said["应报数据"] == "2025-12数据"
    assert said["报送情况"] == "未报送（2025-12）"
    assert said["报送期限"] == "逾期（截止2026-01-21）"
    [item] = message([stale, stale], 2, None).items[:1]
    assert (
        item.rest == "数据逾期未报送：2025-12数据，逾期（截止2026-01-21）（区统计局）"
    )  # was 完成未报送，目标…，与目标逾期…


async def test_an_outage_reads_as_the_plans_reporting_falling_behind(store: EventStore) -> None:
    notices = await seed_notices(store)
    outage = next(n for n in notices if n.rule == "data_outage")
    said = message([outage], None, None)
    assert (
        said.title == "【红色预警】荣昌区2025年国民经济和社会发展计划数据报送大面积逾期"
    )  # was …数据报送：数据大面积逾期未报送
    assert fields_of(said)["事项"] == outage.subject_name and "指标" not in fields_of(said)
    assert fields_of(said)["逾期情况"].endswith("项逾期（100.0%）")
    firing = [n for n in notices if n.rule in ("data_outage", "indicator_behind")]
    digest = digest_message(firing, "reminder", now=datetime.now(UTC), zone=SHANGHAI, link=None)
    line = next(i for i in digest.items if i.subject == outage.subject_name)
    assert (
        line.rest.startswith("大面积逾期：") and "项逾期（100.0%）（区发展改革委，自" in line.rest
    )  # was " ：数据大面积…：完成…"


async def test_a_summary_of_monthly_reports_lists_each_report_plainly(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await load_seed(store)
    for month in ("2025-05", "2025-06"):
        await produce_rollup(redis, keys, SEED, month, scheduled=True)
    notices = [AlertNotice.model_validate_json(fields["notice"]) for _, fields in await redis.xrange(keys.outbox(SEED))]
    assert [n.type for n in notices] == ["rollup.published"] * 2
    feishu = ChannelConfig(kind="feishu", url="https://open.feishu.cn/open-apis/bot/v2/hook/x")
    draft = Draft(notices, delivery_id="d", now=datetime.now(UTC), summary_of=2)
    text = json.loads(HTTP_CHANNELS["feishu"].request(feishu, draft).body)["content"]["text"]
    missed = "地区生产总值、一般公共预算收入、进出口总额、全体居民人均可支配收入增速"
    # was "…执行情况：月度执行报告：完成第1版，与目标地区生产总值、…（）"
    assert f"1. 【月度报告】重庆市荣昌区2025年上半年国民经济和社会发展计划执行情况：第1版，未达目标：{missed}" in text
    assert f"2. 【月度报告】重庆市荣昌区2025年1—5月国民经济和社会发展计划执行情况：第1版，未达目标：{missed}" in text
    assert "（）" not in text and "与目标" not in text
    links = SignedLinks(b"k" * 32, "https://pw.example")  # 查看详情: the reports they are, not the alerts
    assert link_for(links, notices) == f"https://pw.example/plans/{SEED}/rollups"
    assert (link_for(links, notices[:1]) or "").startswith(f"https://pw.example/shared/plans/{SEED}/rollups/")
    assert link_for(links, [*notices, example_notice()]) == f"https://pw.example/plans/{SEED}/alerts"


# --- money as the report prints it -----------------------------------------------------------


def test_an_amount_that_rounds_to_one_yi_is_printed_in_yi() -> None:
    assert money_wan(Decimal("9999.996")) == "1亿元"  # was 10000万元
    assert money_wan(Decimal("9999.994")) == "9999.99万元"
    assert (money_wan(Decimal("910000")), money_wan(Decimal("5800")), money_wan(Decimal("80100"))) == (
        "91亿元",
        "5800万元",
        "8.01亿元",
    )


# --- a plan in a zone with daylight saving time ----------------------------------------------


def test_a_month_is_due_by_the_instant_not_by_the_wall_clock_in_the_repeated_hour(tmp_path: Path) -> None:
    plan = load_plan(plan_in_zone(tmp_path, "America/New_York", "30 1 2 * *"))  # 01:30 on the 2nd
    # 2 November 2025: New York's clocks go back at 02:00; October's rollup is due at 01:30 EDT (05:30 UTC)
    after = datetime(2025, 11, 2, 1, 10, fold=1, tzinfo=NEW_YORK)  # 01:10 EST, 06:10 UTC: 40 minutes later
    assert after.astimezone(UTC) == datetime(2025, 11, 2, 6, 10, tzinfo=UTC)
    assert due_periods(plan, after)[-1] == "2025-10"  # was 2025-09: 01:10 read as before 01:30
    before = datetime(2025, 11, 2, 1, 20, fold=0, tzinfo=NEW_YORK)  # 01:20 EDT, before the firing
    assert due_periods(plan, before)[-1] == "2025-09"
    month_end = load_plan(plan_in_zone(tmp_path, "America/New_York", "0 0 1 * *"))
    assert due_periods(month_end, datetime(2025, 11, 1, 3, 59, tzinfo=UTC))[-1] == "2025-09"  # 23:59 EDT 31 Oct
    assert due_periods(month_end, datetime(2025, 11, 1, 4, 0, tzinfo=UTC))[-1] == "2025-10"  # midnight EDT


async def test_a_scheduler_catching_up_in_the_repeated_hour_writes_the_month_due(
    redis: Redis, keys: Keyspace, store: EventStore, tmp_path: Path
) -> None:
    plan = load_plan(plan_in_zone(tmp_path, "America/New_York", "30 1 2 * *"))
    await load_seed(store, plan)
    clock = datetime(2025, 11, 2, 1, 10, fold=1, tzinfo=NEW_YORK)  # a clock read in the plan's zone
    written = await RollupScheduler(App(redis, keys), clock=lambda: clock).catch_up()
    assert [r.period for r in written][-1] == "2025-10"


def test_a_daily_reminder_keeps_its_local_time_across_the_change_of_clocks() -> None:
    every_day = WorkingHours.model_validate("mon-sun 08:00-22:00")
    saturday = datetime(2025, 3, 8, 21, 30, tzinfo=NEW_YORK)  # New York springs forward on Sunday 9 March
    due = next_reminder(saturday.astimezone(UTC), timedelta(days=1), every_day, NEW_YORK)
    assert due.astimezone(NEW_YORK) == datetime(
        2025, 3, 9, 21, 30, tzinfo=NEW_YORK
    )  # was Monday 08:00: 22:30 is past the hours
    autumn = datetime(2025, 11, 1, 8, 30, tzinfo=NEW_YORK)  # falls back on Sunday 2 November
    due = next_reminder(autumn.astimezone(UTC), timedelta(days=1), every_day, NEW_YORK)
    assert due.astimezone(NEW_YORK) == datetime(2025, 11, 2, 8, 30, tzinfo=NEW_YORK)  # was 08:00 (07:30 moved on)
    four_hours = next_reminder(saturday.astimezone(UTC) - timedelta(hours=8), timedelta(hours=4), every_day, NEW_YORK)
    assert four_hours.astimezone(NEW_YORK) == datetime(2025, 3, 8, 17, 30, tzinfo=NEW_YORK)  # hours: elapsed time


async def test_a_reminder_in_new_york_goes_on_the_sunday_the_clocks_change(redis: Redis, keys: Keyspace) -> None:
    notice = example_notice()

    async def firing(_: Subscription) -> list[AlertNotice]:
        return [notice]

    subscription = Subscription(
        **SubscriptionRequest(
            name="测试计划群",
            channel="wecom",
            url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
            working_hours="mon-sun 08:00-22:00 America/New_York",
        ).model_dump(exclude={"send_firing"}),
        id="s1",
        created_at="2025-03-01T00:00:00+00:00",
    )
    last = datetime(2025, 3, 8, 21, 30, tzinfo=NEW_YORK)
    last_ms = str(int(last.timestamp() * 1000))
    await redis.hset(keys.sub_state("s1"), "reminded_ms", last_ms)
    reminders = Reminders(redis, keys, firing, "Asia/Shanghai")
    sunday = datetime(2025, 3, 9, 21, 30, tzinfo=NEW_YORK)  # 23 hours later, 21:30 again by New York's clocks
    assert await reminders.remind(subscription, {"reminded_ms": last_ms}, False, int(sunday.timestamp() * 1000))
    [(_, fields)] = await redis.xrange(keys.sub_outgoing("s1"))
    made = Outgoing.read(fields)
    assert made.delivery_id == f"reminder:s1:{int(sunday.timestamp() * 1000)}" and made.zone == "America/New_York"
    said = digest_message(made.notices, "reminder", now=sunday, zone=ZoneInfo(made.zone), link=None)
    assert fields_of(said)["截至"] == "2025-03-09 21:30（America/New_York）"
