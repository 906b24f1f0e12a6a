"""Judging one target: `evaluate(target, observations, as_of)`. Pure; no I/O, no clock.

Status (met / on_track / at_risk / off_track / not_due / no_data) is the judgement; the display
text is what the report's 与目标± column prints. `deviation` is in 个百分点 and signed so that
positive is better than required, for every form:

* rate, about, at least — actual − target;   at most (and a ceiling about) — target − actual (lower is
  better);
* range — 0 inside, else the distance outside (negative);
* relative — actual − the referenced indicator's value for the same period (in step: within the
  tolerance below it counts as reached);
* none (an indicator monitored only) — status `monitored`, the value shown, the deviation 「-」;
* floor and stretch (`增长6%以上，力争7%`) — judged against the floor; the stretch is carried along;
* points (`提高1个百分点`) — actual − (baseline + change), at most: the other way round; judged
  when the year closes unless reached before, as a level is;
* cumulative (and level with a baseline) — completion % − 序时进度 % of the value's own period
  ("1—4月完成全年目标的34%，序时进度33.3%"); a value that is late is the overdue-data alert's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Literal

from events.periods import Period, completed_months, month_end
from events.plan import Frequency, Indicator, RateBands, Thresholds
from events.positions import position_key
from events.targets import (
    CumulativeTarget,
    LevelTarget,
    PointsTarget,
    QualitativeTarget,
    RangeTarget,
    RateTarget,
    RelativeTarget,
    Target,
)
from projections import formatting as fmt
from projections.state import Observation

Status = Literal["met", "on_track", "at_risk", "off_track", "not_due", "no_data", "monitored"]
MISSED: frozenset[str] = frozenset({"at_risk", "off_track"})

STATUS_ZH: dict[str, str] = {
    "met": "已完成",
    "on_track": "正常推进",
    "at_risk": "预警（黄灯）",
    "off_track": "滞后（红灯）",
    "not_due": "未到考核期",
    "no_data": "暂无数据",
    "monitored": "监测（无目标）",
}

HUNDRED = Decimal(100)
DASH = "-"
NO_DATA = "暂无数据"  # a value due and not reported: never a dash that could pass for "nothing to do"
DONE = "完成"


@dataclass(frozen=True)
class Evaluation:
    status: Status
    actual: Decimal | None
    actual_text: str
    deviation: Decimal | None
    deviation_text: str
    period: str | None = None  # the period of the value judged
    completion: Decimal | None = None  # % of the annual target done (cumulative forms)
    time_progress: Decimal | None = None  # 序时进度 %
    reference: str | None = None  # relative targets: the indicator compared against
    reference_value: Decimal | None = None
    stretch: Decimal | None = None  # a floor-and-stretch rate target's 力争 figure (shown, never judged)
    growth: Decimal | None = None  # the growth rate reported beside the level (indicators with_growth)

    @property
    def missed(self) -> bool:
        return self.status in MISSED


def time_progress(as_of: date, year: int) -> Decimal:
    """序时进度: whole months of the year elapsed by `as_of`, as a percentage (end of June = 50)."""
    return Decimal(completed_months(as_of, year)) * HUNDRED / 12


def latest(observations: Mapping[str, Observation], as_of: date, year: int) -> Observation | None:
    """The observation for the latest period of `year` that ended by `as_of` (latest recorded wins
    between periods ending the same day, e.g. 2025-06 and 2025-Q2)."""
    best_end: date | None = None
    chosen: Observation | None = None
    for text, observation in observations.items():
        period = Period.parse(text)
        if period.year != year or period.end > as_of:
            continue
        if best_end is None or period.end > best_end:
            best_end, chosen = period.end, observation
        elif period.end == best_end and position_key(observation.position) > position_key(chosen.position):  # type: ignore[union-attr]
            chosen = observation
    return chosen


def is_due(frequency: Frequency, year: int, as_of: date) -> bool:
    """Has the first period of this reporting frequency ended by `as_of`?"""
    first_month = {"monthly": 1, "quarterly": 3, "annual": 12}[frequency]
    return as_of >= month_end(year, first_month)


def evaluate(
    target: Target | None,
    observations: Mapping[str, Observation],
    as_of: date,
    *,
    year: int | None = None,
    unit: str = "%",
    frequency: Frequency = "monthly",
    thresholds: Thresholds | None = None,
    reference_id: str | None = None,
    reference_observations: Mapping[str, Observation] | None = None,
    yi_places: int | None = None,
    margin: Decimal = Decimal(0),
) -> Evaluation:
    """`yi_places`: the plan's decimals for amounts in 亿元 (None: the seed's, up to two)."""
    if target is None:
        year = year or as_of.year
        return _monitored(latest(observations, as_of, year), unit, frequency, year, as_of, yi_places)
    return _judged(
        target,
        observations,
        as_of,
        year=year,
        unit=unit,
        frequency=frequency,
        thresholds=thresholds,
        reference_id=reference_id,
        reference_observations=reference_observations,
        yi_places=yi_places,
        margin=margin,
    )


def evaluate_status(
    target: Target | None,
    observations: Mapping[str, Observation],
    as_of: date,
    *,
    year: int | None = None,
    frequency: Frequency = "monthly",
    thresholds: Thresholds | None = None,
    reference_observations: Mapping[str, Observation] | None = None,
    margin: Decimal = Decimal(0),
) -> Status:
    """`evaluate(…).status` without the texts: the alerts judge every change of a value by its
    status, and word only the ones they tell. The same verdict as `evaluate`'s (`_verdict`)."""
    if target is None:
        return "monitored"
    year = year or as_of.year
    observation = latest(observations, as_of, year)
    if observation is None:
        return _nothing_reported(frequency, year, as_of).status
    return _verdict(target, observation, year, thresholds or Thresholds(), reference_observations, margin)[0]


def _judged(
    target: Target,
    observations: Mapping[str, Observation],
    as_of: date,
    *,
    year: int | None = None,
    unit: str = "%",
    frequency: Frequency = "monthly",
    thresholds: Thresholds | None = None,
    reference_id: str | None = None,
    reference_observations: Mapping[str, Observation] | None = None,
    yi_places: int | None = None,
    margin: Decimal = Decimal(0),
) -> Evaluation:
    """`margin` judges the value as if it were that much worse (in 个百分点; level targets: the
    indicator's unit) — the hysteresis of value alerts asks whether a value is back past the
    threshold by the plan's `resolve_margin` (projections.judgement). The texts and the deviation
    are the value's own."""
    year = year or as_of.year
    observation = latest(observations, as_of, year)
    if observation is None:
        return _nothing_reported(frequency, year, as_of)
    status, gap, wording, extra = _verdict(
        target, observation, year, thresholds or Thresholds(), reference_observations, margin, reference_id
    )
    actual_text = _actual_text(observation, unit, yi_places)
    text = _worded(wording, gap, unit)
    return Evaluation(status, observation.value, actual_text, gap, text, observation.period, **extra)  # type: ignore[arg-type]


# How a verdict's deviation is worded, when it is not a fixed text (DONE, DASH, 未完成)
_GAP = "gap"  # the gap in 个百分点, 完成 when it rounds to nought
_GAP_OR_FLAT = "gap or flat"  # the same, 持平 when it rounds to nought
_GAP_IN_UNIT = "gap in unit"  # the gap in the indicator's unit
Verdict = tuple[Status, Decimal | None, str, dict[str, object]]


def _verdict(
    target: Target,
    observation: Observation,
    year: int,
    thresholds: Thresholds,
    reference_observations: Mapping[str, Observation] | None,
    margin: Decimal,
    reference_id: str | None = None,
) -> Verdict:
    """How a value stands against its target: (status, deviation, how the deviation is worded,
    the evaluation's other figures). Everything `evaluate` judges, nothing it only words."""
    value, period = observation.value, Period.parse(observation.period)
    final = period.last_month == 12

    if isinstance(target, RateTarget):
        below = target.bound == "at_most" or target.ceiling  # lower is better
        gap = target.value - value if below else value - target.value
        tolerance = target.tolerance if target.tolerance is not None else thresholds.rate.about_tolerance
        behind = max(Decimal(0), margin - gap - (tolerance if target.bound == "about" else 0))
        if target.strictly:  # 正增长: flat is short of it, by a hair
            met = gap - margin > 0
            positive = _rate_status(behind, met, final, thresholds.rate)
            positive = "at_risk" if not met and positive == "on_track" else positive
            return positive, gap, _GAP if met else _GAP_OR_FLAT, {"stretch": target.stretch}
        met = gap - margin >= 0 or behind == 0
        wording = DONE if target.bound == "at_most" and gap >= 0 else _GAP
        return _rate_status(behind, met, final, thresholds.rate), gap, wording, {"stretch": target.stretch}

    if isinstance(target, RangeTarget):
        if thresholds.rate.range_beyond == "met":  # the range a floor with a stretch: past it on its better side
            beyond = target.low - value if target.lower_is_better else value - target.high
            if beyond > 0:
                return "met", beyond, _GAP, {}
        gap = value - target.low if value < target.low else target.high - value if value > target.high else Decimal(0)
        inside = min(value - target.low, target.high - value)  # how far within the range (negative: outside)
        judged = min(Decimal(0), inside - margin) if margin else gap
        return _rate_status(-judged, judged == 0, final, thresholds.rate), gap, _GAP, {}

    if isinstance(target, RelativeTarget):
        return _relative_verdict(target, value, period, final, thresholds, reference_observations, margin, reference_id)

    if isinstance(target, CumulativeTarget) or (isinstance(target, LevelTarget) and target.baseline is not None):
        baseline = target.baseline if isinstance(target, LevelTarget) else None
        done = value - baseline if baseline is not None else value
        whole = target.value - baseline if baseline is not None else target.value
        completion = done * HUNDRED / whole if whole else HUNDRED
        progress = time_progress(period.end, year)  # against the period the value covers, as reports do
        gap = completion - progress
        status: Status = "met" if completion >= HUNDRED else progress_status(completion - margin, progress, thresholds)
        wording = DONE if completion >= HUNDRED else _GAP
        return status, gap, wording, {"completion": completion, "time_progress": progress}

    if isinstance(target, LevelTarget):
        tolerance = thresholds.rate.about_tolerance if target.bound == "about" else Decimal(0)
        gap = target.value - value if target.bound == "at_most" else value - target.value
        if gap - margin + tolerance >= 0:
            return "met", gap, DONE, {}
        if not final:  # a level is judged when the year closes
            return "not_due", gap, DASH, {}
        return "off_track", gap, _GAP_IN_UNIT, {}

    if isinstance(target, PointsTarget):
        return _points_verdict(target, value, final, thresholds, margin)

    if isinstance(target, QualitativeTarget):
        if observation.assessment is None:
            return ("not_due" if not final else "no_data"), None, DASH, {}
        met = observation.assessment == "met"
        return ("met" if met else "off_track"), None, DONE if met else "未完成", {}

    raise TypeError(f"unknown target form {type(target).__name__}")  # pragma: no cover


def _points_verdict(
    target: PointsTarget, value: Decimal, final: bool, thresholds: Thresholds, margin: Decimal
) -> Verdict:
    """The level reported against last year's level moved by the target's points: reached → met;
    short of it, a rate moved over a year is judged when the year closes (as a level is), in the
    plan's bands for rates."""
    tolerance = thresholds.rate.about_tolerance if target.bound == "about" else Decimal(0)
    gap = target.level - value if target.bound == "at_most" else value - target.level
    wording = DONE if target.bound == "at_most" and gap >= 0 else _GAP
    behind = margin - gap - tolerance
    if behind <= 0:
        return "met", gap, wording, {}
    return (_rate_status(behind, False, final, thresholds.rate) if final else "not_due"), gap, _GAP, {}


def _relative_verdict(
    target: RelativeTarget,
    value: Decimal,
    period: Period,
    final: bool,
    thresholds: Thresholds,
    reference_observations: Mapping[str, Observation] | None,
    margin: Decimal,
    reference_id: str | None,
) -> Verdict:
    ref = _same_period(reference_observations or {}, period)
    if ref is None:
        return "no_data", None, DASH, {"reference": reference_id}
    gap = value - ref.value - (target.by or 0)  # above the reference by `by` points: the gap from there
    extra: dict[str, object] = {"reference": reference_id, "reference_value": ref.value}
    if target.bound == "in_step":
        status, _, _ = _in_step(gap - margin, target, final, thresholds.rate)
        return status, gap, _GAP, extra
    strictly = target.bound == "above" and target.by is None  # 高于 alone: level is not above; 高于…1个百分点: 1 is
    met = gap - margin > 0 if strictly else gap - margin >= 0
    status = _rate_status(max(Decimal(0), margin - gap), met, final, thresholds.rate)
    if not met and status == "on_track":  # level with the reference: "高于" is still not achieved
        status = "at_risk"
    return status, gap, _GAP if met else _GAP_OR_FLAT, extra


def _worded(wording: str, gap: Decimal | None, unit: str) -> str:
    """A verdict's deviation as the report prints it."""
    if gap is not None and wording == _GAP:
        return _gap_text(gap)
    if gap is not None and wording == _GAP_OR_FLAT:
        return _gap_text(gap) if fmt.round1(gap) != 0 else "持平"
    if gap is not None and wording == _GAP_IN_UNIT:
        return f"{fmt.plain(gap)}{unit}"
    return wording


def _nothing_reported(frequency: Frequency, year: int, as_of: date) -> Evaluation:
    """暂无数据 once a value is due; a dash before (nothing to report yet)."""
    if is_due(frequency, year, as_of):
        return Evaluation("no_data", None, NO_DATA, None, DASH)
    return Evaluation("not_due", None, DASH, None, DASH)


def growth_of(observations: Mapping[str, Observation]) -> dict[str, Observation]:
    """The growth rates reported beside levels (indicators with_growth), as the values to judge."""
    return {period: replace(o, value=o.growth) for period, o in observations.items() if o.growth is not None}


def judged_observations(
    indicator: Indicator, target: Target | None, observations: Mapping[str, Observation]
) -> Mapping[str, Observation]:
    """The values a target is judged on: an indicator's own, or for one reported as a level and its
    growth rate, the growth when the target names a rate (`增长6%`), the level when it names an amount."""
    return growth_of(observations) if indicator.judged_on_growth(target) else observations


def with_level(
    evaluation: Evaluation, observations: Mapping[str, Observation], unit: str, yi_places: int | None = None
) -> Evaluation:
    """An indicator reported as a level and its growth rate: the row shows both (412.6亿元，增长5.1%),
    `actual` is the level (in the indicator's unit) and `growth` the rate, whichever was judged."""
    observation = observations.get(evaluation.period) if evaluation.period else None
    if observation is None:
        return evaluation
    text = _actual_text(observation, unit, yi_places) + growth_text(observation.growth)
    return replace(evaluation, actual=observation.value, actual_text=text, growth=observation.growth)


def growth_text(growth: Decimal | None) -> str:
    """，增长5.1% / ，下降2.3% (reports word a fall as 下降), or nothing without a rate."""
    if growth is None:
        return ""
    return f"，下降{fmt.percent(-growth)}" if fmt.round1(growth) < 0 else f"，增长{fmt.percent(growth)}"


def _monitored(
    observation: Observation | None, unit: str, frequency: Frequency, year: int, as_of: date, yi_places: int | None
) -> Evaluation:
    """An indicator without a target: its latest value shown, never judged (the report prints 「-」
    for the target and the deviation); 暂无数据 once a value is due and none is reported."""
    if observation is None:
        shown = NO_DATA if is_due(frequency, year, as_of) else DASH
        return Evaluation("monitored", None, shown, None, DASH)
    text = _actual_text(observation, unit, yi_places)
    return Evaluation("monitored", observation.value, text, None, DASH, observation.period)


def _actual_text(observation: Observation, unit: str, yi_places: int | None = None) -> str:
    suffix = {"at_most": "以内", "at_least": "以上"}.get(observation.qualifier, "")
    return fmt.amount(observation.value, unit, yi_places) + suffix


def _in_step(gap: Decimal, target: RelativeTarget, final: bool, bands: RateBands) -> tuple[Status, Decimal, str]:
    """`与经济增长同步`: in step while not more than the tolerance below the reference (faster is
    in step too: the plan asks that it not fall behind)."""
    tolerance = target.tolerance if target.tolerance is not None else bands.about_tolerance
    behind = max(Decimal(0), -gap - tolerance)
    return _rate_status(behind, behind == 0, final, bands), gap, _gap_text(gap)


def _gap_text(gap: Decimal) -> str:
    return DONE if fmt.round1(gap) == 0 else fmt.points(gap)


def _rate_status(behind: Decimal, met: bool, final: bool, bands: RateBands) -> Status:
    if met:
        return "met" if final else "on_track"
    if behind > bands.off_track_points:
        return "off_track"
    if behind > bands.at_risk_points:
        return "at_risk"
    return "on_track"


def progress_status(completion: Decimal, progress: Decimal, thresholds: Thresholds) -> Status:
    bands = thresholds.progress
    if progress == 0 or completion >= progress:
        return "on_track"
    if bands.mode == "points":
        behind = progress - completion
        return "off_track" if behind > bands.off_track else "at_risk" if behind > bands.at_risk else "on_track"
    ratio = completion * HUNDRED / progress
    return "off_track" if ratio < bands.off_track else "at_risk" if ratio < bands.at_risk else "on_track"


def _same_period(observations: Mapping[str, Observation], period: Period) -> Observation | None:
    """The referenced indicator's value for the period ending the same day (2025-06 ~ 2025-Q2)."""
    matches = [o for text, o in observations.items() if Period.parse(text).end == period.end]
    return max(matches, key=lambda o: position_key(o.position)) if matches else None
