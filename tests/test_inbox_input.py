"""What the inbox refuses of a message's own shape, over real Redis: a field given twice, the json
field beside plain fields, a missing token, a huge value (echoed as an excerpt), a message without
a type (every other problem reported with it), nested JSON read as strictly as a body."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from redis.asyncio import Redis

from services.app import publish_plan
from services.inbox.consumer import GROUP
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import Workers, eventually
from tests.factories import small_plan
from tests.inbox import inbox_consumer, inbox_fields, inbox_settled

PLAN = "inbox-input-2025"


@pytest.fixture
async def token(redis: Redis, keys: Keyspace, store: EventStore) -> str:
    await publish_plan(store, small_plan(PLAN))
    text, _ = await TokenStore(redis, keys).create("department", "stats")
    return text


def event(**changes: str) -> dict[str, str]:
    return inbox_fields(None, PLAN, **changes)


def flat(fields: dict[str, str], *extra: str) -> list[str]:
    """XADD's field list: the fields, then `extra` pairs — a name again, as `redis-cli XADD` lets one."""
    return [part for pair in fields.items() for part in pair] + list(extra)


def consumer(redis: Redis, keys: Keyspace, url: str, reclaim_idle_ms: int = 500) -> AbstractAsyncContextManager[None]:
    return inbox_consumer(redis, keys, url, "t", reclaim_idle_ms)


settled = inbox_settled


async def rejected(redis: Redis, keys: Keyspace, sent: list[Any]) -> dict[str, dict[str, Any]]:
    """Each sent entry's reject, by entry id, with its JSON fields read."""
    await eventually(lambda: settled(redis, keys), timeout=30)
    found = {}
    for _, reject in await redis.xrange(keys.inbox_rejects):
        found[reject["inbox_id"]] = {
            **reject,
            "errors": json.loads(reject["errors"]),
            "fields": json.loads(reject["fields"]),
        }
    return {
        (s.decode() if isinstance(s, bytes) else s): found.get(s.decode() if isinstance(s, bytes) else s) for s in sent
    }


def named(reject: dict[str, Any] | None) -> list[str]:
    assert reject is not None, "not rejected"
    return [e["field"] for e in reject["errors"]]


async def xadd(redis: Redis, keys: Keyspace, *parts: str | bytes) -> str:
    entry = await redis.execute_command("XADD", keys.inbox, "*", *parts)
    return entry.decode() if isinstance(entry, bytes) else entry


async def test_a_field_given_twice_is_refused_naming_it_by_a_worker_and_its_reclaimer(
    redis: Redis, keys: Keyspace, store: EventStore, token: str, workers: Workers
) -> None:
    """redis-py reads an entry's fields into a dict: `type a … type b` was stored as b. Now the
    entry is refused naming the field — read by XREADGROUP, or claimed by the reclaimer (XAUTOCLAIM)
    from a consumer that died — and the reject keeps both values."""
    await redis.xgroup_create(keys.inbox, GROUP, id="0", mkstream=True)
    claimed = await xadd(redis, keys, *flat({"token": token, **event()}, "value", "9.9"))
    read = await redis.xreadgroup(GROUP, "dead-consumer", {keys.inbox: ">"}, count=1)
    assert read  # a consumer read it and died: left for the reclaimer
    twice = await xadd(redis, keys, *flat({"token": token, **event()}, "type", "project.started", "type", "x"))
    token_twice = await xadd(redis, keys, *flat({"token": token, **event()}, "token", token))
    good = event()
    await xadd(redis, keys, *flat({"token": token, **good}))
    workers.start_with("w-twice", "--reclaim-idle", "0.5")
    rejects = await rejected(redis, keys, [claimed, twice, token_twice])
    assert named(rejects[claimed]) == ["value"]
    assert "given 2 times" in rejects[claimed]["errors"][0]["reason"]
    assert rejects[claimed]["fields"]["value"] == ["5.5", "9.9"]  # as sent, both
    assert named(rejects[twice]) == ["type"] and "3 times" in rejects[twice]["errors"][0]["reason"]
    assert named(rejects[token_twice]) == ["token"]
    assert token.split("_", 2)[2] not in json.dumps(rejects)  # redacted, both times
    assert [str(s.event.event_id) for s in await store.read(PLAN)][1:] == [good["event_id"]]


async def test_entries_are_read_as_redis_py_reads_them_but_for_a_repeat(redis: Redis, keys: Keyspace) -> None:
    """The inbox's reply parsing gives FastStream what redis-py's own gives, for XREADGROUP and
    XAUTOCLAIM, and marks only an entry whose fields repeat."""
    from services.inbox import install_entry_callbacks

    plain, marked = Redis(connection_pool=redis.connection_pool), Redis(connection_pool=redis.connection_pool)
    install_entry_callbacks(marked)
    await redis.xgroup_create(keys.inbox, GROUP, id="0", mkstream=True)
    await redis.xadd(keys.inbox, {"a": "1", "b": "2"})
    await redis.execute_command("XADD", keys.inbox, "*", "a", "1", "b", "2", "a", "3")
    await redis.xadd(keys.inbox, {"c": "é"})
    ours = await marked.xreadgroup(GROUP, "c1", {keys.inbox: ">"}, count=10)
    theirs = await plain.xreadgroup(GROUP, "c1", {keys.inbox: "0"}, count=10)
    assert ours == theirs and [type(e[1]).__name__ for e in ours[0][1]] == ["dict", "RepeatedFields", "dict"]
    assert ours[0][1][1][1].repeated == {"a": 2}
    ours_claimed = await marked.xautoclaim(keys.inbox, GROUP, "c2", 0, start_id="0-0", count=10)
    theirs_claimed = await plain.xautoclaim(keys.inbox, GROUP, "c2", 0, start_id="0-0", count=10)
    assert ours_claimed == theirs_claimed and ours_claimed[1][1][1].repeated == {"a": 2}
    assert await marked.xreadgroup(GROUP, "c1", {keys.inbox: ">"}, count=10, block=1) == []


async def test_json_beside_plain_fields_is_refused_naming_them(
    redis: Redis, keys: Keyspace, server_url: str, store: EventStore, token: str
) -> None:
    """The json field carried the event and plain fields beside it were dropped without a word."""
    async with consumer(redis, keys, server_url):
        both = await xadd(
            redis, keys, *flat({"token": token, "json": json.dumps(event()), "value": "7.7", "note": "x"})
        )
        rejects = await rejected(redis, keys, [both])
    assert named(rejects[both]) == ["value", "note"]
    assert "beside json" in rejects[both]["errors"][0]["reason"] and rejects[both]["errors"][0]["reason_zh"]
    assert await store.length(PLAN) == 1


async def test_a_missing_or_unknown_token_is_refused_naming_the_field(
    redis: Redis, keys: Keyspace, server_url: str, store: EventStore, token: str
) -> None:
    async with consumer(redis, keys, server_url):
        missing = await xadd(redis, keys, *flat(event()))
        blank = await xadd(redis, keys, *flat({"token": " ", **event()}))
        unknown = await xadd(redis, keys, *flat({"token": "pwt_000000000000_notarealtokennotarealtoken", **event()}))
        rejects = await rejected(redis, keys, [missing, blank, unknown])
    assert [rejects[e]["error"] for e in (missing, blank, unknown)] == ["unauthorized"] * 3
    assert named(rejects[missing]) == named(rejects[blank]) == named(rejects[unknown]) == ["token"]
    assert "token" in rejects[missing]["message"] and rejects[missing]["errors"][0]["reason_zh"]
    assert await store.length(PLAN) == 1


async def test_a_huge_value_is_echoed_as_a_bounded_excerpt(
    redis: Redis, keys: Keyspace, server_url: str, store: EventStore, token: str
) -> None:
    """A 100,000-digit value came back whole in the reason (and a 100,000-character period, and a
    field named with 20,000 characters); each echo is now an excerpt keeping the start and the why."""
    async with consumer(redis, keys, server_url):
        value = await xadd(redis, keys, *flat({"token": token, **event(value="9" * 100_000)}))
        period = await xadd(redis, keys, *flat({"token": token, **event(period="2" * 100_000)}))
        name = await xadd(redis, keys, *flat({"token": token, **event()}, "n" * 20_000, "x"))
        many = await xadd(
            redis, keys, *flat({"token": token, **event()}, *(p for i in range(500) for p in (f"f{i}", "x")))
        )
        rejects = await rejected(redis, keys, [value, period, name, many])
    reason = rejects[value]["errors"][0]["reason"]
    assert named(rejects[value]) == ["value"] and len(reason) <= 300
    assert reason[:20].isdigit() and reason.endswith("the range of a percentage") and "characters left out" in reason
    assert len(rejects[period]["errors"][0]["reason"]) <= 300 and named(rejects[period]) == ["period"]
    assert len(named(rejects[name])[0]) <= 300 and named(rejects[name])[0].startswith("nnnn")
    assert len(rejects[many]["errors"]) <= 101 and "more" in rejects[many]["errors"][-1]["reason"]
    for reject in rejects.values():
        assert len(reject["message"]) <= 300 and len(json.dumps(reject["errors"], ensure_ascii=False)) < 40_000
    assert rejects[value]["fields"]["value"] == "9" * 100_000  # the message itself is set aside whole
    assert await store.length(PLAN) == 1


async def test_a_message_without_a_type_reports_every_other_problem_too(
    redis: Redis, keys: Keyspace, server_url: str, store: EventStore, token: str
) -> None:
    """Without (or with an unknown) type only the type was named; HTTP names every problem at once.
    So does the inbox now: the fields every event has, stray fields, text and numbers — and with
    no plan_id either, whatever can be found without the plan."""
    bad = {"event_id": "not-a-uuid", "period": "2025-14", "note": "调整\x01", "colour": "red"}
    async with consumer(redis, keys, server_url):
        untyped = await xadd(redis, keys, *flat({"token": token, **event(type="", **bad)}))
        unknown = await xadd(redis, keys, *flat({"token": token, **event(type="indicator.deleted", **bad)}))
        no_plan = await xadd(redis, keys, *flat({"token": token, **event(type="", plan_id="", **bad)}))
        no_plan_typed = await xadd(redis, keys, *flat({"token": token, **event(plan_id="", value="lots", **bad)}))
        rejects = await rejected(redis, keys, [untyped, unknown, no_plan, no_plan_typed])
    assert set(named(rejects[untyped])) == {"type", "event_id", "period", "note", "colour"}
    assert set(named(rejects[unknown])) == {"type", "event_id", "period", "note", "colour"}
    assert set(named(rejects[no_plan])) == {"plan_id", "type", "event_id", "period", "colour"}
    assert set(named(rejects[no_plan_typed])) == {"plan_id", "event_id", "period", "value", "colour"}
    for reject in rejects.values():
        assert reject["error"] == "invalid" and all(e["reason_zh"] for e in reject["errors"])
        assert f"{len(reject['errors'])} problem(s)" in reject["message"]
    assert await store.length(PLAN) == 1


async def test_nested_json_is_read_as_strictly_as_a_body(
    redis: Redis, keys: Keyspace, server_url: str, store: EventStore, token: str
) -> None:
    """`project` and a `target` given as JSON were read by plain json.loads: a key given twice kept
    its last value. They are read as the json field and every HTTP body are."""
    project = '{"id": "kp-9", "id": "kp-10", "name": "新项目", "department": "stats"}'
    target = '{"form": "at_least", "form": "range"}'
    async with consumer(redis, keys, server_url):
        registered = await xadd(
            redis, keys, *flat({"token": token, **event(type="project.registered", subject="kp-9", project=project)})
        )
        revised = await xadd(redis, keys, *flat({"token": token, **event(type="target.revised", target=target)}))
        rejects = await rejected(redis, keys, [registered, revised])
    assert named(rejects[registered]) == ["project.id"] and "given twice" in rejects[registered]["errors"][0]["reason"]
    assert named(rejects[revised]) == ["target.form"]
    assert await store.length(PLAN) == 1


async def test_a_refusal_to_try_again_later_leaves_the_message_pending(
    redis: Redis, keys: Keyspace, server_url: str, store: EventStore, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`submit` answers 503 when the plan changed too often while it checked: the inbox rejected
    the message for good (and deleted it). It is left pending now, and the reclaimer stores it."""
    from services.app import Unavailable
    from services.app.ingest import Ingest

    submit, calls = Ingest.submit, []

    async def busy_once(self: Ingest, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise Unavailable("plan changed 5 times while the request was checked; try again", "请稍后重试")
        return await submit(self, *args, **kwargs)

    monkeypatch.setattr(Ingest, "submit", busy_once)
    good = event()
    async with consumer(redis, keys, server_url, reclaim_idle_ms=300):
        await xadd(redis, keys, *flat({"token": token, **good}))
        await eventually(lambda: settled(redis, keys), timeout=30)
    assert len(calls) == 2 and await redis.xlen(keys.inbox_rejects) == 0
    assert [str(s.event.event_id) for s in await store.read(PLAN)][1:] == [good["event_id"]]
