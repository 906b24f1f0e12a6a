"""What people and the plan say about a firing alert — silences, acknowledgement, inhibition — and
one judgement shared by the table, the alert list and the messages."""

from __future__ import annotations

import asyncio
import json

from redis.asyncio import Redis

from events.plan import STALE_INHIBITS_VALUES, Plan
from services.app import App, publish_plan
from services.projection import ALERTS, Projector, rebuild
from services.store import EventStore, Keyspace, Lease, redis_now_ms
from tests.conftest import LOOPBACK, Workers, api_client, eventually, planwatch
from tests.factories import indicator_update, small_plan
from tests.receivers import Receiver

PLAN = "test-2025"
STATUS_FIELDS = {"silenced", "silence_ids", "acknowledged", "inhibited", "inhibited_by"}


_LIVE: dict[str, Projector] = {}  # one live projector per test's key prefix, as a worker keeps it


async def catch_up(redis: Redis, keys: Keyspace, plan_id: str = PLAN) -> None:
    """Run the live alerts projection of the plan until it has judged everything (and idled)."""
    projector = _LIVE.get(keys.prefix)
    if projector is None or projector.redis is not redis:
        assert await Lease(redis, "w", 60_000).hold(keys.lease(plan_id, "alerts"))
        projector = _LIVE[keys.prefix] = Projector(redis, keys, plan_id, owner="w", projection=ALERTS)
        await projector.load()
    while await projector.step():
        pass
    await projector.idle(await redis_now_ms(redis) + 1)


async def test_a_firing_alert_is_listed_with_its_status_not_set(redis: Redis, keys: Keyspace, store: EventStore):
    await publish_plan(store, small_plan(PLAN))
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.5", "stats")])
    await catch_up(redis, keys)
    [gdp] = [
        a
        for a in await App(redis, keys).alerting.firing(PLAN) or []
        if a["fingerprint"] == f"{PLAN}:indicator_behind:gdp"
    ]
    assert {k: gdp[k] for k in STATUS_FIELDS} == {
        "silenced": False,
        "silence_ids": [],
        "acknowledged": None,
        "inhibited": False,
        "inhibited_by": None,
    }
    from services.store import TokenStore

    token, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys, token) as http:
        listed = (await http.get(f"/v1/plans/{PLAN}/alerts")).json()
    assert all(STATUS_FIELDS <= set(a) for a in listed) and listed


# --- silences ---------------------------------------------------------------------------------


async def tokens(redis: Redis, keys: Keyspace) -> dict[str, str]:
    from services.store import TokenStore

    store = TokenStore(redis, keys)
    made = {
        "analyst": await store.create("analyst"),
        "stats": await store.create("department", "stats", plans=[PLAN]),
        "econ": await store.create("department", "econ", plans=[PLAN]),
    }
    return {name: text for name, (text, _) in made.items()}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def firing_by_fingerprint(redis: Redis, keys: Keyspace) -> dict[str, dict]:
    return {a["fingerprint"]: a for a in await App(redis, keys).alerting.firing(PLAN) or []}


async def test_a_silenced_alert_is_recorded_and_listed_but_only_the_other_reaches_the_receiver(
    redis: Redis, keys: Keyspace, store: EventStore, receiver: Receiver, workers: Workers
) -> None:
    await publish_plan(store, small_plan(PLAN))
    made = await tokens(redis, keys)
    hook = await subscribe(redis, keys, receiver)
    async with api_client(redis, keys) as http:
        answer = await http.post(
            f"/v1/plans/{PLAN}/silences",
            headers=auth(made["stats"]),
            json={"matchers": {"subject": "gdp"}, "duration_hours": 48, "comment": "统计局正在核实"},
        )
        assert answer.status_code == 201, answer.text
        silence = answer.json()
        assert silence["state"] == "active" and silence["matchers"] == {"subject": "gdp"}
    workers.start("w-silence")
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.5")])
    await store.append([indicator_update(PLAN, "income", "2025-Q2", "5.0")])  # below GDP: not silenced
    await eventually(lambda: any(n["subject"] == "income" for n in received(receiver, hook)), timeout=30)
    await eventually(lambda: firing_has(redis, keys, GDP), timeout=30)
    await asyncio.sleep(1.5)  # time for a wrong delivery to arrive
    assert {n["subject"] for n in received(receiver, hook)} == {"income"}
    gdp = (await firing_by_fingerprint(redis, keys))[GDP]
    assert gdp["silenced"] and gdp["silence_ids"] == [silence["id"]]
    history = [n for n in await App(redis, keys).alerting.history(PLAN) if n["fingerprint"] == GDP]
    assert [(n["type"], n["silenced"]) for n in history] == [("alert.raised", True)]
    workers.stop_all()
    await rebuilt_equals_live(redis, keys)


GDP = f"{PLAN}:indicator_behind:gdp"


async def firing_has(redis: Redis, keys: Keyspace, fingerprint: str) -> bool:
    return fingerprint in await firing_by_fingerprint(redis, keys)


def received(receiver: Receiver, path: str) -> list[dict]:
    return [n for r in receiver.requests if r.path == path for n in r.json()["notices"]]


async def subscribe(
    redis: Redis,
    keys: Keyspace,
    receiver: Receiver,
    path: str = "/hook",
    rules: tuple[str, ...] = ("indicator_behind", "relative_target"),
) -> str:
    from services.notify import SubscriptionRequest, SubscriptionStore

    receiver.reply(200, {"ok": True})
    request = SubscriptionRequest(
        name="测试群", channel="webhook", url=receiver.url(path), filters={"rules": list(rules)}
    )
    await SubscriptionStore(redis, keys, LOOPBACK).create(request)
    return path


async def rebuilt_equals_live(redis: Redis, keys: Keyspace) -> None:
    """The alerts projection rebuilt from the log lists the same alerts, with the same status."""
    live = await firing_by_fingerprint(redis, keys)
    await rebuild(redis, keys, PLAN, projection=ALERTS)
    _LIVE.pop(keys.prefix, None)  # the live projector reloads from the new generation
    again = await firing_by_fingerprint(redis, keys)
    status = {"fingerprint", *STATUS_FIELDS}
    assert [{k: a[k] for k in status} for a in again.values()] == [{k: a[k] for k in status} for a in live.values()]
    assert any(a["silenced"] or a["acknowledged"] or a["inhibited"] for a in again.values())


async def test_a_silence_made_while_firing_marks_the_alert_and_keeps_its_resolution_quiet(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await publish_plan(store, small_plan(PLAN))
    made = await tokens(redis, keys)
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.5")])
    await catch_up(redis, keys)
    assert not (await firing_by_fingerprint(redis, keys))[GDP]["silenced"]
    async with api_client(redis, keys) as http:
        silence = (
            await http.post(
                f"/v1/plans/{PLAN}/silences",
                headers=auth(made["analyst"]),
                json={"matchers": {"rule": "indicator_behind", "department": "stats"}, "duration_hours": 1},
            )
        ).json()
        await catch_up(redis, keys)
        assert (await firing_by_fingerprint(redis, keys))[GDP]["silence_ids"] == [silence["id"]]
        sent = await outbox(redis, keys)
        await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "6.6")])  # back on track: resolved
        await catch_up(redis, keys)
        assert await outbox(redis, keys) == sent  # the resolution was not told …
        [resolved] = [n for n in await App(redis, keys).alerting.history(PLAN) if n["type"] == "alert.resolved"]
        assert resolved["silenced"]  # … but recorded, marked
        listed = (await http.get(f"/v1/plans/{PLAN}/silences", headers=auth(made["stats"]))).json()
        assert [s["id"] for s in listed] == [silence["id"]]
        expired = await http.delete(f"/v1/plans/{PLAN}/silences/{silence['id']}", headers=auth(made["analyst"]))
        assert expired.status_code == 200 and expired.json()["state"] == "expired"
        again = await http.delete(f"/v1/plans/{PLAN}/silences/{silence['id']}", headers=auth(made["analyst"]))
        assert again.json() == expired.json()  # expiring twice changes nothing
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.4")])  # fires again: told
    await catch_up(redis, keys)
    assert [n["type"] for n in await outbox(redis, keys) if n["fingerprint"] == GDP][-1] == "alert.raised"


async def outbox(redis: Redis, keys: Keyspace) -> list[dict]:
    return [json.loads(f["notice"]) for _, f in await redis.xrange(keys.outbox(PLAN))]


async def test_bad_silences_are_refused_naming_the_field_and_nothing_is_stored(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await publish_plan(store, small_plan(PLAN))
    made = await tokens(redis, keys)
    before = await redis.xlen(keys.events(PLAN))
    bad = [
        ({"matchers": {}, "duration_hours": 1}, 422, "matchers"),
        ({"matchers": {"colour": "red"}, "duration_hours": 1}, 422, "matchers.colour"),
        ({"matchers": {"rule": "no_such_rule"}, "duration_hours": 1}, 422, "matchers.rule"),
        ({"matchers": {"subject": "gdp"}}, 422, "ends_at"),
        (
            {
                "matchers": {"subject": "gdp"},
                "starts_at": "2030-01-02T00:00+08:00",
                "ends_at": "2030-01-01T00:00+08:00",
            },
            422,
            "ends_at",
        ),
        ({"matchers": {"subject": "gdp"}, "ends_at": "2020-01-01T00:00+08:00"}, 422, "ends_at"),
        ({"matchers": {"subject": "gdp"}, "duration_hours": 1, "extra": 1}, 422, "extra"),
        ({"matchers": {"subject": "gdp"}, "duration_hours": -1}, 422, "duration_hours"),
    ]
    async with api_client(redis, keys) as http:
        for body, status, field in bad:
            answer = await http.post(f"/v1/plans/{PLAN}/silences", headers=auth(made["analyst"]), json=body)
            assert answer.status_code == status, (body, answer.text)
            assert field in {e["field"] for e in answer.json()["errors"]}, (body, answer.text)
        # a department silences only its own alerts
        answer = await http.post(
            f"/v1/plans/{PLAN}/silences",
            headers=auth(made["econ"]),
            json={"matchers": {"subject": "gdp"}, "duration_hours": 1},
        )
        assert answer.status_code == 403 and answer.json()["errors"][0]["field"] == "matchers"
        # silences are not posted as events
        event = {**indicator_update(PLAN, "gdp", "2025-Q2", "5.5").model_dump(mode="json")}
        silenced = {**event, "type": "alert.silenced", "subject": PLAN, "period": "2025", "department": "stats"}
        answer = await http.post(f"/v1/plans/{PLAN}/events", headers=auth(made["stats"]), json=[silenced])
        assert answer.status_code == 422 and "type" in answer.text
        unknown = await http.delete(f"/v1/plans/{PLAN}/silences/000000000000", headers=auth(made["analyst"]))
        assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "silence_id"
    assert await redis.xlen(keys.events(PLAN)) == before


async def test_the_cli_creates_lists_and_expires_silences(store: EventStore, cli_env: dict[str, str]) -> None:
    await publish_plan(store, small_plan(PLAN))
    made = planwatch(
        cli_env, "silence", "create", "--plan", PLAN, "--match", "rule=data_stale", "--match", "department=stats",
        "--for", "7d", "--comment", "国庆假期，统计局已知悉",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("已创建静默：") and "生效中" in made.stdout and "rule=data_stale" in made.stdout
    silence_id = made.stdout.removeprefix("已创建静默：").split()[0]
    listed = planwatch(cli_env, "silence", "list", "--plan", PLAN, "--state", "active")
    assert listed.returncode == 0 and silence_id in listed.stdout and "国庆假期" in listed.stdout
    expired = planwatch(cli_env, "silence", "expire", silence_id, "--plan", PLAN)
    assert expired.returncode == 0 and "已结束" in expired.stdout, expired.stderr
    assert "没有静默" in planwatch(cli_env, "silence", "list", "--plan", PLAN, "--state", "active").stdout
    bad = planwatch(cli_env, "silence", "create", "--plan", PLAN, "--match", "colour=red", "--for", "1d")
    assert bad.returncode == 1 and "matchers.colour" in bad.stderr
    for args in (
        ["--match", "rule", "--for", "1d"],
        ["--match", "rule=data_stale", "--for", "soon"],
        ["--match", "rule=data_stale"],
    ):
        refused = planwatch(cli_env, "silence", "create", "--plan", PLAN, *args)
        assert refused.returncode == 2 and ("--match" in refused.stderr or "--for" in refused.stderr), refused.stderr
    assert "FIELD=VALUE" in planwatch(cli_env, "silence", "create", "--help").stdout


# --- acknowledgement --------------------------------------------------------------------------


async def test_an_acknowledgement_holds_until_the_alert_escalates_and_is_in_its_history(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await publish_plan(store, small_plan(PLAN))
    made = await tokens(redis, keys)
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.5")])
    await catch_up(redis, keys)
    async with api_client(redis, keys) as http:
        url = f"/v1/plans/{PLAN}/alerts/acknowledgements"
        done = await http.post(url, headers=auth(made["stats"]), json={"fingerprint": GDP, "note": "已联系，月底补报"})
        assert done.status_code == 201, done.text
        refusals = [
            (made["econ"], {"fingerprint": GDP}, 403, "fingerprint"),  # not its alert
            (made["stats"], {"fingerprint": f"{PLAN}:data_stale:nothing"}, 404, "fingerprint"),
            (made["stats"], {"note": "?"}, 422, "fingerprint"),
            (made["stats"], {"fingerprint": GDP, "note": "长" * 501}, 422, "note"),
        ]
        for token, body, status, field in refusals:
            answer = await http.post(url, headers=auth(token), json=body)
            assert answer.status_code == status and answer.json()["errors"][0]["field"] == field, answer.text
    await catch_up(redis, keys)
    acknowledged = (await firing_by_fingerprint(redis, keys))[GDP]["acknowledged"]
    assert acknowledged["note"] == "已联系，月底补报" and acknowledged["by"] == done.json()["by"]
    history = [n["type"] for n in await App(redis, keys).alerting.history(PLAN) if n["fingerprint"] == GDP]
    assert history == ["alert.raised", "alert.acknowledged"]
    assert "alert.acknowledged" not in {n["type"] for n in await outbox(redis, keys)}  # recorded, not told
    await rebuilt_equals_live(redis, keys)
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "3.0")])  # off track: escalates
    await catch_up(redis, keys)
    gdp = (await firing_by_fingerprint(redis, keys))[GDP]
    assert gdp["type"] == "alert.escalated" and gdp["acknowledged"] is None


async def test_the_cli_acknowledges_a_firing_alert(redis: Redis, keys: Keyspace, store: EventStore, cli_env) -> None:
    await publish_plan(store, small_plan(PLAN))
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.5")])
    await catch_up(redis, keys)
    done = planwatch(cli_env, "ack", GDP, "--plan", PLAN, "--note", "统计局正在核实")
    assert done.returncode == 0 and "已认领预警" in done.stdout, done.stderr
    await catch_up(redis, keys)
    assert (await firing_by_fingerprint(redis, keys))[GDP]["acknowledged"]["by"] == "cli"
    listed = planwatch(cli_env, "alerts", "--plan", PLAN)
    assert "〔已认领〕" in listed.stdout
    missing = planwatch(cli_env, "ack", f"{PLAN}:data_stale:nothing", "--plan", PLAN)
    assert missing.returncode == 1 and "fingerprint" in missing.stderr


# --- inhibition -------------------------------------------------------------------------------


def plan_with(**alerts: object) -> Plan:
    data = small_plan(PLAN).model_dump(mode="json")
    data["thresholds"]["alerts"].update(alerts)
    return Plan.model_validate(data)


async def test_overdue_data_inhibits_the_value_alerts_of_its_subject_when_the_plan_says_so(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    stale_inhibits = STALE_INHIBITS_VALUES.model_dump(mode="json")
    await publish_plan(store, plan_with(inhibit=[stale_inhibits], outage_min_indicators=10))
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.5")])
    await catch_up(redis, keys)  # today's clock: gdp's later quarters are overdue
    firing = await firing_by_fingerprint(redis, keys)
    stale = f"{PLAN}:data_stale:gdp"
    assert stale in firing and not firing[stale]["inhibited"]
    assert firing[GDP]["inhibited"] and firing[GDP]["inhibited_by"] == stale
    told = {n["fingerprint"] for n in await outbox(redis, keys)}
    assert stale in told and GDP not in told  # recorded and listed, not notified
    [raised] = [n for n in await App(redis, keys).alerting.history(PLAN) if n["fingerprint"] == GDP]
    assert raised["inhibited"] and raised["inhibited_by"] == stale
    await rebuilt_equals_live(redis, keys)


async def test_a_plan_wide_data_outage_inhibits_the_overdue_data_alerts(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await publish_plan(store, plan_with(outage_min_indicators=2))  # the default table: outage → stale
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "6.6")])
    await catch_up(redis, keys)  # today's clock: every indicator's latest period is overdue
    firing = await firing_by_fingerprint(redis, keys)
    outage = f"{PLAN}:data_outage:{PLAN}"
    stale = [a for a in firing.values() if a["rule"] == "data_stale"]
    assert outage in firing and len(stale) >= 2
    assert all(a["inhibited_by"] == outage for a in stale)
    told = {n["rule"] for n in await outbox(redis, keys)}
    assert "data_outage" in told and "data_stale" not in told
    assert "项指标中" in firing[outage]["summary_zh"]
    await rebuilt_equals_live(redis, keys)


async def test_an_inhibited_alert_never_reaches_a_subscriber_through_a_real_worker(
    redis: Redis, keys: Keyspace, store: EventStore, receiver: Receiver, workers: Workers
) -> None:
    """End to end: a subscriber of both data rules hears of the plan-wide outage once, and of none
    of the per-indicator overdue alerts it inhibits, though each is firing and listed."""
    await publish_plan(store, plan_with(outage_min_indicators=2))
    await subscribe(redis, keys, receiver, "/data", ("data_outage", "data_stale"))
    workers.start("w-inhibit")
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "6.6")])
    outage = f"{PLAN}:data_outage:{PLAN}"
    await eventually(lambda: any(n["fingerprint"] == outage for n in received(receiver, "/data")), timeout=30)
    await asyncio.sleep(1.5)  # time for a wrong delivery to arrive
    told = [n["rule"] for n in received(receiver, "/data")]
    assert told == ["data_outage"]
    stale = [a for a in (await firing_by_fingerprint(redis, keys)).values() if a["rule"] == "data_stale"]
    assert len(stale) >= 2 and all(a["inhibited_by"] == outage for a in stale)
    workers.stop_all()


async def test_a_bad_inhibition_table_is_refused_at_plan_load_naming_the_field(redis: Redis, keys: Keyspace) -> None:
    from services.store import TokenStore

    admin, _ = await TokenStore(redis, keys).create("admin")
    data = small_plan(PLAN).model_dump(mode="json")
    data["thresholds"]["alerts"]["inhibit"] = [
        {"source": "no_such_rule", "targets": ["data_stale"]},
        {"source": "data_stale", "targets": ["data_stale"]},
        {"source": "data_stale", "targets": ["indicator_behind"], "equal": ["colour"]},
    ]
    async with api_client(redis, keys, admin) as http:
        answer = await http.put(f"/v1/plans/{PLAN}", json=data)
    assert answer.status_code == 422, answer.text
    fields = {e["field"] for e in answer.json()["errors"]}
    assert {"thresholds.alerts.inhibit[0].source", "thresholds.alerts.inhibit[1]"} <= fields, fields
    assert any(f.startswith("thresholds.alerts.inhibit[2].equal") for f in fields), fields
    assert await redis.xlen(keys.events(PLAN)) == 0


# --- one judgement: the wording --------------------------------------------------------------


def test_the_wording_never_says_overdue_zero_months_nor_an_empty_deviation() -> None:
    from projections.alerts import _deviation, _overdue

    assert [_overdue(n) for n in (None, 0, 1, 3)] == ["逾期", "逾期", "逾期1个月", "逾期3个月"]
    assert [_deviation(t) for t in (None, "", "-", "—", "-1.0个百分点")] == [None, None, None, None, "-1.0个百分点"]
