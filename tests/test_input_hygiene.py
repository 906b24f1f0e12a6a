"""Text and numbers as a terminal, a workbook and a Word document need them: a control character
or a number spelled some other way is refused where it comes in (naming the field), and text the
log already holds — from before the rule — still makes every report."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import docx
import openpyxl
import pytest
from redis.asyncio import Redis

from events.models import plan_published
from events.planfile import parse_plan
from projections.report import build_report
from projections.rollup import build_rollup
from services.app import Invalid, load_plan, publish_plan
from services.demo import SEED_PLAN, load_seed
from services.projection import fold_log
from services.reports import render_markdown
from services.reports.table import table_markdown
from services.spreadsheet import read_published
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import api_client, planwatch
from tests.factories import small_plan
from tests.test_api import auth, json_auth


async def test_a_token_request_is_read_as_strictly_as_any_body(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    admin, _ = await TokenStore(redis, keys).create("admin")
    cases = [
        (b'{"role": "analyst", "role": "admin"}', "role"),  # read as one of the two, it could be the admin
        (json.dumps({"role": "analyst", "name": "\u0000\u001b[31m"}).encode(), "name"),
        (b'{"role": "god"}', "role"),
    ]
    async with api_client(redis, keys) as http:
        for body, field in cases:
            answer = await http.post("/v1/tokens", content=body, headers=json_auth(admin))
            assert answer.status_code == 422, answer.text
            assert [e["field"] for e in answer.json()["errors"]] == [field]
            assert "\x1b" not in answer.text  # what is echoed is escaped
        listed = await http.get("/v1/tokens", headers=auth(admin))
    assert [t["role"] for t in listed.json()] == ["admin"]  # nothing made


async def test_a_plan_whose_texts_hold_control_characters_is_not_published(store: EventStore) -> None:
    plan = load_plan(SEED_PLAN)
    broken = plan.model_copy(update={"name": "荣昌\u0007计划"})
    with pytest.raises(Invalid) as refused:
        await publish_plan(store, broken)
    assert [e.field for e in refused.value.errors] == ["name"]
    assert await store.length(plan.id) == 0


async def test_a_report_is_written_whatever_text_the_log_holds(
    store: EventStore, cli_env: dict[str, str], tmp_path: Path
) -> None:
    plan_id, _, _ = await load_seed(store)
    plan = load_plan(SEED_PLAN)
    renamed = plan.model_copy(update={"name": "荣昌区\u0007计划"})  # as a log from before the rule holds it:
    await store.append([plan_published(renamed, 1, datetime(2025, 8, 1, tzinfo=UTC))])  # past the use case
    for fmt, read in (("xlsx", _xlsx_text), ("docx", _docx_text)):
        out = tmp_path / f"rollup.{fmt}"
        result = planwatch(cli_env, "rollup", "--plan", plan_id, "--period", "2025-08", "-f", fmt, "-o", str(out))
        assert result.returncode == 0, result.stdout + result.stderr
        text = read(out.read_bytes())
        assert "荣昌区\\u0007计划" in text and "\x07" not in text


def _xlsx_text(content: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(content))
    return "\n".join(str(c) for sheet in book for row in sheet.iter_rows(values_only=True) for c in row if c)


def _docx_text(content: bytes) -> str:
    document = docx.Document(io.BytesIO(content))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def test_a_plan_file_nested_too_deeply_is_refused_in_a_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    result = planwatch(cli_env, "plan", "check", str(deep))
    assert result.returncode != 0
    assert "nested too deeply" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


async def test_filters_and_notes_that_could_never_mean_anything_are_refused(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await publish_plan(store, small_plan("hygiene-2025"))
    admin, _ = await TokenStore(redis, keys).create("admin")
    filters = {"plans": ["../x"], "departments": ["{x}"], "subjects": ["\u0000"]}
    silence = {"matchers": {"rule": "data_stale"}, "duration_hours": 1, "comment": "国庆\u0007"}
    async with api_client(redis, keys) as http:
        subscribed = await http.post(
            "/v1/subscriptions", json={"name": "值班群", "channel": "stream", "filters": filters}, headers=auth(admin)
        )
        silenced = await http.post("/v1/plans/hygiene-2025/silences", json=silence, headers=auth(admin))
        listed = await http.get("/v1/subscriptions", headers=auth(admin))
    assert subscribed.status_code == 422, subscribed.text
    assert [e["field"] for e in subscribed.json()["errors"]] == [
        "filters.plans[0]",
        "filters.departments[0]",
        "filters.subjects[0]",
    ]
    assert silenced.status_code == 422 and [e["field"] for e in silenced.json()["errors"]] == ["comment"]
    assert listed.json() == [] and await store.length("hygiene-2025") == 1  # the plan alone


_MARKUP = re.compile(r"(?<!\\)<img|(?<!\\)\]\(javascript")  # HTML or a link a viewer would make
HOSTILE = "GDP<img src=x>|p [点](javascript:1)*粗*"  # under 40 characters: a cell, not prose


async def test_a_name_makes_no_markup_in_markdown_and_the_table_reads_back(store: EventStore, tmp_path: Path) -> None:
    text = SEED_PLAN.read_text(encoding="utf-8").replace(
        "{id: gdp, name: 地区生产总值,", f"{{id: gdp, name: '{HOSTILE}',"
    )
    plan = parse_plan(text)
    plan_id, _, _ = await load_seed(store, plan)
    state = await fold_log(store, plan_id)
    table = table_markdown(build_report(state))
    row = next(line for line in table.splitlines() if "GDP" in line)
    assert row.count(" | ") == 3  # four cells: the name's | ends none
    assert not _MARKUP.search(table) and "\\<img" in table  # shown as written, escaped
    published = read_published(table.encode(), "table.md")  # and `compare` reads it back as written
    assert published.rows[0].label == f"1﹒{HOSTILE}"
    rollup = render_markdown(build_rollup(state, "2025-06", datetime(2025, 7, 16, tzinfo=UTC)))
    assert not _MARKUP.search(rollup) and "\\<img" in rollup


async def test_a_bug_is_answered_500_and_raised_no_further(
    redis: Redis, keys: Keyspace, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Raised on, Starlette hands the error to the server, which drops the connection: the client's
    next request on it (keep-alive) fails too. Here the bug is a use case that raises."""
    from services.app.rollups import Rollups

    async def broken_listing(self: Rollups, plan_id: str) -> None:
        raise RuntimeError("a bug")

    plan_id, _, _ = await load_seed(store)
    admin, _ = await TokenStore(redis, keys).create("admin")
    monkeypatch.setattr(Rollups, "list", broken_listing)
    async with api_client(redis, keys, admin) as http:  # ASGITransport raises what the app raises
        broken = await http.get(f"/v1/plans/{plan_id}/rollups")
        healthy = await http.get("/healthz")
    assert broken.status_code == 500 and broken.json()["error"] == "internal"
    assert broken.headers["x-request-id"] and healthy.status_code == 200


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PLANWATCH_READY_MAX_LAG", "abc"),
        ("PLANWATCH_SESSION_HOURS", "-5"),
        ("PLANWATCH_KEY_PREFIX", "a:b{c}"),
        ("PLANWATCH_PUBLIC_URL", "javascript:alert(1)"),
        ("PLANWATCH_REDIS_URL", "foo://bar"),
    ],
)
def test_a_setting_planwatch_cannot_use_is_named_in_one_line(
    cli_env: dict[str, str], variable: str, value: str
) -> None:
    result = planwatch({**cli_env, variable: value}, "plans")
    assert result.returncode == 2
    assert result.stderr.startswith(f"planwatch: {variable}=") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command", [("rebuild", "--all", "--processes"), ("worker", "--processes"), ("api", "--workers")]
)
def test_a_command_starts_a_bounded_number_of_processes(cli_env: dict[str, str], command: tuple[str, ...]) -> None:
    """Each holds an interpreter and its connections: `--processes 100000` took the machine's memory."""
    result = planwatch(cli_env, *command, "100000")
    assert result.returncode == 2 and "less than or equal to 64" in result.stderr
