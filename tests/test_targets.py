"""The target grammar: the report's wording in, a structure out; nonsense is quoted back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from events.targets import (
    CumulativeTarget,
    LevelTarget,
    RangeTarget,
    RateTarget,
    RelativeTarget,
    TargetTextError,
    bare_target,
    named_subject,
    parse_target,
    to_canonical,
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
    ],
)
def test_report_wording_parses(text: str, expected: object) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["大约六个点", "高于", "比去年好", "%8", ""])
def test_unparseable_text_is_an_error_quoting_it(text: str) -> None:
    with pytest.raises(TargetTextError) as info:
        parse_target(text)
    assert repr(text) in str(info.value)


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
    ],
)
def test_wordings_of_real_plans_parse_and_keep_their_text(text: str, expected: object) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("地区生产总值增长6%以上", "地区生产总值"),
        ("GDP同比增长6%", "GDP"),
        ("居民收入增长与经济增长同步", "居民收入增长"),
        ("地区生产总值增长6%以上，力争7%", "地区生产总值"),
        ("增长6%以上", ""),
        ("高于GDP增速", ""),
        ("新开工工业项目80个", ""),  # an amount's words are its own, not checked against the name
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
    assert '"stretch":"7"' in parse_target("增长6%以上，力争7%").model_dump_json()
