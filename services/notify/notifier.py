"""Telling subscribers: from the plans' outboxes to each subscriber's channel, at least once.

1. Fan-out (`fanout.py`): every plan's outbox is read by the consumer group `notifier`, and each
   notice queued once for every subscription that wants it.
2. Delivery (`delivery.py`): per subscription, by lease, the queue is sent through the
   subscription's channel (`channels/`), folded into summaries, within the rate, retried with
   backoff, given up to dead letters.
3. Reminders (`reminders.py`): a digest of what still fires, every `repeat_interval` within
   working hours, made ahead of the queue and delivered the same way.

Several notifiers may run: the consumer group shares the outboxes among them, the leases the
subscriptions."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.notify.channels import Outlets
from services.notify.delivery import Deliverer
from services.notify.fanout import FanOut
from services.notify.guard import Network
from services.notify.recent import Recent
from services.notify.reminders import FiringOf, Reminders
from services.notify.subscriptions import Subscription, SubscriptionStore
from services.observability import metrics
from services.store import Announcements, Keyspace, Sealer, SignedLinks
from services.tasks import raise_if_cancelled

log = logging.getLogger("planwatch.notifier")


class Notifier:
    def __init__(
        self,
        redis: Redis,
        keys: Keyspace,
        worker_id: str,
        http: httpx.AsyncClient,
        *,
        backoff_s: float = 2.0,
        backoff_cap_s: float = 300.0,
        lease_ttl_ms: int = 10_000,
        claim_idle_ms: int = 30_000,
        links: SignedLinks | None = None,
        clock: Callable[[], float] = time.time,
        allowed_targets: Sequence[Network] = (),
        sealer: Sealer | None = None,
        firing_of: FiringOf | None = None,
        zone: str = "Asia/Shanghai",
        announcements: Announcements | None = None,
    ) -> None:
        """`firing_of`: what fires now that a subscription would be told of (`App.alerting.firing_for`),
        for reminders — none without it; `zone`: the installation's, for subscriptions whose working
        hours name none (PLANWATCH_TIME_ZONE); `announcements`: the process's subscription, not
        started yet, on which the fan-out hears which outboxes were written (its owner runs it)."""
        self.worker_id = worker_id
        # re-read at most once a second: a new subscription is served within a second
        store = SubscriptionStore(redis, keys, allowed_targets, sealer)
        subscriptions: Recent[list[Subscription]] = Recent(store.all, initial=[])
        self.fanout = FanOut(
            redis, keys, worker_id, subscriptions, claim_idle_ms=claim_idle_ms, announcements=announcements
        )
        self.delivery = Deliverer(
            Outlets(redis, keys, http, tuple(allowed_targets)),
            worker_id,
            subscriptions,
            backoff_s=backoff_s,
            backoff_cap_s=backoff_cap_s,
            lease_ttl_ms=lease_ttl_ms,
            links=links,
            clock=clock,
            reminders=Reminders(redis, keys, firing_of, zone),
        )

    async def fan_out(self, block_ms: int = 1000) -> int:
        """Queue new outbox notices for the subscriptions that want them; returns how many read."""
        return await self.fanout.step(block_ms)

    async def deliver_all(self) -> int:
        """One round of delivery over every subscription this notifier holds the lease of."""
        return await self.delivery.deliver_all()

    async def run(self, interval: float = 0.2) -> None:
        """Fan out and deliver until cancelled."""
        while True:
            raise_if_cancelled()  # a cancellation swallowed by a Redis call (services/tasks.py)
            try:
                await self.fan_out(block_ms=int(interval * 1000))
                await self.deliver_all()
                metrics.REDIS_UP.set(1)
            except (RedisError, OSError) as exc:
                metrics.REDIS_UP.set(0)
                log.warning("notifier %s: %s", self.worker_id, exc)
                await asyncio.sleep(1)
