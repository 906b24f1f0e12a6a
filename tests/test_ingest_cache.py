"""A single POST costs one Redis round trip: the token's record is trusted for half a second in
the API's process, the plan in force is the one the process read last (the append script checks
its version), the plan is listed once per process. None of it weakens what a revocation or a new
plan means: a token revoked by another process is refused within one second, and a batch is
always checked against the plan in force when it is stored."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis

from events.plan import Plan
from services.app import TOKEN_CACHE_S, App, publish_plan
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import api_client, planwatch
from tests.factories import event_body, small_plan


def _with_indicator(plan: Plan, indicator_id: str) -> Plan:
    """The plan with one more indicator (of the stats department), as a plan office republishes it."""
    document = plan.model_dump(mode="json")
    extra = {**document["indicators"][0], "id": indicator_id, "name": "新增指标", "order": 9, "aliases": []}
    return Plan.model_validate({**document, "indicators": [*document["indicators"], extra]})


@pytest.mark.cluster
async def test_a_token_revoked_by_the_cli_is_refused_by_the_running_api_within_a_second(
    store: EventStore, cli_env: dict[str, str], api_url: str
) -> None:
    await publish_plan(store, small_plan("east-2025"))
    made = planwatch(cli_env, "token", "create", "--department", "stats", "--plan", "east-2025")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api_url, trust_env=False, timeout=30) as http:
        for _ in range(3):  # the API has read the token and trusts its record now
            assert (
                await http.post("/v1/plans/east-2025/events", headers=headers, json=event_body())
            ).status_code == 201
        revoked = planwatch(cli_env, "token", "revoke", token.split("_")[1])
        assert revoked.returncode == 0, revoked.stderr
        since = time.monotonic()
        while (
            answer := await http.post("/v1/plans/east-2025/events", headers=headers, json=event_body())
        ).status_code == 201:
            assert time.monotonic() - since < 1.0, "a revoked token still worked a second later"
        assert answer.status_code == 401 and time.monotonic() - since < 1.0
    assert await store.length("east-2025") >= 4  # the plan's event and what was accepted before the refusal


@pytest.mark.cluster
async def test_a_plan_published_by_another_process_is_the_one_a_post_is_checked_against(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    plan = small_plan("east-2025")
    await publish_plan(store, plan)
    token, _ = await App(redis, keys).access.create_token("department", "stats", "", ["east-2025"])
    async with api_client(redis, keys, token) as http:
        assert (await http.post("/v1/plans/east-2025/events", json=event_body())).status_code == 201
        await publish_plan(EventStore(redis, keys), _with_indicator(plan, "jobs"))  # elsewhere: this API never saw it
        answer = await http.post("/v1/plans/east-2025/events", json=event_body(subject="jobs", period="2025-Q2"))
        assert answer.status_code == 201, answer.text
        await publish_plan(EventStore(redis, keys), plan)  # and the indicator is gone again
        gone = await http.post("/v1/plans/east-2025/events", json=event_body(subject="jobs", period="2025-Q3"))
        assert gone.status_code == 404 and gone.json()["errors"][0]["field"] == "subject"
    assert await store.length("east-2025") == 3 + 2  # three plans published, two events stored


async def _calls(redis: Redis) -> dict[str, int]:
    """Calls of each command so far on the server (INFO commandstats)."""
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(fields["calls"]) for name, fields in stats.items()}


async def test_a_single_post_costs_one_redis_call(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    await publish_plan(store, small_plan("east-2025"))
    token, _ = await App(redis, keys).access.create_token("department", "stats", "", ["east-2025"])
    async with api_client(redis, keys, token) as http:
        assert (await http.post("/v1/plans/east-2025/events", json=event_body())).status_code == 201  # warm
        before, since = await _calls(redis), time.monotonic()
        for _ in range(20):
            assert (await http.post("/v1/plans/east-2025/events", json=event_body())).status_code == 201
        after, took = await _calls(redis), time.monotonic() - since
    spent = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    spent.pop("info", None)  # the second INFO itself
    # one script call per POST; commandstats counts the commands the script runs too: three HGETs
    # a POST (the plan's version, the event id, the subject's count), where the token's and the plan
    # version's lookups made round trips of their own — but for the token's record, read again once
    # its half second is over; no SADD (the plan is listed once per process)
    assert spent.get("evalsha", 0) + spent.get("eval", 0) == 20, spent
    token_reads = spent.get("hget", 0) - 20 * 3
    assert "sadd" not in spent and 0 <= token_reads <= took / TOKEN_CACHE_S + 1, (spent, took)


@pytest.mark.cluster
async def test_the_plan_in_force_is_found_behind_many_silences(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    """A plan's own index holds its silences and acknowledgements too (they are about the plan):
    behind sixty of them, the plan in force is still the one a POST is checked against, and
    publishing it again stores nothing."""
    plan = small_plan("east-2025")
    await publish_plan(store, plan)
    admin, _ = await TokenStore(redis, keys).create("admin", None, "管理员")
    reporter, _ = await TokenStore(redis, keys).create("department", "stats", "统计局")
    ends = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    async with api_client(redis, keys, admin) as http:
        for n in range(60):
            silence = {"matchers": {"subject": "gdp"}, "ends_at": ends, "comment": f"核实中 {n}"}
            made = await http.post("/v1/plans/east-2025/silences", json=silence)
            assert made.status_code == 201, made.text
    async with api_client(redis, keys, reporter) as http:  # a process that never read the plan
        answer = await http.post("/v1/plans/east-2025/events", json=event_body())
        assert answer.status_code == 201, answer.text
    again = await publish_plan(EventStore(redis, keys), plan)
    assert not again.stored and await store.length("east-2025") == 1 + 60 + 1


@pytest.mark.cluster
async def test_a_plan_s_version_counts_the_plans_published_not_its_silences(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    """The version a publication answers with is the plans published (1, then 2 for the first
    revision), however many silences and acknowledgements the plan's own count holds."""
    plan = small_plan("west-2025")
    assert (await publish_plan(store, plan)).version == 1
    admin, _ = await TokenStore(redis, keys).create("admin", None, "管理员")
    ends = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    async with api_client(redis, keys, admin) as http:
        for n in range(9):
            silence = {"matchers": {"subject": "gdp"}, "ends_at": ends, "comment": f"核实中 {n}"}
            assert (await http.post("/v1/plans/west-2025/silences", json=silence)).status_code == 201
        revised = plan.model_copy(update={"name": "测试区2025年计划（调整）"}).model_dump(mode="json")
        first = await http.put("/v1/plans/west-2025", json=revised)
        again = await http.put("/v1/plans/west-2025", json=revised)
    assert (first.status_code, first.json()["version"]) == (201, 2), first.text
    assert (again.status_code, again.json()["version"]) == (200, 2), again.text
    back = await publish_plan(store, plan)  # the first plan again: a third publication
    assert (back.stored, back.version) == (True, 3)
    # counted across pages of the plan's index, which holds 1 + 9 + 2 entries by now
    assert await store.count_about("west-2025", "west-2025", "plan.published", page=4) == 3
