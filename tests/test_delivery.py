"""Delivery until it lands or is truly hopeless: an outage ridden out with backoff, redirects
followed only to approved addresses, dead letters listed and redelivered with their original
idempotency keys (CLI and API). Real Redis, real local receivers, the notifier in process with a
clock the test moves (so five minutes of outage take seconds, at the real default settings)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis

from events.alerts import AlertNotice, example_notice
from services.app import publish_plan
from services.notify import Notifier, Subscription, SubscriptionRequest, SubscriptionStore
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import LOOPBACK, api_client, eventually, planwatch
from tests.factories import small_plan
from tests.receivers import Receiver

PLAN = "test-2025"
START = datetime(2025, 7, 16, 2, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def notice(subject: str, kind: str, minute: int) -> AlertNotice:
    return example_notice(
        fingerprint=f"{PLAN}:indicator_behind:{subject}",
        plan_id=PLAN,
        subject=subject,
        subject_name=f"指标{subject}",
        type=kind,
        state="resolved" if kind == "alert.resolved" else "firing",
        severity="critical" if kind == "alert.escalated" else "warning",
        at=START + timedelta(minutes=minute),
    )


async def fire(redis: Redis, keys: Keyspace, *notices: AlertNotice) -> None:
    """Notices written to the outbox as the live projection writes them."""
    for n in notices:
        await redis.xadd(
            keys.outbox(PLAN), {"fingerprint": n.fingerprint, "type": n.type, "notice": n.model_dump_json()}
        )


async def subscribe(redis: Redis, keys: Keyspace, url: str, **settings: object) -> str:
    request = SubscriptionRequest(name="测试", channel="webhook", url=url, secret="s", **settings)  # type: ignore[arg-type]
    return (await SubscriptionStore(redis, keys, LOOPBACK).create(request)).id


async def rounds(notifier: Notifier, n: int = 1) -> None:
    for _ in range(n):
        await notifier.fan_out(block_ms=5)
        await notifier.deliver_all()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def notifier(
    redis: Redis, keys: Keyspace, store: EventStore, client: httpx.AsyncClient, clock: Clock
) -> Notifier:
    await publish_plan(store, small_plan(PLAN))  # the notifier reads the outboxes of the plans there are
    # the defaults a deployment runs with: first retry within 2 s, waits doubling up to 5 minutes
    return Notifier(redis, keys, "n1", client, clock=clock, allowed_targets=LOOPBACK)


def delivered_notices(requests: list) -> list[dict]:
    return [n for r in requests for n in r.json()["notices"]]


def notice_id(n: dict) -> str:
    return AlertNotice.model_validate(n).notice_id


async def test_a_five_minute_outage_loses_nothing_and_repeats_nothing(
    redis, keys, receiver: Receiver, notifier: Notifier, clock: Clock
) -> None:
    """The receiver answers 503 for five minutes while alerts keep changing, then recovers:
    every notice arrives, exactly once per idempotency key, in order per subject."""
    sid = await subscribe(redis, keys, receiver.url("/hook"))
    receiver.reply(503, b"maintenance")
    kinds = ["alert.raised", "alert.escalated", "alert.resolved"]
    fired: list[AlertNotice] = []
    outage_s, recovered_at = 300, None
    for second in range(0, outage_s + 400, 5):  # a round every 5 s of the notifier's clock
        if second < 240 and second % 20 == 0:  # three subjects change every 20 s, in turn
            n = notice(f"i{second // 20 % 3}", kinds[second // 60 % 3], second)
            fired.append(n)
            await fire(redis, keys, n)
        if second == outage_s:
            receiver.reply(200, b"{}")
            recovered_at = len(receiver.requests)
        await rounds(notifier)
        clock.now += 5
    assert recovered_at is not None and recovered_at >= 5  # it kept trying through the outage
    failed, delivered = receiver.requests[:recovered_at], receiver.requests[recovered_at:]
    assert {r.headers["idempotency-key"] for r in failed} <= {r.headers["idempotency-key"] for r in delivered}
    keys_delivered = [r.headers["idempotency-key"] for r in delivered]
    assert len(keys_delivered) == len(set(keys_delivered))  # exactly once per idempotency key
    told = [notice_id(n) for n in delivered_notices(delivered)]
    assert sorted(told) == sorted(n.notice_id for n in fired)  # every notice, once
    for subject in ("i0", "i1", "i2"):  # in order per subject
        in_order = [n.notice_id for n in fired if n.subject == subject]
        assert [t for t in told if f":{subject}:" in t] == in_order
    counts = await SubscriptionStore(redis, keys).counts(sid)
    assert counts == {"queued": 0, "sent": len(fired), "dead": 0}


async def test_a_redirect_is_followed_to_an_approved_address_with_the_same_key(
    redis, keys, receiver: Receiver, notifier: Notifier
) -> None:
    receiver.route("/old", 307, b"", Location="/new")
    receiver.route("/moved", 308, b"", Location=receiver.url("/new"))
    receiver.reply(200, b"{}")
    await subscribe(redis, keys, receiver.url("/old"))
    await subscribe(redis, keys, receiver.url("/moved"))
    await fire(redis, keys, notice("gdp", "alert.raised", 0))
    await rounds(notifier, 3)
    paths = [r.path for r in receiver.requests]
    assert sorted(paths) == ["/moved", "/new", "/new", "/old"]
    for old in ("/old", "/moved"):
        [first] = [r for r in receiver.requests if r.path == old]
        [then] = [r for r in receiver.requests if r.path == "/new" and r.body == first.body]
        assert then.method == "POST" and then.headers["idempotency-key"] == first.headers["idempotency-key"]
        assert then.headers["x-planwatch-signature"] == first.headers["x-planwatch-signature"]


@pytest.mark.parametrize(
    "target",
    [
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://192.168.1.1/hook",
        "file:///etc/passwd",
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(
    redis, keys, receiver: Receiver, notifier: Notifier, target: str
) -> None:
    """127.0.0.0/8 is what the suite's operator allows; 10.x, 192.168.x, link-local metadata and
    other schemes are not: the delivery is a refusal, dead-lettered at once, and nothing is posted there."""
    receiver.route("/hook", 302, b"", Location=target)
    sid = await subscribe(redis, keys, receiver.url("/hook"))
    await fire(redis, keys, notice("gdp", "alert.raised", 0))
    await rounds(notifier, 3)
    assert [r.path for r in receiver.requests] == ["/hook"]
    [(_, dead)] = await redis.xrange(keys.sub_dead(sid))
    assert "redirected to a refused target" in dead["error"] and dead["attempts"] == "1"


async def test_a_redirect_loop_gives_up_after_the_hop_limit(
    redis, keys, receiver: Receiver, notifier: Notifier
) -> None:
    receiver.route("/a", 307, b"", Location="/b")
    receiver.route("/b", 301, b"", Location="/a")
    sid = await subscribe(redis, keys, receiver.url("/a"))
    await fire(redis, keys, notice("gdp", "alert.raised", 0))
    await rounds(notifier, 2)
    assert len(receiver.requests) == 6  # the first request and five redirects
    [(_, dead)] = await redis.xrange(keys.sub_dead(sid))
    assert "more than 5 redirects" in dead["error"]


async def given_up(redis, keys, receiver: Receiver, notifier: Notifier, clock: Clock) -> tuple[str, str]:
    """A subscription retried for its maximum age of a minute while the receiver is down: one
    dead letter. Returns the subscription id and the delivery's idempotency key."""
    receiver.reply(503, b"down")
    sid = await subscribe(redis, keys, receiver.url("/hook"), max_age="1m")
    await fire(redis, keys, notice("gdp", "alert.raised", 0))
    for _ in range(90):
        await rounds(notifier)
        clock.now += 1
    assert await SubscriptionStore(redis, keys).counts(sid) == {"queued": 0, "sent": 0, "dead": 1}
    tried = {r.headers["idempotency-key"] for r in receiver.requests}
    assert len(tried) == 1 and len(receiver.requests) >= 3
    return sid, tried.pop()


async def test_planwatch_deliveries_lists_dead_letters_and_retry_sends_them_with_their_key(
    redis, keys, receiver: Receiver, notifier: Notifier, clock: Clock, cli_env
) -> None:
    sid, key = await given_up(redis, keys, receiver, notifier, clock)
    listed = planwatch(cli_env, "deliveries")
    assert listed.returncode == 0, listed.stderr
    assert f"{sid}  测试 (webhook)" in listed.stdout and key in listed.stdout
    assert "HTTP 503: down" in listed.stdout and "北京时间" in listed.stdout
    assert "· 地区生产总值上半年完成5.5%" in listed.stdout  # the notice's summary
    unsaid = planwatch(cli_env, "deliveries", "retry")
    assert unsaid.returncode == 2 and "--subscription ID, or --all" in unsaid.stderr
    unknown = planwatch(cli_env, "deliveries", "retry", "--subscription", "nosuchsub")
    assert unknown.returncode == 1 and "no subscription" in unknown.stderr
    retried = planwatch(cli_env, "deliveries", "retry", "--subscription", sid)
    assert retried.returncode == 0 and f"{sid}: 1 dead letter(s)" in retried.stdout, retried.stderr
    assert planwatch(cli_env, "deliveries", "retry", "--all").stdout.endswith("0 in all\n")  # moved once
    receiver.reply(200, b"{}")
    before = len(receiver.requests)
    await rounds(notifier, 3)
    [again] = receiver.requests[before:]
    assert again.headers["idempotency-key"] == key
    assert await SubscriptionStore(redis, keys).counts(sid) == {"queued": 0, "sent": 1, "dead": 0}
    after = planwatch(cli_env, "deliveries", "--subscription", sid)
    assert "dead letters 0" in after.stdout and key not in after.stdout


async def test_the_api_lists_and_redelivers_dead_letters(
    redis, keys, receiver: Receiver, notifier: Notifier, clock: Clock
) -> None:
    sid, key = await given_up(redis, keys, receiver, notifier, clock)
    admin, _ = await TokenStore(redis, keys).create("admin")
    analyst, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys, admin) as http:
        listed = await http.get(f"/v1/subscriptions/{sid}/deliveries")
        assert listed.status_code == 200, listed.text
        [dead] = listed.json()["dead"]
        assert dead["delivery_id"] == key and dead["error"] == "HTTP 503: down" and dead["attempts"] >= 3
        assert dead["notice_ids"] == [key] and listed.json()["pending"]["queued"] == 0
        assert (await http.get("/v1/subscriptions/nosuchsub/deliveries")).status_code == 404
        assert (await http.post("/v1/subscriptions/nosuchsub/deliveries/retry")).status_code == 404
        retried = await http.post(f"/v1/subscriptions/{sid}/deliveries/retry")
        assert retried.json() == {"subscription_id": sid, "requeued": 1}
        pending = (await http.get(f"/v1/subscriptions/{sid}/deliveries")).json()
        assert pending["dead"] == [] and pending["pending"]["outgoing"] == 1
    async with api_client(redis, keys, analyst) as http:
        assert (await http.post(f"/v1/subscriptions/{sid}/deliveries/retry")).status_code == 403
    receiver.reply(200, b"{}")
    before = len(receiver.requests)
    await rounds(notifier, 3)
    assert [r.headers["idempotency-key"] for r in receiver.requests[before:]] == [key]


@pytest.mark.parametrize(
    ("max_age", "reason"),
    [("0", "greater than 0"), ("-5", "not a duration"), ("8d", "less than or equal"), ("soon", "not a duration")],
)
async def test_a_bad_maximum_age_is_refused_naming_the_field(redis, keys, cli_env, max_age: str, reason: str) -> None:
    admin, _ = await TokenStore(redis, keys).create("admin")
    request = {"name": "值班群", "channel": "webhook", "url": "http://127.0.0.1:9/hook", "max_age": max_age}
    async with api_client(redis, keys, admin) as http:
        refused = await http.post("/v1/subscriptions", json=request)
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["field"] == "max_age" and reason in error["reason"], error
    cli = planwatch(
        cli_env, "subscribe", "--name", "x", "--channel", "webhook", "--url", request["url"], "--max-age", max_age
    )
    assert cli.returncode == 1 and "max_age" in cli.stderr and reason in cli.stderr
    assert await SubscriptionStore(redis, keys).all() == []  # nothing stored


async def test_a_subscription_stored_before_max_age_loads_with_the_default(redis, keys) -> None:
    older = {
        "name": "旧订阅",
        "channel": "webhook",
        "url": "http://127.0.0.1:9/hook",
        "secret": "s",
        "filters": {},
        "rate_per_minute": None,
        "id": "0123456789ab",
        "created_at": "2025-07-01T00:00:00+00:00",
    }
    await redis.hset(keys.subscriptions, older["id"], json.dumps(older))
    [loaded] = await SubscriptionStore(redis, keys).all()
    assert isinstance(loaded, Subscription) and loaded.max_age is None and loaded.max_age_s == 24 * 3600
    assert SubscriptionRequest(name="x", channel="stream", max_age="90m").max_age == 5400


# --- grouping ----------------------------------------------------------------------------------


async def test_a_burst_waits_group_wait_and_what_follows_group_interval_each_as_one_message(
    redis, keys, receiver: Receiver, notifier: Notifier, clock: Clock
) -> None:
    receiver.reply(200, b"{}")
    await subscribe(redis, keys, receiver.url("/hook"), group_wait="30s", group_interval="1m")
    sent: list[int] = []  # when each message went, in seconds from the start
    for second in range(0, 200, 5):
        if second <= 20 or second in (40, 50):  # a burst of five, then two more a little later
            await fire(redis, keys, notice(f"i{second}", "alert.raised", second))
        await rounds(notifier)
        sent += [second] * (len(receiver.requests) - len(sent))
        clock.now += 5
    first, second_ = receiver.requests
    first_at, second_at = sent
    assert first_at == 30 and second_at == 90  # group_wait after the first; group_interval after it
    assert [n["subject"] for n in first.json()["notices"]] == ["i0", "i5", "i10", "i15", "i20"]
    assert first.json()["summary_of"] == 5 and first.headers["idempotency-key"].startswith("summary:")
    assert [n["subject"] for n in second_.json()["notices"]] == ["i40", "i50"]


async def test_scheduler_catching_up_missed_months_sends_one_grouped_message(
    redis, keys, store: EventStore, receiver: Receiver, workers, cli_env
) -> None:
    """`planwatch scheduler --once` after months of downtime publishes six rollups; a robot-like
    subscriber (group_wait 30 s) hears of them once, in one message, through a real worker."""
    from services.demo import load_seed

    await load_seed(store)
    receiver.reply(200, b"{}")
    request = SubscriptionRequest(
        name="领导群",
        channel="webhook",
        url=receiver.url("/hook"),
        secret="s",
        group_wait="30s",
        # rollups only: no relative-target alert of the seed reaches 升级督办 (the revenue and trade
        # value alerts and overdue projects do: off track month after month)
        filters={
            "rollups": True,
            "plans": ["rongchang-2025"],
            "rules": ["relative_target"],
            "min_severity": "emergency",
            "resolved": False,
        },
    )
    await SubscriptionStore(redis, keys, LOOPBACK).create(request)
    workers.start_with("w-notify", "--lease-ttl", "1")
    caught_up = planwatch(cli_env, "scheduler", "--once", "--now", "2025-07-16T09:00+08:00")
    assert caught_up.returncode == 0, caught_up.stderr
    await eventually(lambda: len(receiver.requests) >= 1, timeout=90)
    await asyncio.sleep(3)
    [message] = receiver.requests
    told = [(n["type"], n["period"]) for n in message.json()["notices"]]
    assert told == [("rollup.published", f"2025-0{month}") for month in range(1, 7)]


async def test_a_digest_given_up_is_redelivered_as_a_digest_with_its_key(
    redis, keys, receiver: Receiver, notifier: Notifier
) -> None:
    """A first look (or a reminder) refused by the receiver goes to the dead letters like any
    delivery, and `retry` sends it again worded as the same digest, with the same key."""
    from services.notify import Deliveries, queue_firing

    sid = await subscribe(redis, keys, receiver.url("/hook"))
    [subscription] = await SubscriptionStore(redis, keys, LOOPBACK).all()
    await queue_firing(redis, keys, subscription, [notice("i1", "alert.raised", 0)], "Asia/Shanghai")
    receiver.reply(400, b"bad")  # a refusal: given up at once
    await rounds(notifier, 2)
    [refused] = receiver.requests
    assert refused.json()["digest"] == "firing" and refused.headers["idempotency-key"] == f"firing:{sid}"
    assert await Deliveries(redis, keys).redeliver(sid) == 1
    receiver.reply(200, b"{}")
    await rounds(notifier, 2)
    [_, again] = receiver.requests
    assert again.json()["digest"] == "firing" and again.headers["idempotency-key"] == f"firing:{sid}"
    assert [n["subject"] for n in again.json()["notices"]] == ["i1"]
