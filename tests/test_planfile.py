"""Plan files: the seed plan is valid; bad ones are refused naming the line, field and problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from events.planfile import PlanFileError, load_plan, parse_plan
from services.demo import SEED_PLAN

GOOD = """\
id: test-2025
name: 测试区2025年计划
region: 测试区
year: 2025
office: fgw
departments:
  - {id: fgw, name: 区发展改革委}
  - {id: stats, name: 区统计局}
indicators:
  - {id: gdp, name: 地区生产总值, unit: '%', department: stats, frequency: quarterly, order: 1,
     aliases: [GDP], target: 6.5%左右}
  - {id: income, name: 居民收入, unit: '%', department: stats, frequency: quarterly, order: 2,
     target: 高于GDP增速}
projects:
  - {id: kp-001, name: 渝乐电子, department: stats, category: 工业, planned_investment_wan: 100,
     planned_start: '2025-02', planned_completion: '2025-06'}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PlanFileError) as info:
        parse_plan(text, "plan.yaml")
    return info.value.problems


def test_seed_plan_is_valid_and_complete() -> None:
    plan = load_plan(SEED_PLAN)
    main = [i for i in plan.indicators if i.is_main]
    assert len(main) == 10 and len(plan.indicators) - 10 >= 25
    assert len(plan.projects) == 112
    assert sum(p.planned_investment_wan for p in plan.projects) == 1_802_000
    named = [p for p in plan.projects if not p.synthetic]
    assert all("示例" in p.name for p in plan.projects if p.synthetic)
    assert {"渝乐电子", "小刀电动车生产基地", "区人民医院迁建", "北部片区中心水厂"} <= {p.name for p in named}


def test_good_plan_parses() -> None:
    plan = parse_plan(GOOD)
    assert plan.reference_of(plan.indicators[1]) == "gdp"


def test_unknown_department_names_line_and_department() -> None:
    [problem] = problems(GOOD.replace("department: stats, category", "department: nobody, category"))
    assert problem.startswith("plan.yaml:15: projects[0].department:")
    assert "unknown department 'nobody'" in problem


def test_target_text_that_does_not_parse_is_quoted() -> None:
    [problem] = problems(GOOD.replace("target: 6.5%左右", "target: 大约六个半点"))
    assert problem.startswith("plan.yaml:11: indicators[0].target:") and "'大约六个半点'" in problem


def test_duplicate_ids_are_named() -> None:
    [problem] = problems(GOOD.replace("id: kp-001", "id: gdp"))
    assert "plan.yaml:15: projects[0].id:" in problem and "'gdp' is used twice" in problem


def test_relative_target_pointing_at_a_missing_indicator() -> None:
    [problem] = problems(GOOD.replace("高于GDP增速", "高于CPI增速"))
    assert problem.startswith("plan.yaml:13: indicators[1].target:")
    assert "refers to 'CPI', which is no indicator's id, name or alias" in problem


def test_several_problems_are_all_reported() -> None:
    text = GOOD.replace("department: stats, category", "department: nobody, category").replace("高于GDP", "高于CPI")
    assert len(problems(text)) == 2


def test_bad_values_and_bad_yaml() -> None:
    [problem] = problems(GOOD.replace("planned_start: '2025-02'", "planned_start: '2025-13'"))
    assert "projects[0].planned_start" in problem and "month must be 01..12" in problem
    [problem] = problems(GOOD.replace("year: 2025", "year: [2025"))
    assert problem.startswith("plan.yaml:") and "not valid YAML" in problem
    [problem] = problems(GOOD.replace("timezone", "x").replace("office: fgw", "office: fgw\ntimezone: Mars/Base"))
    assert "timezone" in problem and "Mars/Base" in problem


def test_plan_check_command(tmp_path: Path) -> None:
    good = subprocess.run(
        [sys.executable, "-m", "services", "plan", "check", str(SEED_PLAN)], capture_output=True, text=True
    )
    assert good.returncode == 0 and "is valid" in good.stdout and "112 key projects" in good.stdout
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(GOOD.replace("target: 6.5%左右", "target: 大约六个半点"), encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-m", "services", "plan", "check", str(bad_file)], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "bad.yaml:11: indicators[0].target" in bad.stderr


def test_plan_publish_command_stores_a_plan_once(cli_env: dict[str, str], tmp_path: Path) -> None:
    def publish(path: Path) -> str:
        return subprocess.run(
            [sys.executable, "-m", "services", "plan", "publish", str(path)],
            env=cli_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    first = tmp_path / "a.yaml"
    first.write_text(GOOD, encoding="utf-8")
    second = tmp_path / "b.yaml"
    second.write_text(GOOD.replace("6.5%左右", "6%左右"), encoding="utf-8")
    assert "as version 1" in publish(first)
    assert "already the current one" in publish(first)
    assert "as version 2" in publish(second)
    assert "as version 3" in publish(first)  # going back to the first plan is a new publication
