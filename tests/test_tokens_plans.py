"""Tokens bound to plans: one district's office cannot write (or read) another's plan on the same
server; older tokens are bound by a migration; tokens never reach a log, a reject or a listing."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from redis.asyncio import Redis

from services.app import App, Invalid, publish_plan
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import api_client, eventually, planwatch
from tests.factories import event_body, small_plan

PLANS = ("city-2025", "east-2025", "west-2025")


event = event_body


async def test_a_department_token_writes_and_reads_only_its_plans(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    for plan_id in PLANS:
        await publish_plan(store, small_plan(plan_id))
    app = App(redis, keys)
    east, info = await app.access.create_token("department", "stats", "东区统计局", ["east-2025"])
    assert info.plans == ("east-2025",)
    async with api_client(redis, keys, east) as http:
        assert (await http.post("/v1/plans/east-2025/events", json=event())).status_code == 201
        for other in ("city-2025", "west-2025"):
            refused = await http.post(f"/v1/plans/{other}/events", json=event())
            assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "plan"
            assert (await http.get(f"/v1/plans/{other}")).status_code == 403
            assert (await http.post(f"/v1/plans/{other}/alerts/stream-ticket")).status_code == 403
        assert [p["id"] for p in (await http.get("/v1/plans")).json()] == ["east-2025"]
    assert [await store.length(p) for p in PLANS] == [1, 2, 1]
    # the inbox is bound the same way
    refused = await app.ingest.authenticate(east)
    try:
        await app.ingest.submit(refused, "west-2025", [event()])
        raise AssertionError("accepted for another plan")
    except Exception as exc:
        assert getattr(exc, "status", None) == 403


async def test_creating_a_token_checks_its_plans_and_department(redis: Redis, keys: Keyspace, store: EventStore):
    await publish_plan(store, small_plan("east-2025"))
    app = App(redis, keys)
    for role, department, plans, field in [
        ("department", "stats", [], "plans"),
        ("department", "police", ["east-2025"], "plans[0]"),  # the plan has no such department
        ("department", "stats", ["nowhere-2025"], "plans[0]"),
        ("analyst", None, ["nowhere-2025"], "plans[0]"),
    ]:
        try:
            await app.access.create_token(role, department, "", plans)  # type: ignore[arg-type]
            raise AssertionError((role, department, plans))
        except Invalid as exc:
            assert [e.field for e in exc.errors] == [field]
    _, analyst = await app.access.create_token("analyst")
    assert analyst.plans is None and analyst.may_use("anything-2025")
    assert await redis.hlen(keys.tokens) == 1


async def test_older_tokens_are_bound_by_an_idempotent_migration(
    redis: Redis, keys: Keyspace, store: EventStore, cli_env: dict[str, str]
) -> None:
    await publish_plan(store, small_plan("east-2025"))
    other = small_plan("west-2025").model_dump(mode="json")
    other["departments"] = [d for d in other["departments"] if d["id"] != "stats"]
    other["indicators"] = [i for i in other["indicators"] if i["department"] != "stats"]
    from events.plan import Plan

    await publish_plan(store, Plan.model_validate(other))
    tokens = TokenStore(redis, keys)
    # records as the previous version wrote them: no `plans`
    old_stats, stats_info = await tokens.create("department", "stats")
    _, admin_info = await tokens.create("admin")
    for info in (stats_info, admin_info):
        record = json.loads(await redis.hget(keys.tokens, info.id))
        record.pop("plans", None)
        await redis.hset(keys.tokens, info.id, json.dumps(record))
    first = planwatch(cli_env, "token", "migrate")
    assert first.returncode == 0, first.stderr
    assert "2 token(s) bound" in first.stdout
    stats = await tokens.verify(old_stats)
    assert stats is not None and stats.plans == ("east-2025",)  # the plans that have its department
    record = json.loads(await redis.hget(keys.tokens, admin_info.id))
    assert "plans" in record and record["plans"] is None  # bound: to every plan, as before
    again = planwatch(cli_env, "token", "migrate")
    assert "0 token(s) bound" in again.stdout
    listed = planwatch({**cli_env, "COLUMNS": "200"}, "token", "list")
    assert "east-2025" in listed.stdout and "every plan" in listed.stdout


async def test_the_cli_creates_a_token_for_named_plans(store: EventStore, cli_env: dict[str, str]) -> None:
    await publish_plan(store, small_plan("east-2025"))
    made = planwatch(cli_env, "token", "create", "--department", "stats", "--plan", "east-2025")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("pwt_") and "valid for east-2025" in made.stderr
    refused = planwatch(cli_env, "token", "create", "--department", "police", "--plan", "east-2025")
    assert refused.returncode != 0 and "no department 'police'" in refused.stderr + refused.stdout
    unbound = planwatch(cli_env, "token", "create", "--department", "stats")
    assert unbound.returncode != 0 and "--plan" in unbound.stderr + unbound.stdout


async def test_no_token_reaches_a_log_a_reject_or_a_listing(
    redis: Redis, keys: Keyspace, store: EventStore, api_url: str, tmp_path: Path, workers
) -> None:
    """A client puts its token everywhere it might: the header, the query string (stream and
    elsewhere), a body field, the inbox's wrong fields. Grep every log and reject for it."""
    await publish_plan(store, small_plan("east-2025"))
    token, _ = await TokenStore(redis, keys).create("department", "stats", plans=["east-2025"])
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api_url, trust_env=False, timeout=30) as http:
        await http.get(f"/v1/plans/east-2025/alerts/stream?token={token}")
        await http.get(f"/v1/plans/east-2025?token={token}", headers=headers)
        await http.get(f"/v1/plans?access_token={token}&key={token}")
        await http.post("/v1/plans/east-2025/events", headers=headers, json=event(note=token, period=token))
        await http.post("/v1/plans/east-2025/events", headers={"Authorization": f"Bearer {token}x"}, json=event())
        await http.get(f"/v1/{token}")
    workers.start("w-scan")
    for fields in (
        {"token": token, **event(subject=token)},
        {"token": token, **event(period=token)},
        {"token": "nonsense", "note": token, **event()},
        {"token": token, "json": json.dumps(event(note="x", department=token))},
    ):
        await redis.xadd(keys.inbox, fields)
    await eventually(lambda: _rejects(redis, keys, 4), timeout=30)
    workers.stop_all()
    logs = _read_logs(tmp_path)
    assert "GET /v1/plans/east-2025" in logs  # the access log was captured
    rejects = json.dumps(await redis.xrange(keys.inbox_rejects), ensure_ascii=False)
    secret = token.split("_", 2)[2]
    assert secret not in logs and secret not in rejects
    assert token.split("_")[1] in rejects  # the token's id is kept: it says whose message it was


async def _rejects(redis: Redis, keys: Keyspace, count: int) -> bool:
    return await redis.xlen(keys.inbox_rejects) >= count


def _read_logs(folder: Path) -> str:
    return "".join(path.read_text() for path in folder.glob("*.log"))


async def test_the_dashboard_shows_a_token_only_its_plans(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    from tests.test_dashboard import sign_in

    for plan_id in PLANS:
        await publish_plan(store, small_plan(plan_id))
    east, _ = await App(redis, keys).access.create_token("analyst", None, "东区", ["east-2025"])
    async with api_client(redis, keys) as http:
        assert (await sign_in(http, east)).status_code in (302, 303)
        assert (await http.get("/plans/east-2025")).status_code == 200
        refused = await http.get("/plans/west-2025")
        assert refused.status_code == 403 and "east-2025" in refused.text
        home = await http.get("/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == "/plans/east-2025"  # its one plan
