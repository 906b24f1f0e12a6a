"""Golden tests of the example plans (plans/examples/): each report shape the seed does not have,
from its plan and SYNTHETIC history, printed as `planwatch table` prints it.

To write a golden file after a deliberate change: PLANWATCH_WRITE_GOLDEN=1 pytest this file
(the tests are then skipped, never passed), and read the diff before committing it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from redis.asyncio import Redis

from events.plan import Plan
from projections.report import build_report
from services.demo import EXAMPLES, example_plans, load_example
from services.projection import fold_log
from services.reports import table_text
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import ROOT, api_client
from tests.test_api import auth, project

GOLDEN = ROOT / "tests" / "data" / "golden"


async def example_report_text(store: EventStore, plan_file: Path) -> tuple[str, str]:
    plan, _ = await load_example(store, plan_file)
    return plan.id, table_text(build_report(await fold_log(store, plan.id)))


@pytest.mark.parametrize("plan_file", example_plans(), ids=lambda p: p.stem)
async def test_example_report_equals_its_golden_file(store: EventStore, plan_file: Path) -> None:
    plan_id, text = await example_report_text(store, plan_file)
    golden = GOLDEN / f"{plan_id}.txt"
    if os.environ.get("PLANWATCH_WRITE_GOLDEN"):
        golden.write_text(text + "\n", encoding="utf-8")
        pytest.skip(f"wrote {golden.relative_to(ROOT)}")
    assert text + "\n" == golden.read_text(encoding="utf-8")


async def test_loading_an_example_twice_stores_nothing_twice(store: EventStore) -> None:
    plan_file = example_plans()[0]
    _, first = await load_example(store, plan_file)
    _, second = await load_example(store, plan_file)
    assert first > 1 and second == 0


async def served(redis: Redis, keys: Keyspace, store: EventStore, example: str) -> tuple[Plan, str]:
    """The example plan loaded and projected, and an analyst's token to read it with."""
    plan, _ = await load_example(store, EXAMPLES / example)
    await project(redis, keys, plan.id)
    token, _ = await TokenStore(redis, keys).create("analyst")
    return plan, token


async def test_the_api_serves_a_floor_and_stretch_target_judged_against_its_floor(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    plan, token = await served(redis, keys, store, "targets-2025.yaml")
    async with api_client(redis, keys) as client:
        answer = await client.get(f"/v1/plans/{plan.id}/indicators/retail", headers=auth(token))
        revenue = (await client.get(f"/v1/plans/{plan.id}/indicators/revenue", headers=auth(token))).json()
    retail = answer.json()
    assert answer.status_code == 200
    assert (retail["target"], retail["actual"], retail["deviation"]) == ("增长6%以上，力争7%", "6.6%", "+0.6个百分点")
    assert (retail["stretch"], retail["status"]) == (7, "on_track")
    assert (revenue["target"], revenue["deviation"], revenue["stretch"]) == ("7", "+0.4个百分点", None)


async def test_the_api_serves_a_move_in_points_and_a_ceiling_judged_as_the_table_is(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    plan, token = await served(redis, keys, store, "points-2025.yaml")
    async with api_client(redis, keys) as client:
        urbanization = (await client.get(f"/v1/plans/{plan.id}/indicators/urbanization", headers=auth(token))).json()
        ceiling = (
            await client.get(f"/v1/plans/{plan.id}/indicators/registered-unemployment", headers=auth(token))
        ).json()
    assert (urbanization["target"], urbanization["status"], urbanization["deviation"]) == (
        "常住人口城镇化率提高1个百分点",
        "met",
        "+0.4个百分点",
    )
    assert [point["target_value"] for point in urbanization["series"]] == [62.6, 62.6]  # 61.6 moved by 1
    assert (ceiling["target"], ceiling["status"], ceiling["deviation"]) == ("3%左右", "on_track", "-0.3个百分点")
    assert urbanization["judged_as"] == "比上年61.6%提高1个百分点，即不低于62.6%，达到即完成，否则年末考核"
    assert ceiling["judged_as"] == "每期数值3%左右，越低越好（高出不超过0.5个百分点仍算完成）"
