"""月度报告: every month's rollup and its versions, each viewable and downloadable (md, html,
xlsx, docx), with a signed link to share; and the shared page itself, which a signed link opens
without signing in (read-only: that one version of that one document)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.app import App, RenderedRollup, RollupVersion
from services.dashboard.web import AppDep, DashboardRoute, ViewerDep, page
from services.reports import FORMATS
from services.store import LINK_TTL_S

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


@dataclass(frozen=True)
class Shown:
    """A version as the page lists it, with its signed link."""

    version: RollupVersion
    share: str


def _served(rendered: RenderedRollup, download: bool) -> Response:
    disposition = "attachment" if download or rendered.attachment else "inline"
    headers = {"Content-Disposition": f'{disposition}; filename="{rendered.filename}"'}
    return Response(rendered.content, media_type=rendered.media_type, headers=headers)


async def _share_link(app: App, request: Request, version: RollupVersion) -> str:
    path = await app.sharing.rollup_path(version.plan_id, version.period, version.version)
    base = app.settings.public_url or str(request.base_url).rstrip("/")
    return base + path


@router.get("/plans/{plan_id}/rollups")
async def rollups(request: Request, plan_id: str, app: AppDep, who: ViewerDep) -> Response:
    plan = await app.ingest.plan(plan_id)
    months = await app.rollups.versions(plan_id)
    listed = {
        month: [Shown(v, await _share_link(app, request, v)) for v in reversed(versions)]
        for month, versions in sorted(months.items(), reverse=True)
    }
    expires = datetime.fromtimestamp(datetime.now(UTC).timestamp() + LINK_TTL_S, UTC)
    return page(
        request,
        "rollups.html",
        who=who,
        plan=plan,
        months=listed,
        formats=FORMATS,
        link_days=LINK_TTL_S // 86400,
        link_expires=expires,
        active="rollups",
    )


@router.get("/plans/{plan_id}/rollups/{name}")
async def rollup(
    plan_id: str,
    name: str,
    app: AppDep,
    who: ViewerDep,
    version: Annotated[int | None, Query(ge=1)] = None,
    download: bool = False,
) -> Response:
    await app.ingest.plan(plan_id)
    return _served(await app.rollups.rendered(plan_id, name, version), download)


@router.get("/shared/plans/{plan_id}/rollups/{name}")
async def shared_rollup(
    plan_id: str,
    name: str,
    app: AppDep,
    v: Annotated[int, Query(ge=1)],
    expires: Annotated[int, Query()],
    sig: Annotated[str, Query(max_length=100)],
) -> Response:
    """A rollup opened by a signed link: no sign-in, that version only, until the link expires."""
    return _served(await app.sharing.open_rollup(plan_id, name, v, expires, sig), download=False)
