"""Deliveries to subscribers: what is pending and what was given up (dead letters), by
subscription, and redelivering dead letters with their original idempotency keys."""

from __future__ import annotations

from dataclasses import dataclass

from services.app.errors import NotFound
from services.notify import DeadLetter, Deliveries, Pending, Subscription, SubscriptionStore


@dataclass(frozen=True)
class SubscriptionDeliveries:
    """One subscription's pending deliveries and dead letters."""

    subscription: Subscription
    pending: Pending
    dead: list[DeadLetter]


@dataclass(frozen=True)
class Redelivered:
    subscription_id: str
    requeued: int  # dead letters queued to be sent again


class DeliveryCases:
    def __init__(self, subscriptions: SubscriptionStore, deliveries: Deliveries) -> None:
        self.subscriptions, self.deliveries = subscriptions, deliveries

    async def listing(self, subscription_id: str | None = None) -> list[SubscriptionDeliveries]:
        """Pending deliveries and dead letters of one subscription, or of every one."""
        return [
            SubscriptionDeliveries(s, await self.deliveries.pending(s.id), await self.deliveries.dead(s.id))
            for s in await self._chosen(subscription_id)
        ]

    async def retry(self, subscription_id: str | None = None) -> list[Redelivered]:
        """Send the dead letters of one subscription (or of every one) again, each as the same
        delivery: the receiver sees its original idempotency key and can tell a repeat."""
        return [Redelivered(s.id, await self.deliveries.redeliver(s.id)) for s in await self._chosen(subscription_id)]

    async def _chosen(self, subscription_id: str | None) -> list[Subscription]:
        every = await self.subscriptions.all()
        if subscription_id is None:
            return every
        chosen = [s for s in every if s.id == subscription_id]
        if not chosen:
            raise NotFound(f"no subscription {subscription_id!r}", "订阅不存在")
        return chosen
