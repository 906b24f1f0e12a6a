"""Reminders and a new subscriber's first look, end to end: a real worker process (projections
and notifier) on the test's Redis, a local receiver, subscriptions made through the CLI, the API
and the use case. "Now" is never faked: working hours are set round the clock, or so that the
present is outside them."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from services.app import App, publish_plan
from services.notify import SubscriptionRequest
from services.store import EventStore, Keyspace, TokenInfo, TokenStore
from tests.conftest import LOOPBACK, Workers, api_client, eventually, planwatch
from tests.factories import indicator_update, small_plan
from tests.receivers import Receiver

PLAN = "test-2025"
OPERATOR = TokenInfo("cli", "admin", None, "operator", "")
ALWAYS = "1-7 00:00-24:00"  # round the clock: a reminder goes as soon as it is due
RULES = ["indicator_behind", "data_stale"]


def app_on(redis: Redis, keys: Keyspace) -> App:
    from services.settings import Settings

    return App(redis, keys, Settings(key_prefix=keys.prefix, allow_private_targets=LOOPBACK))


async def firing_plan(store: EventStore, workers: Workers, app: App) -> list[dict]:
    """The small plan with a worker: gdp behind its target (a warning), and the overdue-data
    alerts the year's end gives the other indicators."""
    await publish_plan(store, small_plan(PLAN))
    workers.start_with("w-remind", "--lease-ttl", "1")
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.5")])

    async def firing() -> list[dict]:
        alerts = await app.alerting.firing(PLAN) or []
        return alerts if any(a["rule"] == "indicator_behind" for a in alerts) else []

    return await eventually(firing, timeout=60)


def digests(receiver: Receiver, kind: str) -> list[dict]:
    return [r.json() for r in receiver.requests if r.json().get("digest") == kind]


def subjects(message: dict) -> set[str]:
    return {n["subject"] for n in message["notices"]}


async def test_reminders_name_what_still_fires_leave_out_the_acknowledged_and_silenced_and_survive_a_restart(
    redis, keys, store: EventStore, receiver: Receiver, workers: Workers
) -> None:
    app = app_on(redis, keys)
    alerts = await firing_plan(store, workers, app)
    stale = sorted(a["subject"] for a in alerts if a["rule"] == "data_stale")
    assert len(stale) >= 2, alerts
    acknowledged, silenced, *still = stale
    fingerprint = next(a["fingerprint"] for a in alerts if a["subject"] == acknowledged and a["rule"] == "data_stale")
    await app.alerting.acknowledge(PLAN, fingerprint, OPERATOR, note="已联系统计局")
    ends = datetime.now(UTC).replace(year=datetime.now(UTC).year + 1)
    await app.alerting.create_silence(PLAN, OPERATOR, {"subject": silenced, "rule": "data_stale"}, ends)

    async def quiet() -> bool:
        now = {a["subject"]: a for a in await app.alerting.firing(PLAN) or [] if a["rule"] == "data_stale"}
        return bool(now[acknowledged]["acknowledged"]) and bool(now[silenced]["silenced"])

    await eventually(quiet, timeout=30)
    request = SubscriptionRequest(
        name="系统",
        channel="webhook",
        url=receiver.url("/hook"),
        secret="s",
        repeat_interval="3s",
        working_hours=ALWAYS,
        send_firing=True,
        filters={"plans": [PLAN], "rules": RULES},
    )
    subscribed = await app.alerting.subscribe(request)
    sid = subscribed.subscription.id
    expected = {"gdp", *still}
    assert subscribed.firing_sent == len(expected)

    await eventually(lambda: len(digests(receiver, "reminder")) >= 1, timeout=30)
    [first_look] = digests(receiver, "firing")  # the first look, sent at once
    assert subjects(first_look) == expected and first_look["delivery_id"] == f"firing:{sid}"
    first = digests(receiver, "reminder")[0]
    assert subjects(first) == expected  # neither the acknowledged nor the silenced one
    assert first["delivery_id"].startswith(f"reminder:{sid}:") and first["summary_of"] == len(expected)
    state = await eventually(lambda: _settled(redis, keys.sub_state(sid)))  # the reminder recorded as sent
    reminded_ms = int(state["reminded_ms"])

    workers.kill("w-remind")  # the reminder state is in Redis: a restarted notifier carries on from it
    workers.start_with("w-remind", "--lease-ttl", "1")
    await eventually(lambda: len({d["delivery_id"] for d in digests(receiver, "reminder")}) >= 2, timeout=60)
    reminders = digests(receiver, "reminder")
    due = [int(d["delivery_id"].rsplit(":", 1)[1]) for d in reminders]
    assert len(set(due)) == len(due)  # each reminder once: the restart made none again
    assert all(later - earlier >= 3000 for earlier, later in itertools.pairwise(due))
    assert due[1] >= reminded_ms + 3000  # an interval after the last reminder made before the restart
    assert len(digests(receiver, "firing")) == 1  # the first look went once, restart or not


async def _settled(redis: Redis, state_key: str) -> dict[str, str] | None:
    state = await redis.hgetall(state_key)
    return state if "reminded_ms" in state and "inflight" not in state else None


def outside_now(zone: ZoneInfo) -> str:
    """Working hours (every day) of one hour, starting two hours from now in `zone`: the present
    is outside them."""
    start = (datetime.now(zone).hour + 2) % 24
    end = "24:00" if start == 23 else f"{start + 1:02d}:00"
    return f"1-7 {start:02d}:00-{end}"


async def test_no_reminder_outside_working_hours(
    redis, keys, store: EventStore, receiver: Receiver, workers: Workers
) -> None:
    app = app_on(redis, keys)
    await firing_plan(store, workers, app)
    hours = outside_now(ZoneInfo("Asia/Shanghai"))
    request = SubscriptionRequest(
        name="夜里不打扰",
        channel="webhook",
        url=receiver.url("/hook"),
        secret="s",
        repeat_interval="1s",
        working_hours=hours,
        filters={"plans": [PLAN], "rules": ["indicator_behind", "relative_target"]},
    )
    sid = (await app.alerting.subscribe(request)).subscription.id
    assert (await app.alerting.subscriptions_with_counts())[0][0].hours.timezone == "Asia/Shanghai"  # the plan's
    await asyncio.sleep(2.5)  # the reminder is due (created + 1 s), but not in working hours
    await store.append([indicator_update(PLAN, "income", "2025-Q2", "4.0")])  # income below gdp: a new alert
    await eventually(lambda: any("income" in subjects(r.json()) for r in receiver.requests), timeout=30)
    # the round that delivered it had judged the due reminder first, and kept it back
    assert digests(receiver, "reminder") == []
    assert "reminded_ms" not in await redis.hgetall(keys.sub_state(sid))


async def test_send_firing_through_the_cli_and_the_api_sends_one_digest_each(
    redis, keys, store: EventStore, receiver: Receiver, workers: Workers, cli_env
) -> None:
    app = app_on(redis, keys)
    await firing_plan(store, workers, app)
    made = planwatch(
        cli_env,
        "subscribe",
        "--name",
        "值班群",
        "--channel",
        "webhook",
        "--url",
        receiver.url("/cli"),
        "--secret",
        "s",
        "--plan",
        PLAN,
        "--rule",
        "indicator_behind",
        "--repeat-interval",
        "4h",
        "--working-hours",
        "1-5 08:30-17:30",
        "--send-firing",
    )
    assert made.returncode == 0, made.stderr
    assert "1 firing alert(s) go to it now, as one digest" in made.stdout
    token, _ = await TokenStore(redis, keys).create("admin", name="管理员")
    async with api_client(redis, keys, token) as http:
        answer = await http.post(
            "/v1/subscriptions",
            json={
                "name": "系统",
                "channel": "webhook",
                "url": receiver.url("/api"),
                "secret": "s",
                "send_firing": True,
                "filters": {"plans": [PLAN], "rules": ["indicator_behind"]},
            },
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["firing_sent"] == 1 and "send_firing" not in answer.json()
        refused = await http.post(
            "/v1/subscriptions",
            json={"name": "x", "channel": "wecom", "url": receiver.url("/x"), "repeat_interval": "often"},
        )
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == ["repeat_interval"]
    listed = {s.name: s for s, _ in await app.alerting.subscriptions_with_counts()}
    assert listed["值班群"].repeat_interval == 4 * 3600
    assert listed["值班群"].hours.model_dump() == {
        "days": [1, 2, 3, 4, 5],
        "start": "08:30",
        "end": "17:30",
        "timezone": "Asia/Shanghai",
    }
    shown = planwatch({**cli_env, "COLUMNS": "240"}, "subscriptions")
    assert "4h 周一至周五 08:30–17:30" in shown.stdout and "off" in shown.stdout, shown.stdout  # the API's webhook
    await eventually(lambda: {r.path for r in receiver.requests} >= {"/cli", "/api"}, timeout=30)
    await asyncio.sleep(1)  # a few notifier rounds more: nothing further comes
    for path in ("/cli", "/api"):
        [only] = [r for r in receiver.requests if r.path == path]
        assert only.json()["digest"] == "firing" and subjects(only.json()) == {"gdp"}
    bad = planwatch(
        cli_env,
        "subscribe",
        "--name",
        "x",
        "--channel",
        "wecom",
        "--url",
        "https://a.example/x",
        "--working-hours",
        "1-5 18:00-09:00",
    )
    assert bad.returncode != 0 and "working_hours" in bad.stderr + bad.stdout
