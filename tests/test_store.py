"""The event store against a real Redis server."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from events.positions import position_key
from services.store import EventIdReused, EventStore, VersionConflict
from tests.factories import gdp_update, one_of_each

pytestmark = pytest.mark.cluster  # every test here also runs on a Redis Cluster


async def test_every_type_round_trips_through_redis(store: EventStore) -> None:
    events = one_of_each()
    result = await store.append(events)
    assert result.stored == len(events) and not any(result.duplicate)
    replayed = await store.read("test-2025")
    assert [s.position for s in replayed] == result.positions
    for original, stored in zip(events, replayed, strict=True):
        assert stored.event.recorded_at is not None
        assert stored.event.model_copy(update={"recorded_at": None}) == original
    # a replay (for folds) carries the same events; their transaction time is the position's
    pairs = [(s.position, s.event) async for s in store.replay("test-2025")]
    assert pairs == list(zip(result.positions, events, strict=True))
    # Decimal digits, offsets and Chinese text survive exactly
    update = replayed[2].event
    assert str(update.value) == "5.50" and update.note == "上半年数据，季度核算"
    assert update.occurred_at.isoformat() == "2025-07-10T09:30:15.123456+08:00"
    assert str(replayed[5].event.amount_wan) == "1234.5678"


async def test_recorded_at_is_set_by_the_store_not_the_sender(store: EventStore) -> None:
    sent = gdp_update("test-2025", "5.5").model_copy(update={"recorded_at": one_of_each()[0].occurred_at})
    result = await store.append([sent])
    [stored] = await store.read("test-2025")
    assert stored.event.recorded_at != sent.recorded_at
    assert stored.event.recorded_at.timestamp() * 1000 == pytest.approx(position_key(result.positions[0])[0])


async def test_retry_of_a_batch_stores_nothing_and_returns_the_same_positions(store: EventStore) -> None:
    events = one_of_each()
    first = await store.append(events)
    again = await store.append(events)
    assert again.positions == first.positions
    assert again.all_duplicates and again.stored == 0
    assert await store.length("test-2025") == len(events)


async def test_dedup_is_permanent_and_partial_batches_store_only_new(store: EventStore) -> None:
    old = gdp_update("test-2025", "5.1", "2025-03")
    first = await store.append([old])
    new = gdp_update("test-2025", "5.5")
    mixed = await store.append([old, new, new])
    assert mixed.positions[0] == first.positions[0]
    assert mixed.duplicate == [True, False, True]
    assert mixed.positions[1] == mixed.positions[2]
    assert await store.length("test-2025") == 2


async def test_reusing_an_event_id_for_other_content_is_refused(store: EventStore) -> None:
    event_id = uuid.uuid4()
    await store.append([gdp_update("test-2025", "5.5", event_id=event_id)])
    with pytest.raises(EventIdReused, match=str(event_id)):
        await store.append([gdp_update("test-2025", "9.9", event_id=event_id)])
    assert await store.length("test-2025") == 1


@pytest.mark.parametrize("record", ["{position}", "not what was written"])
async def test_a_retry_reads_a_damaged_event_id_record(store: EventStore, record: str) -> None:
    """A record without its digest (written by hand, or damaged) makes neither a retry fail nor
    the event stored twice: the entry it names, or one of the subject's latest, holds the very
    bytes, so the retry is a duplicate at the original position and the record is mended."""
    events = [gdp_update("test-2025", "5.5"), gdp_update("test-2025", "5.6", "2025-03")]
    first = await store.append(events)
    ids = store.keys.event_ids("test-2025")
    for event, position in zip(events, first.positions, strict=True):
        await store.redis.hset(ids, str(event.event_id), record.format(position=position))
    found = await store.stored_event("test-2025", str(events[0].event_id))  # the record, or the log searched
    assert found is not None and (found.position, found.event.event_id) == (first.positions[0], events[0].event_id)
    again = await store.append(events)
    assert (again.positions, again.all_duplicates) == (first.positions, True)
    assert await store.length("test-2025") == 2
    mended = await store.redis.hget(ids, str(events[0].event_id))
    assert mended is not None and mended.split("|")[0] == first.positions[0]
    # other content under the mended record is refused as ever
    with pytest.raises(EventIdReused):
        await store.append([gdp_update("test-2025", "9.9", event_id=events[0].event_id)])


async def test_an_event_whose_damaged_record_names_nothing_of_it_is_stored(store: EventStore) -> None:
    event = gdp_update("test-2025", "5.5")
    await store.redis.hset(store.keys.event_ids("test-2025"), str(event.event_id), "not what was written")
    result = await store.append([event])
    found = await store.stored_event("test-2025", str(event.event_id))
    assert result.stored == 1 and found is not None and found.position == result.positions[0]


async def test_twenty_concurrent_appends_with_one_expected_version(store: EventStore) -> None:
    await store.append([gdp_update("test-2025", "5.0", "2025-03")])
    version = await store.version("test-2025", "gdp")
    outcomes = await asyncio.gather(
        *(store.append([gdp_update("test-2025", f"5.{i}")], expected_version=version) for i in range(20)),
        return_exceptions=True,
    )
    conflicts = [o for o in outcomes if isinstance(o, VersionConflict)]
    successes = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(successes) == 1 and len(conflicts) == 19
    assert all(c.subject == "gdp" and c.expected == 1 and c.actual == 2 for c in conflicts)
    assert "expected version 1, actual 2" in str(conflicts[0])
    assert await store.length("test-2025") == 2


async def test_batch_with_one_conflicting_subject_stores_nothing(store: EventStore) -> None:
    events = one_of_each()
    with pytest.raises(VersionConflict) as info:
        await store.append(events, expected_version={"gdp": 0, "kp-001": 5})
    assert info.value.subject == "kp-001" and info.value.actual == 0
    assert await store.length("test-2025") == 0
    assert await store.version("test-2025", "gdp") == 0
    ok = await store.append(events, expected_version={"gdp": 0, "kp-001": 0})
    assert ok.stored == len(events)
    assert await store.version("test-2025", "kp-001") == 3


async def test_retry_after_success_is_a_duplicate_not_a_conflict(store: EventStore) -> None:
    event = gdp_update("test-2025", "5.5")
    first = await store.append([event], expected_version=0)
    again = await store.append([event], expected_version=0)
    assert again.positions == first.positions and again.all_duplicates


async def test_replay_returns_every_event_in_append_order_across_pages(store: EventStore) -> None:
    batches = [[gdp_update("test-2025", f"{b}.{i}") for i in range(7)] for b in range(9)]
    positions = []
    for batch in batches:
        positions += (await store.append(batch)).positions
    replayed = [s async for s in store.replay("test-2025", batch=10)]
    assert [s.position for s in replayed] == positions
    assert [s.event.value for s in replayed] == [e.value for b in batches for e in b]
    assert positions == sorted(positions, key=position_key)
    tail = await store.read("test-2025", after=positions[9], limit=3)
    assert [s.position for s in tail] == positions[10:13]
    until = [s.position async for s in store.replay("test-2025", until=positions[4])]
    assert until == positions[:5]


async def test_two_plans_never_mix(store: EventStore) -> None:
    a = [gdp_update("plan-a", "1.0"), gdp_update("plan-a", "1.1")]
    b = [gdp_update("plan-b", "2.0")]
    await store.append(a)
    await store.append(b)
    assert [s.event.plan_id async for s in store.replay("plan-a")] == ["plan-a", "plan-a"]
    assert [s.event.plan_id async for s in store.replay("plan-b")] == ["plan-b"]
    assert await store.plans() == ["plan-a", "plan-b"]
    with pytest.raises(ValueError, match="one plan"):
        await store.append(a + b)


async def test_keys_are_hash_tagged_per_plan(store: EventStore) -> None:
    await store.append([gdp_update("plan-a", "1.0")])
    keys = [k async for k in store.redis.scan_iter(match=f"{store.keys.prefix}:*")]
    plan_keys = [k for k in keys if k != store.keys.plans]
    assert plan_keys and all("{plan-a}" in k for k in plan_keys)
    assert await store.redis.type(store.keys.events("plan-a")) == "stream"


async def test_events_of_one_subject_come_from_its_index(store: EventStore) -> None:
    events = one_of_each()
    await store.append(events)
    await store.append([gdp_update("test-2025", "5.6", "2025-Q3")])
    gdp = await store.subject_events("test-2025", "gdp")
    assert [s.event.type for s in gdp] == ["target.revised", "indicator.updated", "indicator.updated"]
    assert [s.event.type for s in await store.subject_events("test-2025", "kp-001")] == [
        "project.started",
        "investment.completed",
        "project.completed",
    ]
    assert [s.event.value for s in await store.subject_events("test-2025", "gdp", limit=1)] == [Decimal("5.6")]
    assert await store.subject_events("test-2025", "nothing") == []
