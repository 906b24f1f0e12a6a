"""The dashboard: the pages officials open every day, served by `planwatch api` at `/`.

Server-rendered Chinese pages (Jinja2), a little htmx for filters and live updates, Apache
ECharts for the charts; every asset is served from `static/` (vendored files in
`static/vendor/`, with their versions and licences in VENDORED.md). Every page reads through the
application's use cases (services.app), never Redis itself. docs/dashboard.md says why."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.dashboard import alerts, auth, drafts, entry, pages, reconcile, rollups
from services.dashboard.browser import take_screenshots
from services.dashboard.web import STATIC

ROUTERS = (
    auth.router,
    pages.router,
    alerts.router,
    rollups.router,
    entry.router,
    drafts.router,
    reconcile.router,
)


def mount_dashboard(api: FastAPI) -> None:
    """Add the dashboard's pages and its static files to the API app."""
    for router in ROUTERS:
        api.include_router(router)
    api.mount("/static", StaticFiles(directory=STATIC), name="static")


__all__ = ["mount_dashboard", "take_screenshots"]
