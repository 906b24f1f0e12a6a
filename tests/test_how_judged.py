"""`planwatch plan check --targets`: each wording said back as the judgement `evaluate` makes of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from events.plan import Indicator, Plan
from events.targets import parse_target
from projections.how_judged import direction_hint, how_judged
from services.app import load_plan
from services.demo import EXAMPLES, SEED_PLAN
from tests.conftest import planwatch


@pytest.fixture(scope="module")
def points() -> Plan:
    return load_plan(EXAMPLES / "points-2025.yaml")


@pytest.mark.parametrize(
    ("plan_file", "indicator", "sentence"),
    [
        (SEED_PLAN, "gdp", "每期数值6.5%左右（计划未设允许偏差）"),
        (SEED_PLAN, "unemployment", "每期数值不高于5.5%"),
        (SEED_PLAN, "income", "每期数值高于地区生产总值同期"),
        (SEED_PLAN, "grain", "年末29万吨左右（计划未设允许偏差），达到即完成，否则年末考核"),
        (SEED_PLAN, "energy-intensity", "定性目标，按年度考核结论（完成/未完成）判断"),
        (SEED_PLAN, "shuangchang-procurement", "全年累计8亿元，按序时进度考核"),
        (
            EXAMPLES / "points-2025.yaml",
            "urbanization",
            "比上年61.6%提高1个百分点，即不低于62.6%，达到即完成，否则年末考核",
        ),
        (
            EXAMPLES / "points-2025.yaml",
            "unemployment",
            "比上年5.4%下降0.2个百分点，即不高于5.2%，达到即完成，否则年末考核",
        ),
        (
            EXAMPLES / "points-2025.yaml",
            "registered-unemployment",
            "每期数值3%左右，越低越好（高出不超过0.5个百分点仍算完成）",
        ),
        (EXAMPLES / "points-2025.yaml", "water-price", "每期数值不高于2%"),  # lower is better: 2% is a ceiling
        (EXAMPLES / "targets-2025.yaml", "retail", "每期数值不低于6%；力争7%，只展示不考核"),
        (EXAMPLES / "targets-2025.yaml", "rural-income", "每期数值与地区生产总值同期同步，低于不超过0.5个百分点"),
        (EXAMPLES / "level-growth-2025.yaml", "gdp", "每期同比增速6%左右（低于不超过0.5个百分点仍算完成）"),
        (EXAMPLES / "level-growth-2025.yaml", "industry-va", "仅监测，不考核"),
        (EXAMPLES / "wordings-2025.yaml", "industry", "每期数值不低于8%"),  # the note is not judged
        (EXAMPLES / "wordings-2025.yaml", "energy", "每期数值下降2%至3%之间，降幅超过3%亦为偏离"),
        (EXAMPLES / "wordings-2025.yaml", "rural-income", "每期数值高于地区生产总值同期至少1个百分点"),
        (EXAMPLES / "wordings-2025.yaml", "trade", "每期数值高于0%"),
    ],
)
def test_each_target_is_said_back_as_it_is_judged(plan_file: Path, indicator: str, sentence: str) -> None:
    plan = load_plan(plan_file)
    found = plan.indicator(indicator)
    assert found is not None
    assert how_judged(plan, found, found.target) == sentence


def test_plan_check_lists_every_indicator_with_its_judgement_by_section(cli_env: dict[str, str]) -> None:
    result = planwatch(cli_env, "plan", "check", "--targets", str(SEED_PLAN))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    headings = [line for line in lines if line.endswith("（指标 ｜ 全年目标 ｜ 考核方式）")]
    assert headings[0].startswith("主要指标") and headings[1].startswith("（一）") and headings[-1].startswith("（七）")
    plan = load_plan(SEED_PLAN)
    assert sum(1 for line in lines if line.startswith("  ") and " ｜ " in line) == len(plan.indicators)
    assert (
        "  万元GDP能耗（energy-intensity） ｜ 下降达到“十四五”目标要求 ｜ 定性目标，按年度考核结论（完成/未完成）判断"
        in lines
    )
    plain = planwatch(cli_env, "plan", "check", str(SEED_PLAN))
    assert "考核方式" not in plain.stdout


def test_a_name_that_is_usually_better_lower_prompts_a_hint_never_a_judgement() -> None:
    def indicator(name: str, target: str, **extra: str) -> Indicator:
        fields = {"id": "x", "name": name, "unit": "%", "department": "d", "frequency": "monthly", "order": 1}
        return Indicator.model_validate({**fields, "target": target, **extra})

    hint = direction_hint(indicator("居民消费价格涨幅", "3%左右"))
    assert hint is not None and "better: lower" in hint
    assert direction_hint(indicator("城镇调查失业率", "5.5%")) is not None  # no direction: judged as a floor
    assert direction_hint(indicator("城镇调查失业率", "5.5%以内")) is None  # a ceiling already
    assert direction_hint(indicator("城镇调查失业率", "5%以上")) is None  # a floor, said so
    assert direction_hint(indicator("居民消费价格涨幅", "3%左右", better="lower")) is None
    assert direction_hint(indicator("地区生产总值", "6%")) is None


def test_a_margin_above_the_reference_is_said_back() -> None:
    plan = load_plan(SEED_PLAN)
    income = plan.indicator("income")
    assert income is not None
    target = parse_target("高于地区生产总值增速1个百分点")
    assert how_judged(plan, income, target) == "每期数值高于地区生产总值同期至少1个百分点"


def test_positive_growth_is_said_back_as_above_nought() -> None:
    plan = load_plan(SEED_PLAN)
    trade = plan.indicator("income")
    assert trade is not None
    assert how_judged(plan, trade, parse_target("实现正增长")) == "每期数值高于0%"
