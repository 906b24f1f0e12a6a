"""evaluate(target, observations, as_of): every form, both directions, boundaries, gaps in data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from events.periods import period_end
from events.plan import Indicator, ProgressBands, RateBands, Thresholds
from events.targets import (
    CumulativeTarget,
    LevelTarget,
    PointsTarget,
    QualitativeTarget,
    RangeTarget,
    RateTarget,
    RelativeTarget,
    parse_target,
)
from projections.evaluate import evaluate, time_progress
from projections.state import Observation

JUNE = date(2025, 6, 30)


def obs(period: str, value: str, qualifier: str = "exact", position: str = "1-0", **kw) -> dict[str, Observation]:
    return {period: Observation(period, Decimal(value), qualifier, position=position, **kw)}


def judge(text: str, value: str, as_of: date = JUNE, period: str = "2025-06", **kw):
    return evaluate(parse_target(text), obs(period, value), as_of, **kw)


@pytest.mark.parametrize(
    ("text", "value", "status", "display"),
    [
        ("8.0%", "8.0", "on_track", "完成"),  # exactly on target
        ("8.0%", "12.9", "on_track", "+4.9个百分点"),
        ("8.0%", "7.9", "at_risk", "-0.1个百分点"),
        ("8.0%", "6.0", "at_risk", "-2.0个百分点"),  # on the off-track edge: 2.0 behind is not more than 2
        ("8.0%", "5.9", "off_track", "-2.1个百分点"),
        ("6.5%左右", "5.5", "at_risk", "-1.0个百分点"),
        ("24.6%", "2.5", "off_track", "-22.1个百分点"),
        ("3.0%", "-33.3", "off_track", "-36.3个百分点"),
        ("5.5%以内", "5.5", "on_track", "完成"),  # at most: on the cap
        ("5.5%以内", "4.9", "on_track", "完成"),  # respected
        ("5.5%以内", "5.8", "at_risk", "-0.3个百分点"),  # over the cap is behind
        ("5.5%以内", "8.0", "off_track", "-2.5个百分点"),
        ("下降5%", "-6", "on_track", "完成"),
        ("下降5%", "-3", "at_risk", "-2.0个百分点"),
    ],
)
def test_rate_targets(text: str, value: str, status: str, display: str) -> None:
    result = judge(text, value)
    assert (result.status, result.deviation_text) == (status, display)


def test_rate_met_at_year_end() -> None:
    assert judge("8.0%", "8.3", date(2025, 12, 31), "2025").status == "met"


def test_about_tolerance_edge() -> None:
    bands = Thresholds(rate=RateBands(about_tolerance=Decimal("0.5")))
    assert judge("6.5%左右", "6.0", thresholds=bands).status == "on_track"  # exactly on the tolerance edge
    assert judge("6.5%左右", "5.9", thresholds=bands).status == "at_risk"
    assert judge("6.5%左右", "6.0", thresholds=bands).deviation_text == "-0.5个百分点"


def test_observed_bound_is_shown_as_published() -> None:
    result = evaluate(parse_target("5.5%以内"), obs("2025-Q2", "5.5", "at_most"), JUNE)
    assert (result.actual_text, result.deviation_text, result.status) == ("5.5%以内", "完成", "on_track")


def test_at_most_and_mirrored_at_least_agree() -> None:
    for value in ("4.0", "5.5", "5.6", "7.6", "9"):
        cap = evaluate(RateTarget(text="x", value=Decimal("5.5"), bound="at_most"), obs("2025-06", value), JUNE)
        floor = evaluate(RateTarget(text="x", value=Decimal("-5.5")), obs("2025-06", f"-{value}"), JUNE)
        assert cap.status == floor.status and cap.deviation == floor.deviation


@pytest.mark.parametrize(
    ("value", "status", "display"),
    [
        ("4.7", "on_track", "完成"),
        ("4.5", "on_track", "完成"),
        ("5.0", "on_track", "完成"),
        ("4.3", "at_risk", "-0.2个百分点"),
        ("5.4", "at_risk", "-0.4个百分点"),
    ],
)
def test_range_target(value: str, status: str, display: str) -> None:
    result = evaluate(RangeTarget(text="4.5%—5%", low=Decimal("4.5"), high=Decimal(5)), obs("2025-06", value), JUNE)
    assert (result.status, result.deviation_text) == (status, display)


@pytest.mark.parametrize(
    ("text", "better", "value", "default", "beyond_met"),
    [
        ("增长6.5%-7%", "higher", "7.5", ("at_risk", "-0.5个百分点"), ("met", "+0.5个百分点")),
        ("增长6.5%-7%", "higher", "6.0", ("at_risk", "-0.5个百分点"), ("at_risk", "-0.5个百分点")),  # short: still
        ("增长6.5%-7%", "higher", "6.8", ("on_track", "完成"), ("on_track", "完成")),
        ("增长2%-3%", "lower", "1.5", ("at_risk", "-0.5个百分点"), ("met", "+0.5个百分点")),  # below: better
        ("增长2%-3%", "lower", "3.5", ("at_risk", "-0.5个百分点"), ("at_risk", "-0.5个百分点")),
        ("下降2%—3%", "higher", "-4", ("at_risk", "-1.0个百分点"), ("met", "+1.0个百分点")),  # a fall: more is better
        ("下降2%—3%", "higher", "-1", ("at_risk", "-1.0个百分点"), ("at_risk", "-1.0个百分点")),
    ],
)
def test_past_a_range_on_its_better_side_is_met_where_the_plan_says_so(
    text: str, better: str, value: str, default: tuple[str, str], beyond_met: tuple[str, str]
) -> None:
    indicator = Indicator(
        id="x", name="数值", unit="%", department="stats", frequency="monthly", order=1, target=text, better=better
    )
    target = indicator.judged_target(indicator.target)
    for thresholds, expected in ((Thresholds(), default), (Thresholds(rate=RateBands(range_beyond="met")), beyond_met)):
        result = evaluate(target, obs("2025-06", value), JUNE, thresholds=thresholds)
        assert (result.status, result.deviation_text) == expected


def test_relative_target_uses_the_reference_for_the_same_period() -> None:
    target = RelativeTarget(text="高于GDP增速", reference="GDP")
    gdp = {**obs("2025-Q1", "5.8", position="1-0"), **obs("2025-Q2", "5.5", position="2-0")}
    below = evaluate(target, obs("2025-Q2", "4.7"), JUNE, reference_id="gdp", reference_observations=gdp)
    assert (below.deviation_text, below.status, below.reference_value) == ("-0.8个百分点", "at_risk", Decimal("5.5"))
    above = evaluate(target, obs("2025-Q2", "5.9"), JUNE, reference_observations=gdp)
    assert (above.deviation_text, above.status) == ("+0.4个百分点", "on_track")
    level = evaluate(target, obs("2025-Q2", "5.5"), JUNE, reference_observations=gdp)
    assert (level.deviation_text, level.status) == ("持平", "at_risk")  # 高于 means strictly above
    missing = evaluate(target, obs("2025-Q2", "4.7"), JUNE, reference_observations={})
    assert (missing.status, missing.deviation_text, missing.actual_text) == ("no_data", "-", "4.7%")


@pytest.mark.parametrize(
    ("value", "status", "display"),
    [
        ("6.5", "on_track", "完成"),  # exactly the margin above: reached (高于…1个百分点 asks at least 1)
        ("6.9", "on_track", "+0.4个百分点"),
        ("6.0", "at_risk", "-0.5个百分点"),  # above the reference, but by less than the margin
        ("3.0", "off_track", "-3.5个百分点"),
    ],
)
def test_relative_target_with_a_margin_counts_from_the_margin(value: str, status: str, display: str) -> None:
    target = parse_target("高于GDP增速1个百分点")
    gdp = obs("2025-Q2", "5.5", position="1-0")
    result = evaluate(target, obs("2025-Q2", value, position="2-0"), JUNE, reference_observations=gdp)
    assert (result.status, result.deviation_text, result.reference_value) == (status, display, Decimal("5.5"))


@pytest.mark.parametrize(
    ("value", "period", "status", "display"),
    [
        ("0.3", "2025-06", "on_track", "+0.3个百分点"),
        ("0.3", "2025-12", "met", "+0.3个百分点"),
        ("0.0", "2025-06", "at_risk", "持平"),  # flat is not 正增长
        ("0.0", "2025-12", "at_risk", "持平"),
        ("-3.0", "2025-12", "off_track", "-3.0个百分点"),
    ],
)
def test_positive_growth_asks_for_growth_above_nought(value: str, period: str, status: str, display: str) -> None:
    result = judge("进出口总额实现正增长", value, as_of=period_end(period), period=period)
    assert (result.status, result.deviation_text) == (status, display)


def test_time_progress() -> None:
    assert time_progress(date(2025, 6, 30), 2025) == 50
    assert time_progress(date(2025, 6, 29), 2025) == Decimal(500) / 12
    assert time_progress(date(2024, 12, 31), 2025) == 0 and time_progress(date(2026, 1, 5), 2025) == 100


@pytest.mark.parametrize(
    ("value", "status", "display"),
    [
        ("7013", "on_track", "+20.1个百分点"),
        ("5000", "on_track", "完成"),
        ("4001", "on_track", "-10.0个百分点"),
        ("3999", "at_risk", "-10.0个百分点"),
        ("2000", "at_risk", "-30.0个百分点"),
        ("1999", "off_track", "-30.0个百分点"),
        ("10000", "met", "完成"),
        ("12000", "met", "完成"),
    ],
)
def test_cumulative_against_time_progress_points(value: str, status: str, display: str) -> None:
    result = evaluate(
        CumulativeTarget(text="1万人以上", value=Decimal(10000), unit="人"), obs("2025-06", value), JUNE, unit="人"
    )
    assert (result.status, result.deviation_text) == (status, display)
    assert result.time_progress == 50


@pytest.mark.parametrize(("value", "status"), [("4000", "on_track"), ("3999", "at_risk"), ("2999", "off_track")])
def test_cumulative_ratio_mode(value: str, status: str) -> None:
    wuhan = Thresholds(progress=ProgressBands(mode="ratio", at_risk=Decimal(80), off_track=Decimal(60)))
    result = evaluate(
        CumulativeTarget(text="x", value=Decimal(10000), unit="人"),
        obs("2025-06", value),
        JUNE,
        thresholds=wuhan,
        unit="人",
    )
    assert result.status == status


def test_money_is_shown_as_the_report_does() -> None:
    target = CumulativeTarget(text="300亿元以上", value=Decimal(3_000_000), unit="万元")
    assert evaluate(target, obs("2025-06", "1633000"), JUNE, unit="万元").actual_text == "163.3亿元"
    assert evaluate(target, obs("2025-06", "5800"), JUNE, unit="万元").actual_text == "5800万元"


def test_level_without_baseline_is_due_at_year_end() -> None:
    target = LevelTarget(text="达到270家", value=Decimal(270), unit="家")
    mid = evaluate(target, obs("2025-Q2", "249"), JUNE, unit="家")
    assert (mid.status, mid.actual_text, mid.deviation_text) == ("not_due", "249家", "-")
    end = evaluate(target, obs("2025", "262"), date(2025, 12, 31), unit="家")
    assert (end.status, end.deviation_text) == ("off_track", "-8家")
    assert evaluate(target, obs("2025", "270"), date(2025, 12, 31), unit="家").status == "met"


def test_level_with_baseline_is_judged_against_time_progress() -> None:
    target = LevelTarget(text="达到270家", value=Decimal(270), unit="家", baseline=Decimal(230))
    result = evaluate(target, obs("2025-Q2", "249"), JUNE, unit="家")
    assert result.completion == Decimal("47.5") and result.status == "on_track"


def test_annual_indicator_mid_year_is_not_due_and_later_no_data() -> None:
    target = parse_target("29万吨左右")
    assert evaluate(target, {}, JUNE, frequency="annual").status == "not_due"
    assert evaluate(target, {}, date(2026, 1, 31), year=2025, frequency="annual").status == "no_data"
    assert evaluate(parse_target("8.0%"), {}, JUNE, frequency="monthly").deviation_text == "-"


@pytest.mark.parametrize(
    ("change", "bound", "value", "as_of", "status", "display"),
    [
        ("1", "at_least", "62.6", JUNE, "met", "完成"),  # reached mid-year: met at once
        ("1", "at_least", "63.0", JUNE, "met", "+0.4个百分点"),
        ("1", "at_least", "62.0", JUNE, "not_due", "-0.6个百分点"),  # a level: judged when the year closes
        ("1", "at_least", "62.0", date(2026, 1, 31), "at_risk", "-0.6个百分点"),  # the year's value: the rate bands
        ("1", "at_least", "59.0", date(2026, 1, 31), "off_track", "-3.6个百分点"),
        ("-0.2", "at_most", "61.3", JUNE, "met", "完成"),  # a fall: at or below 61.4
        ("-0.2", "at_most", "61.6", date(2026, 1, 31), "at_risk", "-0.2个百分点"),
        ("1", "about", "62.2", date(2026, 1, 31), "met", "-0.4个百分点"),  # within the 0.5 tolerance
        ("1", "about", "62.0", date(2026, 1, 31), "at_risk", "-0.6个百分点"),
    ],
)
def test_a_move_in_points_is_judged_on_the_level_against_last_years(
    change: str, bound: str, value: str, as_of: date, status: str, display: str
) -> None:
    target = PointsTarget(text="提高1个百分点", change=Decimal(change), bound=bound, baseline=Decimal("61.6"))
    period = "2025-Q2" if as_of == JUNE else "2025-Q4"
    thresholds = Thresholds(
        rate=RateBands(at_risk_points=Decimal(0), off_track_points=Decimal(2), about_tolerance=Decimal("0.5"))
    )
    result = evaluate(target, obs(period, value), as_of, year=2025, frequency="quarterly", thresholds=thresholds)
    assert (result.status, result.deviation_text) == (status, display)


@pytest.mark.parametrize(
    ("text", "value", "status", "display"),
    [
        ("3%左右", "3.3", "on_track", "-0.3个百分点"),  # a ceiling: 0.3 over, within the 0.5 tolerance
        ("3%左右", "3.6", "at_risk", "-0.6个百分点"),
        ("3%左右", "2.0", "on_track", "+1.0个百分点"),  # below a ceiling is better
        ("5.5%", "5.8", "at_risk", "-0.3个百分点"),  # no direction in the wording: a ceiling
        ("5.5%", "5.0", "on_track", "完成"),
        ("5%以上", "4.0", "at_risk", "-1.0个百分点"),  # a floor written as one stays a floor
        ("5.5%以内", "5.8", "at_risk", "-0.3个百分点"),
    ],
)
def test_where_lower_is_better_a_rate_target_without_a_direction_is_a_ceiling(
    text: str, value: str, status: str, display: str
) -> None:
    indicator = Indicator(
        id="cpi",
        name="居民消费价格涨幅",
        unit="%",
        department="stats",
        frequency="monthly",
        order=1,
        target=text,
        better="lower",
    )
    thresholds = Thresholds(rate=RateBands(about_tolerance=Decimal("0.5")))
    result = evaluate(indicator.judged_target(indicator.target), obs("2025-06", value), JUNE, thresholds=thresholds)
    assert (result.status, result.deviation_text) == (status, display)
    higher = indicator.model_copy(update={"better": "higher"})
    assert higher.judged_target(higher.target) is higher.target


def test_qualitative_target_uses_the_annual_assessment() -> None:
    target = QualitativeTarget(text="下降达到“十四五”目标要求")
    yes = {"2025": Observation("2025", Decimal("-3.1"), assessment="met")}
    no = {"2025": Observation("2025", Decimal("-1.0"), assessment="not_met")}
    assert evaluate(target, yes, date(2026, 2, 1), year=2025, frequency="annual").deviation_text == "完成"
    assert evaluate(target, no, date(2026, 2, 1), year=2025, frequency="annual").status == "off_track"


def test_latest_period_by_as_of_and_a_correction_supersedes() -> None:
    observations = {
        "2025-03": Observation("2025-03", Decimal("12.0"), position="5-0"),
        "2025-05": Observation("2025-05", Decimal("13.1"), position="9-0", revision=2, previous=Decimal("12.6")),
    }
    assert evaluate(parse_target("8%"), observations, date(2025, 4, 30)).actual == Decimal("12.0")
    assert evaluate(parse_target("8%"), observations, date(2025, 5, 31)).actual == Decimal("13.1")
    assert evaluate(parse_target("8%"), observations, date(2025, 3, 30)).status == "no_data"


def test_other_years_are_ignored() -> None:
    assert evaluate(parse_target("8%"), obs("2024-12", "9.0"), JUNE, year=2025).status == "no_data"


@pytest.mark.parametrize(
    ("value", "tolerance", "status", "display"),
    [
        ("5.5", None, "on_track", "完成"),  # level with the reference is in step
        ("5.9", None, "on_track", "+0.4个百分点"),  # faster is in step too
        ("5.2", None, "at_risk", "-0.3个百分点"),  # no tolerance: any shortfall is behind
        ("5.2", Decimal("0.5"), "on_track", "-0.3个百分点"),  # within the tolerance below it
        ("4.8", Decimal("0.5"), "at_risk", "-0.7个百分点"),  # 0.2 beyond the tolerance
        ("2.9", Decimal("0.5"), "off_track", "-2.6个百分点"),  # 2.1 beyond it: more than off_track_points
    ],
)
def test_in_step_target_is_judged_within_its_tolerance_below_the_reference(
    value: str, tolerance: Decimal | None, status: str, display: str
) -> None:
    target = RelativeTarget(text="与经济增长同步", reference="经济增长", bound="in_step", tolerance=tolerance)
    result = evaluate(target, obs("2025-Q2", value), JUNE, reference_observations=obs("2025-Q2", "5.5"))
    assert (result.status, result.deviation_text, result.reference_value) == (status, display, Decimal("5.5"))


def test_in_step_tolerance_defaults_to_the_plans_about_tolerance() -> None:
    thresholds = Thresholds(rate=RateBands(about_tolerance=Decimal("0.5")))
    result = evaluate(
        parse_target("与经济增长同步"),
        obs("2025-Q2", "5.2"),
        JUNE,
        thresholds=thresholds,
        reference_observations=obs("2025-Q2", "5.5"),
    )
    assert result.status == "on_track"


def test_floor_and_stretch_is_judged_against_the_floor_and_carries_the_stretch() -> None:
    between = judge("增长6%以上，力争7%", "6.6")
    assert (between.status, between.deviation_text, between.stretch) == ("on_track", "+0.6个百分点", Decimal(7))
    below = judge("增长6%以上，力争7%", "5.5")
    assert (below.status, below.deviation_text) == ("at_risk", "-0.5个百分点")
    assert judge("增长6%以上", "6.6").stretch is None
