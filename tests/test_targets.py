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
