"""The files the CLI reads and writes (docs/input-bounds.md, "Files"): a path that is not a regular
file, or a file over its kind's cap, is refused before a byte is read; an output that cannot be
written is refused before anything is stored, published or left behind; a file name that says
another format than -f is refused; bad options and unknown plans are refused as such. Each refusal
is one message naming the argument or option — never a traceback.

The commands run as processes of their own, several at a time (each costs about a second)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from redis.asyncio import Redis

from services.app import MAX_FILE, MAX_REPORT
from services.demo import load_seed
from services.store import EventStore, Keyspace
from tests import seed_report
from tests.conftest import ROOT, one_line, planwatch, stored_keys

PLAN = "rongchang-2025"  # the seed plan
MAX_LINE = 64 * 1024 * 1024  # an export's line (services/app/backup.py)
DRAFT = ("--id", "demo-2025", "--year", "2025", "--region", "示例区")
TABLE = "指标,单位,全年目标,责任单位\n地区生产总值,%,6%,区统计局\n"


def _bounded(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`planwatch ARGS…` as tests.conftest.planwatch runs it, held to 2 GB of memory and 60 s: a
    command that reads /dev/zero without bound (as these did) fails the test, not the machine."""
    command = ["prlimit", f"--as={2 * 2**30}", sys.executable, "-m", "services", *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def _all(run, cases: Sequence[tuple[str, ...]]) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(6) as pool:
        return list(pool.map(lambda args: run(*args), cases))


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _sparse(path: Path, size: int) -> str:
    """A file of `size` bytes (zeros) that takes no room on disk."""
    with path.open("wb") as out:
        out.truncate(size)
    return str(path)


def _check(result: subprocess.CompletedProcess[str], code: int, *said: str, single_line: bool = True) -> None:
    told = result.stdout + result.stderr
    assert result.returncode == code, (result.args, told)
    assert "Traceback" not in told, (result.args, told)
    plain = one_line(result.stderr)
    for words in said:
        assert words in plain, (result.args, result.stderr)
    if single_line:
        assert len(result.stderr.strip().splitlines()) == 1, (result.args, result.stderr)


def test_a_path_that_is_no_regular_file_or_is_too_large_is_refused_before_it_is_read(
    redis_url: str, keys: Keyspace, cli_env: dict[str, str], tmp_path: Path
) -> None:
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)  # no one writes to it: opening it to read would wait for ever
    table = tmp_path / "table.csv"
    table.write_text(TABLE, encoding="utf-8")
    zero, folder = "/dev/zero", str(tmp_path)
    example = tmp_path / "points-2025.yaml"  # a plan with its history beside it, the history /dev/zero
    example.write_bytes((ROOT / "plans/examples/points-2025.yaml").read_bytes())
    (tmp_path / "points-2025.history.yaml").symlink_to(zero)
    cases = [  # (arguments, what the message says, exit code)
        (("compare", zero, "--plan", PLAN), "REPORT: /dev/zero is a character device, not a regular file", 2),
        (
            ("compare", _sparse(tmp_path / "big.docx", MAX_REPORT + 1), "--plan", PLAN),
            f"over the limit of {MAX_REPORT:,} bytes",
            2,
        ),
        (("import", zero, "--token", "pwt_x"), "FILE: /dev/zero is a character device", 1),
        (
            ("import", _sparse(tmp_path / "big.xlsx", MAX_FILE + 1), "--token", "pwt_x"),
            f"FILE: {tmp_path / 'big.xlsx'} is {MAX_FILE + 1:,} bytes, over the limit of {MAX_FILE:,} bytes",
            1,
        ),
        (("restore", zero), "FILE: /dev/zero is a character device", 2),
        (("restore", _sparse(tmp_path / "x.jsonl", MAX_LINE + 10)), f"line 1: the line is longer than {MAX_LINE:,}", 1),
        (("plan", "check", zero), "/dev/zero is a character device, not a regular file", 1),
        (("plan", "check", _sparse(tmp_path / "big.yaml", MAX_FILE + 1)), f"over the limit of {MAX_FILE:,}", 1),
        (("plan", "draft", folder, *DRAFT), f"TABLE: {folder} is a directory", 1),
        (("plan", "draft", str(table), *DRAFT, "--projects", str(pipe)), f"--projects: {pipe} is a pipe (FIFO)", 1),
        (
            ("demo", "--plan-file", str(example), "--out", str(tmp_path / "out")),
            "points-2025.history.yaml is a character device, not a regular file",
            2,
        ),
    ]
    results = _all(lambda *args: _bounded({**cli_env, "COLUMNS": "1000"}, *args), [args for args, _, _ in cases])
    for (args, says, code), result in zip(cases, results, strict=True):
        # a plan file's problems and an export's come as a list under a heading
        listed = (args[0] == "plan" and args[1] != "draft") or args[-1].endswith("x.jsonl")
        _check(result, code, says, single_line=not listed)
    assert stored_keys(redis_url, keys) == []


async def test_an_output_that_cannot_be_written_or_names_another_format_is_refused_before_anything_is_published(
    redis: Redis, keys: Keyspace, store: EventStore, cli_env: dict[str, str], tmp_path: Path
) -> None:
    await load_seed(store)
    before = await redis.xlen(keys.events(PLAN))
    table = tmp_path / "table.csv"
    table.write_text(TABLE, encoding="utf-8")
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    folder, missing = str(tmp_path), str(tmp_path / "missing" / "x")
    rollup = ("rollup", "--plan", PLAN, "--period", "2025-06")
    template = ("template", "--plan", PLAN, "--department", "stats", "--period", "2025-07")
    cases = [  # (arguments, exit code, what the message says)
        ((*rollup, "-o", "/proc/x.md"), 1, "--output: /proc/x.md cannot be written"),
        ((*rollup, "-o", ""), 2, "'-o' / '--output'", "an empty path names no file"),  # not read as '.'
        ((*rollup, "-f", "xlsx", "-o", f"{folder}/out.md"), 2, "'--format' / '--output'", "out.md says md, not xlsx"),
        (("export", "--plan", PLAN, "-o", folder), 1, f"--output: {folder} is a directory"),
        (("export", "--plan", PLAN, "-o", "/proc/x.jsonl"), 1, "--output: /proc/x.jsonl cannot be written"),
        ((*template, "-o", "/proc/x.xlsx"), 1, "--output: /proc/x.xlsx cannot be written"),
        ((*template, "-o", f"{folder}/sheet.txt"), 2, "'--output'", "must end in .xlsx or .csv"),
        (("docs", "-o", str(a_file)), 1, f"--output: {a_file} is not a directory"),
        (("docs", "-o", ""), 2, "'-o' / '--output'", "an empty path names no file"),
        (("plan", "draft", str(table), *DRAFT, "-o", missing + ".yaml"), 1, "--output:", "does not exist"),
        (("demo", "--out", "/proc/x"), 2, "--out: /proc/x cannot be written"),
    ]
    wide = {**cli_env, "COLUMNS": "1000"}  # click's boxes would wrap a long temporary path mid-name
    results = _all(lambda *args: planwatch(wide, *args), [args for args, *_ in cases])
    for (_, code, *says), result in zip(cases, results, strict=True):
        _check(result, code, *says, single_line=code == 1)
    assert await redis.xlen(keys.events(PLAN)) == before and not await redis.hgetall(keys.rollups(PLAN))
    assert _names(tmp_path) == ["a-file", "table.csv"]  # nothing written, no .partial left, no folder made
    chosen = planwatch(cli_env, *rollup, "-o", f"{folder}/out.xlsx")  # the name says xlsx: -f need not
    assert chosen.returncode == 0, chosen.stderr
    assert (tmp_path / "out.xlsx").read_bytes()[:2] == b"PK"  # a workbook, as its name says


async def test_compare_exits_as_diff_does(store: EventStore, cli_env: dict[str, str], tmp_path: Path) -> None:
    await load_seed(store)
    differs = tmp_path / "report.txt"
    differs.write_text(seed_report.report_text().replace("开工68个", "开工69个", 1), encoding="utf-8")
    no_table = tmp_path / "notes.txt"
    no_table.write_text("上半年经济运行总体平稳。\n", encoding="utf-8")
    different, unreadable, no_plan, tableless, helped = _all(
        lambda *args: planwatch({**cli_env, "COLUMNS": "1000"}, "compare", *args),
        [  # the seed report agreeing, exit 0: tests/test_reconcile.py
            (str(differs), "--plan", PLAN),
            (str(tmp_path / "gone.txt"), "--plan", PLAN),
            (str(seed_report.REPORT), "--plan", "nope-2025"),
            (str(no_table), "--plan", PLAN),
            ("--help",),
        ],
    )
    assert different.returncode == 1 and "结论：1处不一致" in different.stdout, different.stderr
    _check(unreadable, 2, "REPORT:", "gone.txt cannot be read: No such file or directory")
    _check(no_plan, 2, "plan 'nope-2025' has not been published")
    _check(tableless, 2, "cannot be read", single_line=False)
    assert "0 the report agrees, 1 it differs, 2 trouble" in " ".join(helped.stdout.split())


def test_bad_options_and_unknown_plans_are_refused_naming_them(
    redis_url: str, keys: Keyspace, cli_env: dict[str, str], tmp_path: Path
) -> None:
    table = tmp_path / "table.csv"
    table.write_text(TABLE, encoding="utf-8")
    draft = ("plan", "draft", str(table))
    limits = [("alerts", "--plan", PLAN, "--history", "--limit", n) for n in ("0", str(10**20))]
    unknown = [
        ("status", "--plan", "nope-2025"),
        ("rollups", "--plan", "nope-2025"),
        ("alerts", "--plan", "nope-2025", "--history"),
    ]
    options = [
        (*draft, "--id", "A B", "--year", "2025", "--region", "示例区"),
        (*draft, "--id", "demo-2025", "--year", "1999", "--region", "示例区"),
        (*draft, "--id", "demo-2025", "--year", "2025", "--region", ""),
    ]
    results = _all(lambda *args: planwatch({**cli_env, "COLUMNS": "1000"}, *args), limits + unknown + options)
    for result in results[: len(limits)]:
        _check(result, 2, "Invalid value for '--limit'", single_line=False)
    for result in results[len(limits) : len(limits) + len(unknown)]:
        _check(result, 1, "plan 'nope-2025' has not been published")
    for result, option in zip(results[-len(options) :], ("--id", "--year", "--region"), strict=True):
        _check(result, 2, f"Invalid value for '{option}'", single_line=False)
        assert "row" not in result.stderr and "第" not in result.stderr  # not told as a cell of the table
    assert stored_keys(redis_url, keys) == []
