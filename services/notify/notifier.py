"""Telling subscribers: from the plans' outboxes to each subscriber's channel, at least once.

1. Fan-out. A consumer group `notifier` reads every plan's outbox (alert notices written by the
   live projection). Each notice is queued for every subscription that wants it — once: the
   queueing script remembers the notice id per subscriber — and only then acknowledged, so a
   crash re-reads it and queues nothing twice. Pending entries of a dead notifier are claimed.
2. Delivery. Per subscription (one notifier at a time, by lease) the queue is sent in order:
   - a burst is folded into one summary message when it would not fit the channel's rate
     (robots: 20 a minute) or is more than a few notices;
   - the delivery is written down as "in flight" *before* it is sent, and recorded as sent
     *after*; a notifier killed in between sends the same delivery again on restart, with the
     same idempotency key — at most one duplicate, never a loss;
   - failures are retried with exponential backoff and full jitter; after `max_attempts` (or at
     once for a non-retryable answer) the delivery goes to the subscription's dead letters.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError, ResponseError

from events.alerts import AlertNotice, severity_rank
from services.notify.channels import (
    ChannelConfig,
    SendResult,
    UnresolvedTarget,
    UnsafeTarget,
    build_request,
    check_target,
    send,
)
from services.notify.subscriptions import ROBOTS, Subscription, SubscriptionStore
from services.store import EventStore, Keyspace, Lease

log = logging.getLogger("planwatch.notifier")

GROUP = "notifier"
FOLD_OVER = 3  # more notices than this at once become one summary message
SUMMARY_LISTS = 20  # a summary names the most important notices, counts the rest

_QUEUE = """
-- KEYS: seen hash, queue stream   ARGV: notice id, notice json
if redis.call('HSETNX', KEYS[1], ARGV[1], 1) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'notice', ARGV[2])
return 1
"""


class Notifier:
    def __init__(
        self,
        redis: Redis,
        keys: Keyspace,
        worker_id: str,
        http: httpx.AsyncClient,
        *,
        max_attempts: int = 5,
        backoff_s: float = 2.0,
        backoff_cap_s: float = 300.0,
        lease_ttl_ms: int = 10_000,
        claim_idle_ms: int = 30_000,
        link: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis, self.keys, self.worker_id, self.http = redis, keys, worker_id, http
        self.max_attempts, self.backoff_s, self.backoff_cap_s = max_attempts, backoff_s, backoff_cap_s
        self.claim_idle_ms, self.link, self.clock = claim_idle_ms, link, clock
        self.subscriptions = SubscriptionStore(redis, keys)
        self.lease = Lease(redis, worker_id, lease_ttl_ms)
        self.store = EventStore(redis, keys)
        self._queue = redis.register_script(_QUEUE)
        self._groups: set[str] = set()
        self._outbox_plans: dict[str, str] = {}  # outbox key → its plan
        self._plans_until = self._subscriptions_until = self._next_claim = 0.0
        self._subscription_list: list[Subscription] = []
        self._leases: dict[str, float] = {}  # subscription id → until when our lease needs no renewal

    # --- 1. fan-out --------------------------------------------------------------------------

    async def fan_out(self, block_ms: int = 1000) -> int:
        """Queue new outbox notices for the subscriptions that want them; returns how many read."""
        outboxes = await self._outboxes()
        if not outboxes:
            await asyncio.sleep(block_ms / 1000)
            return 0
        entries: list[tuple[str, str, dict[str, str]]] = []
        if time.monotonic() >= self._next_claim:  # a dead notifier's unacknowledged notices come back
            self._next_claim = time.monotonic() + self.claim_idle_ms / 4000
            for outbox in outboxes:
                claimed = await self.redis.xautoclaim(outbox, GROUP, self.worker_id, self.claim_idle_ms, count=100)
                # [cursor, entries] on Redis 6.2, [cursor, entries, deleted ids] on 7
                entries += [(outbox, entry_id, fields) for entry_id, fields in claimed[1]]
        reply = await self.redis.xreadgroup(
            GROUP, self.worker_id, {o: ">" for o in outboxes}, count=200, block=None if entries else block_ms
        )
        for outbox, items in reply or []:
            entries += [(outbox, entry_id, fields) for entry_id, fields in items]
        if not entries:
            return 0
        subscriptions = await self._subscriptions()
        acks: dict[str, list[str]] = {}
        async with self.redis.pipeline(transaction=False) as pipe:  # one round trip for the whole batch
            for outbox, entry_id, fields in entries:
                acks.setdefault(outbox, []).append(entry_id)
                try:
                    notice = AlertNotice.model_validate_json(fields.get("notice", ""))
                except ValueError as exc:  # read again it would fail again: set it aside, with why
                    log.error("outbox %s entry %s is not a notice: %s", outbox, entry_id, exc)
                    pipe.xadd(
                        self.keys.outbox_dead(self._outbox_plans[outbox]),
                        {
                            "entry_id": entry_id,
                            "error": str(exc)[:2000],
                            "fields": json.dumps(fields, ensure_ascii=False),
                        },
                    )
                    continue
                for subscription in subscriptions:
                    if subscription.wants(notice):
                        await self._queue(
                            keys=[self.keys.sub_seen(subscription.id), self.keys.sub_queue(subscription.id)],
                            args=[notice.notice_id, fields["notice"]],
                            client=pipe,
                        )
            await pipe.execute()  # raises if any queueing failed: then nothing is acknowledged
        async with self.redis.pipeline(transaction=False) as pipe:
            for outbox, entry_ids in acks.items():
                pipe.xack(outbox, GROUP, *entry_ids)
            await pipe.execute()
        return len(entries)

    async def _outboxes(self) -> list[str]:
        """The plans' outboxes, with the consumer group on each (the plan list is re-read each second)."""
        if time.monotonic() >= self._plans_until:
            self._plans_until = time.monotonic() + 1
            self._outbox_plans = {self.keys.outbox(p): p for p in await self.store.plans()}
        for outbox in self._outbox_plans:
            if outbox not in self._groups:
                try:
                    await self.redis.xgroup_create(outbox, GROUP, id="0", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
                self._groups.add(outbox)
        return list(self._outbox_plans)

    async def _subscriptions(self) -> list[Subscription]:
        """Subscriptions, re-read at most once a second: a new one is served within a second."""
        if time.monotonic() >= self._subscriptions_until:
            self._subscriptions_until = time.monotonic() + 1
            self._subscription_list = await self.subscriptions.all()
        return self._subscription_list

    # --- 2. delivery -------------------------------------------------------------------------

    async def deliver_all(self) -> int:
        """One round over every subscription this notifier holds the lease of."""
        delivered = 0
        for subscription in await self._subscriptions():
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
        keys, sid = self.keys, subscription.id
        now_ms = int(self.clock() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.sub_state(sid))
            pipe.xrange(keys.sub_queue(sid), count=500)
            pipe.zremrangebyscore(keys.sub_rate(sid), 0, now_ms - 60_000)
            pipe.zcard(keys.sub_rate(sid))
            state, entries, _, sent_last_minute = await pipe.execute()
        if int(state.get("next_attempt_ms", 0)) > now_ms:
            return 0
        if "inflight" in state:  # a delivery begun before a restart: send exactly it again
            inflight = json.loads(state["inflight"])
            wanted = set(inflight["entries"])  # a run at the head of the queue: among those just read
            notices = [AlertNotice.model_validate_json(f["notice"]) for e, f in entries if e in wanted]
        else:
            if not entries:
                return 0
            budget = subscription.rate - sent_last_minute
            if budget <= 0:
                return 0
            fold = len(entries) > FOLD_OVER or len(entries) > budget
            chosen = entries if fold else entries[:1]
            ids = [f["id"] for _, f in chosen]
            delivery_id = ids[0] if not fold else "summary:" + hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
            inflight = {"delivery_id": delivery_id, "entries": [e for e, _ in chosen], "ids": ids, "fold": fold}
            # written down before sending: a crash after the send repeats this very delivery
            await self.redis.hset(keys.sub_state(sid), "inflight", json.dumps(inflight))
            notices = [AlertNotice.model_validate_json(f["notice"]) for _, f in chosen]
        result = await self._send(subscription, notices, inflight)
        return await self._settle(subscription, inflight, notices, result, state, now_ms)

    async def _send(self, subscription: Subscription, notices: list[AlertNotice], inflight: dict) -> SendResult:
        if not notices:  # the queue lost them (unsubscribed and resubscribed): nothing to send
            return SendResult(ok=True, status=None, error=None, retry=False)
        if inflight["fold"] and subscription.channel in ROBOTS:  # people read robots: name the worst, count the rest
            listed = sorted(notices, key=lambda n: -severity_rank(n.severity))[:SUMMARY_LISTS]
        else:  # machines read webhooks: every notice
            listed = notices
        if subscription.channel == "stream":
            await self.redis.xadd(
                self.keys.sub_stream(subscription.id),
                {
                    "delivery_id": inflight["delivery_id"],
                    "notices": json.dumps([n.model_dump(mode="json") for n in notices], ensure_ascii=False),
                },
                maxlen=100_000,
                approximate=True,
            )
            return SendResult(ok=True, status=None, error=None, retry=False)
        assert subscription.url is not None
        try:  # checked at each send, and the checked address is the one connected to (DNS rebinding)
            addresses = await check_target(subscription.url, allow_private=subscription.allow_private)
        except UnsafeTarget as exc:
            return SendResult(ok=False, status=None, error=str(exc), retry=isinstance(exc, UnresolvedTarget))
        try:
            channel = ChannelConfig(kind=subscription.channel, url=subscription.url, secret=subscription.secret)
        except ValueError as exc:  # e.g. a webhook stored unsigned before every webhook was: a refusal
            return SendResult(ok=False, status=None, error=f"subscription cannot be sent to: {exc}", retry=False)
        request = build_request(
            channel,
            listed,
            delivery_id=inflight["delivery_id"],
            now=datetime.now(UTC),
            summary_of=len(notices) if inflight["fold"] else None,
            link=self._link(listed),
        )
        return await send(self.http, request, addresses=addresses)

    def _link(self, notices: list[AlertNotice]) -> str | None:
        """Where to read more: a rollup's printable page; otherwise the API's base address."""
        if not self.link:
            return None
        if len(notices) == 1 and notices[0].type == "rollup.published":
            notice = notices[0]
            return f"{self.link.rstrip('/')}/v1/plans/{notice.plan_id}/rollups/{notice.period}.html"
        return self.link

    async def _settle(
        self,
        subscription: Subscription,
        inflight: dict,
        notices: list[AlertNotice],
        result: SendResult,
        state: dict[str, str],
        now_ms: int,
    ) -> int:
        keys, sid = self.keys, subscription.id
        if result.ok:
            record = json.dumps({"delivery_id": inflight["delivery_id"], "at": now_ms, "status": result.status})
            async with self.redis.pipeline(transaction=True) as pipe:  # recorded and dequeued together
                pipe.hset(keys.sub_sent(sid), mapping={notice_id: record for notice_id in inflight["ids"]})
                pipe.zadd(keys.sub_rate(sid), {inflight["delivery_id"]: now_ms})
                self._finish(pipe, sid, inflight)
                await pipe.execute()
            return len(inflight["ids"])
        failures = int(state.get("failures", 0)) + 1
        log.warning(
            "subscription %s: delivery %s failed (%d): %s", sid, inflight["delivery_id"], failures, result.error
        )
        if not result.retry or failures >= self.max_attempts:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xadd(
                    keys.sub_dead(sid),
                    {
                        "delivery_id": inflight["delivery_id"],
                        "error": result.error or f"HTTP {result.status}",
                        "attempts": failures,
                        "notices": json.dumps([n.model_dump(mode="json") for n in notices], ensure_ascii=False),
                    },
                )
                self._finish(pipe, sid, inflight)
                await pipe.execute()
            return len(inflight["ids"])
        # exponential backoff with full jitter: retries of many notifiers do not arrive together
        delay = random.uniform(0, min(self.backoff_cap_s, self.backoff_s * 2 ** (failures - 1)))
        await self.redis.hset(
            keys.sub_state(sid), mapping={"failures": failures, "next_attempt_ms": now_ms + int(delay * 1000)}
        )
        return 0

    def _finish(self, pipe: Pipeline, sid: str, inflight: dict) -> None:
        if inflight["entries"]:
            pipe.xdel(self.keys.sub_queue(sid), *inflight["entries"])
        pipe.hdel(self.keys.sub_state(sid), "inflight", "failures", "next_attempt_ms")

    # --- the loop ----------------------------------------------------------------------------

    async def run(self, interval: float = 0.2) -> None:
        """Fan out and deliver until cancelled."""
        while True:
            try:
                await self.fan_out(block_ms=int(interval * 1000))
                await self.deliver_all()
            except (RedisError, OSError) as exc:
                log.warning("notifier %s: %s", self.worker_id, exc)
                await asyncio.sleep(1)
