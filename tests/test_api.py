"""The HTTP API through the real ASGI app and real Redis: every status code, with its body."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from services.api.deps import MAX_BODY
from services.app import TOKEN_CACHE_S, publish_plan
from services.projection import PROJECTIONS, Projector
from services.store import EventStore, Keyspace, Lease, TokenStore, connect
from tests.conftest import api_client
from tests.factories import small_plan

PLAN = "test-2025"


def event(subject: str = "gdp", value: str = "5.5", period: str = "2025-Q2", **extra) -> dict:
    body = {
        "event_id": str(uuid.uuid4()),
        "type": "indicator.updated",
        "subject": subject,
        "period": period,
        "occurred_at": "2025-07-15T10:00:00+08:00",
        "value": value,
    }
    return {**body, **extra}


@pytest.fixture
async def client(redis: Redis, keys: Keyspace, store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    await publish_plan(store, small_plan(PLAN))
    async with api_client(redis, keys) as http:
        yield http


@pytest.fixture
async def tokens(redis: Redis, keys: Keyspace) -> dict[str, str]:
    store = TokenStore(redis, keys)
    made = {
        "stats": await store.create("department", "stats"),
        "econ": await store.create("department", "econ"),
        "fgw": await store.create("department", "fgw"),
        "analyst": await store.create("analyst"),
        "admin": await store.create("admin"),
    }
    return {name: text for name, (text, _) in made.items()}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def json_auth(token: str) -> dict[str, str]:
    """For a body sent as raw bytes: a JSON body must say it is JSON."""
    return {**auth(token), "Content-Type": "application/json"}


async def test_one_event_is_stored_with_the_token_department(client, tokens, store: EventStore) -> None:
    sent = event()
    response = await client.post(f"/v1/plans/{PLAN}/events", json=sent, headers=auth(tokens["stats"]))
    assert response.status_code == 201
    body = response.json()
    assert (body["stored"], body["duplicates"]) == (1, 0)
    [stored] = await store.read(PLAN, after=(await store.read(PLAN))[0].position)
    assert body["events"] == [{"event_id": sent["event_id"], "position": stored.position, "duplicate": False}]
    assert stored.event.department == "stats" and stored.event.plan_id == PLAN


async def test_a_retried_batch_answers_200_with_the_original_positions(client, tokens, store: EventStore) -> None:
    batch = [event(value="5.4", period="2025-Q1"), event(value="5.5")]
    first = await client.post(f"/v1/plans/{PLAN}/events", json=batch, headers=auth(tokens["stats"]))
    again = await client.post(f"/v1/plans/{PLAN}/events", json=batch, headers=auth(tokens["stats"]))
    assert (first.status_code, again.status_code) == (201, 200)
    assert [e["position"] for e in again.json()["events"]] == [e["position"] for e in first.json()["events"]]
    assert again.json()["stored"] == 0 and again.json()["duplicates"] == 2
    assert await store.length(PLAN) == 3  # the plan + 2


async def test_two_hundred_parallel_retries_store_the_batch_once(client, tokens, store: EventStore) -> None:
    periods = ("2025-03", "2025-06", "2025-09", "2025-12", "2025-Q1")  # gdp is quarterly
    batch = [event(value=f"5.{i}", period=period) for i, period in enumerate(periods)]
    responses = await asyncio.gather(
        *(client.post(f"/v1/plans/{PLAN}/events", json=batch, headers=auth(tokens["stats"])) for _ in range(200))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1 and codes.count(200) == 199
    assert len({json.dumps([e["position"] for e in r.json()["events"]]) for r in responses}) == 1
    assert await store.length(PLAN) == 1 + 5


async def test_version_conflict_is_409_naming_the_subject(client, tokens, store: EventStore) -> None:
    body = {"events": [event()], "expected_versions": {"gdp": 3}}
    response = await client.post(f"/v1/plans/{PLAN}/events", json=body, headers=auth(tokens["stats"]))
    assert response.status_code == 409
    assert response.json() == {
        "error": "conflict",
        "message": "version conflict on 'gdp': expected version 3, actual 0",
        "message_zh": "“gdp”版本冲突：期望第3版，实际第0版，未保存任何数据",
        "errors": [
            {
                "field": "expected_versions.gdp",
                "reason": "expected version 3, the subject is at 0",
                "reason_zh": "期望第3版，实际第0版",
            }
        ],
        "subject": "gdp",
        "expected": 3,
        "actual": 0,
    }
    ok = {"events": [event()], "expected_versions": {"gdp": 0}}
    assert (await client.post(f"/v1/plans/{PLAN}/events", json=ok, headers=auth(tokens["stats"]))).status_code == 201


async def test_an_event_id_reused_for_other_content_is_409(client, tokens) -> None:
    sent = event()
    await client.post(f"/v1/plans/{PLAN}/events", json=sent, headers=auth(tokens["stats"]))
    response = await client.post(
        f"/v1/plans/{PLAN}/events", json={**sent, "value": "9.9"}, headers=auth(tokens["stats"])
    )
    assert response.status_code == 409 and response.json()["event_id"] == sent["event_id"]
    assert [e["field"] for e in response.json()["errors"]] == ["event_id"]


async def test_a_batch_with_one_bad_event_is_422_and_stores_nothing(client, tokens, store: EventStore) -> None:
    batch = [event(), event(period="2025-13", value="abc"), event(recorded_at="2025-07-01T00:00:00Z")]
    response = await client.post(f"/v1/plans/{PLAN}/events", json=batch, headers=auth(tokens["stats"]))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid" and "nothing was stored" in body["message"] and body["message_zh"]
    fields = {e["field"]: e for e in body["errors"]}
    assert set(fields) == {"events[1].period", "events[1].value", "events[2].recorded_at"}
    assert "month must be 01..12" in fields["events[1].period"]["reason"]
    assert fields["events[1].value"]["reason_zh"] == "不是有效的数字"
    assert fields["events[2].recorded_at"]["reason"] == "set by the store, never by the sender"
    assert all(e["reason"].strip() and e["reason_zh"].strip() for e in body["errors"]), body["errors"]
    assert await store.length(PLAN) == 1


async def test_every_kind_of_problem_in_one_batch_is_listed_in_one_422(client, tokens, store: EventStore) -> None:
    before = await store.read(PLAN)
    batch = [
        event(),  # valid: must not be stored either
        event(value="abc"),  # a bad value
        event("cpi"),  # no such subject in the plan
        event("new-projects", "10", "2025-06"),  # econ's indicator, posted by stats
    ]
    response = await client.post(f"/v1/plans/{PLAN}/events", json=batch, headers=auth(tokens["stats"]))
    assert response.status_code == 422, response.text
    body = response.json()
    assert (
        body["error"] == "invalid"
        and "nothing was stored" in body["message"]
        and "未保存任何数据" in body["message_zh"]
    )
    fields = {e["field"]: e for e in body["errors"]}
    assert list(fields) == ["events[1].value", "events[2].subject", "events[3].subject"]
    assert all(e["reason"].strip() and e["reason_zh"].strip() for e in body["errors"]), body["errors"]
    assert fields["events[1].value"]["reason_zh"] == "不是有效的数字"
    assert fields["events[2].subject"]["reason"] == "'cpi' is no indicator or project of plan test-2025"
    assert "cpi" in fields["events[2].subject"]["reason_zh"]
    assert fields["events[3].subject"]["reason"] == "stats does not own new-projects (owner: econ)"
    assert fields["events[3].subject"]["reason_zh"] == "“new-projects”由区经济信息委报送，不属于本部门"
    assert await store.read(PLAN) == before  # the log is unchanged


async def test_mixed_kinds_without_field_errors_are_422_too(client, tokens, store: EventStore) -> None:
    post = lambda body, who="stats": client.post(f"/v1/plans/{PLAN}/events", json=body, headers=auth(tokens[who]))  # noqa: E731
    unknown_and_not_owned = await post([event("cpi"), event("new-projects", "10", "2025-06")])
    assert unknown_and_not_owned.status_code == 422
    assert [e["field"] for e in unknown_and_not_owned.json()["errors"]] == ["events[0].subject", "events[1].subject"]
    started = {k: v for k, v in event(type="project.started", started_on="2025-03-01").items() if k != "value"}
    wrong_type_and_unknown = await post([started, event("cpi")])  # gdp is no project; cpi is nothing
    assert wrong_type_and_unknown.status_code == 422
    errors = wrong_type_and_unknown.json()["errors"]
    assert [e["field"] for e in errors] == ["events[0].subject", "events[1].subject"]
    assert "is an indicator" in errors[0]["reason"] and "no indicator or project" in errors[1]["reason"]
    claimed_and_bad = await post(event(department="stats", period="2025-13"), who="econ")
    assert claimed_and_bad.status_code == 422
    fields = {e["field"]: e for e in claimed_and_bad.json()["errors"]}
    assert set(fields) == {"department", "period"}
    assert fields["department"]["reason"] == "claims department 'stats', the token is 'econ'"
    assert fields["department"]["reason_zh"] == "填写的部门“stats”与令牌所属部门“econ”不一致"
    assert await store.length(PLAN) == 1


async def test_not_json_and_wrong_shapes_are_422(client, tokens) -> None:
    bad = await client.post(f"/v1/plans/{PLAN}/events", content=b"{oops", headers=json_auth(tokens["stats"]))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "(body)"
    gbk = json.dumps(event(note="统计局报送"), ensure_ascii=False).encode("gb18030")  # JSON is UTF-8 (RFC 8259)
    not_utf8 = await client.post(f"/v1/plans/{PLAN}/events", content=gbk, headers=json_auth(tokens["stats"]))
    assert not_utf8.status_code == 422 and not_utf8.json()["message_zh"] == "请求体不是UTF-8编码"
    assert not_utf8.json()["errors"][0]["reason"].startswith("not UTF-8 text (byte ")
    empty = await client.post(f"/v1/plans/{PLAN}/events", json=[], headers=auth(tokens["stats"]))
    assert empty.status_code == 422
    scalar = await client.post(f"/v1/plans/{PLAN}/events", json=[1, "x"], headers=auth(tokens["stats"]))
    assert scalar.status_code == 422 and [e["field"] for e in scalar.json()["errors"]] == ["events[0]", "events[1]"]
    started = {k: v for k, v in event(type="project.started", started_on="2025-03-01").items() if k != "value"}
    wrong_type = await client.post(f"/v1/plans/{PLAN}/events", json=started, headers=auth(tokens["stats"]))
    assert wrong_type.status_code == 422 and "is an indicator" in wrong_type.json()["errors"][0]["reason"]
    for odd in ([], {}, 7, None):  # any JSON value where a string belongs: a 422 naming the field
        response = await client.post(f"/v1/plans/{PLAN}/events", json=event(type=odd), headers=auth(tokens["stats"]))
        assert response.status_code == 422 and [e["field"] for e in response.json()["errors"]] == ["type"], odd


async def test_a_department_posting_for_another_is_403_and_stores_nothing(client, tokens, store: EventStore):
    mixed = [event("new-projects", "10", "2025-06"), event("gdp")]  # econ owns new-projects, stats owns gdp
    response = await client.post(f"/v1/plans/{PLAN}/events", json=mixed, headers=auth(tokens["econ"]))
    assert response.status_code == 403
    assert "econ does not own gdp (owner: stats)" in response.json()["message"]
    assert response.json()["message_zh"] == "只能报送本部门负责的指标和项目，未保存任何数据"
    assert response.json()["errors"] == [
        {
            "field": "events[1].subject",
            "reason": "econ does not own gdp (owner: stats)",
            "reason_zh": "“gdp”由区统计局报送，不属于本部门",
        }
    ]
    claimed = await client.post(
        f"/v1/plans/{PLAN}/events", json=event(department="stats"), headers=auth(tokens["econ"])
    )
    assert claimed.status_code == 403 and "claims department 'stats'" in claimed.json()["message"]
    assert "令牌所属部门与事件中的部门不一致" in claimed.json()["message_zh"]
    assert "department" in [e["field"] for e in claimed.json()["errors"]]
    analyst = await client.post(f"/v1/plans/{PLAN}/events", json=event(), headers=auth(tokens["analyst"]))
    assert analyst.status_code == 403 and analyst.json()["message"] == "analyst tokens are read-only"
    revise = {**event(), "type": "target.revised", "target": "6%左右", "reason": "调整"}
    del revise["value"]
    not_office = await client.post(f"/v1/plans/{PLAN}/events", json=revise, headers=auth(tokens["stats"]))
    assert not_office.status_code == 403 and "plan office" in not_office.json()["message"]
    office = await client.post(f"/v1/plans/{PLAN}/events", json=revise, headers=auth(tokens["fgw"]))
    assert office.status_code == 201
    assert await store.length(PLAN) == 2  # the plan and the office's revision


@pytest.mark.parametrize(
    ("subject", "target", "reason"),
    [
        ("new-projects", "新开工工业项目300亿元", "is in 万元 but the indicator's unit is 个"),
        ("gdp", "居民收入增长6%", "names '居民收入'"),
        ("new-projects", {"text": "提高1个百分点", "baseline": 3}, "unit must be %"),
        ("income", "高于地区生产总值增速", None),  # the same indicator by its name: accepted
        ("income", "不低于新开工工业项目", "a revision compares with what the plan's target does (gdp)"),
        ("gdp", "高于全体居民人均可支配收入增速", "does (nothing)"),
        ("gdp", {"text": "6.5%左右", "tolerance": "0.3"}, None),
        ("gdp", "完成市下达任务", None),
        ("gdp", {"text": "提高1个百分点", "baseline": "5.0"}, None),
        ("gdp", "提高1个百分点", "last year's level"),
        ("new-projects", "增长10%", "set with_growth: true"),  # a count judged against a percentage
    ],
)
async def test_a_revised_target_must_fit_its_indicator_as_the_plans_own_must(
    client, tokens, store: EventStore, subject: str, target: object, reason: str | None
) -> None:
    revise = {**event(subject), "type": "target.revised", "target": target, "reason": "调整"}
    del revise["value"]
    answer = await client.post(f"/v1/plans/{PLAN}/events", json=revise, headers=auth(tokens["fgw"]))
    if reason is None:
        assert answer.status_code == 201, answer.json()
        return
    assert answer.status_code == 422, answer.json()
    [error] = answer.json()["errors"]
    assert error["field"] == "target" and reason in error["reason"] and error["reason_zh"]
    assert await store.length(PLAN) == 1  # the plan alone: nothing stored


async def test_an_indicator_says_how_the_target_in_force_is_judged_a_revision_included(
    client, tokens, redis: Redis, keys: Keyspace
) -> None:
    revise = {**event(), "type": "target.revised", "target": "6%以上", "reason": "人大调整"}
    del revise["value"]
    assert (await client.post(f"/v1/plans/{PLAN}/events", json=revise, headers=auth(tokens["fgw"]))).status_code == 201
    before = await client.post(f"/v1/plans/{PLAN}/events", json=event(period="2025-Q1"), headers=auth(tokens["stats"]))
    assert before.status_code == 201
    await project(redis, keys, PLAN)
    march = await client.get(f"/v1/plans/{PLAN}/indicators/gdp", headers=auth(tokens["analyst"]))
    assert march.json()["judged_as"] == "每期数值6.5%左右（计划未设允许偏差）"  # the plan's, before the revision
    await client.post(f"/v1/plans/{PLAN}/events", json=event(), headers=auth(tokens["stats"]))  # 2025-Q2
    await project(redis, keys, PLAN)
    june = (await client.get(f"/v1/plans/{PLAN}/indicators/gdp", headers=auth(tokens["analyst"]))).json()
    assert (june["target"], june["judged_as"]) == ("6%以上", "每期数值不低于6%")  # the revision, from Q2 on


async def test_unknown_plan_or_subject_is_404(client, tokens, store: EventStore) -> None:
    plan = await client.post("/v1/plans/nowhere-2025/events", json=event(), headers=auth(tokens["stats"]))
    assert plan.status_code == 404 and plan.json()["message"] == "plan 'nowhere-2025' has not been published"
    subject = await client.post(f"/v1/plans/{PLAN}/events", json=[event(), event("cpi")], headers=auth(tokens["stats"]))
    assert subject.status_code == 404 and subject.json()["errors"][0]["field"] == "events[1].subject"
    assert await store.length(PLAN) == 1
    assert (await client.get(f"/v1/plans/{PLAN}/indicators/cpi", headers=auth(tokens["stats"]))).status_code == 404


async def test_oversized_bodies_are_413(client, tokens, store: EventStore) -> None:
    huge = [event(note="说明" * 500) for _ in range(800)]  # > 2 MB
    response = await client.post(f"/v1/plans/{PLAN}/events", json=huge, headers=auth(tokens["stats"]))
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    many = [event() for _ in range(1001)]
    response = await client.post(f"/v1/plans/{PLAN}/events", json=many, headers=auth(tokens["stats"]))
    assert response.status_code == 413 and "at most 1000" in response.json()["message"]
    assert await store.length(PLAN) == 1


async def test_a_streamed_body_without_length_is_cut_off_at_the_limit(client, tokens, store: EventStore) -> None:
    chunk = json.dumps([event(note="说明" * 200) for _ in range(10)]).encode()[1:-1] + b","  # events, no brackets
    chunks_needed = MAX_BODY // len(chunk) + 1
    sent = 0

    async def body() -> AsyncIterator[bytes]:  # chunked transfer: httpx sends no Content-Length
        nonlocal sent
        yield b"["
        for _ in range(chunks_needed * 3):  # three times the limit, if the server read it all
            sent += 1
            yield chunk
        yield json.dumps(event()).encode() + b"]"

    response = await client.post(f"/v1/plans/{PLAN}/events", content=body(), headers=json_auth(tokens["stats"]))
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["message"] == f"the body exceeds {MAX_BODY} bytes"
    assert response.json()["message_zh"] == f"请求体过大（上限{MAX_BODY}字节）"
    assert sent <= chunks_needed + 1  # it stopped reading once over the limit
    assert await store.length(PLAN) == 1


async def test_an_oversized_spreadsheet_upload_is_413(client, tokens, store: EventStore) -> None:
    response = await client.post(
        f"/v1/plans/{PLAN}/imports",
        headers=auth(tokens["stats"]),
        files={"file": ("big.csv", io.BytesIO(b"x" * (MAX_BODY + 1)))},
    )
    assert response.status_code == 413, response.text
    assert response.json()["message"] == f"the file exceeds {MAX_BODY} bytes"
    assert response.json()["message_zh"] == f"文件过大（上限{MAX_BODY}字节）"
    assert await store.length(PLAN) == 1


async def test_missing_bad_and_revoked_tokens_are_401(client, tokens, redis: Redis, keys: Keyspace) -> None:
    none = await client.post(f"/v1/plans/{PLAN}/events", json=event())
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    bad = await client.get(f"/v1/plans/{PLAN}", headers=auth("pwt_000000000000_nottherightsecretatall"))
    assert bad.status_code == 401 and bad.json()["message_zh"] == "令牌无效或已被吊销"
    token_id = TokenStore.id_of(tokens["stats"])
    revoke = await client.delete(f"/v1/tokens/{token_id}", headers=auth(tokens["admin"]))
    assert revoke.status_code == 200
    after = await client.post(f"/v1/plans/{PLAN}/events", json=event(), headers=auth(tokens["stats"]))
    assert after.status_code == 401 and after.headers["www-authenticate"] == "Bearer"
    assert after.json() == {
        "error": "unauthorized",
        "message": "unknown or revoked token",
        "message_zh": "令牌无效或已被吊销",
        "errors": [],
    }


async def test_the_bearer_scheme_is_read_as_http_says(client, tokens) -> None:
    """The scheme's name is case-insensitive and the token may be padded; anything else in the
    header is no token (a 401 naming the header, not a 500 or a token lookup)."""
    for header in (f"bearer {tokens['stats']}", f"BEARER  {tokens['stats']} "):
        response = await client.get(f"/v1/plans/{PLAN}", headers={"Authorization": header})
        assert response.status_code == 200, (header, response.text)
    for header in ("Bearer", "Bearer   ", f"Basic {tokens['stats']}", tokens["stats"], f"Bearer{tokens['stats']}"):
        response = await client.get(f"/v1/plans/{PLAN}", headers={"Authorization": header})
        assert response.status_code == 401, (header, response.text)
        assert response.json()["message"] == "send a token: Authorization: Bearer pwt_…"
    admin_lower = await client.get("/v1/tokens", headers={"Authorization": f"bearer {tokens['admin']}"})
    assert admin_lower.status_code == 200


async def test_a_token_record_that_cannot_be_read_refuses_the_token(client, tokens, redis: Redis, keys: Keyspace):
    """A damaged record in the tokens hash is no token: 401, not a 500, and the others still work."""
    token_id = TokenStore.id_of(tokens["stats"])
    for damaged in ("not json", "[1, 2]", '{"id": "x"}', '{"hash": "x"}'):
        await redis.hset(keys.tokens, token_id, damaged)
        await asyncio.sleep(TOKEN_CACHE_S)  # the API's copy of the record before has gone stale
        response = await client.get(f"/v1/plans/{PLAN}", headers=auth(tokens["stats"]))
        assert response.status_code == 401, (damaged, response.text)
        assert response.json()["message"] == "unknown or revoked token"
    assert (await client.get(f"/v1/plans/{PLAN}", headers=auth(tokens["admin"]))).status_code == 200


async def test_tokens_api_is_for_admins(client, tokens) -> None:
    assert (await client.get("/v1/tokens", headers=auth(tokens["stats"]))).status_code == 403
    made = await client.post(
        "/v1/tokens",
        json={"role": "department", "department": "econ", "name": "经信委", "plans": [PLAN]},  # bound to its plan
        headers=auth(tokens["admin"]),
    )
    assert made.status_code == 201 and made.json()["token"].startswith("pwt_")
    listed = await client.get("/v1/tokens", headers=auth(tokens["admin"]))
    assert made.json()["id"] in {t["id"] for t in listed.json()}
    assert all("hash" not in t and "token" not in t for t in listed.json())
    bad = await client.post("/v1/tokens", json={"role": "department"}, headers=auth(tokens["admin"]))
    assert bad.status_code == 422
    assert (await client.delete("/v1/tokens/ffffffffffff", headers=auth(tokens["admin"]))).status_code == 404


async def test_publishing_a_plan_is_for_admins(client, tokens) -> None:
    plan = small_plan("other-2025").model_dump(mode="json")
    assert (await client.put("/v1/plans/other-2025", json=plan, headers=auth(tokens["stats"]))).status_code == 403
    first = await client.put("/v1/plans/other-2025", json=plan, headers=auth(tokens["admin"]))
    again = await client.put("/v1/plans/other-2025", json=plan, headers=auth(tokens["admin"]))
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["version"] == 1
    wrong = await client.put("/v1/plans/third-2025", json=plan, headers=auth(tokens["admin"]))
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "id"
    broken = await client.put("/v1/plans/other-2025", json={**plan, "year": "soon"}, headers=auth(tokens["admin"]))
    assert broken.status_code == 422 and broken.json()["errors"][0]["field"] == "year"
    plans = await client.get("/v1/plans", headers=auth(tokens["analyst"]))
    assert {p["id"] for p in plans.json()} == {PLAN, "other-2025"}


async def test_health_and_readiness(client, tokens, redis: Redis, keys: Keyspace, monkeypatch) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["lag"] == {PLAN: 1}  # lag 1 is under the bound
    monkeypatch.setenv("PLANWATCH_READY_MAX_LAG", "0")
    async with api_client(redis, keys) as strict:
        lagging = await strict.get("/readyz")
    assert lagging.status_code == 503 and lagging.json()["status"] == "lagging"


async def test_readiness_is_503_when_redis_cannot_be_reached(keys: Keyspace) -> None:
    with socket.socket() as sock:  # a port nobody listens on once this socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    unreachable = connect(f"redis://127.0.0.1:{port}/0")
    try:
        async with api_client(unreachable, keys) as http:
            response = await http.get("/readyz")
            assert (await http.get("/healthz")).status_code == 200  # the process itself is up
    finally:
        await unreachable.aclose()
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable" and response.json()["redis"]


async def test_docs_describe_the_api_and_the_inbox(client) -> None:
    openapi = (await client.get("/openapi.json")).json()
    body = openapi["paths"]["/v1/plans/{plan}/events"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["oneOf"][0] == {"$ref": "#/components/schemas/Event"}
    assert "IndicatorUpdated" in openapi["components"]["schemas"]
    subscription = openapi["paths"]["/v1/subscriptions"]["post"]["requestBody"]["content"]["application/json"]
    assert subscription["schema"] == {"$ref": "#/components/schemas/SubscriptionRequest"}  # what the fuzzer sends
    assert (await client.get("/docs")).status_code == 200
    asyncapi = (await client.get("/asyncapi.json")).json()
    assert asyncapi["asyncapi"].startswith("3.")
    assert any(c["address"].endswith(":inbox") for c in asyncapi["channels"].values())


# --- reads -------------------------------------------------------------------------------------


async def project(redis: Redis, keys: Keyspace, plan_id: str) -> None:
    for projection in PROJECTIONS:
        assert await Lease(redis, "w", 60_000).hold(keys.lease(plan_id, projection.name))
        projector = Projector(redis, keys, plan_id, owner="w", projection=projection)
        await projector.load()
        while await projector.step():
            pass


@pytest.fixture
async def seeded(client, redis: Redis, keys: Keyspace, store: EventStore) -> str:
    from services.demo import load_seed

    plan_id, *_ = await load_seed(store)
    await project(redis, keys, plan_id)
    return plan_id


async def test_plan_summary_has_the_table_json_fields(client, tokens, seeded: str, redis, keys) -> None:
    from services.app import App
    from services.reports import table_json

    response = await client.get(f"/v1/plans/{seeded}", headers=auth(tokens["analyst"]))
    assert response.status_code == 200
    assert response.json() == json.loads(table_json(await App(redis, keys).reports.table(seeded)))
    march = await client.get(f"/v1/plans/{seeded}?as_of=2025-03-31", headers=auth(tokens["analyst"]))
    assert march.json()["column"] == "1—3月完成" and march.json()["as_of"] == "2025-03-31"
    early = await client.get(
        f"/v1/plans/{seeded}", params={"known_at": "2020-01-01T00:00:00+08:00"}, headers=auth(tokens["analyst"])
    )
    assert early.status_code == 404
    naive = await client.get(  # without a zone: in the plan's zone (Asia/Shanghai)
        f"/v1/plans/{seeded}", params={"known_at": "2030-07-10T00:00:00"}, headers=auth(tokens["analyst"])
    )
    assert naive.status_code == 200 and naive.json()["known_at"] == "2030-07-10T00:00:00+08:00"
    bad_date = await client.get(f"/v1/plans/{seeded}?as_of=June", headers=auth(tokens["analyst"]))
    assert bad_date.status_code == 422 and bad_date.json()["errors"][0]["field"] == "as_of"


async def test_indicator_with_history_and_evaluation(client, tokens, seeded: str) -> None:
    fai = (await client.get(f"/v1/plans/{seeded}/indicators/fai", headers=auth(tokens["analyst"]))).json()
    assert (fai["actual"], fai["deviation"], fai["status"]) == ("12.9%", "+4.9个百分点", "on_track")
    may = next(h for h in fai["history"] if h["period"] == "2025-05")
    assert (may["value"], may["revision"], may["previous"]) == (13.1, 2, 12.6)
    april = await client.get(f"/v1/plans/{seeded}/indicators/fai?as_of=2025-04-30", headers=auth(tokens["analyst"]))
    assert april.json()["actual"] == "12.4%"


async def test_project_list_filters_and_one_project_with_its_events(client, tokens, seeded: str) -> None:
    get = lambda q="": client.get(f"/v1/plans/{seeded}/projects{q}", headers=auth(tokens["analyst"]))  # noqa: E731
    everything = (await get()).json()
    assert len(everything) == 112
    overdue = (await get("?status=overdue")).json()
    assert next(p["name"] for p in overdue) == "北部片区中心水厂" and len(overdue) == 6
    assert len((await get("?status=completed")).json()) == 26
    assert len((await get("?status=started")).json()) == 68 - 26
    water = (await get("?status=overdue&department=water")).json()
    assert [p["id"] for p in water] == ["kp-025"]
    bad = await get("?status=late")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
    one = (await client.get(f"/v1/plans/{seeded}/projects/kp-001", headers=auth(tokens["analyst"]))).json()
    assert one["name"] == "渝乐电子" and one["stage"] == "completed"
    assert next(e["type"] for e in one["events"]) == "project.started"
    assert "project.completed" in [e["type"] for e in one["events"]]
    assert sum(e.get("amount_wan", 0) and float(e["amount_wan"]) for e in one["events"]) == one["investment_wan"]
