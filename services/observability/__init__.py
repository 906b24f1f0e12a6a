"""Watching it run: Prometheus metrics (`metrics`), defined once and updated where things happen,
and structured logs (`logs`): JSON lines or a console view, with plan and request id, never a
secret. Other rooms import from here."""

from __future__ import annotations

from services.observability import metrics
from services.observability.logs import (
    FORMATS,
    configure_logging,
    current_plan,
    current_request_id,
    plan_context,
    redact,
    request_context,
)

__all__ = [
    "FORMATS",
    "configure_logging",
    "current_plan",
    "current_request_id",
    "metrics",
    "plan_context",
    "redact",
    "request_context",
]
