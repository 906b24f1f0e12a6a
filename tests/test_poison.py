"""Nothing stored can crash a reader. Events written straight into the stream (bypassing
validation, as an older version might have accepted them: a value of 1e400, one of -1e-100000,
a body no version could read) are parked by the pure fold — the same way live, in a rebuild, in an
as-known-at fold and in a rollup — listed with their reason, and the rest of the plan carries on."""

from __future__ import annotations

import json
import uuid

from redis.asyncio import Redis

from services.app import publish_plan
from services.projection import ALERTS, READ_MODEL, Projector, rebuild
from services.store import EventStore, Keyspace, Lease, TokenStore, redis_now_ms
from tests.conftest import api_client, planwatch
from tests.factories import gdp_update, small_plan
from tests.test_projector import comparable, read_model

PLAN = "poison-2025"


def stored_entry(event_type: str, **fields: object) -> dict[str, str]:
    """A stream entry as an old version stored it, unchecked: what XADD writes (type and data)."""
    data = {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "plan_id": PLAN,
        "department": "stats",
        "subject": "gdp",
        "occurred_at": "2025-07-15T10:00:00+08:00",
        "type": event_type,
        **fields,
    }
    return {"type": event_type, "data": json.dumps(data, separators=(",", ":"))}


def poison(value: str, period: str = "2025-Q2") -> dict[str, str]:
    """An indicator.updated as an old version stored it: nothing refused the value then."""
    return stored_entry("indicator.updated", period=period, value=value, qualifier="exact", assessment=None, note="")


async def poisoned_plan(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    await publish_plan(store, small_plan(PLAN))
    await store.append([gdp_update(PLAN, "5.3", "2025-Q1")])
    for bad in (poison("1e400"), poison("-1e-100000", "2025-Q3"), {"type": "?", "data": "{not json"}):
        await redis.xadd(keys.events(PLAN), bad)
    await store.append([gdp_update(PLAN, "5.5", "2025-Q2")])


async def live(redis: Redis, keys: Keyspace, projection) -> Projector:
    assert await Lease(redis, "w1", 60_000).hold(keys.lease(PLAN, projection.name))
    projector = Projector(redis, keys, PLAN, owner="w1", projection=projection, retry_delay=0.01)
    await projector.load()
    while await projector.step():
        pass
    await projector.idle(await redis_now_ms(redis) + 1)
    return projector


async def dead_letters(redis: Redis, keys: Keyspace, projection, generation: int) -> list[tuple[str, str, str]]:
    entries = await redis.xrange(keys.dead_letters(PLAN, generation, projection.name))
    return [(f["position"], f["source"], f["error"].split(":")[0]) for _, f in entries]


async def test_live_and_rebuilt_projections_park_the_same_entries_and_agree(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await poisoned_plan(redis, keys, store)
    for projection in (READ_MODEL, ALERTS):
        projector = await live(redis, keys, projection)
        assert len(projector.state.parked) == 3
        assert projector.state.indicators["gdp"].observations["2025-Q2"].value == 5.5  # later events flow
        live_model = await read_model(redis, keys, PLAN, projection)
        live_dead = await dead_letters(redis, keys, projection, projector.generation)
        assert [source for _, source, _ in live_dead] == ["fold"] * 3
        result = await rebuild(redis, keys, PLAN, projection=projection)
        assert await dead_letters(redis, keys, projection, result.generation) == live_dead
        assert comparable(await read_model(redis, keys, PLAN, projection)) == comparable(live_model)
        # a restarted projector reloads to the same state and lists nothing twice
        again = await live(redis, keys, projection)
        assert again.state == projector.state
        assert await dead_letters(redis, keys, projection, again.generation) == live_dead


async def test_every_reader_answers_and_lists_what_was_parked(
    redis: Redis, keys: Keyspace, store: EventStore, cli_env: dict[str, str]
) -> None:
    await poisoned_plan(redis, keys, store)
    await live(redis, keys, READ_MODEL)
    token, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys, token) as http:
        for path in (
            f"/v1/plans/{PLAN}",
            f"/v1/plans/{PLAN}?known_at=2030-01-01T00:00:00%2B08:00",
            f"/v1/plans/{PLAN}?as_of=2025-06-30",
            f"/v1/plans/{PLAN}/indicators/gdp?known_at=2030-01-01T00:00:00%2B08:00",
            f"/v1/plans/{PLAN}/projects?known_at=2030-01-01T00:00:00%2B08:00",
            f"/v1/plans/{PLAN}/projects/kp-001",
        ):
            response = await http.get(path)
            assert response.status_code == 200, (path, response.text)
        gdp = (await http.get(f"/v1/plans/{PLAN}/indicators/gdp?known_at=2030-01-01T00:00:00%2B08:00")).json()
        assert gdp["actual"] == "5.5%"
        parked = (await http.get(f"/v1/plans/{PLAN}/parked")).json()
        assert [p["source"] for p in parked] == ["fold"] * 3
        assert "value" in parked[0]["reason"] and parked[0]["type"] == "indicator.updated"

    table = planwatch(cli_env, "table", "--plan", PLAN, "--known-at", "2030-01-01T00:00+08:00")
    assert table.returncode == 0, table.stderr
    assert "5.5%" in table.stdout
    rollup = planwatch(cli_env, "rollup", "--plan", PLAN, "--period", "2025-06")
    assert rollup.returncode == 0, rollup.stderr
    assert "published version 1" in rollup.stderr
    scheduled = planwatch(cli_env, "scheduler", "--once", "--now", "2025-09-20T09:00+08:00")
    assert scheduled.returncode == 0, scheduled.stderr
    assert await redis.hget(keys.rollups(PLAN), "2025-08")  # the catch-up wrote the months after it
    status = planwatch(cli_env, "status", "--plan", PLAN)
    assert status.returncode == 0 and status.stdout.count("(fold)") == 3, status.stdout


async def test_a_stored_target_revision_with_an_unusable_number_is_parked(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    from services.projection import fold_log

    await publish_plan(store, small_plan(PLAN))
    target = {"text": "x", "form": "rate", "value": "1e400", "bound": "at_least", "tolerance": None}
    entry = stored_entry("target.revised", department="fgw", period="2025", target=target, reason="old version")
    await redis.xadd(keys.events(PLAN), entry)
    await store.append([gdp_update(PLAN, "5.5", "2025-Q2")])
    state = await fold_log(store, PLAN)
    assert [p.event_type for p in state.parked] == ["target.revised"] and not state.indicators["gdp"].target_changes
    projector = await live(redis, keys, READ_MODEL)
    assert len(projector.state.parked) == 1
