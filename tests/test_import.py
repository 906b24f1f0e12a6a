"""Spreadsheet import end to end: template → filled → import, through the CLI and the API."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from openpyxl import load_workbook
from redis.asyncio import Redis

from services.api import create_api
from services.demo import load_seed
from services.spreadsheet.layout import COLUMNS
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import planwatch

PLAN = "rongchang-2025"


def fill(path: Path, values: dict[str, dict[str, object]]) -> None:
    """Fill cells of the 填报 sheet: {subject: {column header: value}}."""
    book = load_workbook(path)
    sheet = book["填报"]
    column = {name: COLUMNS.index(name) + 1 for name in COLUMNS}
    for row in range(2, sheet.max_row + 1):
        subject = sheet.cell(row, column["编号"]).value
        for header, value in values.get(subject, {}).items():
            sheet.cell(row, column[header]).value = value
    book.save(path)


async def as_department(cli_env: dict[str, str], redis: Redis, keys: Keyspace, department: str) -> dict[str, str]:
    """The CLI's environment with a token of `department` (`planwatch import` acts as the token's department)."""
    token, _ = await TokenStore(redis, keys).create("department", department, "cli test")
    return {**cli_env, "PLANWATCH_TOKEN": token}


async def test_cli_round_trip_and_reimport(
    tmp_path: Path, cli_env: dict[str, str], store: EventStore, redis: Redis, keys: Keyspace
) -> None:
    await load_seed(store)
    cli_env = await as_department(cli_env, redis, keys, "stats")
    before = await store.length(PLAN)
    sheet = tmp_path / "stats-2025-07.xlsx"
    made = planwatch(
        cli_env, "template", "--plan", PLAN, "--department", "stats", "--period", "2025-07", "-o", str(sheet)
    )
    assert made.returncode == 0, made.stderr
    rows = [r for r in load_workbook(sheet)["填报"].iter_rows(min_row=2, values_only=True) if r[0]]
    # the indicators due in July: the monthly ones (gdp and income are quarterly)
    assert {r[1] for r in rows} == {"industry-va", "fai", "retail", "private-investment"}
    assert next(r for r in rows if r[1] == "fai")[4] == "8.0%"  # the target, for reference

    fill(sheet, {"industry-va": {"本期累计值": 7.9}, "fai": {"本期累计值": "12.5"}, "retail": {"本期累计值": 11.2}})
    first = planwatch(cli_env, "import", str(sheet))
    assert first.returncode == 0, first.stderr
    assert "stored 3 new event(s)" in " ".join(first.stdout.split())
    again = planwatch(cli_env, "import", str(sheet))
    assert again.returncode == 0 and "stored 0 new event(s), 3 already imported" in " ".join(again.stdout.split())
    imported = [s.event for s in await store.read(PLAN, limit=10_000)][before:]
    assert [(e.subject, str(e.value), e.period, e.department) for e in imported] == [
        ("industry-va", "7.9", "2025-07", "stats"),
        ("fai", "12.5", "2025-07", "stats"),
        ("retail", "11.2", "2025-07", "stats"),
    ]


async def test_cli_rejects_a_file_with_errors_and_stores_nothing(
    tmp_path: Path, cli_env: dict[str, str], store: EventStore, redis: Redis, keys: Keyspace
) -> None:
    await load_seed(store)
    cli_env = await as_department(cli_env, redis, keys, "hitech")
    before = await store.length(PLAN)
    sheet = tmp_path / "hitech.xlsx"
    assert (
        planwatch(
            cli_env, "template", "--plan", PLAN, "--department", "hitech", "--period", "2025-07", "-o", str(sheet)
        ).returncode
        == 0
    )
    fill(
        sheet,
        {
            "kp-003": {"本期完成投资（万元）": 1200},
            "kp-004": {"本期完成投资（万元）": -5},
            "kp-005": {"开工日期": "tomorrow"},
        },
    )
    result = planwatch(cli_env, "import", str(sheet))
    assert result.returncode == 1
    assert "nothing imported" in result.stderr
    assert "本期完成投资（万元）" in result.stderr and "开工日期" in result.stderr
    assert await store.length(PLAN) == before


async def test_api_import_round_trip(redis: Redis, keys: Keyspace, store: EventStore, tmp_path: Path) -> None:
    from services.spreadsheet import write_template

    await load_seed(store)
    before = await store.length(PLAN)
    app = create_api(redis=redis, keys=keys)
    plan = (await store.read(PLAN, limit=1))[0].event.plan
    econ, _ = await TokenStore(redis, keys).create("department", "hitech")
    stats, _ = await TokenStore(redis, keys).create("department", "stats")
    path = tmp_path / "hitech.xlsx"
    path.write_bytes(write_template(plan, "hitech", "2025-07"))
    fill(path, {"kp-003": {"本期完成投资（万元）": 1200, "备注": "七月"}, "kp-005": {"建成投产日期": "2025-07-20"}})
    content = path.read_bytes()

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://planwatch") as http:

        def upload(token: str, data: bytes = content, name: str = "hitech.xlsx"):
            return http.post(
                f"/v1/plans/{PLAN}/imports",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": (name, io.BytesIO(data))},
            )

        first = await upload(econ)
        assert first.status_code == 201, first.text
        assert first.json()["stored"] == 2 and "2 events" in first.json()["summary"]
        again = await upload(econ)
        assert again.status_code == 200 and again.json()["stored"] == 0
        other = await upload(stats)  # the file is hitech's: posting on another department's behalf is 403
        assert other.status_code == 403, other.text
        refused = other.json()
        assert refused["error"] == "forbidden"
        assert "belongs to department 'hitech'" in refused["message"] and "'stats'" in refused["message"]
        assert "nothing was imported" in refused["message"]
        assert refused["message_zh"] == "这是荣昌高新区管委会的文件，不能以区统计局身份上传，未导入任何数据"
        assert [(e["field"], bool(e["reason"]), bool(e["reason_zh"])) for e in refused["errors"]] == [
            ("row 0: 部门", True, True)
        ]
        fill(path, {"kp-004": {"本期完成投资（万元）": "lots"}})
        bad = await upload(econ, path.read_bytes())
        assert bad.status_code == 422
        assert any("本期完成投资（万元）" in row and "lots" in row for row in bad.json()["rows"])
        junk = await upload(econ, b"not a spreadsheet", "notes.txt")
        assert junk.status_code == 422
    assert await store.length(PLAN) == before + 2
