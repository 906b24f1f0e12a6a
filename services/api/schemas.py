"""The shapes of the API's answers, for the OpenAPI document (the read model's shapes live in
projections.readmodel; the alert notice in events.alerts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from events.alerts import AlertNotice
from services.notify import SubscriptionRequest


class ErrorItem(BaseModel):
    field: str = Field(description="where the problem is, as the sender wrote it: events[3].period, row 5: 本期累计值")
    reason: str
    reason_zh: str


class ErrorBody(BaseModel):
    """Every refusal: what went wrong, in English and Chinese, and each problem with its field."""

    error: str = Field(description="unauthorized, invalid, forbidden, not_found, conflict, too_large, …")
    message: str
    message_zh: str
    errors: list[ErrorItem]


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "no valid token"),
        (403, "the token's role or department may not do this"),
        (404, "no such plan (or subject)"),
        (422, "invalid parameters: each with its field and reason in English and Chinese"),
    )
}


class PlanListing(BaseModel):
    id: str
    name: str
    region: str
    year: int


class PublishedPlan(BaseModel):
    plan_id: str
    version: int = Field(description="1 for the first plan published, 2 for the first revision, …")
    position: str = Field(description="the plan.published event's stream position")


class DraftedPlan(BaseModel):
    plan_id: str
    text: str = Field(
        description="the plan file (YAML), as `planwatch plan draft` writes it; publish it as JSON with PUT"
    )
    notes: list[str] = Field(description="what to check before publishing (ids made up, a frequency assumed, …)")
    departments: int
    main_indicators: int
    further_targets: int
    key_projects: int


class StoredEvent(BaseModel):
    event_id: str
    position: str = Field(description="stream position (the original one for a duplicate)")
    duplicate: bool = Field(description="already stored before this request")


class AcceptedBatch(BaseModel):
    """What a submission stored (all or nothing)."""

    plan_id: str
    stored: int
    duplicates: int
    events: list[StoredEvent]


class ImportedSheet(AcceptedBatch):
    summary: str = Field(description="rows and events read, in Chinese and English")


class TokenRecord(BaseModel):
    id: str
    role: str = Field(description="department, analyst or admin")
    department: str | None
    name: str
    created_at: str
    revoked_at: str | None = None
    plans: list[str] | None = Field(default=None, description="the plans it is valid for; null: every plan")


class CreatedToken(TokenRecord):
    token: str = Field(description="the token itself: shown in this answer only")


class SubscriptionView(SubscriptionRequest):
    """A subscription as listed (the secret never shown back)."""

    id: str
    created_at: str
    has_secret: bool
    secret: str | None = Field(default=None, description="only in the creation answer, for a generated secret")
    firing_sent: int | None = Field(
        default=None,
        description="only in the creation answer, with send_firing: how many firing alerts the one digest "
        "names (0: nothing fires, nothing is sent)",
    )


class SubscriptionWithCounts(SubscriptionView):
    queued: int
    sent: int
    dead: int


class PendingDeliveries(BaseModel):
    queued: int = Field(description="notices waiting in the subscription's queue")
    outgoing: int = Field(description="deliveries waiting ahead of the queue (dead letters being redelivered)")
    inflight: str | None = Field(description="the id (idempotency key) of the delivery being sent or retried")
    failures: int = Field(description="failed attempts of the delivery in flight so far")
    failing_since: datetime | None = Field(description="its first failure; it is given up max_age after")
    next_attempt_at: datetime | None


class DeadLetterView(BaseModel):
    id: str = Field(description="the dead letter's entry")
    delivery_id: str = Field(description="the idempotency key it carried, and carries again when redelivered")
    error: str
    attempts: int
    failing_since: datetime | None
    given_up_at: datetime | None
    notice_ids: list[str]
    summaries_zh: list[str] = Field(description="the first few notices' Chinese summaries")


class SubscriptionDeliveriesView(BaseModel):
    subscription_id: str
    name: str
    channel: str
    pending: PendingDeliveries
    dead: list[DeadLetterView]


class RedeliveredView(BaseModel):
    subscription_id: str
    requeued: int = Field(description="dead letters queued to be sent again, with their original idempotency keys")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str = Field(description="ready, lagging or unavailable")
    max_lag: int | None = None
    lag: dict[str, int] | None = Field(default=None, description="each plan's larger lag of its projections")
    redis: str | None = Field(default=None, description="why Redis could not be reached")


class Revoked(BaseModel):
    revoked: str


class Deleted(BaseModel):
    deleted: str


__all__ = [
    "ERRORS",
    "AcceptedBatch",
    "AlertNotice",
    "CreatedToken",
    "DeadLetterView",
    "Deleted",
    "ErrorBody",
    "Health",
    "ImportedSheet",
    "PendingDeliveries",
    "PlanListing",
    "PublishedPlan",
    "Readiness",
    "RedeliveredView",
    "Revoked",
    "SubscriptionDeliveriesView",
    "SubscriptionView",
    "SubscriptionWithCounts",
    "TokenRecord",
]
