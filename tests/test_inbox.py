"""The departments' inbox stream, consumed by real worker processes over real Redis."""

from __future__ import annotations

import json
import uuid

import pytest
from redis.asyncio import Redis

from services.app import publish_plan
from services.inbox.consumer import GROUP
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import Workers, eventually
from tests.factories import small_plan
from tests.inbox import inbox_fields, inbox_settled

PLAN = "inbox-2025"


@pytest.fixture
async def stats_token(redis: Redis, keys: Keyspace, store: EventStore) -> str:
    await publish_plan(store, small_plan(PLAN))
    text, _ = await TokenStore(redis, keys).create("department", "stats")
    return text


def fields(token: str, **changes: str) -> dict[str, str]:
    return inbox_fields(token, PLAN, **changes)


async def rejects(redis: Redis, keys: Keyspace) -> list[dict[str, str]]:
    return [f for _, f in await redis.xrange(keys.inbox_rejects)]


async def settled(redis: Redis, keys: Keyspace) -> bool:
    return await inbox_settled(redis, keys)


@pytest.mark.cluster
async def test_good_malformed_unauthorised_and_duplicate_messages(
    redis: Redis, keys: Keyspace, store: EventStore, stats_token: str, workers: Workers
) -> None:
    workers.start("w-inbox")
    good = fields(stats_token)
    await redis.xadd(keys.inbox, good)
    await redis.xadd(keys.inbox, good)  # sent twice: stored once
    await redis.xadd(keys.inbox, fields(stats_token, period="2025-14", value="lots"))
    await redis.xadd(keys.inbox, fields("pwt_000000000000_notarealtokennotarealtoken"))
    await redis.xadd(keys.inbox, fields(stats_token, subject="new-projects"))  # econ's indicator
    await redis.xadd(
        keys.inbox,
        {
            "token": stats_token,
            "json": json.dumps(
                {
                    "event_id": str(uuid.uuid4()),
                    "plan_id": PLAN,
                    "type": "indicator.updated",
                    "subject": "gdp",
                    "period": "2025-Q1",
                    "occurred_at": "2025-04-15T10:00:00+08:00",
                    "value": "5.8",
                }
            ),
        },
    )
    await redis.xadd(keys.inbox, {"token": stats_token, "__data__": "garbage"})  # FastStream's envelope field
    await redis.xadd(keys.inbox, fields(stats_token, data="hello"))

    await eventually(lambda: settled(redis, keys), timeout=30)
    await eventually(lambda: _count(rejects(redis, keys), 5), timeout=10)
    stored = [s.event for s in await store.read(PLAN)][1:]
    assert [(e.period, str(e.value), e.department) for e in stored] == [
        ("2025-Q2", "5.5", "stats"),
        ("2025-Q1", "5.8", "stats"),
    ]
    reasons = await rejects(redis, keys)
    assert [r["error"] for r in reasons] == ["invalid", "unauthorized", "forbidden", "invalid", "invalid"]
    invalid = json.loads(reasons[0]["errors"])
    assert {e["field"] for e in invalid} == {"period", "value"} and all(e["reason_zh"] for e in invalid)
    assert json.loads(reasons[0]["fields"])["value"] == "lots"
    assert json.loads(reasons[1]["fields"])["token"] == "pwt_000000000000_(redacted)"  # never the secret
    assert "stats does not own new-projects" in reasons[2]["message"]
    # no plan_id, no type: every other problem named with them, the stray field too
    assert [e["field"] for e in json.loads(reasons[3]["errors"])] == [
        "plan_id",
        "type",
        "event_id",
        "subject",
        "period",
        "occurred_at",
        "__data__",
    ]
    assert json.loads(reasons[3]["fields"])["__data__"] == "garbage"
    assert [e["field"] for e in json.loads(reasons[4]["errors"])] == ["data"]


async def test_entries_faststream_cannot_parse_are_rejected_not_left_pending(
    redis: Redis, keys: Keyspace, store: EventStore, stats_token: str, workers: Workers
) -> None:
    """Bytes that are not UTF-8, and a `__data__` envelope of another shape, failed FastStream's
    parsing before the handler, for the reclaimer too: such an entry stayed pending for ever (an
    error logged every poll). Now each is rejected, naming the field, and what follows is stored."""
    workers.start_with("w-odd", "--reclaim-idle", "0.5")
    await redis.xadd(keys.inbox, {**fields(stats_token), "note": b"\xff\xfe"})  # not UTF-8
    await redis.xadd(keys.inbox, {"token": stats_token, "__data__": '{"data": "x", "headers": [1]}'})
    good = fields(stats_token)
    await redis.xadd(keys.inbox, good)
    await eventually(lambda: settled(redis, keys), timeout=30)
    reasons = await rejects(redis, keys)
    assert [r["error"] for r in reasons] == ["invalid", "invalid"], reasons
    assert [e["field"] for e in json.loads(reasons[0]["errors"])] == ["note"]
    assert "not UTF-8" in reasons[0]["message"] and "UTF-8" in reasons[0]["message_zh"]
    assert [e["field"] for e in json.loads(reasons[1]["errors"])][:2] == ["plan_id", "type"]  # read as its fields
    assert [str(s.event.event_id) for s in await store.read(PLAN)][1:] == [good["event_id"]]


async def _count(awaitable, n: int) -> bool:
    return len(await awaitable) >= n


@pytest.mark.cluster
async def test_a_message_left_pending_by_a_dead_consumer_is_processed_once(
    redis: Redis, keys: Keyspace, store: EventStore, stats_token: str, workers: Workers
) -> None:
    await redis.xgroup_create(keys.inbox, GROUP, id="0", mkstream=True)
    sent = fields(stats_token)
    await redis.xadd(keys.inbox, sent)
    # a consumer reads the message and dies before acknowledging it
    read = await redis.xreadgroup(GROUP, "dead-consumer", {keys.inbox: ">"}, count=1)
    assert read and (await redis.xpending(keys.inbox, GROUP))["pending"] == 1

    workers.start_with("w-reclaim", "--reclaim-idle", "0.5")
    await eventually(lambda: settled(redis, keys), timeout=30)
    stored = [s.event for s in await store.read(PLAN)][1:]
    assert [str(e.event_id) for e in stored] == [sent["event_id"]]
    assert await rejects(redis, keys) == []


async def test_kill_9_while_messages_flow_processes_each_exactly_once(
    redis: Redis, keys: Keyspace, store: EventStore, stats_token: str, workers: Workers
) -> None:
    await redis.xgroup_create(keys.inbox, GROUP, id="0", mkstream=True)
    # gdp is quarterly: 50 revisions of each quarter, all valid
    sent = [fields(stats_token, period=f"2025-Q{q}", value=f"{i}.{q}") for i in range(50) for q in range(1, 5)]
    for message in sent[:100]:
        await redis.xadd(keys.inbox, message)
    workers.start_with("w-flood", "--reclaim-idle", "0.5")
    await eventually(lambda: _fewer_than(redis.xlen(keys.inbox), 100), timeout=30)
    for message in sent[100:]:
        await redis.xadd(keys.inbox, message)
    workers.kill("w-flood")  # mid-stream: some read, some not, maybe some unacknowledged
    workers.start_with("w-flood", "--reclaim-idle", "0.5")
    await eventually(lambda: settled(redis, keys), timeout=60)
    assert await rejects(redis, keys) == []
    stored = [str(s.event.event_id) for s in await store.read(PLAN, limit=1000)][1:]
    assert sorted(stored) == sorted(m["event_id"] for m in sent)


async def _fewer_than(awaitable, n: int) -> bool:
    return await awaitable < n
