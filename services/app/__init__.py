"""The application layer: every use case, written once, called by the API, the CLI, the inbox,
the scheduler and the dashboard. Other rooms import from here."""

from __future__ import annotations

from services.app.ingest import (
    Accepted,
    Conflict,
    Forbidden,
    Ingest,
    IngestError,
    Invalid,
    NotFound,
    TooLarge,
    Unauthorized,
    prepare,
)
from services.app.plans import Published, load_plan, publish_plan
from services.app.reports import load_report, published_state
from services.app.rollups import RollupConflict, RollupResult, list_rollups, load_document, produce_rollup, subject_of

__all__ = [
    "Accepted",
    "Conflict",
    "Forbidden",
    "Ingest",
    "IngestError",
    "Invalid",
    "NotFound",
    "Published",
    "RollupConflict",
    "RollupResult",
    "TooLarge",
    "Unauthorized",
    "list_rollups",
    "load_document",
    "load_plan",
    "load_report",
    "prepare",
    "produce_rollup",
    "publish_plan",
    "published_state",
    "subject_of",
]
