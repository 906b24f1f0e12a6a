"""The first acceptance test: the seed report's table and project figures, from events alone."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

from projections.report import build_report
from services.demo import load_seed
from services.projection import fold_log
from services.reports import table_rows, table_text
from services.store import EventStore
from tests import seed_report
from tests.conftest import ROOT


async def _seeded_report(store: EventStore, as_of: date | None = None):
    plan_id, stored, sent = await load_seed(store)
    assert stored == sent
    return build_report(await fold_log(store, plan_id), as_of)


async def test_main_table_equals_the_seed_row_for_row(store: EventStore) -> None:
    report = await _seeded_report(store)
    assert report.as_of == date(2025, 6, 30) and report.column == "上半年完成"
    assert table_rows(report) == seed_report.main_table()


async def test_project_line_and_completions_equal_the_seed(store: EventStore) -> None:
    portfolio = (await _seeded_report(store)).portfolio
    assert portfolio.line() == seed_report.project_line()
    assert portfolio.completed_line() == seed_report.completed_line()
    assert (portfolio.total, portfolio.started, portfolio.completed) == (112, 68, 26)
    assert portfolio.investment_wan == 910_000 and portfolio.planned_investment_wan == 1_802_000


async def test_missed_indicators_are_the_ones_part_two_names(store: EventStore) -> None:
    report = await _seeded_report(store)
    missed = [row.indicator.name for row in report.missed]
    named = seed_report.missed_indicators()
    assert len(missed) == len(named) == 4
    # the report adds 增速 to some names: 一般公共预算收入增速 is our 一般公共预算收入
    assert all(full.startswith(ours) for ours, full in zip(missed, named, strict=True))
    assert {row.evaluation.status for row in report.main if row not in report.missed} <= {"on_track", "met", "not_due"}


async def test_as_of_march_uses_only_periods_up_to_march(store: EventStore) -> None:
    report = await _seeded_report(store, as_of=date(2025, 3, 31))
    rows = {row.indicator.id: row.evaluation for row in report.main}
    assert report.column == "1—3月完成"
    assert rows["gdp"].period == "2025-Q1" and rows["gdp"].actual_text == "5.8%"
    assert rows["fai"].period == "2025-03" and rows["fai"].actual_text == "12.0%"
    assert rows["income"].deviation_text == "-0.8个百分点"  # 5.0 against GDP's Q1 5.8
    assert all(row.evaluation.period in (None, "2025-01", "2025-02", "2025-03", "2025-Q1") for row in report.rows())
    assert report.portfolio.started < 68 and report.portfolio.investment_wan < 910_000


async def test_loading_the_seed_twice_stores_nothing_twice(store: EventStore) -> None:
    plan_id, _, sent = await load_seed(store)
    again = await load_seed(store)
    assert again == (plan_id, 0, sent)
    assert await store.length(plan_id) == sent


def test_demo_command_prints_the_seed_table(cli_env: dict[str, str], tmp_path) -> None:
    def demo() -> str:
        return subprocess.run(
            [sys.executable, "-m", "services", "demo", "--out", str(tmp_path)],
            env=cli_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    first, second = demo(), demo()
    for output in (first, second):
        text = " ".join(output.split())
        assert "指标 | 全年目标 | 上半年完成 | 与目标±" in output
        for row in seed_report.main_table():
            assert " | ".join(row) in output
        assert seed_report.project_line() in text
        assert "主要指标表：10行中10行一致" in output and "结论：一致" in output  # the real report, read back
    assert "stored 0 new" in " ".join(second.split())
    assert "月度报告 2025-06 第1版 (published)" in first and "第1版 (unchanged)" in second
    june = (tmp_path / "rongchang-2025-2025-06.md").read_text(encoding="utf-8")
    assert seed_report.project_line() in june and (tmp_path / "rongchang-2025-2025-06.xlsx").stat().st_size > 0


def table_json(cli_env: dict[str, str], *options: str) -> dict:
    """`planwatch table --plan rongchang-2025 --format json …`, as a subprocess, parsed."""
    command = [sys.executable, "-m", "services", "table", "--plan", "rongchang-2025", "--format", "json", *options]
    result = subprocess.run(command, env=cli_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_table_command_json_has_the_documented_fields(store: EventStore, cli_env: dict[str, str]) -> None:
    await load_seed(store)
    view = table_json(cli_env, "--as-of", "2025-06-30")
    gdp = view["indicators"][0]
    assert {k: gdp[k] for k in ("id", "name", "target", "actual", "deviation", "status")} == {
        "id": "gdp",
        "name": "地区生产总值",
        "target": "6.5%左右",
        "actual": "5.5%",
        "deviation": "-1.0个百分点",
        "status": "at_risk",
    }
    assert {
        k: view["projects"][k]
        for k in ("total", "started", "start_rate", "investment_wan", "investment_rate", "completed")
    } == {
        "total": 112,
        "started": 68,
        "start_rate": 60.7,
        "investment_wan": 910000,
        "investment_rate": 50.5,
        "completed": 26,
    }
    assert view["missed"] == ["gdp", "revenue", "trade", "income"]


def test_table_command_for_an_unknown_plan_says_so(cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services", "table", "--plan", "nowhere-2025"],
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "plan 'nowhere-2025' has not been published" in result.stderr


async def test_render_text_lists_missed_targets_with_departments(store: EventStore) -> None:
    text = table_text(await _seeded_report(store))
    assert "一般公共预算收入：全年目标24.6%，完成2.5%，与目标-22.1个百分点（区财政局）" in text


async def test_table_json_names_known_at_as_the_api_does(store: EventStore, cli_env: dict[str, str]) -> None:
    await load_seed(store)
    view = table_json(cli_env, "--known-at", "2030-01-01T00:00+08:00")
    assert view["known_at"] == "2030-01-01T00:00:00+08:00"  # typed without seconds
