"""Snapshots that bound every fold: the read model keeps one every `snapshot_every` log entries and
one at each month's end in the plan's zone, live and rebuilt alike; an as-known-at query folds only
the entries after the latest one at or before its instant (counted: planwatch_events_folded); a
snapshot that cannot be read is passed over; a rollup starts from the alerts' state and book and
equals the rollup of a full replay byte for byte."""

from __future__ import annotations

import gc
import itertools
import json
import random
import weakref
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY
from pydantic import TypeAdapter
from redis.asyncio import Redis

from events.codec import decode_payload
from events.models import plan_published
from events.plan import Plan
from events.positions import StoredEvent, position_at, position_instant, position_key
from projections.alerts import AlertBook
from projections.packing import LINKED, PACKED, pack, unpack
from projections.rollup import build_rollup
from projections.snapshot import dump_state, load_book, load_state
from projections.state import PlanState, fold
from services.app import load_document, produce_rollup
from services.app.rollups import rollup_sources
from services.demo import load_seed
from services.projection import ALERTS, READ_MODEL, Projector, fold_log, judge_log, rebuild, state_as_known
from services.projection.queries import QUERY, ROLLUP
from services.projection.read_model import snapshot_fields
from services.settings import Settings
from services.store import EventStore, Keyspace, Lease, RawEntry, Restored
from tests.factories import AT, indicator_update, one_of_each, small_plan

PLAN = "rongchang-2025"
EVERY = 40  # entries between periodic snapshots in these tests
SHANGHAI = ZoneInfo("Asia/Shanghai")


def folded(reader: str, plan_id: str = PLAN) -> float:
    """planwatch_events_folded for the reader, as /metrics exposes it."""
    return REGISTRY.get_sample_value("planwatch_events_folded_total", {"reader": reader, "plan": plan_id}) or 0.0


async def seed_at_its_own_times(redis: Redis, keys: Keyspace, store: EventStore, chunks: list[int]) -> list[str]:
    """The seed's plan and H1 history, each entry recorded when it occurred (January to July 2025,
    so the log spans month ends), written in chunks of the given sizes as a live log grows; a
    live read-model projector applies each chunk as it comes. Returns the positions."""
    scratch = Keyspace(f"{keys.prefix}-seed")  # the seed as loaded now, to take its entries from
    await load_seed(EventStore(redis, scratch))
    entries, last = [], (0, 0)
    async for raw in EventStore(redis, scratch).raw_entries(PLAN, "+"):
        event = decode_payload(raw.data)
        ms = int(event.occurred_at.timestamp() * 1000)
        last = (ms, 0) if ms > last[0] else (last[0], last[1] + 1)
        entries.append(Restored(RawEntry(f"{last[0]}-{last[1]}", raw.type, raw.data), str(event.event_id), PLAN))
    async for key in redis.scan_iter(match=f"{scratch.prefix}:*"):
        await redis.unlink(key)
    projector = await live_projector(redis, keys, READ_MODEL)
    start = 0
    for size in [*chunks, len(entries)]:
        await store.restore(PLAN, "seed", entries[start : start + size])
        start += size
        while await projector.step():
            pass
        await projector.idle(int(datetime.now(UTC).timestamp() * 1000))
    await store.register(PLAN)
    return [item.entry.position for item in entries]


async def live_projector(redis: Redis, keys: Keyspace, projection) -> Projector:
    assert await Lease(redis, "w1", 60_000).hold(keys.lease(PLAN, projection.name))
    projector = Projector(redis, keys, PLAN, owner="w1", projection=projection, snapshot_every=EVERY)
    await projector.load()
    return projector


async def periodic_snapshots(redis: Redis, keys: Keyspace) -> dict[str, str]:
    generation = int(await redis.get(keys.projection_current(PLAN, READ_MODEL.name)) or 0)
    fields = await redis.hgetall(keys.generation(PLAN, generation))
    return {name: value for name, value in fields.items() if name.startswith("snapshot:")}


def month_ends(positions: list[str]) -> list[str]:
    """The last position recorded before each month of the log ends, in Shanghai."""

    def month(position: str) -> tuple[int, int]:
        local = datetime.fromtimestamp(position_instant(position) / 1000, SHANGHAI)
        return local.year, local.month

    return [p for p, after in itertools.pairwise(positions) if month(p) != month(after)]


def next_midnight(position: str) -> datetime:
    """The start of the month after that of `position`, in Shanghai."""
    local = datetime.fromtimestamp(position_instant(position) / 1000, SHANGHAI)
    return (local.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def instant(position: str, shift_ms: int = 0) -> datetime:
    return datetime.fromtimestamp((position_instant(position) + shift_ms) / 1000, UTC)


@pytest.mark.cluster
async def test_snapshots_fall_at_every_interval_and_each_month_end_live_and_rebuilt(
    redis: Redis, keys: Keyspace, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import services.projection.runner

    positions = await seed_at_its_own_times(redis, keys, store, [1, 7, 33, 90, 5, 61])
    expected = {positions[n - 1] for n in range(EVERY, len(positions) + 1, EVERY)} | set(month_ends(positions))
    assert len(month_ends(positions)) >= 5  # January to July: the log spans month ends
    live = await periodic_snapshots(redis, keys)
    assert {name.removeprefix("snapshot:") for name in live} == expected
    read_after, read = services.projection.runner.read_after, []

    async def counted(*args, **kwargs):
        entries = await read_after(*args, **kwargs)
        read.extend(position for position, _ in entries)
        return entries

    monkeypatch.setattr(services.projection.runner, "read_after", counted)
    await rebuild(redis, keys, PLAN, snapshot_every=EVERY)
    assert await periodic_snapshots(redis, keys) == live  # the rebuilt generation keeps the same, byte for byte
    # one page holds the whole log here: cut at each of those points, the rest is kept, not read again
    assert sorted(read, key=position_key) == positions


@pytest.mark.cluster
async def test_as_known_at_from_snapshots_equals_a_fresh_fold_and_folds_at_most_one_interval(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    positions = await seed_at_its_own_times(redis, keys, store, [50, 50])
    snapshots = [name.removeprefix("snapshot:") for name in await periodic_snapshots(redis, keys)]
    rng = random.Random(18)
    cuts = [instant(p, shift) for p in snapshots for shift in (-1, 0, 1)]  # at, just before, just after
    cuts += [instant(p, 1) for p in rng.sample(positions[1:], 12)]
    for end in month_ends(positions):  # the month's last millisecond in Shanghai, and midnight after it
        cuts += [next_midnight(end) - timedelta(milliseconds=1), next_midnight(end)]
    for known_at in cuts:
        before = folded(QUERY)
        state = await state_as_known(redis, keys, PLAN, known_at)
        assert state == await fold_log(store, PLAN, known_at), known_at
        assert folded(QUERY) - before <= EVERY, known_at
    for end in month_ends(positions):  # a month's end is a snapshot: nothing to fold
        before = folded(QUERY)
        await state_as_known(redis, keys, PLAN, next_midnight(end) - timedelta(milliseconds=1))
        assert folded(QUERY) == before, end


async def test_a_question_about_now_folds_at_most_one_interval_past_the_state(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await load_seed(store)
    projector = await live_projector(redis, keys, READ_MODEL)
    while await projector.step():  # busy: never idle, so the state is saved only with the snapshots
        pass
    generation = keys.generation(PLAN, projector.generation)
    [latest, *_] = snapshot_fields(await redis.hkeys(generation))
    assert load_state(await redis.hget(generation, "state")).position == latest.removeprefix("snapshot:")
    before = folded(QUERY)
    assert await state_as_known(redis, keys, PLAN) == await fold_log(store, PLAN)
    assert folded(QUERY) - before < EVERY


async def test_an_unreadable_snapshot_is_passed_over(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    positions = await seed_at_its_own_times(redis, keys, store, [])
    generation = keys.generation(PLAN, int(await redis.get(keys.projection_current(PLAN, READ_MODEL.name)) or 0))
    known_at = instant(positions[len(positions) * 2 // 3], 1)
    until = position_at(known_at)
    chosen, previous, *_ = snapshot_fields(await redis.hkeys(generation), until)
    await redis.hset(generation, chosen, '{"plan_id": "rongchang-2025", "indicators": 7}')  # an older shape
    before = folded(QUERY)
    assert await state_as_known(redis, keys, PLAN, known_at) == await fold_log(store, PLAN, known_at)
    low = position_key(previous.removeprefix("snapshot:"))
    assert folded(QUERY) - before == sum(low < position_key(p) <= position_key(until) for p in positions)
    await redis.hset(generation, "state", b"\x00not json")  # the latest state too: the snapshots answer
    assert await state_as_known(redis, keys, PLAN) == await fold_log(store, PLAN)
    await redis.hset(generation, "state", dump_state(await fold_log(store, PLAN))[:40])  # a packing cut short
    assert await state_as_known(redis, keys, PLAN) == await fold_log(store, PLAN)


async def seed_alerts_caught_up(redis: Redis, keys: Keyspace, store: EventStore) -> str:
    """The seed's log with its alerts projection caught up and idle; the key of its generation."""
    await load_seed(store)
    alerts = await live_projector(redis, keys, ALERTS)
    while await alerts.step():
        pass
    await alerts.idle(int(datetime.now(UTC).timestamp() * 1000))
    return keys.generation(PLAN, int(await redis.get(keys.projection_current(PLAN, ALERTS.name)) or 0), "alerts")


async def test_states_and_alert_books_are_stored_packed_and_plain_json_is_still_read(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    """Packed (a fifth of the JSON's size, so a thousand plans' state saves do not swamp Redis
    and its append-only file); the plain JSON of earlier releases still loads."""
    generation = await seed_alerts_caught_up(redis, keys, store)
    stored = await redis.hgetall(generation)
    state, book = load_state(stored["state"]), load_book(stored["alert_book"])
    plain_state, plain_book = TypeAdapter(PlanState).dump_json(state), TypeAdapter(AlertBook).dump_json(book)
    for field, plain, marker in (("state", plain_state, LINKED), ("alert_book", plain_book, PACKED)):
        assert stored[field].startswith(marker) and len(stored[field]) * 3 < len(plain), field
    assert state == await fold_log(store, PLAN) and book.active
    assert load_state(plain_state.decode()) == state and load_book(plain_book) == book
    with pytest.raises(ValueError, match="a packed value cannot be unpacked"):
        unpack(PACKED + "not base64!")


def folded_with(plan: Plan, version: int = 0) -> PlanState:
    events = [plan_published(plan, version, AT, None), indicator_update(plan.id, "gdp", "2025-06", "5.1")]
    return fold([StoredEvent(f"{1_700_000_000_000 + i}-0", e) for i, e in enumerate(events)])


def test_a_state_is_stored_plan_first_and_read_back_holding_the_plan_held_already() -> None:
    """A plan's text is serialised, packed and validated once for the states stored with it while
    a state holds the plan (a rebuild stores hundreds; a worker loads a thousand plans' states,
    two of each): a state read back holds the plan object held already, of any number of plans;
    a state of a revised plan is not taken for the one kept; the plans are not kept alive by it;
    a state stored as earlier releases stored it (the plan after plan_id) reads the same; what is
    stored unpacks to the state's JSON, less what its plan gives."""
    plans = [small_plan(f"test{n:02d}-2025") for n in range(12)]
    states = [folded_with(plan) for plan in plans]
    stored = [dump_state(state) for state in states]
    whole = json.loads(TypeAdapter(PlanState).dump_json(states[0]))
    for item in [*whole["projects"].values(), *whole["indicators"].values()]:  # what the plan gives
        item.pop("spec", None)
        item.pop("plan_target", None)
    assert json.loads(unpack(stored[0])) == whole
    assert unpack(stored[0]).startswith(b'{"plan":{')
    loaded = [load_state(data) for data in stored]
    assert loaded == states and all(a.plan is b.plan for a, b in zip(loaded, states, strict=True))
    revised = folded_with(plans[0].model_copy(update={"name": plans[0].name + "（修订）"}), 1)
    other = load_state(dump_state(revised))
    assert other == revised and other.plan is not None and other.plan.name.endswith("（修订）")
    assert load_state(pack(TypeAdapter(PlanState).dump_json(revised))) == revised  # plan_id first
    assert load_state(dump_state(PlanState("test-2025"))) == PlanState("test-2025")
    held, stored_alone = stored_and_read_back()
    gc.collect()
    assert held() is None  # the plan's text did not keep it
    again = load_state(stored_alone)  # read in full, its plan kept again while a state holds it
    assert again.plan is not None and again.plan is load_state(stored_alone).plan


def test_a_state_is_stored_without_what_its_plan_gives_and_read_back_sharing_the_plans_objects() -> None:
    """Each project's spec and each indicator's plan target that are the plan's own are left out
    of the stored state (a third of its JSON) and taken from the plan when it is read back: the
    plan's objects, not copies (a worker holds two states a plan). A project the plan does not
    list keeps its own: one registered by an event, one a revised plan dropped. A state stored as
    z1, with all of them, reads the same."""
    plan = small_plan()
    events = [plan_published(plan, 0, AT, None), *one_of_each(plan.id)]
    state = fold([StoredEvent(f"{1_700_000_000_000 + i}-0", e) for i, e in enumerate(events)])
    dropped = Plan.model_validate({**plan.model_dump(mode="json"), "projects": [], "name": plan.name + "（修订）"})
    revised = fold([StoredEvent("1800000000000-0", plan_published(dropped, 1, AT, None))], deepcopy(state))
    for folded_state, listed in ((state, {"kp-001"}), (revised, set())):
        stored = dump_state(folded_state)
        assert stored.startswith(LINKED.encode())
        document = json.loads(unpack(stored))
        assert {key for key, p in document["projects"].items() if "spec" not in p} == listed
        assert "kp-900" in document["projects"] and "spec" in document["projects"]["kp-900"]  # registered
        assert all("plan_target" not in i for i in document["indicators"].values())
        loaded = load_state(stored)
        assert loaded == folded_state and load_state(unpack(stored)) == folded_state  # as read_fields gives it
        assert loaded.plan is not None and all(loaded.projects[key].spec is loaded.plan.project(key) for key in listed)
        assert loaded.indicators["gdp"].plan_target is loaded.plan.indicator("gdp").target  # type: ignore[union-attr]
        whole = pack(TypeAdapter(PlanState).dump_json(folded_state))  # as z1 stored it
        assert load_state(whole) == folded_state and len(unpack(stored)) < len(unpack(whole))  # less JSON
    assert revised.projects["kp-001"].spec == plan.project("kp-001")  # dropped: its own spec, stored


def stored_and_read_back() -> tuple[weakref.ref[Plan], bytes]:
    plan = small_plan("test99-2025")
    state = folded_with(plan)
    stored = dump_state(state)
    assert load_state(stored).plan is plan
    return weakref.ref(plan), stored


async def test_a_rollup_from_the_alerts_snapshot_equals_the_rollup_of_a_full_replay(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await load_seed(store)
    alerts = await live_projector(redis, keys, ALERTS)
    while await alerts.step():
        pass
    await alerts.idle(int(datetime.now(UTC).timestamp() * 1000))  # the state and alert book saved
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.1")])  # judged, committed without a snapshot
    await alerts.step()
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.2")])  # not judged by the projection yet
    length = await store.length(PLAN)
    for number, month in enumerate([f"2025-{m:02d}" for m in range(1, 7)]):
        before = folded(ROLLUP)
        result = await produce_rollup(redis, keys, PLAN, month)
        assert folded(ROLLUP) - before <= 3 + number  # the entries after the snapshot, not the log of `length`
        document = result.document
        assert document is not None and length > 300
        state, history = await judge_log(store, PLAN, document.known_at)
        previous = await load_document(redis, keys, PLAN, f"2025-{int(month[5:]) - 1:02d}") if number else None
        since = previous.known_at if previous else None
        notices = [n for n in history if since is None or n.at > since]
        replayed = build_rollup(state, month, document.known_at, notices, previous, result.version)
        replayed.sources = await rollup_sources(store, state, replayed.as_of)
        assert document.model_dump_json() == replayed.model_dump_json(), month


async def test_a_rollup_without_a_readable_alerts_snapshot_replays_the_log(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    generation = await seed_alerts_caught_up(redis, keys, store)
    await redis.hset(generation, "alert_book", '{"active": 3}')
    before = folded(ROLLUP)
    document = (await produce_rollup(redis, keys, PLAN, "2025-06")).document
    assert document is not None and folded(ROLLUP) - before == await store.length(PLAN) - 1  # all but its own event
    state, history = await judge_log(store, PLAN, document.known_at)
    replayed = build_rollup(state, "2025-06", document.known_at, history)
    replayed.sources = await rollup_sources(store, state, replayed.as_of)
    assert document.model_dump_json() == replayed.model_dump_json()


def test_the_snapshot_interval_is_a_setting() -> None:
    assert Settings.from_env({}).snapshot_every == 2500
    assert Settings.from_env({"PLANWATCH_SNAPSHOT_EVERY": "2000"}).snapshot_every == 2000
    with pytest.raises(ValueError, match="PLANWATCH_SNAPSHOT_EVERY='0': must be a whole number of at least 1"):
        Settings.from_env({"PLANWATCH_SNAPSHOT_EVERY": "0"})


def test_how_often_a_caught_up_projection_writes_its_state_is_a_setting() -> None:
    assert Settings.from_env({}).state_save_s == 300
    assert Settings.from_env({"PLANWATCH_STATE_SAVE_S": "0"}).state_save_s == 0
    assert Settings.from_env({"PLANWATCH_STATE_SAVE_S": "2.5"}).state_save_s == 2.5
    for text in ("-1", "soon", "inf", "nan"):
        with pytest.raises(
            ValueError, match=f"PLANWATCH_STATE_SAVE_S='{text}': must be a number of seconds, 0 or more"
        ):
            Settings.from_env({"PLANWATCH_STATE_SAVE_S": text})
