"""Delivery: each subscription's queue sent through its channel, at least once.

Per subscription (one notifier at a time, by lease) the queue is sent in order:
- a burst is folded into one summary message when it would not fit the channel's rate
  (robots: 20 a minute) or is more than a few notices;
- the delivery is written down as "in flight" *before* it is sent, and recorded as sent
  *after*; a notifier killed in between sends the same delivery again on restart, with the
  same idempotency key — at most one duplicate, never a loss;
- failures are retried with exponential backoff and full jitter; after `max_attempts` (or at
  once for a non-retryable answer) the delivery goes to the subscription's dead letters."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from redis.asyncio.client import Pipeline

from events.alerts import AlertNotice
from services.notify.channels import CHANNELS, Delivery, Outlets, notices_json
from services.notify.http import SendResult
from services.notify.recent import Recent
from services.notify.subscriptions import Subscription
from services.observability import metrics
from services.store import Lease, SignedLinks

log = logging.getLogger("planwatch.notifier")

FOLD_OVER = 3  # more notices than this at once become one summary message

QueueEntry = tuple[str, dict[str, str]]  # entry id, fields {id, notice}


@dataclass(frozen=True)
class Inflight:
    """A delivery as written down before it is sent (`inflight` in the subscription's state)."""

    delivery_id: str
    entries: list[str]  # its queue entries: a run at the head of the queue
    ids: list[str]  # its notices' ids
    fold: bool  # one summary message for them all

    @classmethod
    def of(cls, chosen: list[QueueEntry], fold: bool) -> Inflight:
        ids = [fields["id"] for _, fields in chosen]
        delivery_id = "summary:" + hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16] if fold else ids[0]
        return cls(delivery_id=delivery_id, entries=[entry for entry, _ in chosen], ids=ids, fold=fold)

    @classmethod
    def from_json(cls, text: str) -> Inflight:
        return cls(**json.loads(text))

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def _version(notice: AlertNotice) -> int:
    """The version a rollup notice announces (its `values`; the first version if it says none)."""
    version = notice.values.get("version") if notice.values else None
    return version if isinstance(version, int) else 1


def _choose(entries: list[QueueEntry], budget: int) -> tuple[list[QueueEntry], bool]:
    """What to send now from the head of the queue, and whether as one summary: nothing once the
    minute's rate is used up; all of them folded when there are too many for one each."""
    if not entries or budget <= 0:
        return [], False
    fold = len(entries) > FOLD_OVER or len(entries) > budget
    return (entries if fold else entries[:1]), fold


class Deliverer:
    def __init__(
        self,
        outlets: Outlets,
        worker_id: str,
        subscriptions: Recent[list[Subscription]],
        *,
        max_attempts: int,
        backoff_s: float,
        backoff_cap_s: float,
        lease_ttl_ms: int,
        links: SignedLinks | None,
        clock: Callable[[], float],
    ) -> None:
        self.outlets, self.redis, self.keys = outlets, outlets.redis, outlets.keys
        self.subscriptions = subscriptions
        self.max_attempts, self.backoff_s, self.backoff_cap_s = max_attempts, backoff_s, backoff_cap_s
        self.links, self.clock = links, clock
        self.lease = Lease(outlets.redis, worker_id, lease_ttl_ms)
        self._leases: dict[str, float] = {}  # subscription id → until when our lease needs no renewal

    async def deliver_all(self) -> int:
        """One round over every subscription this notifier holds the lease of."""
        delivered = 0
        for subscription in await self.subscriptions.get():
            if await self._holds(subscription.id):
                delivered += await self.deliver(subscription)
        return delivered

    async def _holds(self, subscription_id: str) -> bool:
        """Whether we deliver for this subscription (the lease is renewed a few times per period)."""
        if self._leases.get(subscription_id, 0) > time.monotonic():
            return True
        held = await self.lease.hold(self.keys.sub_lease(subscription_id))
        self._leases[subscription_id] = time.monotonic() + self.lease.ttl_ms / 3000 if held else 0
        return held

    async def deliver(self, subscription: Subscription) -> int:
        """Send what is queued for one subscription, as its rate and backoff allow. Returns the
        number of notices delivered (or given up) in this round."""
        sid = subscription.id
        now_ms = int(self.clock() * 1000)
        state, entries, sent_last_minute = await self._read(sid, now_ms)
        if int(state.get("next_attempt_ms", 0)) > now_ms:
            return 0
        if "inflight" in state:  # a delivery begun before a restart: send exactly it again
            inflight = Inflight.from_json(state["inflight"])
            wanted = set(inflight.entries)  # a run at the head of the queue: among those just read
            chosen = [(entry, fields) for entry, fields in entries if entry in wanted]
        else:
            chosen, fold = _choose(entries, subscription.rate - sent_last_minute)
            if not chosen:
                return 0
            inflight = Inflight.of(chosen, fold)
            # written down before sending: a crash after the send repeats this very delivery
            await self.redis.hset(self.keys.sub_state(sid), "inflight", inflight.to_json())
        notices = [AlertNotice.model_validate_json(fields["notice"]) for _, fields in chosen]
        result = await self._send(subscription, notices, inflight)
        failures = int(state.get("failures", 0))
        return await self._settle(sid, subscription.channel, inflight, notices, result, failures, now_ms)

    async def _read(self, sid: str, now_ms: int) -> tuple[dict[str, str], list[QueueEntry], int]:
        """The subscription's state, the head of its queue, and how many sends the last minute had."""
        keys = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.sub_state(sid))
            pipe.xrange(keys.sub_queue(sid), count=500)
            pipe.zremrangebyscore(keys.sub_rate(sid), 0, now_ms - 60_000)
            pipe.zcard(keys.sub_rate(sid))
            state, entries, _, sent_last_minute = await pipe.execute()
        return state, entries, sent_last_minute

    async def _send(self, subscription: Subscription, notices: list[AlertNotice], inflight: Inflight) -> SendResult:
        if not notices:  # the queue lost them (unsubscribed and resubscribed): nothing to send
            return SendResult.delivered()
        delivery = Delivery(id=inflight.delivery_id, notices=notices, summary=inflight.fold, link=self._link(notices))
        return await CHANNELS[subscription.channel].deliver(delivery, subscription, self.outlets)

    def _link(self, notices: list[AlertNotice]) -> str | None:
        """Where to read more: a rollup's printable page, by a signed link a phone opens without a
        token; otherwise the plan's alerts page on the dashboard (or the dashboard, for several plans)."""
        if self.links is None:
            return None
        notice = notices[0]
        if len(notices) == 1 and notice.type == "rollup.published" and notice.period is not None:
            return self.links.rollup(notice.plan_id, notice.period, _version(notice))
        plans = {n.plan_id for n in notices}
        return self.links.page(f"/plans/{plans.pop()}/alerts" if len(plans) == 1 else "/")

    async def _settle(
        self,
        sid: str,
        channel: str,
        inflight: Inflight,
        notices: list[AlertNotice],
        result: SendResult,
        failures_before: int,
        now_ms: int,
    ) -> int:
        """Record the outcome; returns the number of notices done with (sent or given up)."""
        counted = metrics.DELIVERIES.labels  # by channel and outcome
        if result.ok:
            await self._record_sent(sid, inflight, result, now_ms)
            counted(channel, "sent").inc()
            return len(inflight.ids)
        failures = failures_before + 1
        log.warning("subscription %s: delivery %s failed (%d): %s", sid, inflight.delivery_id, failures, result.error)
        if not result.retry or failures >= self.max_attempts:
            await self._give_up(sid, inflight, notices, result, failures)
            counted(channel, "dead").inc()
            return len(inflight.ids)
        await self._back_off(sid, failures, now_ms)
        counted(channel, "retried").inc()
        return 0

    async def _record_sent(self, sid: str, inflight: Inflight, result: SendResult, now_ms: int) -> None:
        record = json.dumps({"delivery_id": inflight.delivery_id, "at": now_ms, "status": result.status})
        async with self.redis.pipeline(transaction=True) as pipe:  # recorded and dequeued together
            pipe.hset(self.keys.sub_sent(sid), mapping=dict.fromkeys(inflight.ids, record))
            pipe.zadd(self.keys.sub_rate(sid), {inflight.delivery_id: now_ms})
            self._finish(pipe, sid, inflight)
            await pipe.execute()

    async def _give_up(
        self, sid: str, inflight: Inflight, notices: list[AlertNotice], result: SendResult, failures: int
    ) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:  # a dead letter, and dequeued, together
            pipe.xadd(
                self.keys.sub_dead(sid),
                {
                    "delivery_id": inflight.delivery_id,
                    "error": result.error or f"HTTP {result.status}",
                    "attempts": failures,
                    "notices": notices_json(notices),
                },
            )
            self._finish(pipe, sid, inflight)
            await pipe.execute()

    async def _back_off(self, sid: str, failures: int, now_ms: int) -> None:
        # exponential backoff with full jitter: retries of many notifiers do not arrive together
        delay = random.uniform(0, min(self.backoff_cap_s, self.backoff_s * 2 ** (failures - 1)))
        await self.redis.hset(
            self.keys.sub_state(sid), mapping={"failures": failures, "next_attempt_ms": now_ms + int(delay * 1000)}
        )

    def _finish(self, pipe: Pipeline, sid: str, inflight: Inflight) -> None:
        if inflight.entries:
            pipe.xdel(self.keys.sub_queue(sid), *inflight.entries)
        pipe.hdel(self.keys.sub_state(sid), "inflight", "failures", "next_attempt_ms")
