"""The target grammar: the report's wording in, a structure out; nonsense is quoted back."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from events.targets import (
    CumulativeTarget,
    LevelTarget,
    PointsTarget,
    QualitativeTarget,
    RangeTarget,
    RateTarget,
    RelativeTarget,
    TargetSpec,
    TargetTextError,
    bare_target,
    named_subject,
    parse_target,
    to_canonical,
    with_unit,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8.0%", RateTarget(text="8.0%", value=Decimal("8.0"), bound="at_least")),
        ("6.5%左右", RateTarget(text="6.5%左右", value=Decimal("6.5"), bound="about")),
        ("增长10%以上", RateTarget(text="增长10%以上", value=Decimal("10"), bound="at_least")),
        ("不低于7%", RateTarget(text="不低于7%", value=Decimal("7"), bound="at_least")),
        ("5.5%以内", RateTarget(text="5.5%以内", value=Decimal("5.5"), bound="at_most")),
        ("控制在5.5%以内", RateTarget(text="控制在5.5%以内", value=Decimal("5.5"), bound="at_most")),
        ("下降5%", RateTarget(text="下降5%", value=Decimal("-5"), bound="at_most")),
        ("达到50%以上", RateTarget(text="达到50%以上", value=Decimal("50"), bound="at_least")),
        ("4.5%—5%", RangeTarget(text="4.5%—5%", low=Decimal("4.5"), high=Decimal("5"))),
        ("高于GDP增速", RelativeTarget(text="高于GDP增速", reference="GDP", bound="above")),
        ("新开工工业项目80个", CumulativeTarget(text="新开工工业项目80个", value=Decimal(80), unit="个")),
        (
            "新签约市外项目合同额300亿元以上",
            CumulativeTarget(text="新签约市外项目合同额300亿元以上", value=Decimal(3_000_000), unit="万元"),
        ),
        ("城镇新增就业1万人以上", CumulativeTarget(text="城镇新增就业1万人以上", value=Decimal(10_000), unit="人")),
        ("达到270家", LevelTarget(text="达到270家", value=Decimal(270), unit="家")),
        ("29万吨左右", LevelTarget(text="29万吨左右", value=Decimal(29), unit="万吨", bound="about")),
        ("提高到65%", RateTarget(text="提高到65%", value=Decimal(65), bound="at_least")),
        ("高标准农田2万亩", CumulativeTarget(text="高标准农田2万亩", value=Decimal(2), unit="万亩")),
        ("新增光伏装机10万千瓦", CumulativeTarget(text="新增光伏装机10万千瓦", value=Decimal(10), unit="万千瓦")),
        (
            "PM2.5平均浓度控制在35微克/立方米以内",
            LevelTarget(
                text="PM2.5平均浓度控制在35微克/立方米以内", value=Decimal(35), unit="微克/立方米", bound="at_most"
            ),
        ),
        ("不超过3万吨", LevelTarget(text="不超过3万吨", value=Decimal(3), unit="万吨", bound="at_most")),
        ("新增5～10个", CumulativeTarget(text="新增5～10个", value=Decimal(5), unit="个")),  # a range: its floor
        ("引进项目10-15个以上", CumulativeTarget(text="引进项目10-15个以上", value=Decimal(10), unit="个")),
        ("≥6%", RateTarget(text="≥6%", value=Decimal(6), bound="at_least")),
        ("≤3%", RateTarget(text="≤3%", value=Decimal(3), bound="at_most")),
        ("完成市下达任务", QualitativeTarget(text="完成市下达任务")),
        (
            "增长6.5%左右，在实际工作中力争更好结果",
            RateTarget(text="增长6.5%左右，在实际工作中力争更好结果", value=Decimal("6.5"), bound="about"),
        ),
        ("7%以上，争取更高", RateTarget(text="7%以上，争取更高", value=Decimal(7), bound="at_least")),
        ("实现正增长", RateTarget(text="实现正增长", value=Decimal(0), bound="at_least", strictly=True)),
        ("保持在5.5%以内", RateTarget(text="保持在5.5%以内", value=Decimal("5.5"), bound="at_most")),
        ("突破10%", RateTarget(text="突破10%", value=Decimal(10), bound="at_least")),
        ("高于GDP增速，力争更好", RelativeTarget(text="高于GDP增速，力争更好", reference="GDP", bound="above")),
        ("持续下降", QualitativeTarget(text="持续下降")),
        ("下降达到“十四五”目标要求", QualitativeTarget(text="下降达到“十四五”目标要求")),
    ],
)
def test_report_wording_parses(text: str, expected: object) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    "text", ["大约六个点", "高于", "比去年好", "%8", "", "完成8", "新增-5个", "9" * 3000 + "个" * 3000 + "%"]
)
def test_unparseable_text_is_an_error_quoting_it(text: str) -> None:
    with pytest.raises(TargetTextError) as info:
        parse_target(text)
    assert repr(text) in str(info.value) or "more than 200" in str(info.value)


def test_an_amount_longer_than_decimal_precision_converts_exactly() -> None:
    # 3×10²⁷ 亿元 is 3×10³¹ 万元: more digits than Decimal's 28-digit context, where quantize() raised
    text = "达到3000000000000000000000000000亿元"
    target = parse_target(text)
    assert target == LevelTarget(text=text, value=Decimal("3E+31"), unit="万元")
    assert str(target.value) == "3" + "0" * 31  # written out in full, like every converted amount


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN"])
def test_a_value_without_digits_converts_to_itself(value: str) -> None:
    converted, unit = to_canonical(Decimal(value), "亿元")
    assert unit == "万元" and str(converted) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("同比增长6%", RateTarget(text="同比增长6%", value=Decimal(6), bound="at_least")),
        ("比上年增长6%左右", RateTarget(text="比上年增长6%左右", value=Decimal(6), bound="about")),
        ("较上年下降3%", RateTarget(text="较上年下降3%", value=Decimal(-3), bound="at_most")),
        (
            "增长6%以上，力争7%",
            RateTarget(text="增长6%以上，力争7%", value=Decimal(6), bound="at_least", stretch=Decimal(7)),
        ),
        (
            "增长6.5%左右、力争7%",  # an enumeration comma before 力争, as some reports write it
            RateTarget(text="增长6.5%左右、力争7%", value=Decimal("6.5"), bound="about", stretch=Decimal(7)),
        ),
        (
            "6.5%左右，力争增长7%以上",
            RateTarget(text="6.5%左右，力争增长7%以上", value=Decimal("6.5"), bound="about", stretch=Decimal(7)),
        ),
        ("与经济增长同步", RelativeTarget(text="与经济增长同步", reference="经济增长", bound="in_step")),
        ("与经济增长基本同步", RelativeTarget(text="与经济增长基本同步", reference="经济增长", bound="in_step")),
        (
            "居民收入增长与经济增长同步",
            RelativeTarget(text="居民收入增长与经济增长同步", reference="经济增长", bound="in_step"),
        ),
        ("地区生产总值增长6%以上", RateTarget(text="地区生产总值增长6%以上", value=Decimal(6), bound="at_least")),
        ("增长6%以上", RateTarget(text="增长6%以上", value=Decimal(6), bound="at_least")),  # text as written
        (" 增长6％以上 ", RateTarget(text=" 增长6％以上 ", value=Decimal(6), bound="at_least")),
        # a fall bounded, about, or counted as 减少; a rate brought down to a level
        ("下降3%以内", RateTarget(text="下降3%以内", value=Decimal(-3), bound="at_least")),
        ("下降3%左右", RateTarget(text="下降3%左右", value=Decimal(-3), bound="about", ceiling=True)),
        ("减少2%", RateTarget(text="减少2%", value=Decimal(-2), bound="at_most")),
        ("控制在5.5%左右", RateTarget(text="控制在5.5%左右", value=Decimal("5.5"), bound="about", ceiling=True)),
        ("下降至2%", RateTarget(text="下降至2%", value=Decimal(2), bound="at_most")),
        ("降至5%以内", RateTarget(text="降至5%以内", value=Decimal(5), bound="at_most")),
        ("1,000亿元以上", CumulativeTarget(text="1,000亿元以上", value=Decimal(10_000_000), unit="万元")),
        ("300,000万元", CumulativeTarget(text="300,000万元", value=Decimal(300_000), unit="万元")),
    ],
)
def test_wordings_of_real_plans_parse_and_keep_their_text(text: str, expected: object) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("地区生产总值增长6.5%-7%", "6.5", "7"),
        ("地区生产总值增长6.5%—7%", "6.5", "7"),
        ("增长6.5～7%", "6.5", "7"),
        ("GDP同比增长6.5%到7%", "6.5", "7"),
        ("比上年增长6%至6.5%左右", "6", "6.5"),
        ("单位地区生产总值能耗下降2%—3%", "-3", "-2"),  # a fall: growth between -3% and -2%
    ],
)
def test_a_range_may_carry_the_indicators_name_and_verb(text: str, low: str, high: str) -> None:
    assert parse_target(text) == RangeTarget(text=text, low=Decimal(low), high=Decimal(high))


@pytest.mark.parametrize("text", ["增长7%-6.5%", "地区生产总值增长7%—6%"])
def test_a_range_written_high_first_is_refused_saying_so(text: str) -> None:
    with pytest.raises(TargetTextError) as info:
        parse_target(text)
    assert repr(text) in str(info.value) and "lower one" in str(info.value)


@pytest.mark.parametrize(
    ("text", "value", "bound"),
    [
        ("居民人均可支配收入增长6%左右，与经济增长基本同步", "6", "about"),
        ("城乡居民收入增长6.5%，保持与经济增长同步", "6.5", "at_least"),
    ],
)
def test_a_figure_followed_by_in_step_is_judged_on_the_figure(text: str, value: str, bound: str) -> None:
    # the figure is what the plan can be held to each period; the in-step clause is printed
    assert parse_target(text) == RateTarget(text=text, value=Decimal(value), bound=bound)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("增长6%以上，高于全省平均水平", RateTarget(text="增长6%以上，高于全省平均水平", value=Decimal(6))),
        (
            "增长6%以上，力争7%，快于全市平均增速",
            RateTarget(text="增长6%以上，力争7%，快于全市平均增速", value=Decimal(6), stretch=Decimal(7)),
        ),
        (
            "高于全省平均水平",
            RelativeTarget(text="高于全省平均水平", reference="全省平均水平"),
        ),  # no figure: the comparison
    ],
)
def test_a_comparison_after_a_figure_is_printed_not_judged(text: str, expected: object) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("地区生产总值增长6%（可比价）", RateTarget(text="地区生产总值增长6%（可比价）", value=Decimal(6))),
        (
            "全社会固定资产投资增长8%左右(不含农户)",
            RateTarget(text="全社会固定资产投资增长8%左右(不含农户)", value=Decimal(8), bound="about"),
        ),
        (
            "增长6%以上（力争7%）",  # a bracketed 力争 figure is the stretch
            RateTarget(text="增长6%以上（力争7%）", value=Decimal(6), stretch=Decimal(7)),
        ),
        ("增长5%左右。", RateTarget(text="增长5%左右。", value=Decimal(5), bound="about")),
        (
            "城镇新增就业1万人（含农村劳动力转移）",
            CumulativeTarget(text="城镇新增就业1万人（含农村劳动力转移）", value=Decimal(10_000), unit="人"),
        ),
    ],
)
def test_a_note_in_brackets_and_a_closing_stop_are_printed_not_judged(text: str, expected: object) -> None:
    assert parse_target(text) == expected
    assert "（" not in named_subject(text) and "(" not in named_subject(text)


@pytest.mark.parametrize("text", ["（待定）", "出口增长3%，进口增长2%", "新开工项目30个、竣工项目20个"])
def test_a_note_alone_or_two_targets_in_one_wording_are_refused(text: str) -> None:
    with pytest.raises(TargetTextError) as info:
        parse_target(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("text", "figures", "structure"),
    [
        ("出口增长3%，进口增长2%", "3%、2%", {"form": "rate", "value": 3}),
        ("新开工项目30个、竣工项目20个", "30个、20个", {"form": "cumulative", "value": 30, "unit": "个"}),
        ("地区生产总值达到500亿元，增长6%", "500亿元、6%", {"form": "cumulative", "value": 500, "unit": "亿元"}),
    ],
)
def test_two_figures_in_one_wording_are_named_with_the_structure_to_write(
    text: str, figures: str, structure: dict[str, object]
) -> None:
    """The message's example, written in a plan, is a target that keeps the wording."""
    with pytest.raises(TargetTextError, match=f"gives several figures \\({figures}\\)") as info:
        parse_target(text)
    example = yaml.safe_load(str(info.value).rsplit("e.g. ", 1)[1])
    assert example == {**structure, "bound": "at_least", "text": text}
    assert TypeAdapter(TargetSpec).validate_python(example).text == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("低于4%", RateTarget(text="低于4%", value=Decimal(4), bound="at_most")),
        ("小于3%", RateTarget(text="小于3%", value=Decimal(3), bound="at_most")),
        ("城镇调查失业率低于5.5%", RateTarget(text="城镇调查失业率低于5.5%", value=Decimal("5.5"), bound="at_most")),
        ("高于5%", RateTarget(text="高于5%", value=Decimal(5), bound="at_least")),
        ("死亡人数少于10人", LevelTarget(text="死亡人数少于10人", value=Decimal(10), unit="人", bound="at_most")),
        # a floor written with 不: not a ceiling though it ends in 低于/少于, and not a comparison
        ("耕地保有量不低于25万亩", CumulativeTarget(text="耕地保有量不低于25万亩", value=Decimal(25), unit="万亩")),
        ("新增就业不少于1000人", CumulativeTarget(text="新增就业不少于1000人", value=Decimal(1000), unit="人")),
        ("稳定增长", QualitativeTarget(text="稳定增长")),
        ("实现两位数增长", RateTarget(text="实现两位数增长", value=Decimal(10), bound="at_least")),
        ("与上年持平", RateTarget(text="与上年持平", value=Decimal(0), bound="at_least")),  # flat or better
        ("能耗基本持平", RateTarget(text="能耗基本持平", value=Decimal(0), bound="at_least")),
        ("突破1000亿元大关", LevelTarget(text="突破1000亿元大关", value=Decimal(10_000_000), unit="万元")),
        ("工业投资两位数增长", RateTarget(text="工业投资两位数增长", value=Decimal(10), bound="at_least")),
    ],
)
def test_below_and_above_a_figure_are_a_ceiling_and_a_floor(text: str, expected: object) -> None:
    assert parse_target(text) == expected


def test_below_a_figure_names_the_indicator_before_it_not_the_word() -> None:
    assert named_subject("城镇调查失业率低于5.5%") == "城镇调查失业率"
    assert named_subject("低于4%") == ""
    assert named_subject("工业投资实现两位数增长") == "工业投资"
    assert named_subject("能耗基本持平") == "能耗"
    assert named_subject("地区生产总值增长6", "%") == "地区生产总值"  # read with its unit, as with_unit reads it
    assert named_subject("城乡居民收入比缩小到2.1以内", "倍") == ""  # an amount's words are its own


@pytest.mark.parametrize("text", ["2.1以内", "城乡居民收入比缩小到2.1以内", "300以上"])
def test_a_figure_with_a_bound_and_no_unit_is_refused_asking_for_one(text: str) -> None:
    with pytest.raises(TargetTextError) as info:  # not read with 以内 as its unit
        parse_target(text)
    assert repr(text) in str(info.value) and "without a unit" in str(info.value)


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        (
            "城乡居民收入比缩小到2.1以内",
            "倍",
            LevelTarget(text="城乡居民收入比缩小到2.1以内", value=Decimal("2.1"), unit="倍", bound="at_most"),
        ),
        ("增长6", "%", RateTarget(text="增长6", value=Decimal(6), bound="at_least")),
        ("300以上", "亿元", CumulativeTarget(text="300以上", value=Decimal(3_000_000), unit="万元")),
        ("5.5以内", "%", RateTarget(text="5.5以内", value=Decimal("5.5"), bound="at_most")),
        ("7", "%", None),  # a bare number: bare_target's
        ("6.5%左右", "%", None),  # a figure with its unit
        ("高于GDP增速1", "%", None),  # a comparison's margin is in 个百分点, not the indicator's unit
        ("缩小到2.1以内", "", None),
    ],
)
def test_a_figure_without_a_unit_takes_the_indicators(text: str, unit: str, expected: object) -> None:
    assert with_unit(text, unit) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("地区生产总值增长6%以上", "地区生产总值"),
        ("GDP同比增长6%", "GDP"),
        ("居民收入增长与经济增长同步", "居民收入增长"),
        ("地区生产总值增长6%以上，力争7%", "地区生产总值"),
        ("地区生产总值增长6.5%左右，力争更好结果", "地区生产总值"),
        ("地区生产总值实现增长6%左右", "地区生产总值"),  # how, not what: 实现, 稳定在, 全年 are no names
        ("森林覆盖率稳定在55%以上", "森林覆盖率"),
        ("全年增长6%", ""),
        ("确保增长6%以上", ""),
        ("进出口总额正增长", "进出口总额"),
        ("地区生产总值增幅6%以上", "地区生产总值"),  # 增幅: growth, as 增长
        ("地区生产总值增长6.5%-7%", "地区生产总值"),  # a range's name is checked as a rate's
        ("单位地区生产总值能耗下降2%—3%", "单位地区生产总值能耗"),
        ("居民人均可支配收入增长6%左右，与经济增长基本同步", "居民人均可支配收入"),
        ("增长6%以上", ""),
        ("高于GDP增速", ""),
        ("新开工工业项目80个", ""),  # an amount's words are its own, not checked against the name
        # how the figure is counted is no name: 同口径, 按可比价, 比…同期, 实际 and 计划 after a name
        ("同口径增长3%", ""),
        ("一般公共预算收入同口径增长3%", "一般公共预算收入"),
        ("按可比价格计算增长6%", ""),
        ("比上年同期增长5%", ""),
        ("较2024年增长5%", ""),
        ("地区生产总值实际增长6%", "地区生产总值"),
        ("计划增长5%", ""),
        ("实际利用外资增长5%", "实际利用外资"),  # at the start, 实际 and 计划 belong to the name
        ("计划投资增长5%", "计划投资"),
    ],
)
def test_the_words_before_the_figure_are_found(text: str, named: str) -> None:
    assert named_subject(text) == named


@pytest.mark.parametrize("text", ["增长6%以上，力争5%", "增长6%以上，力争6%", "5.5%以内，力争5%"])
def test_a_stretch_not_above_its_floor_is_refused(text: str) -> None:
    with pytest.raises((TargetTextError, ValueError)) as info:
        parse_target(text)
    assert repr(text) in str(info.value)


def test_a_bare_number_outside_a_plan_asks_for_its_unit() -> None:
    with pytest.raises(TargetTextError) as info:
        parse_target("7")
    assert "bare number" in str(info.value) and "'7%'" in str(info.value)


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("7", "%", RateTarget(text="7", value=Decimal(7), bound="at_least")),
        ("300", "亿元", CumulativeTarget(text="300", value=Decimal(3_000_000), unit="万元")),
        ("1.2", "万人", CumulativeTarget(text="1.2", value=Decimal(12_000), unit="人")),
        ("80", "个", CumulativeTarget(text="80", value=Decimal(80), unit="个")),
    ],
)
def test_a_bare_number_takes_the_indicators_unit(text: str, unit: str, expected: object) -> None:
    assert bare_target(text, unit) == expected


def test_new_fields_stay_out_of_the_stored_form_while_unset() -> None:
    # a plan stored before them keeps its digest, and with it its plan.published event id
    assert "stretch" not in parse_target("增长6%以上").model_dump_json()
    assert "tolerance" not in parse_target("高于GDP增速").model_dump_json()
    assert '"by"' not in parse_target("高于GDP增速").model_dump_json()
    assert '"stretch":"7"' in parse_target("增长6%以上，力争7%").model_dump_json()


@pytest.mark.parametrize(
    ("text", "change", "bound"),
    [
        ("提高1个百分点", "1", "at_least"),
        ("常住人口城镇化率提高1.2个百分点以上", "1.2", "at_least"),
        ("比上年提升0.5个百分点左右", "0.5", "about"),
        ("提高一个百分点", "1", "at_least"),
        ("提高半个百分点", "0.5", "at_least"),
        ("下降0.2个百分点", "-0.2", "at_most"),  # the level at most last year's less 0.2
        ("降低0.3个百分点以上", "-0.3", "at_most"),
        ("上升控制在0.5个百分点以内", None, None),  # not a form the grammar knows
        ("下降不超过1个百分点", None, None),
        ("上升0.5个百分点以内", "0.5", "at_most"),  # a rise capped
        ("下降1个百分点以内", "-1", "at_least"),  # a fall limited: the level at least last year's less 1
    ],
)
def test_a_move_in_points_needs_last_years_level(text: str, change: str | None, bound: str | None) -> None:
    with pytest.raises(TargetTextError) as info:
        parse_target(text)
    if change is None:
        assert "does not match any known form" in str(info.value)
        return
    assert "baseline" in str(info.value) and repr(text) in str(info.value)
    target = TypeAdapter(TargetSpec).validate_python({"text": text, "baseline": "61.6"})
    assert target == PointsTarget(text=text, change=Decimal(change), bound=bound, baseline=Decimal("61.6"))
    assert target.level == Decimal("61.6") + Decimal(change)


def test_a_wording_with_fields_of_its_own_is_parsed_and_the_fields_checked() -> None:
    adapter = TypeAdapter(TargetSpec)
    assert adapter.validate_python({"text": "6.5%左右", "tolerance": "0.3"}) == RateTarget(
        text="6.5%左右", value=Decimal("6.5"), bound="about", tolerance=Decimal("0.3")
    )
    for given, where, reason in [
        ({"text": "提高1个百分点"}, (), "last year's level"),
        ({"text": "提高1个百分点", "baseline": "x"}, ("points", "baseline"), "valid decimal"),
        ({"text": "6.5%左右", "baseline": 1}, ("rate", "baseline"), "Extra inputs"),
        ({"text": "比去年好", "baseline": 1}, (), "does not match any known form"),
    ]:
        with pytest.raises(ValidationError) as info:
            adapter.validate_python(given)
        [error] = info.value.errors()
        assert error["loc"] == where and reason in error["msg"]


def test_the_words_before_a_move_in_points_name_the_indicator() -> None:
    assert named_subject("常住人口城镇化率提高1个百分点") == "常住人口城镇化率"
    assert named_subject("比上年下降0.2个百分点") == ""


@pytest.mark.parametrize(
    ("text", "reference", "bound", "by"),
    [
        ("高于GDP增速1个百分点", "GDP", "above", "1"),
        ("居民收入增速高于经济增速0.5个百分点以上", "经济", "above", "0.5"),
        ("增速高于全市平均水平一个百分点", "全市平均水平", "above", "1"),
        ("不低于全国平均水平2个百分点", "全国平均水平", "not_below", "2"),
        ("增速快于全省平均水平", "全省平均水平", "above", None),  # 快于 is 高于
        ("超过全市平均水平", "全市平均水平", "above", None),  # and so is 超过
        ("增速超过GDP增速1个百分点", "GDP", "above", "1"),
    ],
)
def test_a_comparison_may_ask_for_a_margin_in_points(text: str, reference: str, bound: str, by: str | None) -> None:
    expected = RelativeTarget(text=text, reference=reference, bound=bound, by=Decimal(by) if by else None)
    assert parse_target(text) == expected


def test_a_margin_of_nought_points_or_one_for_in_step_is_refused() -> None:
    with pytest.raises(TargetTextError, match="says nothing"):
        parse_target("高于GDP增速0个百分点")
    with pytest.raises(ValidationError, match="not in_step"):
        TypeAdapter(TargetSpec).validate_python(
            {"form": "relative", "text": "与GDP同步", "reference": "gdp", "bound": "in_step", "by": 1}
        )
