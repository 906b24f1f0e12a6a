"""Delivery: each subscription's queue sent through its channel, at least once.

Per subscription (one notifier at a time, by lease) the queue is sent in order:
- what is queued goes as one message (a summary, if more than one notice) once the group is
  due: `group_wait` after its first notice was seen, `group_interval` after the last message,
  and while the channel's rate (robots: 20 a minute) has room — so a burst is one message;
- the delivery is written down as "in flight" *before* it is sent, and recorded as sent
  *after*; a notifier killed in between sends the same delivery again on restart, with the
  same idempotency key — at most one duplicate, never a loss;
- failures are retried with capped exponential backoff and full jitter for the subscription's
  maximum age (default a day, from the first failure); then — or at once for a refusal — the
  delivery goes to the subscription's dead letters;
- deliveries made up ahead of the queue (`outgoing`: dead letters asked to be redelivered, with
  their original idempotency key) go first, one at a time, the same way."""

from __future__ import annotations

import asyncio
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
from services.notify.outgoing import Outgoing
from services.notify.recent import Recent
from services.notify.reminders import Reminders, zone_of
from services.notify.subscriptions import Subscription, drop_if_delivery_key
from services.notify.wording import DigestKind
from services.observability import metrics
from services.store import DamagedKey, Lease, SignedLinks, stored_int

log = logging.getLogger("planwatch.notifier")

QueueEntry = tuple[str, dict[str, str]]  # entry id, fields {id, notice}
CONCURRENCY = 8  # subscriptions delivered at once (each its own receiver; Redis connections are pooled)


@dataclass(frozen=True)
class Inflight:
    """A delivery as written down before it is sent (`inflight` in the subscription's state)."""

    delivery_id: str
    entries: list[str]  # its queue entries: a run at the head of the queue (or its outgoing entry)
    ids: list[str]  # its notices' ids
    fold: bool  # one summary message for them all
    outgoing: bool = False  # made up ahead of the queue (`sub_outgoing`), not read from it

    @classmethod
    def of(cls, chosen: list[QueueEntry], fold: bool) -> Inflight:
        ids = [fields["id"] for _, fields in chosen]
        delivery_id = "summary:" + hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16] if fold else ids[0]
        return cls(delivery_id=delivery_id, entries=[entry for entry, _ in chosen], ids=ids, fold=fold)

    @classmethod
    def from_json(cls, text: str) -> Inflight:
        return cls(**json.loads(text))

    def to_json(self) -> str:
        record = asdict(self)
        if not self.outgoing:  # a queue's delivery keeps the shape older notifiers wrote
            del record["outgoing"]
        return json.dumps(record)


def _version(notice: AlertNotice) -> int:
    """The version a rollup notice announces (its `values`; the first version if it says none)."""
    version = notice.values.get("version") if notice.values else None
    return version if isinstance(version, int) else 1


_NUMBERS = ("next_attempt_ms", "group_since_ms", "last_sent_ms", "failures", "failing_since_ms", "reminded_ms")


def _unreadable_fields(state: dict[str, str]) -> list[str]:
    """The fields of a subscription's delivery state that cannot be read: a number that is not
    one, a delivery in flight that is not one. Without them a delivery starts afresh (its notices
    are still queued: at least once, as ever)."""
    damaged = [name for name in _NUMBERS if name in state and stored_int(state[name]) is None]
    if "inflight" in state:
        try:
            Inflight.from_json(state["inflight"])
        except (ValueError, TypeError, KeyError):
            damaged.append("inflight")
    return damaged


def group_due_ms(state: dict[str, str], subscription: Subscription) -> int:
    """When the waiting group may go: `group_wait` after its first notice was seen, and
    `group_interval` after the last message."""
    since = int(state.get("group_since_ms", 0))
    last = int(state.get("last_sent_ms", 0))
    return max(since + int(subscription.group_wait_s * 1000), last + int(subscription.group_interval_s * 1000))


@dataclass(frozen=True)
class Chosen:
    """What one round sends for a subscription: the record written before sending, and its notices."""

    inflight: Inflight
    notices: list[AlertNotice]
    digest: DigestKind | None = None  # worded as a digest of the alerts firing now
    zone: str | None = None  # a digest's zone


@dataclass(frozen=True)
class Heads:
    """What a round reads of one subscription."""

    state: dict[str, str]
    queue: list[QueueEntry]  # the head of the queue
    outgoing: list[QueueEntry]  # the head of the deliveries made up ahead of it
    sent_last_minute: int


def backoff_delay(failures: int, base_s: float, cap_s: float) -> float:
    """Capped exponential backoff with full jitter: retries of many notifiers do not arrive together."""
    return random.uniform(0, min(cap_s, base_s * 2 ** min(failures - 1, 40)))


class Deliverer:
    def __init__(
        self,
        outlets: Outlets,
        worker_id: str,
        subscriptions: Recent[list[Subscription]],
        *,
        backoff_s: float,
        backoff_cap_s: float,
        lease_ttl_ms: int,
        links: SignedLinks | None,
        clock: Callable[[], float],
        reminders: Reminders,
    ) -> None:
        self.outlets, self.redis, self.keys = outlets, outlets.redis, outlets.keys
        self.reminders = reminders
        self.subscriptions = subscriptions
        self.backoff_s, self.backoff_cap_s = backoff_s, backoff_cap_s
        self.links, self.clock = links, clock
        self.lease = Lease(outlets.redis, worker_id, lease_ttl_ms)
        self._leases: dict[str, float] = {}  # subscription id → until when our lease needs no renewal
        # subscription id → its next attempt (ms) while backing off, as we wrote it: a failing
        # receiver's subscription is not read again before then (its queue may be long)
        self._resting: dict[str, int] = {}

    async def deliver_all(self) -> int:
        """One round over every subscription this notifier holds the lease of, CONCURRENCY at a
        time: a slow receiver holds up its own subscription, not the round. The round ends when
        every subscription's turn has (so no subscription is ever delivered twice at once)."""
        held = [s for s in await self.subscriptions.get() if await self._holds(s.id)]
        gate = asyncio.Semaphore(CONCURRENCY)

        async def turn(subscription: Subscription) -> int:
            async with gate:
                try:
                    return await self.deliver(subscription)
                except DamagedKey as damage:  # one of its keys, of another type: dropped, or raised
                    if not await drop_if_delivery_key(self.redis, self.keys, damage):
                        raise
                    return 0

        results = await asyncio.gather(*(turn(s) for s in held), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))

    async def _holds(self, subscription_id: str) -> bool:
        """Whether we deliver for this subscription (the lease is renewed a few times per period)."""
        if self._leases.get(subscription_id, 0) > time.monotonic():
            return True
        try:
            held = await self.lease.hold(self.keys.sub_lease(subscription_id))
        except DamagedKey as damage:  # no notifier's lease: dropped, taken at the next round
            if not await drop_if_delivery_key(self.redis, self.keys, damage):
                raise
            held = False
        self._leases[subscription_id] = time.monotonic() + self.lease.ttl_ms / 3000 if held else 0
        if not held:  # another notifier's now: what we knew of its backoff may go stale
            self._resting.pop(subscription_id, None)
        return held

    async def deliver(self, subscription: Subscription) -> int:
        """Send what is waiting for one subscription, as its rate and backoff allow. Returns the
        number of notices delivered (or given up) in this round."""
        sid = subscription.id
        now_ms = int(self.clock() * 1000)
        if self._resting.get(sid, 0) > now_ms:
            return 0
        heads = await self._read(sid, now_ms)
        if int(heads.state.get("next_attempt_ms", 0)) > now_ms:
            return 0
        chosen: Chosen | None
        if "inflight" in heads.state:  # a delivery begun before a restart: send exactly it again
            chosen = self._resumed(Inflight.from_json(heads.state["inflight"]), heads)
        elif await self.reminders.remind(subscription, heads.state, bool(heads.outgoing), now_ms):
            return 0  # made ahead of the queue: sent from the next round on, like a redelivery
        else:
            chosen = await self._next(subscription, heads, now_ms)
            if chosen is None:
                return 0
            # written down before sending: a crash after the send repeats this very delivery
            await self.redis.hset(self.keys.sub_state(sid), "inflight", chosen.inflight.to_json())
        result = await self._send(subscription, chosen)
        return await self._settle(subscription, chosen, result, heads.state, now_ms)

    async def _read(self, sid: str, now_ms: int) -> Heads:
        """The subscription's state, the heads of its queues, and how many sends the last minute had."""
        keys = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.sub_state(sid))
            pipe.xrange(keys.sub_queue(sid), count=500)
            pipe.xrange(keys.sub_outgoing(sid), count=1)
            pipe.zremrangebyscore(keys.sub_rate(sid), 0, now_ms - 60_000)
            pipe.zcard(keys.sub_rate(sid))
            state, queue, outgoing, _, sent_last_minute = await pipe.execute()
        damaged = _unreadable_fields(state)
        if damaged:  # written by hand, or damaged: cleared, so that this round and the scripts agree
            log.warning("subscription %s: delivery state %s cannot be read; cleared", sid, ", ".join(damaged))
            await self.redis.hdel(keys.sub_state(sid), *damaged)
            for name in damaged:
                del state[name]
        return Heads(state, queue, outgoing, sent_last_minute)

    async def _next(self, subscription: Subscription, heads: Heads, now_ms: int) -> Chosen | None:
        """The next delivery: a made-up one first (a redelivery is older than what is queued),
        else what the queue holds, as one grouped message once the group is due; nothing once
        the minute's rate is used up."""
        sid = subscription.id
        if heads.sent_last_minute >= subscription.rate:
            return None
        if heads.outgoing:
            entry, fields = heads.outgoing[0]
            try:
                made = Outgoing.read(fields)
            except (ValueError, KeyError) as exc:  # read again it would fail again: set aside, with why
                await self._set_aside(sid, entry, fields, exc)
                return None
            inflight = Inflight(made.delivery_id, [entry], [n.notice_id for n in made.notices], made.fold, True)
            return Chosen(inflight, made.notices, made.digest, made.zone)
        if not heads.queue:
            return None
        if "group_since_ms" not in heads.state:  # the first of a group: it waits for the rest
            heads.state["group_since_ms"] = str(now_ms)
            await self.redis.hset(self.keys.sub_state(sid), "group_since_ms", now_ms)
        if group_due_ms(heads.state, subscription) > now_ms:
            return None
        return Chosen(Inflight.of(heads.queue, len(heads.queue) > 1), _notices(heads.queue))

    def _resumed(self, inflight: Inflight, heads: Heads) -> Chosen:
        """The delivery in flight, read back: its entries are at the head of their stream."""
        wanted = set(inflight.entries)
        if inflight.outgoing:
            made = [Outgoing.read(fields) for entry, fields in heads.outgoing if entry in wanted]
            if not made:
                return Chosen(inflight, [])
            return Chosen(inflight, made[0].notices, made[0].digest, made[0].zone)
        return Chosen(inflight, _notices([(entry, fields) for entry, fields in heads.queue if entry in wanted]))

    async def _send(self, subscription: Subscription, chosen: Chosen) -> SendResult:
        if not chosen.notices:  # the queue lost them (unsubscribed and resubscribed): nothing to send
            return SendResult.delivered()
        inflight, notices = chosen.inflight, chosen.notices
        delivery = Delivery(
            id=inflight.delivery_id,
            notices=notices,
            summary=inflight.fold,
            link=self._link(notices),
            digest=chosen.digest,
            # a message's times in the zone of the subscription's plans (a digest keeps the one it was made in)
            zone=chosen.zone or zone_of(subscription, self.reminders.default_zone),
        )
        return await CHANNELS[subscription.channel].deliver(delivery, subscription, self.outlets)

    def _link(self, notices: list[AlertNotice]) -> str | None:
        return None if self.links is None else link_for(self.links, notices)

    async def _settle(
        self, subscription: Subscription, chosen: Chosen, result: SendResult, state: dict[str, str], now_ms: int
    ) -> int:
        """Record the outcome; returns the number of notices done with (sent or given up)."""
        sid, inflight = subscription.id, chosen.inflight
        counted = metrics.DELIVERIES.labels  # by channel and outcome
        self._resting.pop(sid, None)
        if result.ok:
            await self._record_sent(sid, inflight, result, now_ms)
            counted(subscription.channel, "sent").inc()
            return len(inflight.ids)
        failures = int(state.get("failures", 0)) + 1
        failing_since_ms = int(state.get("failing_since_ms", now_ms))
        log.warning("subscription %s: delivery %s failed (%d): %s", sid, inflight.delivery_id, failures, result.error)
        give_up_at_ms = failing_since_ms + int(subscription.max_age_s * 1000)
        if not result.retry or now_ms >= give_up_at_ms:
            await self._give_up(sid, chosen, result, failures, failing_since_ms, now_ms)
            counted(subscription.channel, "dead").inc()
            return len(inflight.ids)
        # the last try comes when the maximum age is reached, not a backoff later
        next_ms = min(now_ms + int(backoff_delay(failures, self.backoff_s, self.backoff_cap_s) * 1000), give_up_at_ms)
        await self.redis.hset(
            self.keys.sub_state(sid),
            mapping={"failures": failures, "failing_since_ms": failing_since_ms, "next_attempt_ms": next_ms},
        )
        self._resting[sid] = next_ms
        counted(subscription.channel, "retried").inc()
        return 0

    async def _record_sent(self, sid: str, inflight: Inflight, result: SendResult, now_ms: int) -> None:
        record = json.dumps({"delivery_id": inflight.delivery_id, "at": now_ms, "status": result.status})
        async with self.redis.pipeline(transaction=True) as pipe:  # recorded and dequeued together
            if inflight.ids:
                pipe.hset(self.keys.sub_sent(sid), mapping=dict.fromkeys(inflight.ids, record))
            pipe.zadd(self.keys.sub_rate(sid), {inflight.delivery_id: now_ms})
            if not inflight.outgoing:  # the group's message went: the next one keeps its distance
                pipe.hset(self.keys.sub_state(sid), "last_sent_ms", now_ms)
            self._finish(pipe, sid, inflight)
            await pipe.execute()

    async def _give_up(
        self, sid: str, chosen: Chosen, result: SendResult, failures: int, failing_since_ms: int, now_ms: int
    ) -> None:
        inflight = chosen.inflight
        async with self.redis.pipeline(transaction=True) as pipe:  # a dead letter, and dequeued, together
            pipe.xadd(
                self.keys.sub_dead(sid),
                {
                    "delivery_id": inflight.delivery_id,
                    "error": result.error or f"HTTP {result.status}",
                    "attempts": failures,
                    "failing_since_ms": failing_since_ms,
                    "given_up_ms": now_ms,
                    "fold": "1" if inflight.fold else "0",
                    "notices": notices_json(chosen.notices),
                    **({"digest": chosen.digest, "zone": chosen.zone or ""} if chosen.digest else {}),
                },
            )
            self._finish(pipe, sid, inflight)
            await pipe.execute()

    async def _set_aside(self, sid: str, entry: str, fields: dict[str, str], error: Exception) -> None:
        log.error("subscription %s: outgoing entry %s cannot be read: %s", sid, entry, error)
        async with self.redis.pipeline(transaction=True) as pipe:
            letter: dict[str, str | int] = {**fields, "error": f"cannot be read: {error}"[:2000], "attempts": 0}
            pipe.xadd(self.keys.sub_dead(sid), letter)  # type: ignore[arg-type]
            pipe.xdel(self.keys.sub_outgoing(sid), entry)
            await pipe.execute()

    def _finish(self, pipe: Pipeline, sid: str, inflight: Inflight) -> None:
        if inflight.entries:
            stream = self.keys.sub_outgoing(sid) if inflight.outgoing else self.keys.sub_queue(sid)
            pipe.xdel(stream, *inflight.entries)
        done = ["inflight", "failures", "failing_since_ms", "next_attempt_ms"]
        if not inflight.outgoing:  # the group went (or was given up): the next starts with the next notice
            done.append("group_since_ms")
        pipe.hdel(self.keys.sub_state(sid), *done)


def _notices(entries: list[QueueEntry]) -> list[AlertNotice]:
    return [AlertNotice.model_validate_json(fields["notice"]) for _, fields in entries]


def link_for(links: SignedLinks, notices: list[AlertNotice]) -> str | None:
    """Where a message's 查看详情 leads: one rollup's printable page, by a signed link a phone opens
    without a token; several of a plan's rollups, its rollups page; otherwise the plan's alerts page
    on the dashboard (or the dashboard, for several plans)."""
    notice = notices[0]
    if len(notices) == 1 and notice.type == "rollup.published" and notice.period is not None:
        return links.rollup(notice.plan_id, notice.period, _version(notice))
    plans = {n.plan_id for n in notices}
    if len(plans) != 1:
        return links.page("/")
    page = "rollups" if all(n.type == "rollup.published" for n in notices) else "alerts"
    return links.page(f"/plans/{plans.pop()}/{page}")
