"""A plan's monthly rollups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.api.deps import AppDep, CallerDep, PlanDep
from services.api.schemas import ERRORS
from services.app import RollupListing
from services.reports import RENDERERS

router = APIRouter(prefix="/v1/plans/{plan}/rollups", tags=["rollups"], responses=ERRORS)


@router.get("")
async def rollups(plan: str, app: AppDep, who: CallerDep, found: PlanDep) -> list[RollupListing]:
    """The plan's monthly rollups: latest version of each month, with links to each format."""
    return await app.rollups.list(plan)


@router.get("/{name}", responses={200: {"content": {media_type: {} for _, media_type in RENDERERS.values()}}})
async def rollup_document(
    plan: str,
    name: Annotated[
        str, Path(description="the month and format: 2025-06.md, 2025-06.html, 2025-06.xlsx or 2025-06.docx")
    ],
    app: AppDep,
    who: CallerDep,
    found: PlanDep,
    version: Annotated[int | None, Query(ge=1, description="default: the latest")] = None,
) -> Response:
    """One rollup, rendered: Markdown, a printable HTML page, an Excel workbook or a Word document."""
    rendered = await app.rollups.rendered(plan, name, version)
    headers = {}
    if rendered.attachment:  # a workbook or a document is saved, not shown
        headers["Content-Disposition"] = f'attachment; filename="{rendered.filename}"'
    return Response(rendered.content, media_type=rendered.media_type, headers=headers)
