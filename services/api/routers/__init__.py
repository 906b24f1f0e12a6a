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

# Routes are matched in this order: the one departments post to most goes first (matching a
# request against every earlier router was a twentieth of a single-event POST).
ROUTERS = (
    events.router,
    health.router,
    plans.router,
    indicators.router,
    projects.router,
    tokens.router,
    subscriptions.router,
    alerts.router,
    silences.router,
    rollups.router,
    docs.router,
)

__all__ = ["ROUTERS"]
