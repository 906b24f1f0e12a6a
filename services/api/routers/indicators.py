"""One indicator of a plan."""

from __future__ import annotations

from fastapi import APIRouter

from projections.readmodel import IndicatorDetail
from services.api.deps import AppDep, AsOf, CallerDep, KnownAt
from services.api.schemas import ERRORS

router = APIRouter(prefix="/v1/plans/{plan}/indicators", tags=["plans"], responses=ERRORS)


@router.get("/{indicator}")
async def indicator_detail(
    plan: str, indicator: str, app: AppDep, who: CallerDep, as_of: AsOf = None, known_at: KnownAt = None
) -> IndicatorDetail:
    """One indicator: its evaluation, every period's value with revisions, target changes."""
    return await app.reports.indicator(plan, indicator, as_of, known_at)
