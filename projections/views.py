"""The read model as JSON-ready dicts: what the projector stores (`summary`, `indicator:{id}`,
`project:{id}`), `planwatch table --format json` prints and the API returns. Each is its
projections.readmodel model, dumped; the callers serialise it with `json.dumps`, as they always
have, so the stored and served bytes stay the same."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from projections.portfolio import ProjectProgress
from projections.readmodel import (
    indicator_detail,
    indicator_summary,
    period_note,
    plan_summary,
    portfolio_summary,
    project_detail,
    project_summary,
)
from projections.report import IndicatorRow, PlanReport
from projections.series import SeriesPoint
from projections.state import IndicatorState, ProjectState

_T = TypeVar("_T")


def report_view(report: PlanReport, known_at: str | None = None) -> dict[str, Any]:
    """The plan's summary (stored as `summary`)."""
    return plan_summary(report, known_at).model_dump(mode="json")


def summary_json(report: PlanReport) -> str:
    """`json.dumps(report_view(report), ensure_ascii=False)`, byte for byte, built from the JSON of
    each row and of the portfolio, kept in their memos: a live projector rewrites the summary at
    every commit, and an event changes one row of it (serialising the whole summary again was a
    third of a worker's time at a hundred plans)."""
    fields = {
        "plan_id": _dumps(report.plan_id),
        "plan_name": _dumps(report.plan_name),
        "region": _dumps(report.region),
        "year": _dumps(report.year),
        "as_of": _dumps(report.as_of.isoformat()),
        "known_at": "null",
        "column": _dumps(report.column),
        "indicators": "[" + ", ".join(_memo_json(row.memo, indicator_summary, row) for row in report.rows()) + "]",
        "projects": _memo_json(report.portfolio.memo, portfolio_summary, report.portfolio),
        "missed": _dumps([row.indicator.id for row in report.missed]),
        "further_missed": _dumps([row.indicator.id for row in report.further_missed]),
        "period_note": _dumps(period_note(report)),
    }
    return "{" + ", ".join(f"{_dumps(name)}: {value}" for name, value in fields.items()) + "}"


def _memo_json(memo: dict[str, object], summary: Callable[[_T], BaseModel], item: _T) -> str:
    """The JSON of `summary(item)`, kept in the item's memo (a changed row or portfolio is a new object)."""
    cached = memo.get("summary_json")
    if not isinstance(cached, str):
        cached = memo["summary_json"] = _dumps(summary(item).model_dump(mode="json"))
    return cached


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def indicator_detail_view(
    row: IndicatorRow, indicator: IndicatorState, series: Sequence[SeriesPoint] = ()
) -> dict[str, Any]:
    """One indicator: its row, every period's value (with revisions), its target changes and its trend."""
    return indicator_detail(row, indicator, series).model_dump(mode="json")


def project_summary_view(project: ProjectProgress) -> dict[str, Any]:
    """One project as the project list shows it."""
    return project_summary(project).model_dump(mode="json")


def project_detail_view(project: ProjectProgress, state: ProjectState) -> dict[str, Any]:
    """One project and its investment per period (stored as `project:{id}`)."""
    return project_detail(project, state).model_dump(mode="json")
