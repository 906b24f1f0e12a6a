"""An indicator's value is for a period its frequency reports — refused, naming `period`, at every
entry point (they share `prepare`): HTTP, the spreadsheet import, the CLI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from services.app import publish_plan
from services.demo import load_seed
from services.spreadsheet.layout import CSV_COLUMNS
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import api_client, planwatch
from tests.factories import small_plan

PLAN = "test-2025"


@pytest.fixture
async def client(redis: Redis, keys: Keyspace, store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    await publish_plan(store, small_plan(PLAN))
    token, _ = await TokenStore(redis, keys).create("department", "stats")
    async with api_client(redis, keys, token) as http:
        yield http


def update(period: str, subject: str = "gdp") -> dict[str, str]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "indicator.updated",
        "subject": subject,
        "period": period,
        "occurred_at": "2025-10-15T10:00:00+08:00",
        "value": "5.4",
    }


@pytest.mark.parametrize("period", ["2025-Q3", "2025-09", "2025-H1", "2025", "2025-12"])
async def test_a_quarterly_indicator_takes_quarters_and_quarter_end_months(client, period: str) -> None:
    response = await client.post(f"/v1/plans/{PLAN}/events", json=update(period))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("period", ["2025-07", "2025-08", "2025-01"])
async def test_a_quarterly_indicator_refuses_other_months_naming_the_period(
    client, store: EventStore, period: str
) -> None:
    response = await client.post(f"/v1/plans/{PLAN}/events", json=[update("2025-Q2"), update(period)])
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "events[1].period"
    assert error["reason"] == (
        f"gdp is reported quarterly: a period ending in March, June, September or December "
        f"(e.g. 2025-Q2 or 2025-06), not {period}"
    )
    assert error["reason_zh"].startswith("该指标按季报送")
    assert await store.length(PLAN) == 1  # the plan alone: nothing of the batch


async def test_a_monthly_indicator_takes_every_period(client, redis: Redis, keys: Keyspace) -> None:
    econ, _ = await TokenStore(redis, keys).create("department", "econ")
    for period in ("2025-07", "2025-Q3", "2025-H1", "2025"):
        response = await client.post(
            f"/v1/plans/{PLAN}/events", json=update(period, "new-projects"), headers={"Authorization": f"Bearer {econ}"}
        )
        assert response.status_code == 201, response.text


async def test_the_spreadsheet_import_refuses_it_too(
    tmp_path: Path, cli_env: dict[str, str], store: EventStore, redis: Redis, keys: Keyspace
) -> None:
    await load_seed(store)
    token, _ = await TokenStore(redis, keys).create("department", "stats", "cli test")
    before = await store.length("rongchang-2025")
    sheet = tmp_path / "stats-2025-08.csv"
    row = {"计划": "rongchang-2025", "部门": "stats", "分类": "指标", "编号": "gdp", "报告期": "2025-08"}
    row["本期累计值"] = "5.4"
    sheet.write_text(
        ",".join(CSV_COLUMNS) + "\n" + ",".join(row.get(name, "") for name in CSV_COLUMNS) + "\n", encoding="utf-8"
    )
    result = planwatch({**cli_env, "PLANWATCH_TOKEN": token}, "import", str(sheet))
    assert result.returncode != 0
    said = " ".join((result.stdout + result.stderr).split())
    assert "报告期" in said and "gdp is reported quarterly" in said, said
    assert await store.length("rongchang-2025") == before
