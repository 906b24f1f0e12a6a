"""Who is told about alerts (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from events.errors import field_errors
from services.api.deps import AdminDep, AppDep, read_json
from services.api.schemas import ERRORS, Deleted, SubscriptionView, SubscriptionWithCounts
from services.app import Invalid
from services.notify import SubscriptionRequest

router = APIRouter(prefix="/v1/subscriptions", tags=["alerts"], responses=ERRORS)


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionView,
    response_model_exclude_unset=True,
)
async def subscribe(request: Request, app: AppDep, who: AdminDep) -> dict[str, Any]:
    """Subscribe a channel to alert notices (admin). A url on a loopback, private or
    link-local address is refused unless `allow_private` is set."""
    try:
        wanted = SubscriptionRequest.model_validate(await read_json(request))
    except ValidationError as exc:
        raise Invalid("the subscription is not valid", "订阅内容有误", field_errors(exc)) from None
    return (await app.alerting.subscribe(wanted)).public()


@router.get("", response_model=list[SubscriptionWithCounts], response_model_exclude_unset=True)
async def list_subscriptions(app: AppDep, who: AdminDep) -> list[dict[str, Any]]:
    """Every subscription (secrets never shown) with its queued, sent and dead-letter counts."""
    return [{**sub.public(), **counts} for sub, counts in await app.alerting.subscriptions_with_counts()]


@router.delete("/{subscription_id}", response_model=Deleted)
async def unsubscribe(subscription_id: str, app: AppDep, who: AdminDep) -> dict[str, str]:
    """Stop telling a subscriber."""
    await app.alerting.unsubscribe(subscription_id)
    return {"deleted": subscription_id}
