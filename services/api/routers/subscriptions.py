"""Who is told about alerts (admin)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from events.errors import field_errors
from services.api.deps import AdminDep, AppDep, read_json
from services.api.schemas import (
    ERRORS,
    Deleted,
    RedeliveredView,
    SubscriptionDeliveriesView,
    SubscriptionView,
    SubscriptionWithCounts,
)
from services.app import Invalid, SubscriptionDeliveries
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
    link-local address is refused unless the operator allows its network. `repeat_interval` and
    `working_hours` set its reminders; `"send_firing": true` sends what fires now, once, as one
    digest (`firing_sent` in the answer says how many alerts it names)."""
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


@router.get("/{subscription_id}/deliveries", response_model=SubscriptionDeliveriesView)
async def deliveries(subscription_id: str, app: AppDep, who: AdminDep) -> dict[str, Any]:
    """What waits to be delivered to a subscriber (the delivery in flight, its failures, the
    queue) and what was given up (dead letters, with the error and their idempotency keys)."""
    [listed] = await app.deliveries.listing(subscription_id)
    return deliveries_view(listed)


@router.post("/{subscription_id}/deliveries/retry", response_model=RedeliveredView)
async def retry_deliveries(subscription_id: str, app: AppDep, who: AdminDep) -> dict[str, Any]:
    """Send a subscriber's dead letters again, ahead of its queue, each with its original
    idempotency key (a receiver that got one after all can tell)."""
    [redelivered] = await app.deliveries.retry(subscription_id)
    return asdict(redelivered)


def deliveries_view(listed: SubscriptionDeliveries) -> dict[str, Any]:
    sub = listed.subscription
    return {
        "subscription_id": sub.id,
        "name": sub.name,
        "channel": sub.channel,
        "pending": asdict(listed.pending),
        "dead": [asdict(letter) for letter in listed.dead],
    }
