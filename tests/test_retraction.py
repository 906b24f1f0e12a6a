"""Retraction: an acknowledged event neutralised without editing the log, by its department or an
admin, through the API and the CLI; every reader agrees from the retraction on, and views as known
before it still show the event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from redis.asyncio import Redis

from services.app import App, produce_rollup, publish_plan
from services.projection import ALERTS, READ_MODEL, fold_log, judge_log, rebuild
from services.store import EventStore, Keyspace, redis_now_ms
from tests.conftest import api_client, planwatch
from tests.factories import event_body
from tests.test_poison import live

PLAN = "poison-2025"  # the helper projector of test_poison runs on this plan id


def report(value: str, period: str = "2025-Q2", **changes: str) -> dict[str, object]:
    return event_body(value=value, period=period, **changes)


@pytest.fixture
async def tokens(redis: Redis, keys: Keyspace, store: EventStore) -> dict[str, str]:
    from tests.factories import small_plan

    await publish_plan(store, small_plan(PLAN))
    await publish_plan(store, small_plan("other-2025"))
    app = App(redis, keys)
    made = {
        "stats": await app.access.create_token("department", "stats", "", [PLAN]),
        "econ": await app.access.create_token("department", "econ", "", [PLAN]),
        "other": await app.access.create_token("department", "stats", "", ["other-2025"]),
        "analyst": await app.access.create_token("analyst"),
        "admin": await app.access.create_token("admin"),
    }
    return {name: text for name, (text, _) in made.items()}


async def post(http: httpx.AsyncClient, token: str, body: object) -> httpx.Response:
    return await http.post(f"/v1/plans/{PLAN}/events", json=body, headers={"Authorization": f"Bearer {token}"})


async def retract(http: httpx.AsyncClient, token: str, event_id: str, reason: str = "数据填报错误") -> httpx.Response:
    return await http.post(
        f"/v1/plans/{PLAN}/events/{event_id}/retraction",
        json={"reason": reason},
        headers={"Authorization": f"Bearer {token}"},
    )


async def gdp(http: httpx.AsyncClient, token: str, known_at: str | None = None) -> dict:
    query = {"known_at": known_at} if known_at else {}
    answer = await http.get(
        f"/v1/plans/{PLAN}/indicators/gdp", params=query, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_retracted_correction_gives_back_the_report_it_replaced(
    redis: Redis, keys: Keyspace, store: EventStore, tokens: dict[str, str]
) -> None:
    async with api_client(redis, keys) as http:
        first, wrong = report("5.3"), report("99")
        assert (await post(http, tokens["stats"], first)).status_code == 201
        assert (await post(http, tokens["stats"], wrong)).status_code == 201
        before = datetime.fromtimestamp(await redis_now_ms(redis) / 1000, tz=UTC)
        assert (await gdp(http, tokens["analyst"], before.isoformat()))["actual"] == "99.0%"
        done = await retract(http, tokens["stats"], wrong["event_id"])
        assert done.status_code == 201, done.text
        body = done.json()
        assert (body["type"], body["retracted_event_id"], body["department"]) == (
            "event.retracted",
            wrong["event_id"],
            "stats",
        )
        assert body["restores"]["value"] == "5.3" and body["reason"] == "数据填报错误"
        now = await gdp(http, tokens["analyst"], "2030-01-01T00:00:00+08:00")
        assert now["actual"] == "5.3%" and now["deviation"] == "-1.2个百分点"
        assert (await gdp(http, tokens["analyst"], before.isoformat()))["actual"] == "99.0%"  # as known then
        again = await retract(http, tokens["stats"], wrong["event_id"], "again")
        assert again.status_code == 200 and again.json()["position"] == body["position"]  # one retraction
    # the projections, a rebuild, the alerts and a rollup agree
    for projection in (READ_MODEL, ALERTS):
        projector = await live(redis, keys, projection)
        assert projector.state.indicators["gdp"].observations["2025-Q2"].value == Decimal("5.3")
        result = await rebuild(redis, keys, PLAN, projection=projection)
        assert result.parked == 0
    folded = await fold_log(store, PLAN)
    assert folded.indicators["gdp"].observations["2025-Q2"].value == Decimal("5.3")
    _, notices = await judge_log(store, PLAN, datetime(2030, 1, 1, tzinfo=UTC))
    assert [n.type for n in notices if n.subject == "gdp"][-1] in ("alert.raised", "alert.escalated")
    rollup = await produce_rollup(redis, keys, PLAN, "2025-06")
    assert rollup.document is not None
    [row] = [r for r in rollup.document.main if r.id == "gdp"]
    assert (row.actual, row.deviation) == ("5.3%", "-1.2个百分点")


async def test_retracting_the_only_report_leaves_the_period_empty_and_the_log_whole(
    redis: Redis, keys: Keyspace, store: EventStore, tokens: dict[str, str]
) -> None:
    async with api_client(redis, keys) as http:
        only = report("7.0")
        await post(http, tokens["stats"], only)
        length = await store.length(PLAN)
        assert (await retract(http, tokens["admin"], only["event_id"])).json()["department"] == "fgw"  # the office
    assert await store.length(PLAN) == length + 1  # appended, nothing edited
    assert "2025-Q2" not in (await fold_log(store, PLAN)).indicators["gdp"].observations


async def test_who_may_retract(redis: Redis, keys: Keyspace, store: EventStore, tokens: dict[str, str]) -> None:
    async with api_client(redis, keys) as http:
        event = report("5.3")
        await post(http, tokens["stats"], event)
        for who, status in (("econ", 403), ("analyst", 403), ("other", 403)):
            answer = await retract(http, tokens[who], event["event_id"])
            assert answer.status_code == status, (who, answer.text)
            assert answer.json()["errors"]
        unknown = await retract(http, tokens["stats"], str(uuid.uuid4()))
        assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "event_id"
        not_an_id = await retract(http, tokens["stats"], "nonsense")
        assert not_an_id.status_code == 422
        plan_event = (await store.read(PLAN))[0].event
        plan_refused = await retract(http, tokens["admin"], str(plan_event.event_id))
        assert plan_refused.status_code == 422 and "not retracted" in plan_refused.text
        no_reason = await http.post(
            f"/v1/plans/{PLAN}/events/{event['event_id']}/retraction",
            json={"reason": ""},
            headers={"Authorization": f"Bearer {tokens['stats']}"},
        )
        assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
        forged = {
            **report("1"),
            "type": "event.retracted",
            "retracted_event_id": event["event_id"],
        }
        assert (await post(http, tokens["stats"], forged)).status_code == 422  # not posted as an event
    assert (await fold_log(store, PLAN)).indicators["gdp"].observations["2025-Q2"].value == Decimal("5.3")


@pytest.mark.parametrize("damage", ["another event's record", "a record naming nothing", "an entry since gone"])
async def test_an_event_whose_id_record_is_damaged_is_retracted_all_the_same(
    redis: Redis, keys: Keyspace, store: EventStore, tokens: dict[str, str], damage: str
) -> None:
    """The id record is a lookup, not the truth: one that names another event (or nothing, or an
    entry no longer there) does not make the retraction refuse the event, nor retract another."""
    async with api_client(redis, keys) as http:
        kept, wrong = report("5.3", "2025-Q1"), report("99")
        for body in (kept, wrong):
            assert (await post(http, tokens["stats"], body)).status_code == 201
        ids = keys.event_ids(PLAN)
        kept_record = await redis.hget(ids, kept["event_id"])
        assert kept_record is not None
        record = {
            "another event's record": kept_record,
            "a record naming nothing": "not what was written",
            "an entry since gone": "1-1|0123456789abcdef",
        }[damage]
        await redis.hset(ids, wrong["event_id"], record)
        done = await retract(http, tokens["stats"], str(wrong["event_id"]).upper())  # any spelling of the id
        assert done.status_code == 201, done.text
        assert done.json()["retracted_event_id"] == wrong["event_id"]
        await redis.hdel(ids, kept["event_id"])  # no record at all: never stored, as far as anyone can tell
        assert (await retract(http, tokens["stats"], kept["event_id"])).status_code == 404
    observations = (await fold_log(store, PLAN)).indicators["gdp"].observations
    assert observations["2025-Q1"].value == Decimal("5.3") and "2025-Q2" not in observations


async def test_a_retracted_investment_leaves_the_portfolio(
    redis: Redis, keys: Keyspace, store: EventStore, tokens: dict[str, str], cli_env: dict[str, str]
) -> None:
    econ = tokens["econ"]
    async with api_client(redis, keys) as http:
        spent = {
            "event_id": str(uuid.uuid4()),
            "type": "investment.completed",
            "subject": "kp-001",
            "period": "2025-06",
            "occurred_at": "2025-07-05T10:00:00+08:00",
            "amount_wan": "3000",
        }
        assert (await post(http, econ, spent)).status_code == 201
    assert (await fold_log(store, PLAN)).projects["kp-001"].investment == {"2025-06": Decimal(3000)}
    by_cli = planwatch(cli_env, "retract", spent["event_id"], "--plan", PLAN, "--reason", "重复填报", "--token", econ)
    assert by_cli.returncode == 0, by_cli.stderr
    assert "retracted: investment.completed kp-001 2025-06" in by_cli.stdout and "no report" in by_cli.stdout
    assert (await fold_log(store, PLAN)).projects["kp-001"].investment == {}
    again = planwatch(cli_env, "retract", spent["event_id"], "--plan", PLAN, "--reason", "重复填报")
    assert again.returncode == 0 and "already retracted" in again.stdout
