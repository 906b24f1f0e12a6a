"""When a reminder is due (pure: services/notify/schedule.py), what a digest names and how it
reads: no Redis, no clock — every instant is given."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from events.alerts import Acknowledgement, example_notice
from services.notify import (
    Subscription,
    SubscriptionRequest,
    WorkingHours,
    next_reminder,
    remindable,
    reminder_due,
    working_start,
)
from services.notify.channels import HTTP_CHANNELS, ChannelConfig, Draft
from services.notify.wording import digest_message

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = WorkingHours()  # 周一至周五 09:00–18:00
DAY = timedelta(days=1)


def local(text: str, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


# 2025-07-14 is a Monday, 2025-07-18 a Friday


def test_a_reminder_due_in_working_hours_is_due_then() -> None:
    assert next_reminder(local("2025-07-14T10:30"), DAY, OFFICE, SHANGHAI) == local("2025-07-15T10:30")
    assert next_reminder(local("2025-07-14T10:30"), timedelta(hours=4), OFFICE, SHANGHAI) == local("2025-07-14T14:30")


def test_a_reminder_due_at_night_waits_for_the_next_morning() -> None:
    assert next_reminder(local("2025-07-14T16:00"), timedelta(hours=4), OFFICE, SHANGHAI) == local("2025-07-15T09:00")
    assert next_reminder(local("2025-07-14T17:00"), timedelta(hours=10), OFFICE, SHANGHAI) == local("2025-07-15T09:00")
    # before the day's start: the same day's start
    assert working_start(local("2025-07-15T06:00"), OFFICE, SHANGHAI) == local("2025-07-15T09:00")
    # the end itself is outside: 18:00 sharp waits for the morning
    assert working_start(local("2025-07-15T18:00"), OFFICE, SHANGHAI) == local("2025-07-16T09:00")


def test_a_reminder_due_at_the_weekend_waits_for_monday() -> None:
    friday_afternoon = local("2025-07-18T15:00")
    assert next_reminder(friday_afternoon, DAY, OFFICE, SHANGHAI) == local("2025-07-21T09:00")
    assert next_reminder(friday_afternoon, timedelta(hours=2), OFFICE, SHANGHAI) == local("2025-07-18T17:00")


def test_the_hours_are_the_plans_zone_not_utc() -> None:
    # 01:30 UTC is 09:30 in Shanghai (working) and 03:30 in Berlin (night)
    moment = datetime(2025, 7, 15, 1, 30, tzinfo=UTC)
    assert working_start(moment, OFFICE, SHANGHAI) == moment
    assert working_start(moment, OFFICE, BERLIN) == local("2025-07-15T09:00", BERLIN)


def test_daylight_saving_time_keeps_the_local_start() -> None:
    # Berlin moves its clocks on Sunday 2025-03-30: Monday's start is 09:00 local, 07:00 UTC
    saturday = local("2025-03-29T12:00", BERLIN)
    assert next_reminder(saturday, DAY, OFFICE, BERLIN) == datetime(2025, 3, 31, 7, tzinfo=UTC)


def test_due_only_once_the_instant_is_reached_and_only_within_hours() -> None:
    last = local("2025-07-14T10:00")
    assert reminder_due(local("2025-07-15T09:59"), last, DAY, OFFICE, SHANGHAI) is None
    assert reminder_due(local("2025-07-15T10:00"), last, DAY, OFFICE, SHANGHAI) == local("2025-07-15T10:00")
    # a notifier down from 17:00 to 19:00 does not send the 17:30 reminder at night: it waits
    late = local("2025-07-14T13:30")
    assert reminder_due(local("2025-07-14T19:00"), late, timedelta(hours=4), OFFICE, SHANGHAI) is None
    # and sends it the next morning, under the same name (its due instant)
    assert reminder_due(local("2025-07-15T09:00"), late, timedelta(hours=4), OFFICE, SHANGHAI) == local(
        "2025-07-14T17:30"
    )


def test_round_the_clock_hours_and_the_end_of_a_day() -> None:
    always = WorkingHours.model_validate("1-7 00:00-24:00")
    sunday_night = local("2025-07-20T23:59")
    assert working_start(sunday_night, always, SHANGHAI) == sunday_night


def test_working_hours_are_read_from_text_and_refused_with_the_reason() -> None:
    hours = WorkingHours.model_validate("mon-fri 08:30-17:30 Europe/Berlin")
    assert (hours.days, hours.start, hours.end, hours.timezone) == ([1, 2, 3, 4, 5], "08:30", "17:30", "Europe/Berlin")
    assert WorkingHours.model_validate("1,3,5 09:00-12:00").label() == "周一、周三、周五 09:00–12:00"
    assert OFFICE.label() == "周一至周五 09:00–18:00"
    for bad, reason in [
        ("1-5 18:00-09:00", "must come before end"),
        ("1-8 09:00-18:00", "not a weekday"),
        ("1-5 9-18", "not a time of day"),
        ("weekdays", "not working hours like"),
        ("1-5 09:00-18:00 Mars/Olympus", "unknown time zone"),
        ("5-1 09:00-18:00", "from Monday towards Sunday"),
    ]:
        with pytest.raises(ValidationError, match=reason):
            WorkingHours.model_validate(bad)


def test_repeat_interval_defaults_by_channel_and_is_validated() -> None:
    robot = SubscriptionRequest(name="群", channel="wecom", url="https://qyapi.weixin.qq.com/x")
    hook = SubscriptionRequest(name="系统", channel="webhook", url="https://example.org/x")
    made = {"id": "s", "created_at": "2025-07-14T02:00:00+00:00"}
    assert Subscription(**robot.model_dump(), **made).repeat_interval_s == 86_400
    assert Subscription(**hook.model_dump(), **made).repeat_interval_s == 0
    assert SubscriptionRequest(**{**robot.model_dump(), "repeat_interval": "4h"}).repeat_interval == 14_400
    assert SubscriptionRequest(**{**robot.model_dump(), "repeat_interval": "off"}).repeat_interval == 0
    for bad in ("-1h", "31d", "sometimes"):
        with pytest.raises(ValidationError, match="repeat_interval"):
            SubscriptionRequest(**{**robot.model_dump(), "repeat_interval": bad})


def _subscription(**filters: object) -> Subscription:
    return Subscription(
        name="群", channel="wecom", url="https://qyapi.weixin.qq.com/x", filters=filters, id="s", created_at="2025"
    )


def _alert(subject: str, severity: str = "warning", **changes: object) -> dict[str, object]:
    notice = example_notice(
        fingerprint=f"p:indicator_behind:{subject}", subject=subject, subject_name=f"指标{subject}", severity=severity
    )
    return notice.model_copy(update=changes).model_dump(mode="json")


def test_a_digest_leaves_out_the_silenced_the_inhibited_the_acknowledged_and_the_unwanted() -> None:
    acknowledged = Acknowledgement(by="t1", at=datetime(2025, 7, 16, 3, tzinfo=UTC), note="已联系")
    alerts = [
        _alert("a"),
        _alert("b", silenced=True, silence_ids=["x"]),
        _alert("c", inhibited=True, inhibited_by="p:data_outage:p"),
        _alert("d", acknowledged=acknowledged, type="alert.acknowledged"),
        _alert("e", severity="critical", type="alert.escalated"),  # escalated: its acknowledgement is gone
        _alert("f", department="econ"),
    ]
    assert [n.subject for n in remindable(_subscription(), alerts)] == ["a", "e", "f"]
    assert [n.subject for n in remindable(_subscription(departments=["stats"]), alerts)] == ["a", "e"]
    assert [n.subject for n in remindable(_subscription(min_severity="critical"), alerts)] == ["e"]


def test_a_reminder_reads_as_a_compact_chinese_digest() -> None:
    notices = [
        example_notice(subject=f"i{n}", subject_name=f"指标{n}", severity="critical" if n < 2 else "warning")
        for n in range(12)
    ]
    now = datetime(2025, 7, 21, 1, 30, tzinfo=UTC)  # 09:30 北京时间
    said = digest_message(notices, "reminder", now=now, zone=SHANGHAI, link="https://pw.example/plans/p/alerts")
    assert said.title == "【预警提醒】仍有12条预警未解除"
    assert ("预警", "红色预警2条，黄色预警10条", "alert") in said.fields
    assert ("截至", "2025-07-21 09:30（北京时间）", "muted") in said.fields
    assert [i.subject for i in said.items[:2]] == ["指标0", "指标1"] and len(said.items) == 10
    assert said.unlisted == 2
    assert said.items[0].tag == "【红色预警】"
    assert said.items[0].rest.endswith("（区统计局，自07-16起，已持续5天）")
    request = HTTP_CHANNELS["wecom"].request(
        ChannelConfig(kind="wecom", url="https://qyapi.weixin.qq.com/x"),
        Draft(notices, delivery_id="reminder:s:1", now=now, summary_of=12, link=said.link, digest="reminder"),
    )
    content = json.loads(request.body)["markdown"]["content"]
    assert content.startswith('## <font color="warning">【预警提醒】仍有12条预警未解除</font>')
    assert "…（其余2条略）" in content and "[查看详情](https://pw.example/plans/p/alerts)" in content
    first = digest_message(notices[:1], "firing", now=now, zone=BERLIN, link=None)
    assert first.title == "【当前预警】1条预警正在生效"
    assert ("截至", "2025-07-21 03:30（Europe/Berlin）", "muted") in first.fields
