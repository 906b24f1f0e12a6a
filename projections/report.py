"""The execution report's content, as of a date: main table, further targets, key projects.

Pure: `build_report(state, as_of)` evaluates every indicator and the portfolio from the fold.
Rendering (text, Markdown, JSON, HTML, XLSX) lives in services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from events.periods import Period, completed_months, month_end
from events.plan import Indicator
from projections.evaluate import Evaluation, evaluate
from projections.portfolio import Portfolio, build_portfolio
from projections.state import PlanState


@dataclass(frozen=True)
class IndicatorRow:
    indicator: Indicator
    department_name: str
    target_text: str  # the target in force on as_of, as the report words it
    evaluation: Evaluation

    @property
    def label(self) -> str:
        """The row label the report prints, numbered in the main table: 1﹒地区生产总值."""
        spec = self.indicator
        return f"{spec.order}﹒{spec.name}" if spec.is_main else spec.name


@dataclass(frozen=True)
class PlanReport:
    plan_id: str
    plan_name: str
    region: str
    year: int
    as_of: date
    main: tuple[IndicatorRow, ...]
    sections: tuple[tuple[str, tuple[IndicatorRow, ...]], ...]  # further targets, in plan order
    portfolio: Portfolio

    @property
    def months(self) -> int:
        return completed_months(self.as_of, self.year)

    @property
    def column(self) -> str:
        """The heading of the actuals column: 上半年完成, 1—9月完成, 全年完成."""
        return period_column(self.months)

    @property
    def missed(self) -> list[IndicatorRow]:
        """Main indicators not reaching their targets (the report's part 二 list)."""
        return [row for row in self.main if row.evaluation.missed]

    @property
    def further_missed(self) -> list[IndicatorRow]:
        return [row for _, rows in self.sections for row in rows if row.evaluation.missed]

    def rows(self) -> list[IndicatorRow]:
        return [*self.main, *(row for _, rows in self.sections for row in rows)]


def period_column(months: int) -> str:
    if months == 6:
        return "上半年完成"
    if months == 12:
        return "全年完成"
    if months <= 1:
        return "1月完成"
    return f"1—{months}月完成"


def data_through(state: PlanState) -> date:
    """The end of the latest month of the plan year that any indicator or project reported on.
    It is the default `as_of` of a report: deterministic from the log, so a live read model and
    a fold of the log agree on it."""
    year = state.plan.year if state.plan else None
    ends: list[date] = []
    for indicator in state.indicators.values():
        ends += [Period.parse(p).end for p in indicator.observations]
    for project in state.projects.values():
        ends += [Period.parse(p).end for p in project.investment]
        ends += [month_end(d.year, d.month) for d in (project.started_on, project.completed_on) if d]
    if year is not None:
        ends = [end for end in ends if end.year == year]
    if ends:
        return max(ends)
    return date(year, 1, 1) if year else date.today()


def evaluate_indicator(state: PlanState, indicator: Indicator, as_of: date) -> IndicatorRow:
    plan = state.plan
    assert plan is not None
    current = state.indicator(indicator.id)
    target = current.target_at(as_of) or indicator.target
    reference = plan.reference_of(indicator)
    evaluation = evaluate(
        target,
        current.observations,
        as_of,
        year=plan.year,
        unit=indicator.unit,
        frequency=indicator.frequency,
        thresholds=plan.thresholds,
        reference_id=reference,
        reference_observations=state.indicator(reference).observations if reference else None,
    )
    return IndicatorRow(indicator, plan.department_name(indicator.department), target.text, evaluation)


def build_report(state: PlanState, as_of: date | None = None) -> PlanReport:
    plan = state.plan
    if plan is None:
        raise ValueError(f"plan {state.plan_id!r} has not been published")
    as_of = as_of or data_through(state)
    rows = [evaluate_indicator(state, indicator, as_of) for indicator in plan.indicators]
    main = tuple(sorted((r for r in rows if r.indicator.is_main), key=lambda r: r.indicator.order))
    sections: dict[str, list[IndicatorRow]] = {}
    for row in rows:
        if not row.indicator.is_main:
            sections.setdefault(row.indicator.section, []).append(row)
    return PlanReport(
        plan_id=plan.id,
        plan_name=plan.name,
        region=plan.region,
        year=plan.year,
        as_of=as_of,
        main=main,
        sections=tuple(
            (name, tuple(sorted(items, key=lambda r: r.indicator.order))) for name, items in sections.items()
        ),
        portfolio=build_portfolio(state, as_of),
    )
