"""What people and the plan say about a firing alert — silences, acknowledgement, inhibition — and
one judgement shared by the table, the alert list and the messages."""

from __future__ import annotations

from redis.asyncio import Redis

from services.app import App, publish_plan
from services.projection import ALERTS, Projector
from services.store import EventStore, Keyspace, Lease, redis_now_ms
from tests.conftest import api_client
from tests.factories import indicator_update, small_plan

PLAN = "test-2025"
STATUS_FIELDS = {"silenced", "silence_ids", "acknowledged", "inhibited", "inhibited_by"}


async def catch_up(redis: Redis, keys: Keyspace, plan_id: str = PLAN) -> None:
    """Run the live alerts projection of the plan until it has judged everything (and idled)."""
    assert await Lease(redis, "w", 60_000).hold(keys.lease(plan_id, "alerts"))
    projector = Projector(redis, keys, plan_id, owner="w", projection=ALERTS)
    await projector.load()
    while await projector.step():
        pass
    await projector.idle(await redis_now_ms(redis))


async def test_a_firing_alert_is_listed_with_its_status_not_set(redis: Redis, keys: Keyspace, store: EventStore):
    await publish_plan(store, small_plan(PLAN))
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.5", "stats")])
    await catch_up(redis, keys)
    [gdp] = [
        a
        for a in await App(redis, keys).alerting.firing(PLAN) or []
        if a["fingerprint"] == f"{PLAN}:indicator_behind:gdp"
    ]
    assert {k: gdp[k] for k in STATUS_FIELDS} == {
        "silenced": False,
        "silence_ids": [],
        "acknowledged": None,
        "inhibited": False,
        "inhibited_by": None,
    }
    from services.store import TokenStore

    token, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys, token) as http:
        listed = (await http.get(f"/v1/plans/{PLAN}/alerts")).json()
    assert all(STATUS_FIELDS <= set(a) for a in listed) and listed
