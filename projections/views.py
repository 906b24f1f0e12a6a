"""JSON-ready views of a report: one shape for `planwatch table --format json`, the read
models in Redis and the HTTP API, so their field names agree by construction."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from events.periods import Period
from projections.evaluate import STATUS_ZH, Evaluation
from projections.formatting import round1
from projections.portfolio import Portfolio, ProjectView
from projections.report import IndicatorRow, PlanReport
from projections.state import IndicatorState, ProjectState


def number(value: Decimal | None) -> float | int | None:
    """Decimals as JSON numbers (reported statistics have few digits, so floats carry them exactly)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def one_decimal(value: Decimal | None) -> float | int | None:
    """As the report rounds it (half up, one decimal), as a JSON number."""
    return number(round1(value)) if value is not None else None


def evaluation_numbers(evaluation: Evaluation) -> dict[str, Any]:
    """The numbers behind a judgement, as JSON numbers (views and alert notices carry them)."""
    return {
        "actual_value": number(evaluation.actual),
        "deviation_points": number(evaluation.deviation),
        "completion": number(evaluation.completion),
        "time_progress": number(evaluation.time_progress),
        "reference": evaluation.reference,
        "reference_value": number(evaluation.reference_value),
    }


def evaluation_view(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "status": evaluation.status,
        "status_zh": STATUS_ZH[evaluation.status],
        "actual": evaluation.actual_text,
        "deviation": evaluation.deviation_text,
        "period": evaluation.period,
        **evaluation_numbers(evaluation),
    }


def indicator_row_view(row: IndicatorRow) -> dict[str, Any]:
    spec = row.indicator
    return {
        "id": spec.id,
        "name": spec.name,
        "label": row.label,
        "section": spec.section,
        "main": spec.is_main,
        "order": spec.order,
        "unit": spec.unit,
        "frequency": spec.frequency,
        "department": spec.department,
        "department_name": row.department_name,
        "target": row.target_text,
        **evaluation_view(row.evaluation),
    }


def project_view(project: ProjectView) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "department": project.department,
        "category": project.category,
        "synthetic": project.synthetic,
        "stage": project.stage,
        "status": project.status,
        "status_zh": STATUS_ZH[project.status],
        "planned_start": project.planned_start,
        "planned_completion": project.planned_completion,
        "planned_investment_wan": number(project.planned_investment_wan),
        "started_on": project.started_on.isoformat() if project.started_on else None,
        "completed_on": project.completed_on.isoformat() if project.completed_on else None,
        "investment_wan": number(project.investment_wan),
        "investment_rate": one_decimal(project.investment_rate),
        "schedule_progress": one_decimal(project.schedule_progress),
        "overdue": project.overdue,
        "months_overdue": project.months_overdue,
        "lagging": project.lagging,
    }


def indicator_detail_view(row: IndicatorRow, indicator: IndicatorState) -> dict[str, Any]:
    """One indicator: its row, every period's value (with revisions) and its target changes."""
    history = sorted(indicator.observations.values(), key=lambda o: Period.parse(o.period))
    return {
        **indicator_row_view(row),
        "history": [
            {
                "period": o.period,
                "value": number(o.value),
                "qualifier": o.qualifier,
                "revision": o.revision,
                "previous": number(o.previous),
                "recorded_at": o.recorded_at.isoformat() if o.recorded_at else None,
                "position": o.position,
            }
            for o in history
        ],
        "target_changes": [
            {"period": c.period, "target": c.target.text, "reason": c.reason, "position": c.position}
            for c in indicator.target_changes
        ],
    }


def project_detail_view(view: ProjectView, project: ProjectState) -> dict[str, Any]:
    """One project: its view and its investment per period."""
    return {
        **project_view(view),
        "investment_by_period": {
            period: number(amount)
            for period, amount in sorted(project.investment.items(), key=lambda item: Period.parse(item[0]))
        },
    }


def portfolio_view(portfolio: Portfolio, with_projects: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "label": portfolio.label,
        "total": portfolio.total,
        "started": portfolio.started,
        "start_rate": number(portfolio.start_rate),
        "planned_to_start": portfolio.planned_to_start,
        "investment_wan": number(portfolio.investment_wan),
        "planned_investment_wan": number(portfolio.planned_investment_wan),
        "investment_rate": number(portfolio.investment_rate),
        "completed": portfolio.completed,
        "line": portfolio.line(),
        "completed_line": portfolio.completed_line(),
        "overdue": [{"id": p.id, "name": p.name, "months_overdue": p.months_overdue} for p in portfolio.overdue],
        "lagging": [{"id": p.id, "name": p.name} for p in portfolio.lagging],
    }
    if with_projects:
        view["projects"] = [project_view(p) for p in portfolio.projects]
    return view


def report_view(report: PlanReport, known_at: str | None = None) -> dict[str, Any]:
    return {
        "plan_id": report.plan_id,
        "plan_name": report.plan_name,
        "region": report.region,
        "year": report.year,
        "as_of": report.as_of.isoformat(),
        "known_at": known_at,
        "column": report.column,
        "indicators": [indicator_row_view(row) for row in report.rows()],
        "projects": portfolio_view(report.portfolio),
        "missed": [row.indicator.id for row in report.missed],
        "further_missed": [row.indicator.id for row in report.further_missed],
    }
