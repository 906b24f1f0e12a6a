"""One router per resource."""

from __future__ import annotations

from services.api.routers import (
    alerts,
    docs,
    events,
    health,
    indicators,
    plans,
    projects,
    rollups,
    silences,
    subscriptions,
    tokens,
)

ROUTERS = (
    health.router,
    plans.router,
    indicators.router,
    projects.router,
    events.router,
    tokens.router,
    subscriptions.router,
    alerts.router,
    silences.router,
    rollups.router,
    docs.router,
)

__all__ = ["ROUTERS"]
