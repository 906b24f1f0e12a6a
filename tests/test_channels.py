"""Delivery channels against real local HTTP receivers that answer like WeCom, DingTalk, Feishu
and a webhook consumer would. Signatures are recomputed here from the vendors' documented
formulas, not with the module's own helpers, so a wrong formula cannot agree with itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any, get_args
from urllib.parse import quote_plus

import httpx
import pytest
from redis.asyncio import Redis

from events.alerts import SEVERITY_ZH, AlertNotice, example_notice
from services.notify import (
    ChannelConfig,
    Subscription,
    UnsafeTarget,
    build_request,
    check_target,
    dingtalk_sign,
    feishu_sign,
    send,
    verify_webhook,
    webhook_signature,
)
from services.notify.channels import (
    CHANNELS,
    FEISHU_BODY_MAX_BYTES,
    HTTP_CHANNELS,
    WECOM_MARKDOWN_MAX_BYTES,
    Delivery,
    Outlets,
)
from services.notify.subscriptions import ChannelKind
from services.store import Keyspace
from tests.conftest import LOOPBACK
from tests.receivers import Receiver

WECOM_OK = {"errcode": 0, "errmsg": "ok"}
DINGTALK_OK = {"errcode": 0, "errmsg": "ok"}
FEISHU_OK = {"code": 0, "msg": "success", "data": {}}
LINK = "https://planwatch.example.gov.cn/plans/rongchang-2025/report"


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def long_notices(count: int) -> list[AlertNotice]:
    """A burst of changes with long names, all three kinds and severities mixed."""
    kinds = [
        ("alert.raised", "warning", "firing"),
        ("alert.raised", "critical", "firing"),
        ("alert.resolved", "warning", "resolved"),
        ("alert.escalated", "emergency", "firing"),
    ]
    notices = []
    for number in range(count):
        kind, severity, state = kinds[number % len(kinds)]
        notices.append(
            example_notice(
                type=kind,
                severity=severity,
                severity_zh=SEVERITY_ZH[severity],
                state=state,
                fingerprint=f"rongchang-2025:indicator_behind:item{number}",
                subject=f"item{number}",
                subject_name=f"第{number}项重点任务：" + "推进城乡融合发展示范区建设和高标准农田改造提升工程" * 3,
                department_name="区发展和改革委员会（区粮食和物资储备局）与区农业农村委员会联合牵头单位",
            )
        )
    return notices


def project_notice() -> AlertNotice:
    """A key project overdue to start, worded as projections/alerts.py words it."""
    return example_notice(
        rule="project_not_started",
        rule_zh="重点项目逾期未开工",
        fingerprint="rongchang-2025:project_not_started:p-017",
        subject="p-017",
        subject_name="双桥高新区标准厂房",
        department="economy",
        department_name="区经济信息委",
        severity="critical",
        severity_zh=SEVERITY_ZH["critical"],
        period="2025-07",
        target="2025-03开工",
        actual="未开工",
        deviation="逾期4个月",
        summary_zh="双桥高新区标准厂房计划2025-03开工，截至2025-07-31逾期4个月未开工",
    )


# --- the channels, alike to the delivery loop -------------------------------------------------


def test_every_channel_a_subscription_can_name_has_its_implementation() -> None:
    assert sorted(CHANNELS) == sorted(get_args(ChannelKind)) == ["dingtalk", "feishu", "stream", "webhook", "wecom"]
    assert all(CHANNELS[kind] is channel and channel.kind == kind for kind, channel in HTTP_CHANNELS.items())


async def test_every_channel_delivers_the_same_delivery(
    redis: Redis, keys: Keyspace, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    """The delivery loop hands all five channels the same thing and reads the same result back:
    a summary of three notices goes to the webhook and the robots over HTTP, and to the stream."""
    receiver.reply(200, {"errcode": 0, "errmsg": "ok", "code": 0, "msg": "success"})  # what every vendor reads as ok
    notices = long_notices(3)
    delivery = Delivery(id="dlv-alike", notices=notices, summary=True, link=LINK)

    for kind, channel in CHANNELS.items():
        subscriber = Subscription(
            name=f"{kind}群",
            channel=kind,
            url=None if kind == "stream" else receiver.url(f"/{kind}"),
            secret="SECsecret",
            id=f"sub-{kind}",
            created_at="2025-07-16T02:00:00+00:00",
        )
        result = await channel.deliver(delivery, subscriber, Outlets(redis, keys, client, LOOPBACK))
        assert (result.ok, result.error, result.retry) == (True, None, False), kind

    posted = {request.path: request for request in receiver.requests}
    assert sorted(posted) == ["/dingtalk", "/feishu", "/webhook", "/wecom"]
    webhook = posted["/webhook"].json()
    assert (webhook["delivery_id"], webhook["summary_of"], webhook["link"]) == ("dlv-alike", 3, LINK)
    assert webhook["notices"] == [notice.model_dump(mode="json") for notice in notices]
    assert posted["/feishu"].json()["content"]["text"].startswith("计划执行预警汇总：新增2条，恢复1条（共3条变化）")
    [(_, fields)] = await redis.xrange(keys.sub_stream("sub-stream"))
    assert fields["delivery_id"] == "dlv-alike"
    assert json.loads(fields["notices"]) == [notice.model_dump(mode="json") for notice in notices]


# --- our webhook -----------------------------------------------------------------------------


async def test_webhook_delivers_signed_idempotent_json(receiver: Receiver, client: httpx.AsyncClient) -> None:
    notice = example_notice()
    channel = ChannelConfig(kind="webhook", url=receiver.url("/hooks/planwatch"), secret="whsec-rongchang")
    now = datetime.now(UTC)

    result = await send(client, build_request(channel, [notice], delivery_id="dlv-0001", now=now, link=LINK))

    assert result.ok and result.status == 200 and result.error is None and not result.retry
    request = receiver.only
    assert (request.method, request.path) == ("POST", "/hooks/planwatch")
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers["idempotency-key"] == "dlv-0001"
    timestamp = request.headers["x-planwatch-timestamp"]
    assert abs(int(timestamp) - now.timestamp()) < 2
    expected = hmac.new(b"whsec-rongchang", f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-planwatch-signature"] == f"sha256={expected}"
    assert verify_webhook("whsec-rongchang", timestamp, request.body, request.headers["x-planwatch-signature"], now=now)

    payload = request.json()
    assert set(payload) == {"version", "delivery_id", "sent_at", "summary_of", "link", "notices"}
    assert payload["version"] == "1"
    assert payload["delivery_id"] == "dlv-0001"
    assert datetime.fromisoformat(payload["sent_at"]) == now
    assert payload["summary_of"] is None
    assert payload["link"] == LINK
    assert payload["notices"] == [notice.model_dump(mode="json")]
    assert AlertNotice.model_validate(payload["notices"][0]) == notice


async def test_webhook_summary_is_signed_too(receiver: Receiver, client: httpx.AsyncClient) -> None:
    notices = long_notices(3)
    channel = ChannelConfig(kind="webhook", url=receiver.url("/hooks/open"), secret="whsec-summary")
    now = datetime.now(UTC)

    request = build_request(channel, notices, delivery_id="dlv-2", now=now, summary_of=7)
    result = await send(client, request)

    assert result.ok
    recorded = receiver.only
    timestamp = recorded.headers["x-planwatch-timestamp"]
    assert timestamp.isdigit() and abs(int(timestamp) - now.timestamp()) < 2
    expected = hmac.new(b"whsec-summary", f"{timestamp}.".encode() + recorded.body, hashlib.sha256).hexdigest()
    assert recorded.headers["x-planwatch-signature"] == f"sha256={expected}"
    assert recorded.headers["idempotency-key"] == "dlv-2"
    payload = recorded.json()
    assert payload["summary_of"] == 7
    assert [n["fingerprint"] for n in payload["notices"]] == [n.fingerprint for n in notices]


@pytest.mark.parametrize("secret", [None, ""])
def test_a_webhook_without_a_secret_is_refused_not_sent_unsigned(secret: str | None) -> None:
    with pytest.raises(ValueError, match="always signed"):
        ChannelConfig(kind="webhook", url="https://hooks.example.gov.cn/planwatch", secret=secret)
    unvalidated = ChannelConfig.model_construct(
        kind="webhook", url="https://hooks.example.gov.cn/planwatch", secret=secret
    )
    with pytest.raises(ValueError, match="always signed"):
        build_request(unvalidated, [example_notice()], delivery_id="dlv-3", now=datetime.now(UTC))
    ChannelConfig(kind="wecom", url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")  # WeCom has none


def test_verify_webhook_rejects_tampering_wrong_secret_and_stale_timestamps() -> None:
    now = datetime(2025, 7, 16, 2, 0, tzinfo=UTC)
    timestamp = str(int(now.timestamp()))
    body = b'{"version":"1"}'
    signature = webhook_signature("s3cret", timestamp, body)

    assert verify_webhook("s3cret", timestamp, body, signature, now=now)
    assert verify_webhook("s3cret", timestamp, body, signature, now=now + timedelta(seconds=299))
    assert not verify_webhook("s3cret", timestamp, body + b" ", signature, now=now)
    assert not verify_webhook("other", timestamp, body, signature, now=now)
    assert not verify_webhook("s3cret", str(int(timestamp) + 1), body, signature, now=now)
    assert not verify_webhook("s3cret", timestamp, body, signature, now=now + timedelta(seconds=301))
    assert not verify_webhook("s3cret", timestamp, body, signature, now=now - timedelta(seconds=301))
    assert not verify_webhook("s3cret", "yesterday", body, signature, now=now)
    assert not verify_webhook("s3cret", timestamp, body, "sha256=签名", now=now)
    assert not verify_webhook("s3cret", timestamp, body, signature, now=now + timedelta(seconds=31), tolerance_s=30)


# --- DingTalk --------------------------------------------------------------------------------


async def test_dingtalk_signs_the_query_in_milliseconds(receiver: Receiver, client: httpx.AsyncClient) -> None:
    secret = "SEC5f0c9a1b2d3e4f5061728394a5b6c7d8e9f00112233445566778899aabbccdd"
    receiver.reply(200, DINGTALK_OK)
    channel = ChannelConfig(kind="dingtalk", url=receiver.url("/robot/send?access_token=tok123"), secret=secret)
    notice = example_notice(severity="critical", severity_zh=SEVERITY_ZH["critical"])

    result = await send(client, build_request(channel, [notice], delivery_id="d", now=datetime.now(UTC), link=LINK))

    assert result.ok and result.status == 200 and not result.retry
    request = receiver.only
    assert request.path == "/robot/send"
    query = request.query
    assert query["access_token"] == ["tok123"]
    timestamp_ms = int(query["timestamp"][0])
    now_ms = int(time.time() * 1000)
    assert now_ms - 60_000 <= timestamp_ms <= now_ms  # milliseconds, within the last minute
    expected = base64.b64encode(hmac_sha256(secret.encode(), f"{timestamp_ms}\n{secret}".encode())).decode()
    assert query["sign"] == [expected]  # decoded once by the receiver: encoded exactly once on the wire
    raw_sign = dict(pair.split("=", 1) for pair in request.raw_query.split("&"))["sign"]
    assert raw_sign == quote_plus(expected) == dingtalk_sign(secret, timestamp_ms)

    payload = request.json()
    assert set(payload) == {"msgtype", "markdown", "at"}
    assert payload["msgtype"] == "markdown"
    assert payload["at"] == {"atMobiles": [], "isAtAll": False}
    assert payload["markdown"]["title"] == "【红色预警】地区生产总值未达目标"
    text = payload["markdown"]["text"]
    assert text.startswith("### 【红色预警】地区生产总值未达目标\n")
    for fact in ("地区生产总值", "6.5%左右", "5.5%（2025-Q2）", "-1.0个百分点", "区统计局", "2025-07-16 10:00"):
        assert fact in text
    assert f"[查看详情]({LINK})" in text


def test_dingtalk_url_gets_question_mark_when_it_has_no_query_and_nothing_without_secret() -> None:
    now = datetime(2025, 7, 16, 2, 0, tzinfo=UTC)
    signed = build_request(
        ChannelConfig(kind="dingtalk", url="https://oapi.dingtalk.com/robot/send", secret="SECx"),
        [example_notice()],
        delivery_id="d",
        now=now,
    )
    timestamp_ms = int(now.timestamp() * 1000)
    assert (
        signed.url
        == f"https://oapi.dingtalk.com/robot/send?timestamp={timestamp_ms}&sign={dingtalk_sign('SECx', timestamp_ms)}"
    )

    unsigned = build_request(
        ChannelConfig(kind="dingtalk", url="https://oapi.dingtalk.com/robot/send?access_token=T"),
        [example_notice()],
        delivery_id="d",
        now=now,
    )
    assert unsigned.url == "https://oapi.dingtalk.com/robot/send?access_token=T"


# --- Feishu ----------------------------------------------------------------------------------


async def test_feishu_signs_the_body_in_seconds(receiver: Receiver, client: httpx.AsyncClient) -> None:
    secret = "qJUB4yBf3Ea9FZlQ0ZGpHd"
    receiver.reply(200, FEISHU_OK)
    channel = ChannelConfig(kind="feishu", url=receiver.url("/open-apis/bot/v2/hook/0f3b7c"), secret=secret)
    notice = example_notice()

    result = await send(client, build_request(channel, [notice], delivery_id="d", now=datetime.now(UTC)))

    assert result.ok and result.status == 200
    request = receiver.only
    assert request.path == "/open-apis/bot/v2/hook/0f3b7c" and request.raw_query == ""
    payload = request.json()
    assert set(payload) == {"timestamp", "sign", "msg_type", "content"}
    assert isinstance(payload["timestamp"], str)
    timestamp_s = int(payload["timestamp"])
    assert time.time() - 60 <= timestamp_s <= time.time()  # seconds, within the last minute
    expected = base64.b64encode(hmac_sha256(f"{timestamp_s}\n{secret}".encode(), b"")).decode()
    assert payload["sign"] == expected == feishu_sign(secret, timestamp_s)  # base64 as is, not URL-encoded
    assert payload["msg_type"] == "text"
    text = payload["content"]["text"]
    assert text.splitlines()[:8] == [
        "【黄色预警】地区生产总值未达目标",
        "计划：荣昌区2025年国民经济和社会发展计划",
        "指标：地区生产总值",
        "全年目标：6.5%左右",
        "完成：5.5%（2025-Q2）",
        "与目标±：-1.0个百分点",
        "责任单位：区统计局",
        "开始时间：2025-07-16 10:00（北京时间）",
    ]
    assert notice.summary_zh in text


async def test_feishu_unsigned_summary_of_200_stays_within_20_kb(receiver: Receiver, client: httpx.AsyncClient) -> None:
    receiver.reply(200, FEISHU_OK)
    channel = ChannelConfig(kind="feishu", url=receiver.url("/open-apis/bot/v2/hook/abc"))
    notices = long_notices(200)

    request = build_request(channel, notices, delivery_id="d", now=datetime.now(UTC), link=LINK)
    result = await send(client, request)

    assert result.ok
    body = receiver.only.body
    assert len(body) <= FEISHU_BODY_MAX_BYTES
    payload = receiver.only.json()
    assert set(payload) == {"msg_type", "content"}
    lines = payload["content"]["text"].splitlines()
    assert lines[0] == "计划执行预警汇总：新增100条，升级50条，恢复50条（共200条变化）"
    listed = [line for line in lines if line[:1].isdigit()]
    assert 10 < len(listed) < 200
    assert lines[-2] == f"…（其余{200 - len(listed)}条略）"
    assert lines[-1] == f"详情：{LINK}"


def test_feishu_cuts_a_single_oversized_notice_counting_the_whole_signed_body() -> None:
    channel = ChannelConfig(kind="feishu", url="https://open.feishu.cn/open-apis/bot/v2/hook/x", secret="sec")
    notice = example_notice(subject_name='"两江四岸"整体提升工程' * 800)

    request = build_request(channel, [notice], delivery_id="d", now=datetime.now(UTC))

    assert FEISHU_BODY_MAX_BYTES - 8 < len(request.body) <= FEISHU_BODY_MAX_BYTES
    payload = json.loads(request.body.decode("utf-8"))
    assert payload["sign"] == feishu_sign("sec", int(payload["timestamp"]))
    assert payload["content"]["text"].startswith('【黄色预警】"两江四岸"整体提升工程')
    assert payload["content"]["text"].endswith("…")


# --- WeCom -----------------------------------------------------------------------------------


async def test_wecom_markdown_for_one_notice(receiver: Receiver, client: httpx.AsyncClient) -> None:
    receiver.reply(200, WECOM_OK)
    channel = ChannelConfig(kind="wecom", url=receiver.url("/cgi-bin/webhook/send?key=693axxx6-7aoc-4bc4-97a0"))
    notice = example_notice()

    result = await send(client, build_request(channel, [notice], delivery_id="d", now=datetime.now(UTC)))

    assert result.ok and result.status == 200
    request = receiver.only
    assert request.path == "/cgi-bin/webhook/send"
    assert request.query == {"key": ["693axxx6-7aoc-4bc4-97a0"]}  # no signing for WeCom
    payload = request.json()
    assert payload == {"msgtype": "markdown", "markdown": {"content": payload["markdown"]["content"]}}
    content = payload["markdown"]["content"]
    assert len(content.encode("utf-8")) <= WECOM_MARKDOWN_MAX_BYTES
    assert content.startswith('## <font color="warning">【黄色预警】地区生产总值未达目标</font>\n')
    for fact in (
        "**地区生产总值**",
        "全年目标：6.5%左右",
        "完成：5.5%（2025-Q2）",
        "-1.0个百分点",
        "责任单位：区统计局",
    ):
        assert fact in content


@pytest.mark.parametrize("kind", ["wecom", "dingtalk"])
def test_a_name_cannot_make_markup_in_a_robots_message(kind: str) -> None:
    channel = ChannelConfig(kind=kind, url="https://robot.example/send?key=k")
    forged = '区统计局</font><font color="info">[点我](http://evil.example)**粗**'
    notice = example_notice(subject_name=forged, department_name=forged)

    request = build_request(channel, [notice], delivery_id="d", now=datetime.now(UTC))

    payload = json.loads(request.body.decode("utf-8"))
    text = payload["markdown"]["content" if kind == "wecom" else "text"]
    assert "[点我](" not in text and "</font><font" not in text and "**粗**" not in text
    assert '＜/font＞＜font color="info"＞［点我］(http://evil.example)＊＊粗＊＊' in text  # read as it was written


async def test_wecom_summary_of_200_long_notices_fits_4096_bytes(receiver: Receiver, client: httpx.AsyncClient) -> None:
    receiver.reply(200, WECOM_OK)
    channel = ChannelConfig(kind="wecom", url=receiver.url("/cgi-bin/webhook/send?key=k"))
    notices = long_notices(200)

    request = build_request(channel, notices, delivery_id="d", now=datetime.now(UTC), summary_of=260, link=LINK)
    result = await send(client, request)

    assert result.ok
    content = receiver.only.json()["markdown"]["content"]
    size = len(content.encode("utf-8"))
    assert WECOM_MARKDOWN_MAX_BYTES - 400 < size <= WECOM_MARKDOWN_MAX_BYTES  # full, but not over
    lines = content.splitlines()
    assert lines[0] == (
        '## <font color="warning">计划执行预警汇总：共260条变化（重点：新增100条，升级50条，恢复50条）</font>'
    )
    items = [line for line in lines if line.startswith("- ")]
    assert 3 <= len(items) < 200
    assert all("【升级督办】" in line for line in items)  # most severe first
    assert lines[-2] == f'<font color="comment">…（其余{260 - len(items)}条略）</font>'
    assert lines[-1] == f"[查看详情]({LINK})"


def test_wecom_cuts_a_single_oversized_notice_at_a_character_boundary() -> None:
    notice = example_notice(subject_name="超长名称" * 2000)
    channel = ChannelConfig(kind="wecom", url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")

    request = build_request(channel, [notice], delivery_id="d", now=datetime.now(UTC))

    content = json.loads(request.body.decode("utf-8"))["markdown"]["content"]
    assert WECOM_MARKDOWN_MAX_BYTES - 4 < len(content.encode("utf-8")) <= WECOM_MARKDOWN_MAX_BYTES
    assert content.endswith("…") and content[-2] in "超长名称"


def test_summary_lists_most_severe_first_and_resolved_last() -> None:
    resolved = example_notice(type="alert.resolved", state="resolved", subject_name="一般公共预算收入")
    warning = example_notice(subject_name="社会消费品零售总额")
    escalated = example_notice(
        type="alert.escalated", severity="emergency", severity_zh="升级督办", subject_name="固定资产投资"
    )
    critical = project_notice()
    channel = ChannelConfig(kind="feishu", url="https://open.feishu.cn/open-apis/bot/v2/hook/x")

    request = build_request(channel, [resolved, warning, escalated, critical], delivery_id="d", now=datetime.now(UTC))

    lines = json.loads(request.body)["content"]["text"].splitlines()
    assert lines[0] == "计划执行预警汇总：新增2条，升级1条，恢复1条（共4条变化）"
    assert lines[1] == "计划：荣昌区2025年国民经济和社会发展计划"
    assert lines[2].startswith("1. 【升级督办】固定资产投资未达目标：完成5.5%")
    assert (
        lines[3]
        == "2. 【红色预警】双桥高新区标准厂房逾期未开工：进展未开工，目标2025-03开工，偏差逾期4个月（区经济信息委）"
    )
    assert lines[4].startswith("3. 【黄色预警】社会消费品零售总额未达目标")
    assert lines[5].startswith("4. 【已恢复】一般公共预算收入未达目标预警已解除")
    assert len(lines) == 6


def test_project_notices_use_neutral_labels() -> None:
    channel = ChannelConfig(kind="feishu", url="https://open.feishu.cn/open-apis/bot/v2/hook/x")

    request = build_request(channel, [project_notice()], delivery_id="d", now=datetime.now(UTC))

    lines = json.loads(request.body)["content"]["text"].splitlines()
    assert lines[:7] == [
        "【红色预警】双桥高新区标准厂房逾期未开工",
        "计划：荣昌区2025年国民经济和社会发展计划",
        "项目：双桥高新区标准厂房",
        "目标：2025-03开工",
        "进展：未开工（2025-07）",
        "偏差：逾期4个月",
        "责任单位：区经济信息委",
    ]


def test_newlines_in_names_do_not_break_the_layout() -> None:
    channel = ChannelConfig(kind="feishu", url="https://open.feishu.cn/open-apis/bot/v2/hook/x")
    notice = example_notice(subject_name="地区\n生产总值", department_name="区统计局\r\n（牵头）")

    request = build_request(channel, [notice], delivery_id="d", now=datetime.now(UTC))

    lines = json.loads(request.body)["content"]["text"].splitlines()
    assert lines[0] == "【黄色预警】地区 生产总值未达目标"
    assert lines[2] == "指标：地区 生产总值"
    assert lines[6] == "责任单位：区统计局 （牵头）"


def test_single_notice_titles_for_escalation_and_recovery() -> None:
    now = datetime.now(UTC)
    wecom = ChannelConfig(kind="wecom", url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")

    def content(notice: AlertNotice) -> str:
        return json.loads(build_request(wecom, [notice], delivery_id="d", now=now).body)["markdown"]["content"]

    resolved = content(
        example_notice(type="alert.resolved", state="resolved", at=datetime(2025, 8, 15, 1, 30, tzinfo=UTC))
    )
    assert resolved.startswith('## <font color="info">【已恢复】地区生产总值未达目标预警已解除</font>')
    assert '> 恢复时间：<font color="comment">2025-08-15 09:30（北京时间）</font>' in resolved  # shown in Beijing time
    escalated = content(example_notice(type="alert.escalated", severity="critical", severity_zh="红色预警"))
    assert escalated.startswith('## <font color="warning">【升级为红色预警】地区生产总值未达目标</font>')
    emergency = content(example_notice(type="alert.escalated", severity="emergency", severity_zh="升级督办"))
    assert emergency.startswith('## <font color="warning">【升级督办】地区生产总值未达目标</font>')


def test_build_request_refuses_inconsistent_input() -> None:
    channel = ChannelConfig(kind="wecom", url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    with pytest.raises(ValueError, match="at least one"):
        build_request(channel, [], delivery_id="d", now=datetime.now(UTC))
    with pytest.raises(ValueError, match="summary_of"):
        build_request(channel, long_notices(3), delivery_id="d", now=datetime.now(UTC), summary_of=2)
    with pytest.raises(ValueError, match="timezone"):
        build_request(channel, [example_notice()], delivery_id="d", now=datetime(2025, 7, 16))


# --- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "answer", "ok", "retry"),
    [
        ("dingtalk", 200, DINGTALK_OK, True, False),
        ("dingtalk", 200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}, False, True),
        ("dingtalk", 200, {"errcode": 310000, "errmsg": "sign not match"}, False, False),
        ("dingtalk", 500, b"upstream error", False, True),
        ("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"}, False, True),
        ("wecom", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, False, False),
        ("wecom", 200, b"<html>portal</html>", False, False),
        ("wecom", 400, b"bad request", False, False),
        ("feishu", 200, FEISHU_OK, True, False),
        ("feishu", 200, {"StatusCode": 0, "StatusMessage": "success"}, True, False),
        ("feishu", 200, {"code": 11232, "msg": "frequency limited"}, False, True),
        ("feishu", 200, {"code": 19021, "msg": "sign match fail"}, False, False),
        ("feishu", 200, {"code": 19024, "msg": "Key Words Not Found"}, False, False),
        ("webhook", 204, b"", True, False),
        ("webhook", 200, {"errcode": 1}, True, False),  # our webhook is judged by HTTP status only
        ("webhook", 429, b"slow down", False, True),
        ("webhook", 503, b"", False, True),
        ("webhook", 404, b"", False, False),
    ],
)
async def test_answers_are_classified(
    receiver: Receiver,
    client: httpx.AsyncClient,
    kind: str,
    status: int,
    answer: dict[str, Any] | bytes,
    ok: bool,
    retry: bool,
) -> None:
    receiver.reply(status, answer)
    channel = ChannelConfig.model_validate({"kind": kind, "url": receiver.url("/hook"), "secret": "SECs"})

    result = await send(client, build_request(channel, [example_notice()], delivery_id="d", now=datetime.now(UTC)))

    assert (result.ok, result.status, result.retry) == (ok, status, retry)
    assert (result.error is None) == ok
    if isinstance(answer, dict) and not ok:
        code = answer.get("errcode", answer.get("code"))
        assert str(code) in (result.error or "")
    assert len(receiver.requests) == 1


async def test_redirects_are_followed_only_where_the_guard_allows(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    receiver.route("/hook", 302, b"", Location=receiver.url("/elsewhere"))
    receiver.reply(200, b"{}")
    channel = ChannelConfig(kind="webhook", url=receiver.url("/hook"), secret="whsec")
    request = build_request(channel, [example_notice()], delivery_id="d", now=datetime.now(UTC))

    refused = await send(client, request)  # loopback, and the operator allows no private network

    assert (refused.ok, refused.retry) == (False, False) and "回环地址" in (refused.error or "")
    assert [r.path for r in receiver.requests] == ["/hook"]
    followed = await send(client, request, allowed=LOOPBACK)
    assert followed.ok and [r.path for r in receiver.requests] == ["/hook", "/hook", "/elsewhere"]


async def test_connection_refused_is_retryable(client: httpx.AsyncClient) -> None:
    with socket.socket() as probe:  # a port that was just free and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = ChannelConfig(kind="dingtalk", url=f"http://127.0.0.1:{port}/robot/send?access_token=t")

    result = await send(client, build_request(channel, [example_notice()], delivery_id="d", now=datetime.now(UTC)))

    assert (result.ok, result.status, result.retry) == (False, None, True)
    assert "Connect" in (result.error or "")


async def test_timeout_is_retryable(receiver: Receiver, client: httpx.AsyncClient) -> None:
    receiver.hang = True
    channel = ChannelConfig(kind="feishu", url=receiver.url("/open-apis/bot/v2/hook/slow"))
    request = build_request(channel, [example_notice()], delivery_id="d", now=datetime.now(UTC))

    started = time.monotonic()
    result = await send(client, request, timeout=0.3)

    assert time.monotonic() - started < 5
    assert (result.ok, result.status, result.retry) == (False, None, True)
    assert "Timeout" in (result.error or "")
    assert len(receiver.requests) == 1


# --- SSRF ------------------------------------------------------------------------------------

PRIVATE_TARGETS = [
    "http://127.0.0.1/hook",
    "http://localhost:8080/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "https://0.0.0.0/",
    "http://100.64.0.1/",
    "http://[fe80::1%25eth0]/",
    "http://[64:ff9b::a00:1]/",
]


@pytest.mark.parametrize("url", PRIVATE_TARGETS)
async def test_check_target_refuses_internal_addresses(url: str) -> None:
    with pytest.raises(UnsafeTarget) as refused:
        await check_target(url)
    assert "refusing" in str(refused.value) and "拒绝推送地址" in str(refused.value)


EVERYWHERE = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
NEVER_ALLOWED = {  # link-local, unspecified and metadata addresses: no operator's allowance admits them
    "http://169.254.169.254/latest/meta-data/",
    "https://0.0.0.0/",
    "http://[fe80::1%25eth0]/",
    "http://100.100.100.200/latest/meta-data/",
}


@pytest.mark.parametrize("url", PRIVATE_TARGETS)
async def test_check_target_allows_internal_addresses_the_operator_allows(url: str) -> None:
    if url in NEVER_ALLOWED:
        with pytest.raises(UnsafeTarget):
            await check_target(url, allowed=EVERYWHERE)
    else:
        await check_target(url, allowed=EVERYWHERE)
        with pytest.raises(UnsafeTarget):  # … and only those networks
            await check_target(url, allowed=(ipaddress.ip_network("203.0.113.0/24"),))


@pytest.mark.parametrize("url", sorted(NEVER_ALLOWED))
async def test_link_local_and_metadata_addresses_are_never_allowed(url: str) -> None:
    with pytest.raises(UnsafeTarget, match=r"link-local|unspecified|metadata"):
        await check_target(url, allowed=EVERYWHERE)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/hook", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("https:///no-host", "no host"),
        ("http://example.com:99999/", "malformed"),
        ("http://planwatch-hooks.invalid/hook", "cannot resolve"),
    ],
)
@pytest.mark.parametrize("allowed", [(), EVERYWHERE])
async def test_check_target_refuses_bad_urls_even_when_private_allowed(url: str, reason: str, allowed) -> None:
    with pytest.raises(UnsafeTarget, match=reason):
        await check_target(url, allowed=allowed)


async def test_reasons_name_the_address() -> None:
    with pytest.raises(UnsafeTarget, match=r"::ffff:7f00:1.*loopback|127\.0\.0\.1.*loopback"):
        await check_target("http://[::ffff:127.0.0.1]/")
    with pytest.raises(UnsafeTarget, match="link-local") as refused:
        await check_target("http://169.254.169.254/")
    assert "链路本地地址" in str(refused.value)


def fake_resolver(answers: dict[str, list[str]]):
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in answers[host]
        ]

    return getaddrinfo


async def test_public_literal_needs_no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a literal address must not be resolved")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    await check_target("http://93.184.216.34/")
    await check_target("https://[2606:2800:220:1:248:1893:25c8:1946]:8443/hook")


async def test_every_resolved_address_must_be_public(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        fake_resolver({"hooks.example.org": ["93.184.216.34"], "rebind.example.org": ["93.184.216.34", "10.0.0.7"]}),
    )
    await check_target("https://hooks.example.org/hook")
    with pytest.raises(UnsafeTarget, match=r"10\.0\.0\.7.*private"):
        await check_target("https://rebind.example.org/hook")
    await check_target("https://rebind.example.org/hook", allowed=(ipaddress.ip_network("10.0.0.0/8"),))


async def test_check_target_resolves_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        fake_resolver({"hooks.example.org": ["93.184.216.34"], "intranet.example.org": ["192.168.10.5"]}),
    )
    await check_target("https://hooks.example.org/hook")
    with pytest.raises(UnsafeTarget, match=r"192\.168\.10\.5"):
        await check_target("https://intranet.example.org/hook")
    await check_target("https://intranet.example.org/hook", allowed=(ipaddress.ip_network("192.168.0.0/16"),))
    with pytest.raises(UnsafeTarget, match="cannot resolve"):
        await check_target("https://nowhere.example.org/hook")
    with pytest.raises(UnsafeTarget, match="loopback"):
        await check_target("http://[::1]:9000/")
    with pytest.raises(UnsafeTarget, match="only http and https"):
        await check_target("gopher://hooks.example.org/")


async def test_check_target_returns_the_address_it_approved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({"hooks.example.org": ["93.184.216.34", "93.184.216.35"]}))
    assert await check_target("https://hooks.example.org/hook") == ["93.184.216.34", "93.184.216.35"]
    assert await check_target("http://93.184.216.36:8080/") == ["93.184.216.36"]
    assert await check_target("https://[2606:2800:220:1::1]/") == ["2606:2800:220:1::1"]


async def test_send_connects_to_the_approved_address_without_resolving_again(
    receiver: Receiver, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a name that resolved to a public address when checked may resolve to an
    internal one a moment later. `send` goes to the address that was checked, and still names
    the host in the Host header."""

    def rebinding(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("send must not resolve the name again")

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://hooks.example.invalid:{receiver.port}/hooks/pinned"
    request = build_request(
        ChannelConfig(kind="webhook", url=url, secret="whsec-pin"),
        [example_notice()],
        delivery_id="dlv-pin",
        now=datetime.now(UTC),
    )
    # the first address approved cannot be connected to (nothing listens there): the next one is tried
    result = await send(client, request, addresses=["127.0.0.2", "127.0.0.1"])
    assert result.ok, result
    recorded = receiver.only
    assert recorded.path == "/hooks/pinned"
    assert recorded.headers["host"] == f"hooks.example.invalid:{receiver.port}"
