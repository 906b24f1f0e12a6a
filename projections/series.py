"""Trends: an indicator's value period by period against its target, and the key projects' start
and investment rates month by month against 序时进度. Pure.

Each point is judged as the report judged it at that period's end: the period's own value
against the target in force then (a relative target against the referenced indicator's value
for the same period; a cumulative task's completion against the 序时进度 of the period), so a
chart shows how the row read month after month, not today's judgement drawn backwards. The
dashboard's indicator chart, the rollup's charts (HTML and XLSX) and the API all draw from here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from events.periods import Period, month_end
from events.plan import Indicator
from events.targets import CumulativeTarget, LevelTarget, PointsTarget, RangeTarget, RateTarget, Target
from projections.evaluate import DASH, STATUS_ZH, Status, evaluate, judged_observations, time_progress
from projections.formatting import round1
from projections.portfolio import evaluate_project, projects_in_plan_order, summarize
from projections.report import reference_values
from projections.state import Observation, PlanState

Number = int | float
ChartKind = Literal["value", "progress"]


def number(value: Decimal | None) -> Number | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def rounded(value: Decimal | None) -> Number | None:
    return number(round1(value)) if value is not None else None


class _Point(BaseModel):
    model_config = ConfigDict(frozen=True)


class SeriesPoint(_Point):
    """One period of an indicator's trend, judged as of the period's end."""

    period: str
    end: date = Field(description="the period's last day")
    value: Number = Field(
        description="the period's value (cumulative from 1 January), in the indicator's unit; for an indicator "
        "reported with its growth rate and judged on it (a rate target), the growth %"
    )
    revision: int = Field(description="1 for the first report for the period, 2 for its first correction, …")
    status: Status
    status_zh: str
    target: str = Field(description="the target in force at the period's end, as the report words it")
    target_value: Number | None = Field(description="its number, for rate, level and amount targets")
    target_low: Number | None = Field(description="range targets: the low end")
    target_high: Number | None = Field(description="range targets: the high end")
    reference_value: Number | None = Field(description="relative targets: the referenced indicator, same period")
    deviation_points: Number | None = Field(description="gap to the target, 个百分点, 1 decimal; positive is better")
    completion: Number | None = Field(description="cumulative tasks: % of the annual target done, one decimal")
    time_progress: Number | None = Field(description="cumulative tasks: 序时进度 % of the period, one decimal")


class PortfolioPoint(_Point):
    """The key projects at one month's end: 开工率 and 投资完成率 against 序时进度."""

    period: str
    started: int
    planned_to_start: int
    start_rate: Number = Field(description="开工率 %, one decimal")
    investment_wan: Number = Field(description="investment completed in the year by the month's end, 万元")
    investment_rate: Number = Field(description="投资完成率 %, one decimal")
    time_progress: Number = Field(description="序时进度 %, one decimal")


def chart_kind(points: list[SeriesPoint]) -> ChartKind:
    """`progress` (completion against 序时进度) for cumulative tasks, else `value` (against the target)."""
    return "progress" if any(p.completion is not None for p in points) else "value"


def _plotted(indicator: Indicator, target: Target | None, observation: Observation) -> Decimal | None:
    """The value a trend plots against the target: the growth rate when the target names it."""
    return observation.growth if indicator.judged_on_growth(target) else observation.value


def _target_numbers(target: Target | None) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    if isinstance(target, RangeTarget):
        return None, target.low, target.high
    if isinstance(target, RateTarget | LevelTarget | CumulativeTarget):
        return target.value, None, None
    if isinstance(target, PointsTarget):
        return target.level, None, None
    return None, None, None


def indicator_series(state: PlanState, indicator: Indicator, as_of: date) -> list[SeriesPoint]:
    """Every period of the plan year that ended by `as_of` and has a value, in period order."""
    plan = state.plan
    assert plan is not None
    current = state.indicator(indicator.id)
    reference = plan.reference_of(indicator) if indicator.target is not None else None
    references = reference_values(state, reference)
    periods = sorted((Period.parse(text), text) for text in current.observations)
    points = []
    for period, text in periods:
        if period.year != plan.year or period.end > as_of:
            continue
        observation = current.observations[text]
        target = current.target_at(period.end) or indicator.target
        judged = evaluate(
            indicator.judged_target(target),
            judged_observations(indicator, target, {text: observation}),
            period.end,
            year=plan.year,
            unit="%" if indicator.judged_on_growth(target) else indicator.unit,
            frequency=indicator.frequency,
            thresholds=plan.thresholds,
            reference_id=reference,
            reference_observations=references,
        )
        value, low, high = _target_numbers(target)
        points.append(
            SeriesPoint(
                period=text,
                end=period.end,
                value=number(_plotted(indicator, target, observation)) or 0,
                revision=observation.revision,
                status=judged.status,
                status_zh=STATUS_ZH[judged.status],
                target=target.text if target is not None else DASH,
                target_value=number(value),
                target_low=number(low),
                target_high=number(high),
                reference_value=number(judged.reference_value),
                deviation_points=rounded(judged.deviation),
                completion=rounded(judged.completion),
                time_progress=rounded(judged.time_progress),
            )
        )
    return points


def portfolio_series(state: PlanState, as_of: date) -> list[PortfolioPoint]:
    """The key projects at the end of every month of the plan year up to `as_of`."""
    plan = state.plan
    assert plan is not None
    projects = [p for p in projects_in_plan_order(state) if p.spec is not None]
    points = []
    for month in range(1, 13):
        end = month_end(plan.year, month)
        if end > as_of:
            break
        progress = [
            evaluate_project(p, p.spec, end, plan.year, plan.thresholds, plan.under_way(p.spec))
            for p in projects
            if p.spec
        ]
        portfolio = summarize(plan.projects_label, end, progress)
        points.append(
            PortfolioPoint(
                period=Period.month(plan.year, month).text,
                started=portfolio.started,
                planned_to_start=portfolio.planned_to_start,
                start_rate=number(portfolio.start_rate) or 0,
                investment_wan=number(portfolio.investment_wan) or 0,
                investment_rate=number(portfolio.investment_rate) or 0,
                time_progress=rounded(time_progress(end, plan.year)) or 0,
            )
        )
    return points
