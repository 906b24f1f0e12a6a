"""Delivering alert notices to subscribers: real Redis, real local HTTP receivers standing in
for the robots, the notifier in process (and in worker processes where a kill is the point)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest
from redis.asyncio import Redis

from events.alerts import example_notice
from services.app import produce_rollup, publish_plan
from services.notify import (
    Notifier,
    Subscription,
    SubscriptionRequest,
    SubscriptionStore,
    UnsafeTarget,
    dingtalk_sign,
    fanout,
    feishu_sign,
    verify_webhook,
)
from services.notify.delivery import Inflight
from services.notify.recent import Recent
from services.projection import ALERTS, Projector, rebuild
from services.store import Announcements, EventStore, Keyspace, Lease, connect, node_url_for_key, redis_now_ms
from tests.conftest import LOOPBACK, Workers, api_client, eventually, planwatch
from tests.factories import indicator_update, small_plan
from tests.receivers import Receiver

PLAN = "test-2025"
OK = {"errcode": 0, "errmsg": "ok"}


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def setup(redis: Redis, keys: Keyspace, store: EventStore, client: httpx.AsyncClient):
    await publish_plan(store, small_plan(PLAN))
    assert await Lease(redis, "w", 60_000).hold(keys.lease(PLAN, "alerts"))
    projector = Projector(redis, keys, PLAN, owner="w", projection=ALERTS)
    await projector.load()
    clock = FakeClock()
    notifier = Notifier(redis, keys, "n1", client, backoff_s=1.0, clock=clock, allowed_targets=LOOPBACK)
    return projector, notifier, clock


async def report(store: EventStore, projector: Projector, value: str, period: str = "2025-Q2", subject="gdp"):
    """The statistics bureau reports a value; the projection judges it."""
    await store.append([indicator_update(PLAN, subject, period, value)])
    while await projector.step():
        pass
    # the worker's idle tick, a millisecond on: an instant is judged once it is over, and in the
    # very millisecond of the event it is not yet (a worker would judge it at its next tick)
    await projector.idle(await redis_now_ms(projector.redis) + 1)


async def rounds(notifier: Notifier, n: int = 3) -> None:
    for _ in range(n):
        await notifier.fan_out(block_ms=10)
        await notifier.deliver_all()


async def subscribe(redis: Redis, keys: Keyspace, **request) -> str:
    request = {"name": "测试群", "group_wait": 0, "group_interval": 0, **request}  # grouping: test_delivery.py
    request.setdefault("filters", {})
    request["filters"].setdefault("rules", ["indicator_behind"])  # the small plan has overdue data too
    return (await SubscriptionStore(redis, keys, LOOPBACK).create(SubscriptionRequest(**request))).id


def gdp_requests(receiver: Receiver, path: str) -> list:
    return [r for r in receiver.requests if r.path == path]


async def fire(redis: Redis, keys: Keyspace, numbers: Iterable[int]) -> None:
    """Alerts 指标{n} fire (written to the outbox as the live projection writes them)."""
    for n in numbers:
        notice = example_notice(
            fingerprint=f"{PLAN}:indicator_behind:i{n}", subject=f"i{n}", plan_id=PLAN, subject_name=f"指标{n}"
        )
        await redis.xadd(
            keys.outbox(PLAN),
            {"fingerprint": notice.fingerprint, "type": notice.type, "notice": notice.model_dump_json()},
        )


def wecom_lines(request) -> list[str]:
    return request.json()["markdown"]["content"].splitlines()


@pytest.mark.cluster
async def test_every_channel_gets_its_vendor_payload(setup, redis, keys, store, receiver: Receiver) -> None:
    projector, notifier, _ = setup
    receiver.reply(200, OK)
    await subscribe(redis, keys, channel="webhook", url=receiver.url("/hook"), secret="whsec")
    await subscribe(redis, keys, channel="wecom", url=receiver.url("/wecom?key=abc"))
    await subscribe(redis, keys, channel="dingtalk", url=receiver.url("/dingtalk?access_token=t"), secret="SECabc")
    await subscribe(redis, keys, channel="feishu", url=receiver.url("/feishu"), secret="fs-secret")
    stream_id = await subscribe(redis, keys, channel="stream")
    await report(store, projector, "5.5")
    await rounds(notifier)

    [hook] = gdp_requests(receiver, "/hook")
    body = hook.json()
    [notice] = body["notices"]
    assert (notice["type"], notice["subject"], notice["deviation"]) == ("alert.raised", "gdp", "-1.0个百分点")
    assert (
        hook.headers["idempotency-key"]
        == body["delivery_id"]
        == f"{notice['fingerprint']}:alert.raised:" + notice["at"].replace("Z", "+00:00")
    )
    assert verify_webhook(
        "whsec",
        hook.headers["x-planwatch-timestamp"],
        hook.body,
        hook.headers["x-planwatch-signature"],
        now=datetime.now(UTC),
    )
    [wecom] = gdp_requests(receiver, "/wecom")
    content = wecom.json()["markdown"]["content"]
    assert wecom.json()["msgtype"] == "markdown" and len(content.encode()) <= 4096
    assert all(text in content for text in ("地区生产总值", "6.5%左右", "5.5%", "-1.0个百分点", "区统计局"))
    [ding] = gdp_requests(receiver, "/dingtalk")
    query = parse_qs(ding.raw_query)
    assert query["sign"][0] == parse_qs(f"s={dingtalk_sign('SECabc', int(query['timestamp'][0]))}")["s"][0]
    assert "地区生产总值" in ding.json()["markdown"]["text"]
    [feishu] = gdp_requests(receiver, "/feishu")
    assert feishu.json()["sign"] == feishu_sign("fs-secret", int(feishu.json()["timestamp"]))
    [(_, fields)] = await redis.xrange(keys.sub_stream(stream_id))
    assert json.loads(fields["notices"])[0]["subject"] == "gdp"
    await rounds(notifier)
    assert len(receiver.requests) == 4  # nothing twice


@pytest.mark.cluster
async def test_the_fan_out_reads_the_outboxes_it_hears_were_written(setup, redis, keys, store, server_url) -> None:
    """With the outbox news heard, a step reads the outboxes announced (the live projection's
    commit announces the notices it wrote to tell), not every plan's: an entry written by hand,
    unannounced, waits for the sweep; the first step and a lost subscription read everything."""
    projector, _, _ = setup
    subscriptions = Recent(SubscriptionStore(redis, keys, LOOPBACK).all, initial=[])
    announcements = Announcements(connect(node_url_for_key(server_url, keys.plans), 1))
    fan = fanout.FanOut(redis, keys, "n-news", subscriptions, claim_idle_ms=600_000, announcements=announcements)
    assert fan.news is not None
    fan.news.sweep_s = 3600  # no sweep during the test: what is read, is read because it was heard
    listening = asyncio.create_task(announcements.run())
    try:
        await asyncio.wait_for(announcements.listening.wait(), 30)
        assert await fan.step(block_ms=10) == 0  # nothing heard yet: every outbox, their groups made
        await fire(redis, keys, [1])  # written by hand: no announcement
        assert await fan.step(block_ms=300) == 0
        await report(store, projector, "5.5")  # behind target: the commit writes the alert and announces it
        read = await fan.step(block_ms=10_000)
        entries = await redis.xrange(keys.outbox(PLAN))  # the alert, the small plan's overdue data, …
        subjects = [json.loads(f["notice"])["subject"] for _, f in entries]
        assert subjects[:1] == ["i1"] and "gdp" in subjects
        assert read == len(entries)  # the announced outbox, with the entry that waited in it
        await fire(redis, keys, [2])
        fan.news.missed()  # as after a lost subscription: every outbox again
        assert await fan.step(block_ms=10) == 1
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await announcements.redis.aclose()


@pytest.mark.cluster
async def test_an_outbox_entry_that_is_not_a_notice_is_set_aside_and_the_next_one_delivered(
    setup, redis, keys, store, receiver: Receiver
) -> None:
    projector, notifier, _ = setup
    receiver.reply(200, OK)
    await subscribe(redis, keys, channel="webhook", url=receiver.url("/hook"))
    await notifier.fan_out(block_ms=10)  # creates the consumer group on the outbox
    junk = await redis.xadd(keys.outbox(PLAN), {"fingerprint": "x", "notice": "{not json"})
    await report(store, projector, "5.5")
    await rounds(notifier)
    assert [r.json()["notices"][0]["subject"] for r in receiver.requests] == ["gdp"]
    [(_, dead)] = await redis.xrange(keys.outbox_dead(PLAN))
    assert dead["entry_id"] == junk and "json" in dead["error"].lower()
    assert json.loads(dead["fields"])["notice"] == "{not json"
    assert (await redis.xpending(keys.outbox(PLAN), "notifier"))["pending"] == 0  # not read again


async def test_unsubscribing_leaves_nothing_behind_but_the_stream_it_was_given(
    setup, redis, keys, store, receiver: Receiver
) -> None:
    projector, notifier, _ = setup
    receiver.reply(200, OK)
    hook = await subscribe(redis, keys, channel="webhook", url=receiver.url("/hook"))
    stream = await subscribe(redis, keys, channel="stream")
    await report(store, projector, "5.5")
    await rounds(notifier)
    assert len(receiver.requests) == 1 and await redis.exists(keys.sub_seen(hook), keys.sub_sent(hook)) == 2
    store_ = SubscriptionStore(redis, keys)
    assert await store_.delete(hook) and await store_.delete(stream)
    for subscription in (hook, stream):
        left = [key async for key in redis.scan_iter(match=f"{keys.prefix}:*{subscription}*")]
        assert left == ([keys.sub_stream(stream)] if subscription == stream else []), left
    assert not await store_.delete(hook)  # once gone, gone


async def test_filters_choose_who_hears(setup, redis, keys, store, receiver: Receiver) -> None:
    projector, notifier, _ = setup
    receiver.reply(200, OK)
    await subscribe(redis, keys, channel="webhook", url=receiver.url("/econ"), filters={"departments": ["econ"]})
    await subscribe(redis, keys, channel="webhook", url=receiver.url("/red"), filters={"min_severity": "critical"})
    await subscribe(redis, keys, channel="webhook", url=receiver.url("/quiet"), filters={"resolved": False})
    await report(store, projector, "5.5")  # a warning, about stats' indicator
    await report(store, projector, "6.6")  # corrected: resolved
    await rounds(notifier)
    assert gdp_requests(receiver, "/econ") == [] and gdp_requests(receiver, "/red") == []
    quiet = [json.loads(r.body)["notices"][0]["type"] for r in gdp_requests(receiver, "/quiet")]
    assert quiet == ["alert.raised"]


async def test_a_correction_resolves_and_notifies_once(setup, redis, keys, store, receiver: Receiver) -> None:
    projector, notifier, _ = setup
    receiver.reply(200, OK)
    await subscribe(redis, keys, channel="webhook", url=receiver.url("/hook"))
    await report(store, projector, "5.5")
    await rounds(notifier)
    await report(store, projector, "6.6")
    await rounds(notifier)
    await report(store, projector, "6.6")  # the same figure again: no change, no message
    await rounds(notifier)
    kinds = [r.json()["notices"][0]["type"] for r in receiver.requests]
    assert kinds == ["alert.raised", "alert.resolved"]
    assert receiver.requests[1].json()["notices"][0]["summary_zh"].startswith("已恢复：")


async def test_the_same_update_posted_twice_notifies_once(setup, redis, keys, store, receiver: Receiver) -> None:
    projector, notifier, _ = setup
    receiver.reply(200, OK)
    await subscribe(redis, keys, channel="webhook", url=receiver.url("/hook"))
    event = indicator_update(PLAN, "gdp", "2025-Q2", "5.5")
    for _ in range(2):
        await store.append([event])
        while await projector.step():
            pass
        await projector.idle(await redis_now_ms(redis) + 1)
        await rounds(notifier)
    assert len(receiver.requests) == 1


@pytest.mark.cluster
async def test_a_receiver_failing_three_times_gets_it_exactly_once_more(
    setup, redis, keys, store, receiver: Receiver
) -> None:
    projector, notifier, clock = setup
    receiver.reply(200, OK)
    receiver.then((503, b"busy"), (500, b"oops"), (502, b"gateway"))
    sid = await subscribe(redis, keys, channel="webhook", url=receiver.url("/hook"))
    await report(store, projector, "5.5")
    for _ in range(8):  # the clock jumps past every backoff
        await rounds(notifier, 1)
        clock.now += 3600
    assert len(receiver.requests) == 4
    assert len({r.headers["idempotency-key"] for r in receiver.requests}) == 1
    counts = await SubscriptionStore(redis, keys).counts(sid)
    assert counts == {"queued": 0, "sent": 1, "dead": 0}


async def test_retries_wait_with_backoff_until_the_maximum_age_then_a_dead_letter(
    setup, redis, keys, store, receiver: Receiver
) -> None:
    projector, notifier, clock = setup
    receiver.reply(500, b"down")
    sid = await subscribe(redis, keys, channel="webhook", url=receiver.url("/hook"), max_age="3h")
    await report(store, projector, "5.5")
    first_try = clock.now
    await rounds(notifier, 5)  # no time passes: one try, then it waits
    assert len(receiver.requests) == 1
    state = await redis.hgetall(keys.sub_state(sid))
    assert state["failures"] == "1" and 0 <= int(state["next_attempt_ms"]) - clock.now * 1000 <= 1000
    assert int(state["failing_since_ms"]) == int(first_try * 1000)
    for _ in range(6):
        clock.now += 3600
        await rounds(notifier, 1)
    counts = await SubscriptionStore(redis, keys).counts(sid)
    # tried at 0, 1, 2 and 3 hours: three hours after the first failure it is given up
    assert len(receiver.requests) == 4 and counts["dead"] == 1
    [(_, dead)] = await redis.xrange(keys.sub_dead(sid))
    assert dead["attempts"] == "4" and json.loads(dead["notices"])[0]["subject"] == "gdp"
    assert int(dead["given_up_ms"]) - int(dead["failing_since_ms"]) == 3 * 3600 * 1000
    assert "failures" not in await redis.hgetall(keys.sub_state(sid))  # nothing left of the failures


async def test_a_name_that_does_not_resolve_at_send_time_is_retried_then_delivered_where_it_resolves(
    setup, redis, keys, store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DNS failure when sending is most likely passing: the delivery waits and tries again,
    instead of going to the dead letters. It then connects to the address the check resolved."""
    projector, notifier, clock = setup
    receiver.reply(200, OK)
    answers: dict[str, list[str]] = {"hooks.intranet.invalid": ["127.0.0.1"]}

    def resolve(host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    url = f"http://hooks.intranet.invalid:{receiver.port}/hook"
    sid = await subscribe(redis, keys, channel="webhook", url=url)
    answers.clear()  # the resolver is down now
    await report(store, projector, "5.5")
    await rounds(notifier)
    assert receiver.requests == []
    assert await SubscriptionStore(redis, keys).counts(sid) == {"queued": 1, "sent": 0, "dead": 0}
    answers["hooks.intranet.invalid"] = ["127.0.0.1"]
    clock.now += 3600
    await rounds(notifier)
    [delivered] = receiver.requests
    assert delivered.headers["host"] == f"hooks.intranet.invalid:{receiver.port}"
    assert await SubscriptionStore(redis, keys).counts(sid) == {"queued": 0, "sent": 1, "dead": 0}


async def test_a_refusal_goes_to_the_dead_letters_at_once(setup, redis, keys, store, receiver, cli_env) -> None:
    projector, notifier, _ = setup
    receiver.reply(200, {"errcode": 310000, "errmsg": "sign not match"})  # DingTalk: bad signature
    await subscribe(redis, keys, channel="dingtalk", url=receiver.url("/d?access_token=t"), secret="SECx")
    await report(store, projector, "5.5")
    await rounds(notifier)
    assert len(receiver.requests) == 1

    def planwatch_(*command: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "services", *command],
            env={**cli_env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    listed = planwatch_("subscriptions")  # the dead letter is visible in both
    [row] = [line for line in listed.splitlines() if "dingtalk" in line]
    assert row.rstrip(" │").split("│")[-1].strip() == "1", listed
    [sub] = json.loads(planwatch_("status", "--json"))["subscriptions"]
    assert (sub["channel"], sub["dead"]) == ("dingtalk", 1)


async def test_a_burst_to_a_robot_becomes_one_summary(setup, redis, keys, receiver: Receiver) -> None:
    _, notifier, _ = setup
    receiver.reply(200, OK)
    await subscribe(redis, keys, channel="wecom", url=receiver.url("/wecom?key=k"), filters={})
    await fire(redis, keys, range(50))  # fifty alerts fire at once
    await rounds(notifier)
    [message] = receiver.requests
    lines = wecom_lines(message)
    assert lines[0] == '## <font color="warning">计划执行预警汇总：共50条变化（重点：新增20条）</font>'
    assert lines[1] == '> 计划：<font color="comment">荣昌区2025年国民经济和社会发展计划</font>'
    listed = [line for line in lines if line.startswith("- ")]
    assert len(listed) == 20 and all("未达目标：完成5.5%，目标6.5%左右" in line for line in listed)
    assert lines[-1] == '<font color="comment">…（其余30条略）</font>'
    assert len(message.json()["markdown"]["content"].encode()) <= 4096


async def test_a_robot_gets_20_messages_a_minute_and_what_comes_after_waits_for_one_summary(
    setup, redis, keys, receiver: Receiver
) -> None:
    _, notifier, clock = setup
    receiver.reply(200, OK)
    sid = await subscribe(redis, keys, channel="wecom", url=receiver.url("/wecom?key=k"), filters={})
    start = clock.now
    for n in range(20):  # twenty alerts, a second apart: each its own message
        await fire(redis, keys, [n])
        await rounds(notifier)
        assert len(receiver.requests) == n + 1
        clock.now += 1
    assert [wecom_lines(r)[0] for r in receiver.requests] == [
        f'## <font color="warning">【黄色预警】指标{n}未达目标</font>' for n in range(20)
    ]
    clock.now = start + 30  # three more in the same minute: the robot's 20 a minute are used up
    await fire(redis, keys, [20, 21, 22])
    await rounds(notifier)
    clock.now = start + 59.9
    await rounds(notifier)
    assert len(receiver.requests) == 20  # held, not sent
    assert await SubscriptionStore(redis, keys).counts(sid) == {"queued": 3, "sent": 20, "dead": 0}
    # a minute after the first message one slot is free: the three go together in it, as one summary
    clock.now = start + 60.5
    await rounds(notifier)
    assert len(receiver.requests) == 21
    lines = wecom_lines(receiver.requests[-1])
    assert lines[0] == '## <font color="warning">计划执行预警汇总：新增3条（共3条变化）</font>'
    assert [re.search(r"\*\*(指标\d+)\*\*", line)[1] for line in lines if line.startswith("- ")] == [
        "指标20",
        "指标21",
        "指标22",
    ]
    await rounds(notifier)
    assert len(receiver.requests) == 21
    assert await SubscriptionStore(redis, keys).counts(sid) == {"queued": 0, "sent": 23, "dead": 0}


def test_a_delivery_in_flight_is_written_down_in_the_same_shape() -> None:
    """The `inflight` record outlives the notifier that wrote it: whichever notifier holds the
    lease next reads it back, so its stored shape stays as it is."""
    chosen = [("1-0", {"id": "n-a", "notice": "{}"}), ("2-0", {"id": "n-b", "notice": "{}"})]
    folded = Inflight.of(chosen, fold=True)
    summary_id = "summary:" + hashlib.sha256(b"n-a\nn-b").hexdigest()[:16]
    assert folded.to_json() == json.dumps(
        {"delivery_id": summary_id, "entries": ["1-0", "2-0"], "ids": ["n-a", "n-b"], "fold": True}
    )
    assert Inflight.from_json(folded.to_json()) == folded
    single = Inflight.of(chosen[:1], fold=False)
    assert single.to_json() == '{"delivery_id": "n-a", "entries": ["1-0"], "ids": ["n-a"], "fold": false}'


async def test_a_webhook_to_loopback_needs_the_allow_flag(redis, keys, cli_env) -> None:
    with pytest.raises(UnsafeTarget):
        await SubscriptionStore(redis, keys).create(
            SubscriptionRequest(name="x", channel="webhook", url="http://127.0.0.1:9/hook")
        )
    refused = planwatch(
        cli_env, "subscribe", "--name", "x", "--channel", "webhook", "--url", "http://169.254.169.254/latest"
    )
    assert refused.returncode == 1 and "169.254.169.254" in refused.stderr
    # the flag is the operator's now (PLANWATCH_ALLOW_PRIVATE_TARGETS, loopback here), not a request's
    intranet = ("subscribe", "--name", "内网", "--channel", "webhook", "--url", "http://127.0.0.1:9/hook")
    flagged = planwatch(cli_env, *intranet, "--allow-private")
    assert flagged.returncode == 2 and "PLANWATCH_ALLOW_PRIVATE_TARGETS" in flagged.stderr
    allowed = planwatch(cli_env, *intranet)
    assert allowed.returncode == 0 and "subscribed" in allowed.stdout
    [stored] = await SubscriptionStore(redis, keys).all()
    # no --secret: one was made, printed once (the last line) and is what signs the requests
    assert stored.secret and allowed.stdout.strip().splitlines()[-1] == stored.secret
    assert "not shown again" in allowed.stderr


@pytest.mark.cluster
async def test_a_rebuild_notifies_nobody(setup, redis, keys, store, receiver: Receiver) -> None:
    projector, notifier, _ = setup
    receiver.reply(200, OK)
    await subscribe(redis, keys, channel="webhook", url=receiver.url("/hook"))
    await report(store, projector, "5.5")
    await rounds(notifier)
    assert len(receiver.requests) == 1
    outbox = await redis.xlen(keys.outbox(PLAN))
    assert outbox > 0
    await rebuild(redis, keys, PLAN, projection=ALERTS)
    assert await redis.xlen(keys.outbox(PLAN)) == outbox  # the rebuild wrote history, told no one
    await rounds(notifier)
    assert len(receiver.requests) == 1


async def test_overdue_data_is_told_when_the_timer_finds_it(setup, redis, keys, store, receiver: Receiver) -> None:
    projector, notifier, _ = setup
    receiver.reply(200, OK)
    await subscribe(redis, keys, channel="webhook", url=receiver.url("/hook"), filters={"rules": ["data_stale"]})
    await report(store, projector, "6.6", period="2025-Q1")
    await report(store, projector, "6.6", period="2025-Q1", subject="income")
    await rounds(notifier)
    before = len(receiver.requests)
    # the worker's timer ticks with the current time; here: 21 July 2025 00:00 Shanghai has come
    deadline = int(datetime(2025, 7, 20, 16, tzinfo=UTC).timestamp() * 1000)
    projector.strategy.book.clock_ms = deadline - 1  # the last tick was just before the Q2 deadline
    assert await projector.idle(deadline)
    await rounds(notifier)
    told = {n["subject"] for r in receiver.requests[before:] for n in r.json()["notices"]}
    assert {"gdp", "income"} <= told


async def test_killed_after_delivering_before_recording_sends_once_more_with_the_same_key(
    redis, keys, store, receiver: Receiver, workers: Workers
) -> None:
    await publish_plan(store, small_plan(PLAN))
    await subscribe(redis, keys, channel="webhook", url=receiver.url("/hook"))
    receiver.hang = True  # it takes the message and does not answer
    workers.start_with("w-notify", "--lease-ttl", "1", "--retry-base", "0.1")
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.5")])
    await eventually(lambda: len(receiver.requests) >= 1, timeout=30)
    workers.kill("w-notify")  # delivered, not yet recorded as sent
    receiver.hang = False
    receiver.reply(200, OK)
    workers.start_with("w-notify", "--lease-ttl", "1", "--retry-base", "0.1")
    await eventually(lambda: len(receiver.requests) >= 2, timeout=30)
    await asyncio.sleep(2)
    assert len(receiver.requests) == 2  # exactly one duplicate …
    keys_sent = {r.headers["idempotency-key"] for r in receiver.requests}
    assert len(keys_sent) == 1  # … carrying the same idempotency key


async def test_alerts_api_and_server_sent_events(setup, redis, keys, store, api_url: str) -> None:
    from services.store import TokenStore

    projector, _, _ = setup
    token, _ = await TokenStore(redis, keys).create("analyst")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api_url, trust_env=False, timeout=30) as http:
        # a browser's EventSource sends no headers: it opens the stream with a single-use ticket
        ticket = (await http.post(f"/v1/plans/{PLAN}/alerts/stream-ticket", headers=headers)).json()["ticket"]
        async with http.stream("GET", f"/v1/plans/{PLAN}/alerts/stream", params={"ticket": ticket}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert (await anext(lines)).startswith(": planwatch")
            await report(store, projector, "5.5")
            event = []
            async for line in lines:
                if line.startswith(("id:", "event:", "data:")):
                    event.append(line)
                if line.startswith("data:") and '"gdp"' in line:
                    break
        assert any(line == "event: alert.raised" for line in event)
        firing = (await http.get(f"/v1/plans/{PLAN}/alerts", headers=headers)).json()
        assert {(a["rule"], a["subject"]) for a in firing} >= {("indicator_behind", "gdp")}
        history = (await http.get(f"/v1/plans/{PLAN}/alerts/history", headers=headers)).json()
        assert history[-1]["subject"] in {a["subject"] for a in firing}
        refused = await http.post("/v1/subscriptions", headers=headers, json={})
        assert refused.status_code == 403  # subscriptions are for admins


# --- every webhook is signed -----------------------------------------------------------------


async def test_a_webhook_subscribed_without_a_secret_gets_one_shown_once_and_is_signed_with_it(
    setup, redis, keys, store, receiver: Receiver
) -> None:
    projector, notifier, _ = setup
    receiver.reply(200, OK)
    subscriptions = SubscriptionStore(redis, keys, LOOPBACK)
    created = await subscriptions.create(
        SubscriptionRequest(
            name="测试",
            channel="webhook",
            url=receiver.url("/hook"),
            filters={"rules": ["indicator_behind"]},
        )
    )
    secret = created.generated_secret
    assert secret and len(secret) >= 40  # secrets.token_urlsafe(32)
    shown = created.public()
    assert shown["secret"] == secret and shown["has_secret"] is True
    own = await subscriptions.create(
        SubscriptionRequest(name="自带", channel="webhook", url=receiver.url("/own"), secret="mine")
    )
    assert own.generated_secret is None and "secret" not in own.public()  # the caller knows it
    listed = [s.public() for s in await subscriptions.all()]
    assert [("secret" in s, s["has_secret"]) for s in listed] == [(False, True), (False, True)]  # never again
    assert all(secret not in json.dumps(s) for s in listed)
    await report(store, projector, "5.5")
    await rounds(notifier)
    [hook] = gdp_requests(receiver, "/hook")
    assert verify_webhook(
        secret,
        hook.headers["x-planwatch-timestamp"],
        hook.body,
        hook.headers["x-planwatch-signature"],
        now=datetime.now(UTC),
    )


async def test_a_webhook_stored_unsigned_is_never_sent_unsigned(setup, redis, keys, store, receiver: Receiver) -> None:
    projector, notifier, _ = setup
    receiver.reply(200, OK)
    legacy = Subscription(  # subscribed before every webhook was signed
        name="旧订阅",
        channel="webhook",
        url=receiver.url("/hook"),
        allow_private=True,
        filters={"rules": ["indicator_behind"]},
        id="0123456789ab",
        created_at="2025-07-01T00:00:00+00:00",
    )
    await redis.hset(keys.subscriptions, legacy.id, legacy.model_dump_json())
    await report(store, projector, "5.5")
    await rounds(notifier)
    assert receiver.requests == []
    assert await SubscriptionStore(redis, keys).counts(legacy.id) == {"queued": 0, "sent": 0, "dead": 1}
    [(_, dead)] = await redis.xrange(keys.sub_dead(legacy.id))
    assert "always signed" in dead["error"] and dead["attempts"] == "1"


async def test_the_api_shows_a_generated_webhook_secret_once(redis, keys, store) -> None:
    from services.store import TokenStore

    await publish_plan(store, small_plan(PLAN))
    admin, _ = await TokenStore(redis, keys).create("admin")
    async with api_client(redis, keys, admin) as http:
        request = {"name": "值班群", "channel": "webhook", "url": "http://127.0.0.1:9/hook"}
        created = await http.post("/v1/subscriptions", json=request)
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        assert len(secret) >= 40 and created.json()["has_secret"] is True
        own = await http.post("/v1/subscriptions", json={**request, "secret": "mine"})
        assert own.status_code == 201 and "secret" not in own.json()
        listed = (await http.get("/v1/subscriptions")).json()
        assert [("secret" in s, s["has_secret"]) for s in listed] == [(False, True), (False, True)]
        assert secret not in json.dumps(listed)
    [stored] = [s for s in await SubscriptionStore(redis, keys).all() if s.id == created.json()["id"]]
    assert stored.secret == secret  # the one it signs with


# --- reading alerts: the API's states and the CLI ---------------------------------------------

FIRING = {
    ("data_stale", "gdp"),  # the small plan's 2025-Q4 figures were due by 21 January 2026
    ("data_stale", "income"),
    ("data_stale", "new-projects"),
    ("portfolio_start_rate", "portfolio"),
    ("project_not_started", "kp-001"),
}
RESOLVED = {("indicator_behind", "gdp")}
# `planwatch alerts` then: type, severity and summary of the firing ones, most severe first
FIRING_LINES = [
    # four months overdue to start: red after three (off track), escalated twice over five months at risk or worse
    "新增预警 【升级督办】渝乐电子计划2025-02开工，截至2025-06-30逾期4个月未开工",
    "新增预警 【红色预警】截至2025-06-30应开工重点项目1个，已开工0个，按计划开工率0.0%",
    "新增预警 【黄色预警】地区生产总值2025-Q4数据逾期未报送（应于2026-01-21前报送，区统计局）",
    "新增预警 【黄色预警】全体居民人均可支配收入增速2025-Q4数据逾期未报送（应于2026-01-21前报送，区统计局）",
    "新增预警 【黄色预警】新开工工业项目2025-12数据逾期未报送（应于2026-01-21前报送，区经济信息委）",
]
GDP_BEHIND = "新增预警 【黄色预警】地区生产总值上半年完成5.5%，全年目标6.5%左右，与目标-1.0个百分点（区统计局）"
GDP_ON_TRACK = (
    "预警解除 【黄色预警】已恢复：地区生产总值上半年完成6.6%，全年目标6.5%左右，与目标+0.1个百分点（区统计局）"
)
MINUTE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d ")  # each line starts with when, to the minute


async def raised_and_resolved(store: EventStore, projector: Projector) -> None:
    await report(store, projector, "5.5")  # GDP behind: raised …
    await report(store, projector, "6.6")  # … and resolved by the correction


async def test_the_alerts_api_answers_firing_resolved_and_all(setup, redis, keys, store) -> None:
    from services.store import TokenStore

    projector, _, _ = setup
    await raised_and_resolved(store, projector)
    token, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys, token) as http:
        answers = {}
        for state in ("firing", "resolved", "all"):
            response = await http.get(f"/v1/plans/{PLAN}/alerts", params={"state": state})
            assert response.status_code == 200, response.text
            answers[state] = response.json()
        assert (await http.get(f"/v1/plans/{PLAN}/alerts")).json() == answers["firing"]  # the default
        assert (await http.get(f"/v1/plans/{PLAN}/alerts", params={"state": "open"})).status_code == 422
        assert (await http.get("/v1/plans/nowhere-2025/alerts")).status_code == 404
    subjects = {state: {(a["rule"], a["subject"]) for a in found} for state, found in answers.items()}
    assert subjects == {"firing": FIRING, "resolved": RESOLVED, "all": FIRING | RESOLVED}
    assert {a["state"] for a in answers["firing"]} == {"firing"}
    assert [(a["type"], a["state"]) for a in answers["resolved"]] == [("alert.resolved", "resolved")]
    assert len(answers["all"]) == len(FIRING | RESOLVED)  # the latest notice of each alert, once


@pytest.mark.parametrize("damage", ["garbage", '{"rule": 1}', "[1, 2]", "z1:damaged"])
async def test_the_alerts_api_answers_when_the_stored_list_and_history_cannot_be_read(
    setup, redis, keys, store, damage: str
) -> None:
    """The firing list is the alerts projection's; if it cannot be read it is judged from the
    projection's last state and alert book (and the events after them), as a rollup is; history
    entries that cannot be read are passed over. Nothing stored makes the API fail."""
    from services.store import TokenStore

    projector, _, _ = setup
    await raised_and_resolved(store, projector)
    token, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys, token) as http:

        async def answers() -> dict[str, object]:
            found = {}
            for state in ("firing", "resolved", "all"):
                response = await http.get(f"/v1/plans/{PLAN}/alerts", params={"state": state})
                assert response.status_code == 200, response.text
                found[state] = response.json()
            return found

        before = await answers()
        await redis.hset(keys.generation(PLAN, projector.generation, "alerts"), "alerts", damage)
        history = keys.alert_history(PLAN, projector.generation)
        await redis.xadd(history, {"notice": damage})
        await redis.xadd(history, {"written": "by hand"})
        assert await answers() == before
    rollup = await produce_rollup(redis, keys, PLAN, "2025-06")  # it reads the history too
    assert rollup.document is not None and rollup.outcome == "published"


async def test_planwatch_alerts_lists_the_firing_ones_most_severe_first_and_the_history(
    setup, redis, keys, store, cli_env
) -> None:
    projector, _, _ = setup
    await raised_and_resolved(store, projector)
    firing = planwatch(cli_env, "alerts", "--plan", PLAN)
    assert firing.returncode == 0, firing.stderr
    lines = firing.stdout.splitlines()
    assert all(MINUTE.match(line) for line in lines), lines
    assert all(line.split(" ", 3)[2] == "北京时间" for line in lines)  # labelled, in the plan's zone
    assert [line.split(" ", 3)[3] for line in lines] == FIRING_LINES
    history = planwatch(cli_env, "alerts", "--plan", PLAN, "--history")
    assert history.returncode == 0, history.stderr
    told = history.stdout.splitlines()
    assert all(MINUTE.match(line) for line in told), told
    told = [line.split(" ", 3)[3] for line in told]  # in the order they happened; the first six in one instant
    assert len(told) == 7 and sorted(told[:6]) == sorted([*FIRING_LINES, GDP_BEHIND]) and told[6] == GDP_ON_TRACK
    last_two = planwatch(cli_env, "alerts", "--plan", PLAN, "--history", "--limit", "2")
    assert last_two.stdout.splitlines() == history.stdout.splitlines()[-2:]
    missing = planwatch(cli_env, "alerts", "--plan", "nowhere-2025")
    assert missing.returncode == 1 and "has not been published" in missing.stderr


@pytest.mark.cluster
async def test_a_dead_notifiers_notices_are_claimed_a_slice_of_outboxes_at_a_time_and_queued_once(
    redis, keys, store, client: httpx.AsyncClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notifier that read notices and died before queueing them leaves them pending; another
    claims them, a few plans' outboxes per round trip (a thousand at once held its process' event
    loop ~30 ms), until every outbox was looked at: each notice queued once."""
    monkeypatch.setattr(fanout, "CLAIM_SLICE", 2)
    plans = [f"claim-{n}" for n in range(5)]
    for plan in plans:
        await publish_plan(store, small_plan(plan))
    queue = keys.sub_queue(await subscribe(redis, keys, channel="webhook", url=receiver.url("/hook")))
    live = Notifier(redis, keys, "n2", client, claim_idle_ms=0, allowed_targets=LOOPBACK)
    await live.fan_out(block_ms=10)  # the consumer groups, on every outbox
    for plan in plans:
        notice = example_notice(fingerprint=f"{plan}:indicator_behind:gdp", plan_id=plan)
        await redis.xadd(keys.outbox(plan), {"fingerprint": notice.fingerprint, "notice": notice.model_dump_json()})
        await redis.xreadgroup("notifier", "dead", {keys.outbox(plan): ">"})  # read, never queued nor acknowledged

    async def queued() -> list[str]:
        return sorted(json.loads(fields["notice"])["plan_id"] for _, fields in await redis.xrange(queue))

    await live.fan_out(block_ms=10)
    assert len(await queued()) == 2  # one slice of outboxes claimed
    for _ in range(4):
        await live.fan_out(block_ms=10)
    assert await queued() == sorted(plans)
    for plan in plans:
        assert (await redis.xpending(keys.outbox(plan), "notifier"))["pending"] == 0
