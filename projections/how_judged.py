"""How each target is judged, in the words of a plan office (`planwatch plan check --targets`).

The grammar reads a plan's wording into a form (events/targets.py); this says back, in Chinese,
what that form means to `evaluate`, so the office can see that 完成市下达任务 is a qualitative
target, that 3%左右 of prices is a ceiling, or where a 百分点 move starts from, before the plan is
published; the read model carries the same sentence for the target in force (IndicatorDetail.judged_as).
Pure: the plan in, sentences out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from events.plan import MAIN_SECTION, Indicator, Plan
from events.targets import (
    CumulativeTarget,
    LevelTarget,
    PointsTarget,
    QualitativeTarget,
    RangeTarget,
    RateTarget,
    RelativeTarget,
    Target,
    as_ceiling,
)
from projections import formatting as fmt


@dataclass(frozen=True)
class SaidBack:
    """One indicator's target as the plan office checks it: 指标 ｜ 全年目标 ｜ 考核方式, and a hint."""

    indicator: Indicator
    sentence: str  # how_judged
    hint: str | None  # direction_hint


def targets_said_back(plan: Plan) -> list[tuple[str, list[SaidBack]]]:
    """Every indicator's target said back, section by section in the plan's order (the main table
    first): what `plan check --targets` prints and the dashboard's draft page shows."""
    sections: dict[str, list[SaidBack]] = {MAIN_SECTION: []}
    for indicator in plan.indicators:
        sections.setdefault(indicator.section, [])
    for indicator in plan.indicators:
        said = SaidBack(indicator, how_judged(plan, indicator, indicator.target), direction_hint(indicator))
        sections[indicator.section].append(said)
    return [
        (section, sorted(rows, key=lambda said: said.indicator.order)) for section, rows in sections.items() if rows
    ]


def how_judged(plan: Plan, indicator: Indicator, target: Target | None) -> str:
    """One sentence: what `target` (the plan's, or a revision in force) asks of the indicator's
    values, as `evaluate` judges it."""
    target = indicator.judged_target(target)
    if target is None:
        return "仅监测，不考核"
    subject = "同比增速" if indicator.judged_on_growth(target) else "数值"
    tolerance = plan.thresholds.rate.about_tolerance
    return _sentence(plan, target, subject, tolerance)


# Names of indicators that are usually better lower: a hint, never a judgement (the plan says).
_USUALLY_LOWER = ("失业率", "价格", "物价", "CPI", "能耗", "排放", "浓度", "负债率", "死亡率", "事故", "发病率")


def direction_hint(indicator: Indicator) -> str | None:
    """A note for the plan office when an indicator's name suggests lower is better, its plan does
    not say so, and its target's wording sets no direction (so it is judged as a floor)."""
    target = indicator.target
    if indicator.better == "lower" or not isinstance(target, RateTarget) or target.bound == "at_most":
        return None
    if as_ceiling(target) == target or not any(word in indicator.name for word in _USUALLY_LOWER):
        # == and not `is`: as_ceiling is cached, and hands back an equal target an earlier plan gave it
        return None  # the wording names its direction, or the name does not suggest one
    return f"提示：{indicator.name}通常越低越好；如是，请在计划中为该指标加 better: lower，目标将按上限判断"


def _sentence(plan: Plan, target: Target, subject: str, tolerance: Decimal) -> str:
    if isinstance(target, RateTarget):
        return _rate(target, subject, target.tolerance if target.tolerance is not None else tolerance)
    if isinstance(target, RangeTarget):
        return _range(target, subject, plan.thresholds.rate.range_beyond == "met")
    if isinstance(target, RelativeTarget):
        return _relative(plan, target, subject, target.tolerance if target.tolerance is not None else tolerance)
    if isinstance(target, CumulativeTarget):
        about = "左右" if target.bound == "about" else ""
        return f"全年累计{fmt.amount(target.value, target.unit)}{about}，按序时进度考核"
    if isinstance(target, LevelTarget):
        return _level(target, tolerance)
    if isinstance(target, PointsTarget):
        return _points(target, tolerance)
    if isinstance(target, QualitativeTarget):
        return "定性目标，按年度考核结论（完成/未完成）判断"
    raise TypeError(f"unknown target form {type(target).__name__}")  # pragma: no cover


def _rate(target: RateTarget, subject: str, tolerance: Decimal) -> str:
    value = f"{fmt.plain(target.value)}%"
    if target.bound == "at_most":
        said = f"每期{subject}不高于{value}"
    elif target.bound == "about" and target.ceiling:
        said = f"每期{subject}{value}左右，越低越好{_leeway('高出', tolerance, '个百分点')}"
    elif target.bound == "about":
        said = f"每期{subject}{value}左右{_leeway('低于', tolerance, '个百分点')}"
    else:
        said = f"每期{subject}{'高于' if target.strictly else '不低于'}{value}"
    if target.stretch is not None:
        said += f"；力争{fmt.plain(target.stretch)}%，只展示不考核"
    return said


def _range(target: RangeTarget, subject: str, beyond_met: bool) -> str:
    if target.high < 0:  # 下降2%—3%
        said = f"每期{subject}下降{fmt.plain(-target.high)}%至{fmt.plain(-target.low)}%之间"
        better = f"降幅超过{fmt.plain(-target.low)}%"
    else:
        said = f"每期{subject}在{fmt.plain(target.low)}%至{fmt.plain(target.high)}%之间"
        better = f"低于{fmt.plain(target.low)}%" if target.lower_is_better else f"高于{fmt.plain(target.high)}%"
    return said + (f"，{better}也算完成" if beyond_met else f"，{better}亦为偏离")


def _leeway(side: str, tolerance: Decimal, unit: str) -> str:
    """What 左右 forgives: the plan's (or the target's) tolerance, or nothing."""
    if tolerance == 0:
        return "（计划未设允许偏差）"
    return f"（{side}不超过{fmt.plain(tolerance)}{unit}仍算完成）"


def _relative(plan: Plan, target: RelativeTarget, subject: str, tolerance: Decimal) -> str:
    reference = plan.resolve_reference(target.reference)
    named = plan.indicator(reference) if reference else None
    other = f"{named.name}同期" if named is not None else f"{target.reference}同期"
    if target.bound == "in_step":
        return f"每期{subject}与{other}同步，低于不超过{fmt.plain(tolerance)}个百分点"
    by = f"至少{fmt.plain(target.by)}个百分点" if target.by is not None else ""
    return f"每期{subject}{'高于' if target.bound == 'above' else '不低于'}{other}{by}"


def _level(target: LevelTarget, tolerance: Decimal) -> str:
    value = fmt.amount(target.value, target.unit)
    if target.baseline is not None:
        start = fmt.amount(target.baseline, target.unit)
        return f"年末达到{value}，自年初{start}起按序时进度考核"
    if target.bound == "at_most":
        return f"不超过{value}，未超过即完成，超过则年末考核"
    if target.bound == "about":
        return f"年末{value}左右{_leeway('低于', tolerance, target.unit)}，达到即完成，否则年末考核"
    return f"年末达到{value}，达到即完成，否则年末考核"


def _points(target: PointsTarget, tolerance: Decimal) -> str:
    move = f"{'提高' if target.change >= 0 else '下降'}{fmt.plain(abs(target.change))}个百分点"
    level = f"{fmt.plain(target.level)}%"
    start = f"比上年{fmt.plain(target.baseline)}%{move}"
    if target.bound == "about":
        return f"{start}左右，即{level}左右{_leeway('低于', tolerance, '个百分点')}，达到即完成，否则年末考核"
    limit = "不高于" if target.bound == "at_most" else "不低于"
    return f"{start}，即{limit}{level}，达到即完成，否则年末考核"
