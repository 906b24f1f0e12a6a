"""The key projects of a plan."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from projections.readmodel import ProjectDetailWithEvents, ProjectSummary
from services.api.deps import AppDep, AsOf, CallerDep, KnownAt
from services.api.schemas import ERRORS
from services.app import ProjectFilter

router = APIRouter(prefix="/v1/plans/{plan}/projects", tags=["plans"], responses=ERRORS)


@router.get("")
async def projects(
    plan: str,
    app: AppDep,
    who: CallerDep,
    status: Annotated[
        ProjectFilter | None,
        Query(description="overdue: not started after the planned month; lagging: investment behind schedule"),
    ] = None,
    department: Annotated[str | None, Query(description="owning department id")] = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> list[ProjectSummary]:
    """Key projects, filtered."""
    return await app.reports.projects(plan, status, department, as_of, known_at)


@router.get("/{project}")
async def project_detail(
    plan: str, project: str, app: AppDep, who: CallerDep, as_of: AsOf = None, known_at: KnownAt = None
) -> ProjectDetailWithEvents:
    """One project with its events."""
    return await app.reports.project(plan, project, as_of, known_at)
