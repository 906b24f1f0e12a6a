"""`planwatch` as a user runs it: a subprocess. Every command answers --help; bad options exit 2
naming the option and store nothing; the table prints; status counts outbox dead letters;
import takes its caller from a verified --token, never from the file."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from redis.asyncio import Redis

from services.app import publish_plan
from services.cli.main import app
from services.demo import SEED_PLAN, load_seed
from services.notify import Notifier
from services.spreadsheet import write_template
from services.store import EventStore, Keyspace, TokenStore, connect
from tests import seed_report
from tests.conftest import ROOT, api_client, drop_prefix, one_line, stored_keys
from tests.conftest import planwatch as run_planwatch
from tests.factories import gdp_update, small_plan
from tests.test_import import fill

PLAN = "rongchang-2025"
# wide enough that rich neither wraps a table nor an error box inside the words asserted on
WIDE = {"COLUMNS": "250"}


def planwatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run_planwatch({**env, **WIDE}, *args)  # wide: rich tables are not wrapped


def planwatch_all(env: dict[str, str], commands: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Several `planwatch` runs at once (each pays the interpreter's start-up; in parallel it is paid once)."""
    procs = [
        (
            command,
            subprocess.Popen(
                [sys.executable, "-m", "services", *command],
                env={**env, **WIDE},
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for command in commands
    ]
    results = []
    for command, proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return results


@pytest.fixture(scope="module")
def seeded(redis_url: str) -> Iterator[dict[str, str]]:
    """One key prefix with the seed plan and its H1 history, shared by the read-only tests here."""
    keys = Keyspace(prefix=f"t{uuid.uuid4().hex[:12]}")

    async def seed() -> None:
        redis = connect(redis_url)
        try:
            await load_seed(EventStore(redis, keys))
        finally:
            await redis.aclose()

    asyncio.run(seed())
    yield {**os.environ, "PLANWATCH_REDIS_URL": redis_url, "PLANWATCH_KEY_PREFIX": keys.prefix}
    drop_prefix(redis_url, keys)


# --- every command answers --help ----------------------------------------------------------


def command_paths(command: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and sub-command of the typer app (its click groups), as the words that name it."""
    paths = [path]
    for name, sub in getattr(command, "commands", {}).items():
        paths += command_paths(sub, (*path, name))
    return paths


def test_every_command_and_subcommand_answers_help() -> None:
    paths = command_paths(typer.main.get_command(app))
    named = {" ".join(p) for p in paths}
    # the walk found the tree, not just the root: a sample from each level
    assert {"", "demo", "table", "import", "status", "plan", "plan check", "token create", "redis status"} <= named
    assert len(paths) >= 25
    results = planwatch_all(dict(os.environ), [[*p, "--help"] for p in paths])
    for path, result in zip(paths, results, strict=True):
        shown = " ".join(path) or "(root)"
        assert result.returncode == 0, f"{shown}: {result.stderr}"
        usage = next((line for line in result.stdout.splitlines() if line.strip().startswith("Usage:")), None)
        assert usage is not None, f"{shown}: no usage line in {result.stdout!r}"
        assert " ".join(("services", *path, "")) in usage, usage  # the usage of this very command
        assert "Traceback" not in result.stderr


# --- table -------------------------------------------------------------------------------------


def test_table_markdown_prints_the_main_table(seeded: dict[str, str]) -> None:
    result = planwatch(seeded, "table", "--plan", PLAN, "-f", "markdown")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("## ") and "主要计划目标完成情况" in lines[0]
    assert "| 指标 | 全年目标 | 上半年完成 | 与目标± |" in lines
    for row in seed_report.main_table():
        assert "| " + " | ".join(row) + " |" in lines, row
    assert seed_report.project_line() in result.stdout


def test_a_known_at_without_a_zone_is_read_in_the_plans_zone(seeded: dict[str, str]) -> None:
    """荣昌's plan is in Asia/Shanghai: 2025-07-01T00:00 there is 2025-07-01T00:00+08:00."""
    naive = planwatch(seeded, "table", "--plan", PLAN, "--known-at", "2030-07-01T00:00", "-f", "json")
    zoned = planwatch(seeded, "table", "--plan", PLAN, "--known-at", "2030-07-01T00:00+08:00", "-f", "json")
    utc = planwatch(seeded, "table", "--plan", PLAN, "--known-at", "2030-06-30T16:00Z", "-f", "json")
    assert naive.returncode == 0, naive.stderr
    assert naive.stdout == zoned.stdout and json.loads(naive.stdout)["known_at"] == "2030-07-01T00:00:00+08:00"
    assert json.loads(utc.stdout)["known_at"] == "2030-06-30T16:00:00+00:00"


@pytest.mark.parametrize(
    ("options", "option", "reason"),
    [
        (["--format", "pdf"], "--format", "must be text, markdown or json, not 'pdf'"),
        (["-f", "md"], "--format", "not 'md'"),
        (["--as-of", "2025-13-01"], "--as-of", "'2025-13-01' is not a date"),
        (["--as-of", "June"], "--as-of", "'June' is not a date"),
        (["--known-at", "yesterday"], "--known-at", "'yesterday' is not a date-time"),
    ],
)
def test_table_bad_option_exits_2_naming_it(
    seeded: dict[str, str], options: list[str], option: str, reason: str
) -> None:
    result = planwatch(seeded, "table", "--plan", PLAN, *options)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"Invalid value for '{option}':" in one_line(result.stderr)
    assert reason in one_line(result.stderr)
    assert result.stdout == ""


BAD_PLAN_IDS = ["a}b{c", "Rong-2025", "x", "-rongchang", "rong chang", "a:b"]


@pytest.mark.parametrize("bad", BAD_PLAN_IDS)
def test_table_plan_is_checked_against_the_plan_id_format(seeded: dict[str, str], bad: str) -> None:
    result = planwatch(seeded, "table", "--plan", bad)
    assert result.returncode == 2, result.stdout + result.stderr
    said = one_line(result.stderr)
    assert f"Invalid value for '--plan': {bad!r} is not a plan id" in said
    assert "lower-case letters, digits and '-'" in said and "rongchang-2025" in said  # the expected format


def test_every_plan_option_is_checked(redis_url: str, keys: Keyspace, cli_env: dict[str, str], tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("x", encoding="utf-8")
    commands = [
        ["table", "--plan", "a}b{c"],
        ["rollup", "--plan", "a}b{c", "--period", "2025-06"],
        ["rollups", "--plan", "a}b{c"],
        ["template", "--plan", "a}b{c", "--department", "stats", "--period", "2025-07", "-o", str(tmp_path / "t.xlsx")],
        ["import", str(sheet), "--plan", "a}b{c", "--token", "pwt_000000000000_" + "x" * 32],
        ["rebuild", "--plan", "a}b{c"],
        ["status", "--plan", "a}b{c"],
        ["alerts", "--plan", "a}b{c"],
        ["subscribe", "--name", "值班群", "--channel", "stream", "--plan", "rongchang-2025", "--plan", "a}b{c"],
    ]
    for command, result in zip(commands, planwatch_all(cli_env, commands), strict=True):
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "Invalid value for '--plan': 'a}b{c' is not a plan id" in one_line(result.stderr), command
    assert stored_keys(redis_url, keys) == []  # not even the subscription with one good plan


# --- demo --plan-file --------------------------------------------------------------------------


def test_demo_with_a_missing_plan_file_exits_2_and_stores_nothing(
    redis_url: str, keys: Keyspace, cli_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "nonexistent.yaml"
    result = planwatch(cli_env, "demo", "--plan-file", str(missing), "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == f"--plan-file: cannot read {missing}: No such file or directory"
    assert "rongchang" not in result.stdout  # the seed demo did not run instead
    assert stored_keys(redis_url, keys) == [] and not (tmp_path / "out").exists()


def test_demo_with_an_unreadable_plan_file_exits_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = planwatch(cli_env, "demo", "--plan-file", str(tmp_path), "--out", str(tmp_path / "out"))  # a directory
    assert result.returncode == 2 and result.stderr.startswith(f"--plan-file: cannot read {tmp_path}:")


def test_demo_with_another_valid_plan_exits_2_before_storing_anything(
    redis_url: str, keys: Keyspace, cli_env: dict[str, str], tmp_path: Path
) -> None:
    from tests.test_planfile import GOOD

    other = tmp_path / "other.yaml"
    other.write_text(GOOD, encoding="utf-8")
    assert planwatch(cli_env, "plan", "check", str(other)).returncode == 0  # a valid plan, just not the seed's
    result = planwatch(cli_env, "demo", "--plan-file", str(other), "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()  # one clean line
    assert line.startswith("--plan-file: the demo's H1 history is for the seed plan; indicators 'industry-va', ")
    assert line.endswith("are not in this plan")
    assert stored_keys(redis_url, keys) == []  # the plan was not published first


def test_demo_names_the_one_indicator_a_plan_lacks(
    redis_url: str, keys: Keyspace, cli_env: dict[str, str], tmp_path: Path
) -> None:
    text = SEED_PLAN.read_text(encoding="utf-8")
    assert text.count("id: fai,") == 1
    lacking = tmp_path / "no-fai.yaml"
    lacking.write_text(text.replace("id: fai,", "id: fai-total,"), encoding="utf-8")
    result = planwatch(cli_env, "demo", "--plan-file", str(lacking), "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "--plan-file: the demo's H1 history is for the seed plan; indicator 'fai' is not in this plan"
    )
    assert stored_keys(redis_url, keys) == []


def test_demo_with_an_invalid_plan_file_names_the_line(
    redis_url: str, keys: Keyspace, cli_env: dict[str, str], tmp_path: Path
) -> None:
    twice = tmp_path / "twice.yaml"
    twice.write_text(SEED_PLAN.read_text(encoding="utf-8").replace("\nyear: 2025\n", "\nyear: 2025\nyear: 2026\n"))
    result = planwatch(cli_env, "demo", "--plan-file", str(twice), "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"--plan-file: {twice} is not a valid plan:")
    assert "key 'year' given twice" in result.stderr
    assert stored_keys(redis_url, keys) == []


def test_demo_of_an_example_plan_takes_the_history_beside_it(cli_env: dict[str, str], tmp_path: Path) -> None:
    example = ROOT / "plans" / "examples" / "points-2025.yaml"
    result = planwatch(cli_env, "demo", "--plan-file", str(example), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    golden = (ROOT / "tests" / "data" / "golden" / "example-points-2025.txt").read_text(encoding="utf-8")
    assert set(golden.splitlines()) - {""} <= set(result.stdout.splitlines())  # its table, as the golden file
    assert "the history in points-2025.history.yaml" in result.stdout
    assert (tmp_path / "out" / "example-points-2025-2025-06.md").exists()
    broken = tmp_path / "points-2025.yaml"
    broken.write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "points-2025.history.yaml").write_text("indicators:\n  nowhere: {2025-Q1: 1}\n", encoding="utf-8")
    refused = planwatch(cli_env, "demo", "--plan-file", str(broken), "--out", str(tmp_path / "again"))
    assert refused.returncode == 2 and "does not fit the plan" in refused.stderr and "nowhere" in refused.stderr


# --- status ------------------------------------------------------------------------------------


def status_rows(output: str, plan_id: str) -> list[dict[str, str]]:
    """The plan's rows of `planwatch status --json` (one per projection), by the names the table
    had before it was fitted into 80 columns, as text."""
    names = {
        "projection": "label",
        "events": "events",
        "checkpoint": "checkpoint",
        "applied": "applied",
        "lag": "lag",
        "dead letters": "dead_letters",
        "outbox dead letters": "outbox_dead_letters",
        "generation": "generation",
        "worker": "worker",
    }
    rows = [row for row in json.loads(output)["projections"] if row["plan"] == plan_id]
    return [{name: str(row[field]) for name, field in names.items()} for row in rows]


def status_row(output: str, plan_id: str) -> dict[str, str]:
    """The plan's first row of `planwatch status`: its read model."""
    return status_rows(output, plan_id)[0]


async def test_rebuild_rebuilds_both_projections_and_status_shows_both(
    redis: Redis, keys: Keyspace, cli_env: dict[str, str]
) -> None:
    store = EventStore(redis, keys)
    await load_seed(store)
    length = await store.length(PLAN)
    result = planwatch(cli_env, "rebuild", "--plan", PLAN)
    assert result.returncode == 0, result.stderr
    assert f"{PLAN} read model: generation 1 built from {length} events" in result.stdout
    assert f"{PLAN} alerts: generation 1 built from {length} events" in result.stdout
    rows = status_rows(planwatch(cli_env, "status", "--plan", PLAN, "--json").stdout, PLAN)
    assert [(r["projection"], r["applied"], r["lag"], r["generation"]) for r in rows] == [
        ("read model", str(length), "0", "1"),
        ("alerts", str(length), "0", "1"),
    ]
    assert planwatch(cli_env, "alerts", "--plan", PLAN).stdout.count("预警】") >= 4  # the rebuilt alerts are read


async def test_rebuild_all_rebuilds_every_plan_in_several_processes(
    redis: Redis, keys: Keyspace, cli_env: dict[str, str]
) -> None:
    store = EventStore(redis, keys)
    await load_seed(store)
    others = ["small-1-2025", "small-2-2025"]
    for plan_id in others:
        await publish_plan(store, small_plan(plan_id))
        await store.append([gdp_update(plan_id, "5.5", "2025-Q2")])
    # a generation to replace, so that the switch and the deletion are seen too
    assert planwatch(cli_env, "rebuild", "--plan", others[0]).returncode == 0

    await redis.sadd(keys.plans, "ghost-2025")  # listed, with no log: its rebuild fails, the others go on
    result = planwatch(cli_env, "rebuild", "--all", "--processes", "2")
    assert result.returncode == 1, result.stderr
    said = one_line(result.stderr)
    assert "ghost-2025: not rebuilt: plan 'ghost-2025' has no events" in said
    assert "1 of 4 plans not rebuilt: ghost-2025" in said
    for plan_id in [PLAN, *others]:
        length = await store.length(plan_id)
        generation = 2 if plan_id == others[0] else 1
        for label in ("read model", "alerts"):
            assert f"{plan_id} {label}: generation {generation} built from {length} events" in result.stdout
        rows = status_rows(planwatch(cli_env, "status", "--plan", plan_id, "--json").stdout, plan_id)
        assert [(r["applied"], r["lag"], r["generation"]) for r in rows] == [(str(length), "0", str(generation))] * 2
    assert "from generation 1 (deleted)" in result.stdout
    assert planwatch(cli_env, "alerts", "--plan", PLAN).stdout.count("预警】") >= 4

    neither = planwatch(cli_env, "rebuild")
    assert neither.returncode == 2 and "give either --plan ID or --all" in one_line(neither.stderr)
    one_plan = planwatch(cli_env, "rebuild", "--plan", PLAN, "--processes", "2")
    assert one_plan.returncode == 2 and "it goes with --all" in one_line(one_plan.stderr)


async def test_status_counts_outbox_dead_letters(redis: Redis, keys: Keyspace, cli_env: dict[str, str]) -> None:
    store = EventStore(redis, keys)
    await load_seed(store)
    before = status_row(planwatch(cli_env, "status", "--json").stdout, PLAN)
    assert before["outbox dead letters"] == "0"
    # two outbox entries that are no notice: the notifier sets them aside (a real notifier, real Redis)
    for fields in ({"notice": "{not json"}, {"other": "field"}):
        await redis.xadd(keys.outbox(PLAN), fields)
    async with httpx.AsyncClient() as http:
        notifier = Notifier(redis, keys, "test-notifier", http)
        assert await notifier.fan_out(block_ms=100) == 2
    assert await redis.xlen(keys.outbox_dead(PLAN)) == 2
    result = planwatch(cli_env, "status", "--plan", PLAN, "--json")
    assert result.returncode == 0, result.stderr
    row = status_row(result.stdout, PLAN)
    assert row["outbox dead letters"] == "2" and row["events"] == str(await store.length(PLAN))
    assert row["dead letters"] == "0"  # the projection's own dead letters are another column


# --- import: the caller is the token's -----------------------------------------------------------


async def seeded_with_hitech_sheet(redis: Redis, keys: Keyspace, tmp_path: Path) -> tuple[EventStore, int, Path]:
    """The seed plan and history stored, their event count, and hitech's filled July sheet."""
    store = EventStore(redis, keys)
    await load_seed(store)
    plan = (await store.read(PLAN, limit=1))[0].event.plan
    path = tmp_path / "hitech-2025-07.xlsx"
    path.write_bytes(write_template(plan, "hitech", "2025-07"))
    fill(path, {"kp-003": {"本期完成投资（万元）": 1200}, "kp-005": {"建成投产日期": "2025-07-20"}})
    return store, await store.length(PLAN), path


async def test_import_needs_a_token(redis: Redis, keys: Keyspace, cli_env: dict[str, str], tmp_path: Path) -> None:
    store, before, sheet = await seeded_with_hitech_sheet(redis, keys, tmp_path)
    env = {k: v for k, v in cli_env.items() if k != "PLANWATCH_TOKEN"}
    missing = planwatch(env, "import", str(sheet))
    assert missing.returncode == 2 and "Missing option '--token'" in one_line(missing.stderr)
    unknown = planwatch(env, "import", str(sheet), "--token", "pwt_0123456789ab_" + "x" * 32)
    assert unknown.returncode == 2, unknown.stdout + unknown.stderr
    assert unknown.stderr.strip() == f"{sheet}: --token: unknown or revoked token"
    tokens = TokenStore(redis, keys)
    text, info = await tokens.create("department", "hitech")
    await tokens.revoke(info.id)
    revoked = planwatch(env, "import", str(sheet), "--token", text)
    assert revoked.returncode == 2 and "--token: unknown or revoked token" in revoked.stderr
    assert text not in revoked.stderr + revoked.stdout  # the secret is never echoed
    assert await store.length(PLAN) == before


async def test_import_refuses_a_token_of_another_department(
    redis: Redis, keys: Keyspace, cli_env: dict[str, str], tmp_path: Path
) -> None:
    store, before, sheet = await seeded_with_hitech_sheet(redis, keys, tmp_path)
    stats, _ = await TokenStore(redis, keys).create("department", "stats")
    result = planwatch(cli_env, "import", str(sheet), "--token", stats)
    assert result.returncode == 2, result.stdout + result.stderr
    said = one_line(result.stderr)
    assert said.startswith(f"{sheet}: --token:")
    assert "the file belongs to department 'hitech', but you report for 'stats'" in said and "nothing imported" in said
    assert await store.length(PLAN) == before


async def test_import_as_the_sheets_department_stores_under_the_tokens_department(
    redis: Redis, keys: Keyspace, cli_env: dict[str, str], tmp_path: Path
) -> None:
    store, before, sheet = await seeded_with_hitech_sheet(redis, keys, tmp_path)
    hitech, _ = await TokenStore(redis, keys).create("department", "hitech")
    first = planwatch({**cli_env, "PLANWATCH_TOKEN": hitech}, "import", str(sheet))  # the token from the environment
    assert first.returncode == 0, first.stderr
    assert "stored 2 new event(s)" in one_line(first.stdout)
    again = planwatch(cli_env, "import", str(sheet), "--token", hitech)
    assert again.returncode == 0 and "stored 0 new event(s), 2 already imported" in one_line(again.stdout)
    imported = [s.event for s in await store.read(PLAN, limit=10_000)][before:]
    assert [(e.type, e.subject, e.department) for e in imported] == [
        ("investment.completed", "kp-003", "hitech"),
        ("project.completed", "kp-005", "hitech"),
    ]


@pytest.mark.parametrize("role", ["admin", "analyst"])
async def test_import_refuses_admin_and_analyst_tokens_as_the_api_does(
    redis: Redis, keys: Keyspace, cli_env: dict[str, str], tmp_path: Path, role: str
) -> None:
    store, before, sheet = await seeded_with_hitech_sheet(redis, keys, tmp_path)
    token, info = await TokenStore(redis, keys).create(role)  # type: ignore[arg-type]
    # the API's rule, which the CLI mirrors: such a token may not upload a department's sheet
    async with api_client(redis, keys, token) as http:
        upload = await http.post(
            f"/v1/plans/{PLAN}/imports",
            files={"file": (sheet.name, io.BytesIO(sheet.read_bytes()))},
        )
    assert upload.status_code == 403, upload.text
    result = planwatch(cli_env, "import", str(sheet), "--token", token)
    assert result.returncode == 2, result.stdout + result.stderr
    said = one_line(result.stderr)
    assert said.startswith(f"{sheet}: --token: {role} token {info.id} cannot import a department's sheet")
    assert await store.length(PLAN) == before


async def test_status_fits_80_columns_and_plans_lists_each_plan(
    redis: Redis, keys: Keyspace, cli_env: dict[str, str]
) -> None:
    store = EventStore(redis, keys)
    await load_seed(store)
    assert planwatch(cli_env, "rollup", "--plan", PLAN, "--period", "2025-06").returncode == 0
    assert planwatch(cli_env, "rebuild", "--plan", PLAN).returncode == 0
    length = await store.length(PLAN)
    text = planwatch({**cli_env, "COLUMNS": "200"}, "status").stdout
    lines = text.splitlines()
    assert lines[0].split() == ["plan", "proj", "events", "applied", "lag", "dead", "outbox", "gen", "worker"]
    assert [line.split()[:5] for line in lines[1:]] == [
        [PLAN, "rm", str(length), str(length), "0"],
        [PLAN, "alerts", str(length), str(length), "0"],
    ]
    assert all(len(line) <= 80 for line in lines)
    plans = planwatch(cli_env, "plans").stdout.splitlines()
    assert plans[0].split() == ["plan", "events", "lag", "rollup", "written"]
    assert plans[1].split()[:5] == [PLAN, str(length), "0", "2025-06", "v1"]
    assert plans[1].endswith("北京时间") and all(len(line) <= 80 for line in plans)
    listed = json.loads(planwatch(cli_env, "plans", "--json").stdout)
    assert [(p["plan_id"], p["events"], p["rollup_period"]) for p in listed] == [(PLAN, length, "2025-06")]
    rollups = planwatch(cli_env, "rollups", "--plan", PLAN).stdout
    assert "生成于 " in rollups and "北京时间" in rollups
