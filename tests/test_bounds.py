"""Input bounds at the HTTP door (real ASGI app, real Redis): every refusal is a 4xx naming its
field, in the documented JSON shape, and stores nothing; numbers are compared as numbers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from events.bounds import bounds_for
from services.app import publish_plan
from services.store import EventStore, Keyspace, TokenStore, connect
from tests.conftest import api_client
from tests.factories import event_body, small_plan

PLAN = "bounds-2025"


event = event_body


@pytest.fixture
async def client(redis: Redis, keys: Keyspace, store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    await publish_plan(store, small_plan(PLAN))
    text, _ = await TokenStore(redis, keys).create("department", "stats")
    async with api_client(redis, keys, text) as http:
        yield http


async def post(client: httpx.AsyncClient, body: object) -> httpx.Response:
    return await client.post(f"/v1/plans/{PLAN}/events", json=body)


def fields_of(response: httpx.Response) -> set[str]:
    return {e["field"] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"value": "1e400"}, "value"),
        ({"value": "1e100000"}, "value"),
        ({"value": "-1e-100000"}, "value"),
        ({"value": 1e308}, "value"),
        ({"value": "5.1234567"}, "value"),  # more places than any number keeps
        ({"value": "-200000"}, "value"),  # no percentage is that far below zero
        ({"period": "2100-12"}, "period"),
        ({"period": "2000"}, "period"),
        ({"period": "2024-12"}, "period"),
        ({"occurred_at": "9999-01-01T00:00:00+08:00"}, "occurred_at"),
        ({"occurred_at": "2031-01-01T00:00:00+08:00"}, "occurred_at"),
        ({"event_id": "00000000-0000-0000-0000-000000000000"}, "event_id"),
        ({"note": "长" * 100_000}, "note"),
    ],
)
async def test_out_of_bounds_values_are_refused_by_field_and_store_nothing(
    client: httpx.AsyncClient, store: EventStore, changes: dict, field: str
) -> None:
    response = await post(client, event(**changes))
    assert response.status_code == 422, response.text
    assert field in fields_of(response), response.json()
    assert all(e["reason_zh"] for e in response.json()["errors"])
    assert await store.length(PLAN) == 1  # the plan alone


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"value": "9" * 100_000}, "value"), ({"type": "t" * 100_000}, "type"), ({"x" * 70_000: 1}, "x" * 70_000)],
)
async def test_a_huge_value_is_echoed_as_an_excerpt(
    client: httpx.AsyncClient, store: EventStore, changes: dict, field: str
) -> None:
    """A refusal quoting the input quotes its start and end: the answer to a 100 kB value is not 100 kB."""
    response = await post(client, event(**changes))
    assert response.status_code == 422 and len(response.content) < 5_000, len(response.content)
    echoed = " ".join(str(e) for e in response.json()["errors"])
    assert "characters left out" in echoed
    assert await store.length(PLAN) == 1


async def test_project_dates_outside_the_window_are_refused(client: httpx.AsyncClient, store: EventStore) -> None:
    started = event(type="project.started", subject="kp-001", period="2025-03", started_on="9999-03-01")
    del started["value"]
    response = await post(client, started)
    assert response.status_code in (403, 422)  # stats does not own kp-001; the date is refused either way
    assert "started_on" in fields_of(response) or response.status_code == 403
    assert await store.length(PLAN) == 1


async def test_values_stay_within_their_units_bounds(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    await publish_plan(store, small_plan(PLAN))
    econ, _ = await TokenStore(redis, keys).create("department", "econ")
    async with api_client(redis, keys, econ) as http:
        huge = await post(http, event(subject="new-projects", period="2025-06", value="2e12"))
        assert huge.status_code == 422 and fields_of(huge) == {"value"}
        assert "the range of a quantity" in huge.json()["errors"][0]["reason"]
        fine = await post(http, event(subject="new-projects", period="2025-06", value="7.5"))
        assert fine.status_code == 201


async def test_a_batch_with_one_bad_event_names_it_and_stores_none(client: httpx.AsyncClient, store: EventStore):
    response = await post(client, [event(), event(period="2100-12"), event()])
    assert response.status_code == 422
    assert fields_of(response) == {"events[1].period"}
    assert await store.length(PLAN) == 1


async def test_the_same_number_written_differently_is_the_same_event(client: httpx.AsyncClient, store: EventStore):
    first = event(value="7.90")
    assert (await post(client, first)).status_code == 201
    again = await post(client, {**first, "value": "7.9"})
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    also = await post(client, {**first, "value": "79E-1"})
    assert also.status_code == 200
    different = await post(client, {**first, "value": "7.91"})
    assert different.status_code == 409
    assert await store.length(PLAN) == 2
    [stored] = [s.event for s in await store.read(PLAN)][1:]
    assert str(stored.value) == "7.90"  # stored as the sender wrote it


async def test_an_event_stored_before_digests_were_canonical_still_dedups(
    client: httpx.AsyncClient, redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    """An older version hashed the bytes as sent ("5.50"): a retry of it is still a duplicate."""
    first = event(value="5.50")
    assert (await post(client, first)).status_code == 201
    position, _ = (await redis.hget(keys.event_ids(PLAN), first["event_id"])).split("|")
    data = (await redis.xrange(keys.events(PLAN), min=position, max=position))[0][1]["data"]
    as_sent = hashlib.blake2b(data.encode(), digest_size=8).hexdigest()
    await redis.hset(keys.event_ids(PLAN), first["event_id"], f"{position}|{as_sent}")
    retry = await post(client, first)
    assert retry.status_code == 200


async def test_duplicate_json_keys_are_refused(client: httpx.AsyncClient, store: EventStore) -> None:
    body = json.dumps(event())[:-1] + ', "value": "99"}'
    response = await client.post(
        f"/v1/plans/{PLAN}/events", content=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422 and fields_of(response) == {"value"}
    assert await store.length(PLAN) == 1


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_a_body_not_declared_json_is_415(client: httpx.AsyncClient, store: EventStore, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post(f"/v1/plans/{PLAN}/events", content=json.dumps(event()).encode(), headers=headers)
    assert response.status_code == 415 and fields_of(response) == {"Content-Type"}
    assert await store.length(PLAN) == 1


@pytest.mark.parametrize("version", [True, False, 10**30, 2**63, -1, 1.5, "1", None, [1]])
async def test_malformed_expected_versions_are_422(client: httpx.AsyncClient, store: EventStore, version) -> None:
    response = await post(client, {"events": [event()], "expected_versions": {"gdp": version}})
    assert response.status_code == 422, response.text
    assert fields_of(response) == {"expected_versions.gdp"}
    assert await store.length(PLAN) == 1


async def test_a_conflict_carries_the_current_version(client: httpx.AsyncClient) -> None:
    assert (await post(client, {"events": [event()], "expected_versions": {"gdp": 0}})).status_code == 201
    stale = await post(client, {"events": [event()], "expected_versions": {"gdp": 0}})
    assert stale.status_code == 409
    assert stale.json()["actual"] == 1 and stale.json()["subject"] == "gdp"  # the current version


async def test_redis_unavailable_is_a_json_503_with_retry_after(redis_url: str, keys: Keyspace) -> None:
    gone = connect("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        async with api_client(gone, keys, "pwt_0123456789ab_" + "x" * 32) as http:
            response = await post(http, event())
            plans = await http.get("/v1/plans")
    finally:
        await gone.aclose()
    for answer in (response, plans):
        assert answer.status_code == 503
        assert answer.headers["Retry-After"].isdigit()
        assert answer.json()["error"] == "unavailable" and answer.json()["message_zh"]


async def test_unknown_paths_answer_in_the_json_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


async def test_numbers_of_a_target_revision_are_bounded(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    await publish_plan(store, small_plan(PLAN))
    fgw, _ = await TokenStore(redis, keys).create("department", "fgw")
    revision = event(
        type="target.revised", period="2025", reason="调整", target={"form": "rate", "value": "1e400", "text": "x"}
    )
    del revision["value"]
    async with api_client(redis, keys, fgw) as http:
        response = await post(http, revision)
    assert response.status_code == 422 and fields_of(response) == {"target.value"}
    assert await store.length(PLAN) == 1


def test_bounds_are_built_once_per_plan_and_anew_for_a_plan_published_after() -> None:
    """Kept per plan object: the same plan gives the same bounds, a plan with another year (as a
    republished plan may have) its own — the kept bounds never judge by a replaced plan."""
    plan = small_plan("bounds-cache")
    later = plan.model_copy(update={"year": plan.year + 1})
    assert bounds_for(plan) is bounds_for(plan)
    assert bounds_for(later) is not bounds_for(plan)
    assert (bounds_for(plan).year, bounds_for(later).year) == (plan.year, plan.year + 1)
