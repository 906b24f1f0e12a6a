"""The read model as JSON-ready dicts: what the projector stores (`summary`, `indicator:{id}`,
`project:{id}`), `planwatch table --format json` prints and the API returns. Each is its
projections.readmodel model, dumped; the callers serialise it with `json.dumps`, as they always
have, so the stored and served bytes stay the same."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.portfolio import ProjectProgress
from projections.readmodel import indicator_detail, plan_summary, project_detail, project_summary
from projections.report import IndicatorRow, PlanReport
from projections.series import SeriesPoint
from projections.state import IndicatorState, ProjectState


def report_view(report: PlanReport, known_at: str | None = None) -> dict[str, Any]:
    """The plan's summary (stored as `summary`)."""
    return plan_summary(report, known_at).model_dump(mode="json")


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
