"""The application layer: one `App` built once from the settings, holding every use case; the API,
the CLI, the inbox, the scheduler and the dashboard are thin adapters over it. Other rooms import
from here."""

from __future__ import annotations

from services.app import files  # files a command reads or writes, checked before the work
from services.app.alerting import AlertState, SilenceState, Subscribed
from services.app.application import TOKEN_CACHE_S, App
from services.app.backup import ExportSummary, RestoreSummary
from services.app.deliveries import Redelivered, SubscriptionDeliveries
from services.app.errors import (
    AppError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    StoreDamaged,
    TooLarge,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)
from services.app.ingest import Accepted, EntryPoint, check_plan, intake, prepare
from services.app.operations import Freshness, PlanOverview, PlanRow, Readiness
from services.app.payloads import strict_json
from services.app.plans import (
    PlanDraft,
    PlanIdentity,
    Published,
    draft_plan_document,
    draft_plan_file,
    load_plan,
    plan_text,
    publish_plan,
)
from services.app.reports import MAX_REPORT, ProjectFilter
from services.app.retractions import Retracted
from services.app.rollups import (
    RenderedRollup,
    RollupConflict,
    RollupListing,
    RollupResult,
    RollupVersion,
    list_rollups,
    load_document,
    produce_rollup,
)
from services.app.sheets import MAX_FILE, EntryForm, EntryLine, Imported

__all__ = [
    "MAX_FILE",
    "MAX_REPORT",
    "TOKEN_CACHE_S",
    "Accepted",
    "AlertState",
    "App",
    "AppError",
    "Conflict",
    "EntryForm",
    "EntryLine",
    "EntryPoint",
    "ExportSummary",
    "Forbidden",
    "Freshness",
    "Imported",
    "Invalid",
    "NotFound",
    "PlanDraft",
    "PlanIdentity",
    "PlanOverview",
    "PlanRow",
    "ProjectFilter",
    "Published",
    "Readiness",
    "Redelivered",
    "RenderedRollup",
    "RestoreSummary",
    "Retracted",
    "RollupConflict",
    "RollupListing",
    "RollupResult",
    "RollupVersion",
    "SilenceState",
    "StoreDamaged",
    "Subscribed",
    "SubscriptionDeliveries",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
    "check_plan",
    "draft_plan_document",
    "draft_plan_file",
    "files",
    "intake",
    "list_rollups",
    "load_document",
    "load_plan",
    "plan_text",
    "prepare",
    "produce_rollup",
    "publish_plan",
    "strict_json",
]
