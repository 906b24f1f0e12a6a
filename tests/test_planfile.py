"""Plan files: the seed plan is valid; bad ones are refused naming the line, field and problem."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from events.codec import decode_stored, encode
from events.models import plan_published
from events.plan import Plan, crontab_problem
from events.planfile import PlanFileError, parse_plan
from events.targets import LevelTarget
from projections.how_judged import how_judged
from services.app import Invalid, load_plan, publish_plan
from services.demo import SEED_PLAN
from services.store import EventStore

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


def test_a_move_in_points_is_refused_without_last_years_level_and_on_a_unit_not_percent() -> None:
    [problem] = problems(GOOD.replace("target: 6.5%左右", "target: 提高1个百分点"))
    assert problem.startswith("plan.yaml:11: indicators[0].target:") and "baseline" in problem
    [problem] = problems(GOOD.replace("target: 6.5%左右", "target: {text: 提高1个百分点}"))
    assert problem.startswith("plan.yaml:11: indicators[0].target") and "baseline" in problem
    wan = GOOD.replace(
        "unit: '%', department: stats, frequency: quarterly, order: 1",
        "unit: 万元, department: stats, frequency: quarterly, order: 1",
    )
    [problem] = problems(wan.replace("target: 6.5%左右", "target: {text: 提高1个百分点, baseline: 61.6}"))
    assert problem.startswith("plan.yaml:11: indicators[0].target:") and "unit must be %" in problem
    plan = parse_plan(GOOD.replace("target: 6.5%左右", "target: {text: 提高1个百分点, baseline: 61.6}"))
    assert plan.indicators[0].target is not None and plan.indicators[0].target.form == "points"


def test_a_requirement_with_no_figure_is_qualitative_and_other_wordings_without_one_refused() -> None:
    plan = parse_plan(GOOD.replace("target: 6.5%左右", "target: 完成市下达任务"))
    assert plan.indicators[0].target is not None and plan.indicators[0].target.form == "qualitative"
    [problem] = problems(GOOD.replace("target: 6.5%左右", "target: 比去年好"))
    assert "form: qualitative" in problem


def test_an_amount_in_a_unit_the_indicator_does_not_count_in_is_refused() -> None:
    [problem] = problems(GOOD.replace("target: 6.5%左右", "target: 增长6个点"))
    assert problem.startswith("plan.yaml:10: indicators[0]:") and "is in 个点 but the indicator's unit is %" in problem


def test_a_target_in_percent_on_a_level_needs_the_level_reported_with_its_growth() -> None:
    level = GOOD.replace(
        "unit: '%', department: stats, frequency: quarterly, order: 1",
        "unit: 亿元, department: stats, frequency: quarterly, order: 1",
    )
    [problem] = problems(level)  # its values in 亿元 would be judged against 6.5 %
    assert problem.startswith("plan.yaml:11: indicators[0].target:") and "with_growth: true" in problem
    with_growth = parse_plan(level.replace("order: 1,", "order: 1, with_growth: true,"))
    assert with_growth.indicators[0].judged_on_growth(with_growth.indicators[0].target)


async def test_a_plan_stored_before_the_percent_check_is_read_and_a_new_one_refused(store: EventStore) -> None:
    level = GOOD.replace(
        "unit: '%', department: stats, frequency: quarterly, order: 1",
        "unit: 亿元, department: stats, frequency: quarterly, order: 1",
    )
    plan = Plan.model_validate(yaml.safe_load(level))  # the model alone: the check is not part of it
    stored = plan_published(plan, 0, datetime(2025, 1, 20, tzinfo=UTC))
    assert decode_stored(encode(stored)) == stored  # as a plan stored before the check would be read
    with pytest.raises(Invalid) as refused:
        await publish_plan(store, plan)
    assert refused.value.errors[0].field == "indicators[0].target" and await store.length(plan.id) == 0


def test_a_name_before_the_figure_may_end_in_a_word_for_growth() -> None:
    plan = parse_plan(GOOD.replace("target: 6.5%左右", "target: GDP涨幅6%左右"))  # GDP is an alias of gdp
    assert plan.indicators[0].target is not None and plan.indicators[0].target.form == "rate"


def test_a_relative_reference_is_found_with_its_growth_word_put_back() -> None:
    with_alias = GOOD.replace("aliases: [GDP]", "aliases: [GDP, 经济增长]")
    plan = parse_plan(with_alias.replace("target: 高于GDP增速", "target: 居民收入增长高于经济增长"))
    assert plan.reference_of(plan.indicators[1]) == "gdp"  # 高于经济增长 reads 经济; the alias is 经济增长


def test_which_way_is_better_is_checked_and_left_out_of_the_stored_form_when_unset() -> None:
    lower = parse_plan(
        GOOD.replace("aliases: [GDP], target: 6.5%左右", "aliases: [GDP], better: lower, target: 6.5%左右")
    )
    assert lower.indicators[0].better == "lower" and '"better":"lower"' in lower.model_dump_json()
    assert '"better"' not in parse_plan(GOOD).model_dump_json()
    [problem] = problems(
        GOOD.replace("aliases: [GDP], target: 6.5%左右", "aliases: [GDP], better: less, target: 6.5%左右")
    )
    assert problem.startswith("plan.yaml:11: indicators[0].better:") and "'higher' or 'lower'" in problem


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


def test_a_plan_file_saved_as_gbk_is_read_and_one_of_no_text_is_refused(tmp_path: Path) -> None:
    """Notepad and WPS on Chinese Windows save GBK unless told otherwise: such a file is read as
    GB18030; a file that is no text at all is refused by name, without a traceback."""
    gbk, bom, binary = tmp_path / "gbk.yaml", tmp_path / "bom.yaml", tmp_path / "binary.yaml"
    gbk.write_bytes(GOOD.encode("gb18030"))
    bom.write_bytes(GOOD.encode("utf-8-sig"))
    binary.write_bytes(b"\xff\xfe\x00\x81 not a plan")
    for readable in (gbk, bom):
        read = subprocess.run(
            [sys.executable, "-m", "services", "plan", "check", str(readable)], capture_output=True, text=True
        )
        assert read.returncode == 0 and "测试区" in read.stdout, read.stderr
    refused = subprocess.run(
        [sys.executable, "-m", "services", "plan", "check", str(binary)], capture_output=True, text=True
    )
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"{binary}: neither UTF-8 nor GB18030 (GBK) text" in refused.stderr


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


def test_a_key_given_twice_is_refused_with_its_line() -> None:
    assert problems(GOOD.replace("year: 2025\n", "year: 2025\nyear: 2026\n")) == [
        "plan.yaml:5: key 'year' given twice (first on line 4)"
    ]
    # inside a flow mapping, on one line, and every repetition at once
    text = GOOD.replace("order: 2,", "order: 2, order: 3,")
    text = text.replace("region: 测试区\n", "region: 测试区\nregion: 别区\n")
    assert problems(text) == [
        "plan.yaml:4: key 'region' given twice (first on line 3)",
        "plan.yaml:13: key 'order' given twice (first on line 13)",
    ]


def test_plan_check_reports_a_key_given_twice(tmp_path: Path) -> None:
    twice = tmp_path / "twice.yaml"
    twice.write_text(GOOD.replace("office: fgw\n", "office: fgw\noffice: stats\n"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "services", "plan", "check", str(twice)], capture_output=True, text=True
    )
    assert result.returncode == 1 and f"{twice}:6: key 'office' given twice (first on line 5)" in result.stderr


def test_merge_keys_may_still_be_overridden() -> None:
    # `<<: *gdp` then id, name, … of its own: a YAML merge, not a key given twice
    text = GOOD.replace("  - {id: gdp,", "  - &gdp {id: gdp,").replace(
        "  - {id: income, name: 居民收入, unit: '%', department: stats, frequency: quarterly, order: 2,",
        "  - {<<: *gdp, id: income, name: 居民收入, order: 2, aliases: [],",
    )
    assert "<<: *gdp" in text
    plan = parse_plan(text)
    assert [(i.id, i.order, i.aliases) for i in plan.indicators] == [("gdp", 1, ("GDP",)), ("income", 2, ())]


def test_two_indicators_at_one_order_of_a_section_are_refused() -> None:
    [problem] = problems(GOOD.replace("order: 2,", "order: 1,"))
    assert problem.startswith("plan.yaml:12: indicators[1].order:")
    assert "income: order 1 in section 主要指标 is also the order of gdp" in problem
    # the same order in different sections is no ambiguity
    plan = parse_plan(GOOD.replace("order: 2,", "order: 1, section: 其他目标,"))
    assert [(i.section, i.order) for i in plan.indicators] == [("主要指标", 1), ("其他目标", 1)]


INCOME_TARGET = "target: 高于GDP增速"


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        (
            "name: 居民收入",
            "name: 地区生产总值",
            "12: indicators[1].name",
            "name '地区生产总值' is also the name of gdp",
        ),
        (
            INCOME_TARGET,
            "aliases: [GDP], " + INCOME_TARGET,
            "13: indicators[1].aliases[0]",
            "alias 'GDP' is also the alias of gdp",
        ),
        (
            INCOME_TARGET,
            "aliases: [x, 地区生产总值], " + INCOME_TARGET,
            "13: indicators[1].aliases[1]",
            "alias '地区生产总值' is also the name of gdp",
        ),
        (
            INCOME_TARGET,
            "aliases: [gdp], " + INCOME_TARGET,
            "13: indicators[1].aliases[0]",
            "alias 'gdp' is also the id of gdp",
        ),
    ],
)
def test_a_name_or_alias_of_two_indicators_is_refused_naming_both(old: str, new: str, where: str, message: str) -> None:
    assert GOOD.count(old) == 1
    [problem] = problems(GOOD.replace(old, new))
    assert problem.startswith(f"plan.yaml:{where}: income: {message}; a target referring to it would be ambiguous")


def test_an_indicator_may_repeat_its_own_name_as_an_alias() -> None:
    plan = parse_plan(GOOD.replace("aliases: [GDP]", "aliases: [GDP, 地区生产总值, gdp]"))
    assert plan.reference_of(plan.indicators[1]) == "gdp"


# ---- the rollup schedule's cron, checked without the scheduler ---------------------------

# Both validators accept these ...
SCHEDULABLE_CRONS = [
    "0 8 16 * *",
    "*/15 * * * *",
    "*/59 * * * *",
    "0 0-23/6 1,15 * *",
    "0 8 last * *",
    "0 8 LAST * *",
    "30 7 1 jan-mar,oct *",
    "0 9 * * mon-fri",
    "0 9 * * MON,sat",
    "5/10 * * * *",
    "58/1 * * * *",
    "0 8 16 12 6",
    "00 08 07 01 0",
]
# ... and both refuse these
UNSCHEDULABLE_CRONS = [
    "0 8 16 *",
    "0 8 16 * * *",
    "",
    "60 8 16 * *",
    "0 24 16 * *",
    "0 8 0 * *",
    "0 8 32 * *",
    "0 8 16 13 *",
    "0 8 16 * 7",
    "*/0 * * * *",
    "*/60 * * * *",
    "0 */24 * * *",
    "0 8 */31 * *",
    "0 8 16 */12 *",
    "0 8 16 * */7",
    "59/1 * * * *",
    "70/2 * * * *",
    "0 8 1-0/0 * *",
    "5-1 * * * *",
    "1-5/5 * * * *",
    "0 8 16 1-mar *",
    "0 8 16 dec-jan *",
    "0 8 16 sept *",
    "0 8 16 * fri-mon",
    "0 8 16 * monday",
    "0 8 16 mon *",
    "0 8 mon * *",
    "0 last * * *",
    "0 8 16 last *",
    "1,,2 * * * *",
    "1, * * * *",
    "*5 * * * *",
    "*/ * * * *",
    "-1 * * * *",
    "1.5 * * * *",
    "² * * * *",
    "? * * * *",
]


def _scheduler_accepts(cron: str) -> bool:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(cron, timezone="Asia/Shanghai")
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("cron", SCHEDULABLE_CRONS + UNSCHEDULABLE_CRONS)
def test_the_cron_check_agrees_with_the_scheduler(cron: str) -> None:
    expected = cron in SCHEDULABLE_CRONS
    assert _scheduler_accepts(cron) is expected  # the lists say what APScheduler does
    problem = crontab_problem(cron)
    assert (problem is None) is expected, problem


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        # APScheduler reads a month or weekday name and ignores what follows it: `jan-dec/3` would run monthly
        ("0 8 16 jan-dec/3 *", "month: 'jan-dec/3': a step needs numbers, not names"),
        ("0 8 * * mon/2", "day of week: 'mon/2': a step needs numbers, not names"),
        ("0 8 * * mon-", "day of week: 'mon-' is not a value, a range or a step"),
        ("0 8 16 mar-1 *", "month: 'mar-1' is not a value, a range or a step"),
        ("0 8 lastday * *", "day: 'lastday' is not a value, a range or a step"),
        # APScheduler lets a range ending at 0 step as far as the field's end
        ("0-0/5 * * * *", "minute: a step of 5 is longer than the range it steps through (0)"),
    ],
)
def test_the_cron_check_refuses_what_the_scheduler_would_misread(cron: str, message: str) -> None:
    assert _scheduler_accepts(cron)
    assert crontab_problem(cron) == message


def test_a_plan_with_an_unschedulable_cron_is_refused_naming_the_field() -> None:
    [problem] = problems(GOOD + "rollup: {cron: '*/60 8 16 * *'}\n")
    assert problem.startswith("plan.yaml:")
    assert "cron '*/60 8 16 * *' is not valid: minute: a step of 60 is longer than the range it steps through (59)" in (
        problem
    )


@settings(max_examples=1000, deadline=None)
@given(st.integers(min_value=0, max_value=4), st.text(alphabet="0123456789*/-,", min_size=1, max_size=7))
def test_the_cron_check_agrees_with_the_scheduler_on_any_numeric_field(position: int, field: str) -> None:
    if re.search(r"(^|,)\d+-0+/", field):
        return  # a range ending at 0 with a step: APScheduler steps past it (see above); refused here
    cron = " ".join(field if n == position else "*" for n in range(5))
    assert (crontab_problem(cron) is None) is _scheduler_accepts(cron), crontab_problem(cron)


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        (
            "target: 6.5%左右",
            "target: 收入增长6%",
            "plan.yaml:11: indicators[0].target:",
            "names '收入' before its figure, which is not this indicator's id, name or alias",
        ),
        (
            "target: 6.5%左右",
            "target: 增长6%以上，力争5%",
            "plan.yaml:11: indicators[0].target:",
            "the 力争 figure 5 must be above the floor 6",
        ),
        (
            "高于GDP增速",
            "与房价增长同步",
            "plan.yaml:13: indicators[1].target:",
            "refers to '房价增长', which is no indicator's id, name or alias",
        ),
        (
            "target: 6.5%左右",
            "target: 增长六个点",
            "plan.yaml:11: indicators[0].target:",
            "rate like '6.5%左右', '同比增长6%', '增长6%以上，力争7%'",
        ),
    ],
)
def test_target_wordings_that_cannot_be_judged_are_refused_naming_the_field(
    old: str, new: str, where: str, message: str
) -> None:
    [problem] = problems(GOOD.replace(old, new))
    assert problem.startswith(where) and message in problem


def test_named_bare_and_in_step_targets_load() -> None:
    plan = parse_plan(
        GOOD.replace("target: 6.5%左右", "target: GDP增长6%以上").replace(
            "target: 高于GDP增速", "target: 与地区生产总值增长同步"
        )
    )
    assert plan.reference_of(plan.indicators[1]) == "gdp"
    bare = parse_plan(GOOD.replace("target: 6.5%左右", "target: 7"), "plan.yaml").indicators[0].target
    assert (bare.text, bare.form, bare.value) == ("7", "rate", 7)  # type: ignore[union-attr]


@pytest.mark.parametrize("target", ["地区生产总值同口径增长6%", "按可比价格计算增长6.5%左右", "较2024年同期增长6%"])
def test_how_a_figure_is_counted_is_not_taken_for_a_name(target: str) -> None:
    plan = parse_plan(GOOD.replace("target: 6.5%左右", f"target: {target}"), "plan.yaml")
    assert plan.indicators[0].target is not None and plan.indicators[0].target.text == target


def test_a_figure_with_a_bound_and_no_unit_takes_the_indicators_unit() -> None:
    ratio = (
        "  - {id: income-ratio, name: 城乡居民收入比, unit: 倍, department: stats, frequency: annual, order: 3,\n"
        "     target: 城乡居民收入比缩小到2.1以内}\n"
    )
    plan = parse_plan(GOOD.replace("projects:\n", ratio + "projects:\n"), "plan.yaml")
    target = plan.indicators[2].target
    assert isinstance(target, LevelTarget) and (target.value, target.unit, target.bound) == (
        Decimal("2.1"),
        "倍",
        "at_most",
    )
    assert target.text == "城乡居民收入比缩小到2.1以内"
    [problem] = problems(GOOD.replace("target: 6.5%左右", "target: 增长六点5"))  # still refused, naming the field
    assert problem.startswith("plan.yaml:11: indicators[0].target:")


def test_how_a_range_is_judged_past_its_better_side_is_the_plans_and_unset_is_not_stored() -> None:
    ranged = GOOD.replace("target: 6.5%左右", "target: 增长6.5%-7%")
    assert '"range_beyond"' not in parse_plan(ranged).model_dump_json()  # a plan stored before keeps its digest
    chosen = parse_plan(ranged + "thresholds: {rate: {range_beyond: met}}\n")
    assert chosen.thresholds.rate.range_beyond == "met" and '"range_beyond":"met"' in chosen.model_dump_json()
    gdp = chosen.indicators[0]
    assert how_judged(chosen, gdp, gdp.target) == "每期数值在6.5%至7%之间，高于7%也算完成"
    unset = parse_plan(ranged)
    assert how_judged(unset, unset.indicators[0], gdp.target) == "每期数值在6.5%至7%之间，高于7%亦为偏离"
    [problem] = problems(ranged + "thresholds: {rate: {range_beyond: exceeded}}\n")
    assert "range_beyond" in problem and "'missed' or 'met'" in problem
