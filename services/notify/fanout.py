"""Fan-out: from the plans' outboxes to the subscriptions' queues, each notice once.

A consumer group `notifier` reads every plan's outbox (alert notices written by the live
projection). Each notice is queued for every subscription that wants it — once: the queueing
script remembers the notice id per subscriber — and only then acknowledged, so a crash re-reads
it and queues nothing twice. Pending entries of a dead notifier are claimed (XAUTOCLAIM). An
entry that is not a notice would fail on every read: it goes to the plan's outbox dead letters
with the error, and is acknowledged.

Which outboxes to read: those announced on their `outbox:written` channel (`OutboxNews`, heard
on the process's one subscription), so a read names the outboxes that moved, not a thousand
plans' each time; and every outbox every `SWEEP_S` and whenever news may have been missed
(the subscription (re)starting), since an entry can be written without an announcement. Without
the subscription (a notifier given none, or while it is down) every step reads every outbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import Counter
from typing import NamedTuple, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from events.alerts import AlertNotice
from services.notify.recent import Recent
from services.notify.subscriptions import Subscription, drop_if_delivery_key
from services.store import Announcements, DamagedKey, EventStore, Keyspace, is_cluster, warn_once

log = logging.getLogger("planwatch.notifier")

GROUP = "notifier"
SWEEP_S = 5.0  # every outbox read at least this often while news are heard: the safety net
READ_COUNT = 200  # entries read from one outbox at a time; one that gave as many is read again
# outboxes looked at in one claiming round trip: a thousand plans' at once held the event loop
# ~30 ms (building and reading a thousand XAUTOCLAIMs), delaying every projector of the process
CLAIM_SLICE = 64

_QUEUE = """
-- KEYS: seen hash, queue stream   ARGV: notice id, notice json
if redis.call('HSETNX', KEYS[1], ARGV[1], 1) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'notice', ARGV[2])
return 1
"""


StreamEntries = list[tuple[str, dict[str, str]]]  # (entry id, fields), as read with decoded responses


class OutboxEntry(NamedTuple):
    outbox: str
    id: str
    fields: dict[str, str]


def _entries(reply: object) -> list[OutboxEntry]:
    streams = cast(list[tuple[str, StreamEntries]] | None, reply)  # None: nothing came while blocked
    return [OutboxEntry(outbox, entry_id, fields) for outbox, items in streams or [] for entry_id, fields in items]


class OutboxNews:
    """The plans whose outboxes were announced since the fan-out last looked."""

    def __init__(self, announcements: Announcements, keys: Keyspace, sweep_s: float = SWEEP_S) -> None:
        self.sweep_s = sweep_s
        self.listening = announcements.listening
        self._plans: set[str] = set()
        self._everything = True  # nothing heard yet: every outbox
        self._next_sweep = 0.0
        self._signal = asyncio.Event()
        announcements.add(keys.outbox_written, self)

    def heard(self, plan_id: str, data: str) -> None:
        self._plans.add(plan_id)
        self._signal.set()

    def missed(self) -> None:
        self._everything = True
        self._signal.set()

    def take(self) -> set[str] | None:
        """The plans announced since the last take; None: read every outbox (news may have been
        missed, or the sweep is due)."""
        now = time.monotonic()
        everything = self._everything or now >= self._next_sweep
        plans, self._plans, self._everything = self._plans, set(), False
        self._signal.clear()
        if everything:
            self._next_sweep = now + self.sweep_s
            return None
        return plans

    def again(self, plans: set[str]) -> None:
        """Read these outboxes at the next take as well (more entries wait, or their plan is not
        listed yet); no wake-up: the next step takes them."""
        self._plans |= plans

    async def wait(self, timeout: float) -> None:
        """Until an announcement, or `timeout` seconds, or the sweep is due."""
        if self._signal.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(timeout, max(self._next_sweep - time.monotonic(), 0.0))):
                await self._signal.wait()


class FanOut:
    def __init__(
        self,
        redis: Redis,
        keys: Keyspace,
        consumer: str,
        subscriptions: Recent[list[Subscription]],
        *,
        claim_idle_ms: int,
        announcements: Announcements | None = None,
    ) -> None:
        """`announcements`: the process's subscription, to hear which outboxes were written (added
        before it runs); without it every step reads every outbox."""
        self.redis, self.keys, self.consumer = redis, keys, consumer
        self.subscriptions, self.claim_idle_ms = subscriptions, claim_idle_ms
        self.store = EventStore(redis, keys)
        self._queue = redis.register_script(_QUEUE)
        self._plans: Recent[dict[str, str]] = Recent(self._outbox_plans, initial={})  # outbox key → its plan
        self._groups: set[str] = set()
        self._next_claim = 0.0
        self._claim_from = 0  # where in the sorted outboxes the next slice to claim from starts
        self.news = OutboxNews(announcements, keys) if announcements is not None else None

    async def step(self, block_ms: int = 1000) -> int:
        """Queue new outbox notices for the subscriptions that want them; returns how many read."""
        plans = await self._outboxes()
        if not plans:
            await asyncio.sleep(block_ms / 1000)
            return 0
        try:
            entries = await self._claim(list(plans))
            entries += await self._new_entries(plans, block_ms=None if entries else block_ms)
            if not entries:
                return 0
            subscriptions = await self.subscriptions.get()
            if is_cluster(self.redis):
                # a Cluster pipeline does not load a missing script (a plain one does): on every primary first
                await self.redis.script_load(_QUEUE)
            async with self.redis.pipeline(transaction=False) as pipe:  # one round trip for the whole batch
                for entry in entries:
                    await self._fan_out(pipe, entry, plans, subscriptions)
                await pipe.execute()  # raises if any queueing failed: then nothing is acknowledged
        except DamagedKey as damage:  # nothing acknowledged: claimed again later
            if damage.key in plans:  # an outbox of another type: left out from the next step on
                self._groups.discard(damage.key)
            elif not await drop_if_delivery_key(self.redis, self.keys, damage):
                raise
            return 0
        await self._acknowledge(entries)
        return len(entries)

    async def _outboxes(self) -> dict[str, str]:
        """The plans' outboxes (the plan list is re-read each second), with the consumer group on each."""
        plans = await self._plans.get()
        for outbox in plans:
            if outbox not in self._groups:
                try:
                    await self.redis.xgroup_create(outbox, GROUP, id="0", mkstream=True)
                except DamagedKey as damage:  # of another type: read as empty (the alerts' commit drops it)
                    warn_once(damage)
                    continue
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
                self._groups.add(outbox)
        return {outbox: plan for outbox, plan in plans.items() if outbox in self._groups}

    async def _outbox_plans(self) -> dict[str, str]:
        return {self.keys.outbox(plan): plan for plan in await self.store.plans()}

    async def _claim(self, outboxes: list[str]) -> list[OutboxEntry]:
        """A dead notifier's unacknowledged notices. Every outbox is looked at about four times per
        idle period, `CLAIM_SLICE` of them at a time, the slices spread over that quarter."""
        now = time.monotonic()
        if now < self._next_claim or not outboxes:
            return []
        ordered = sorted(outboxes)  # the plan list's order may change between reads
        start = self._claim_from if self._claim_from < len(ordered) else 0
        chunk = ordered[start : start + CLAIM_SLICE]
        self._claim_from = start + len(chunk)
        self._next_claim = now + self.claim_idle_ms / 4000 / math.ceil(len(ordered) / CLAIM_SLICE)
        async with self.redis.pipeline(transaction=False) as pipe:  # one round trip (per node)
            for outbox in chunk:
                pipe.xautoclaim(outbox, GROUP, self.consumer, self.claim_idle_ms, count=100)
            replies = await pipe.execute()
        # [cursor, entries] on Redis 6.2, [cursor, entries, deleted ids] on 7
        return [
            OutboxEntry(outbox, entry_id, fields)
            for outbox, claimed in zip(chunk, replies, strict=True)
            for entry_id, fields in claimed[1]
        ]

    async def _new_entries(self, plans: dict[str, str], *, block_ms: int | None) -> list[OutboxEntry]:
        """Entries not read yet: of the outboxes announced, waiting up to `block_ms` for news if
        none had any; of every outbox when there are no news to go by."""
        news = self.news
        if news is None or not news.listening.is_set():
            return await self._read(list(plans), block_ms=block_ms)
        entries = await self._read_announced(news, plans)
        if not entries and block_ms:
            await news.wait(block_ms / 1000)
            entries = await self._read_announced(news, plans)
        return entries

    async def _read_announced(self, news: OutboxNews, plans: dict[str, str]) -> list[OutboxEntry]:
        announced = news.take()
        if announced is None:
            outboxes = list(plans)
        else:
            outboxes = [outbox for plan in announced if (outbox := self.keys.outbox(plan)) in plans]
            news.again({plan for plan in announced if self.keys.outbox(plan) not in plans})  # listed within 1 s
        entries = await self._read(outboxes, block_ms=None) if outboxes else []
        read = Counter(entry.outbox for entry in entries)
        news.again({plans[outbox] for outbox, count in read.items() if count >= READ_COUNT})  # more wait
        return entries

    async def _read(self, outboxes: list[str], *, block_ms: int | None) -> list[OutboxEntry]:
        if is_cluster(self.redis):
            return await self._read_each(outboxes, block_ms=block_ms)
        reply = await self.redis.xreadgroup(
            GROUP, self.consumer, dict.fromkeys(outboxes, ">"), count=READ_COUNT, block=block_ms
        )
        return _entries(reply)

    async def _read_each(self, outboxes: list[str], *, block_ms: int | None) -> list[OutboxEntry]:
        """On a Cluster one read may not span plans (their outboxes are in different slots): each
        outbox is read without blocking, in one pipeline (one round trip per node), and the wait
        is a sleep when none had anything."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for outbox in outboxes:
                pipe.xreadgroup(GROUP, self.consumer, {outbox: ">"}, count=READ_COUNT)
            replies = await pipe.execute()
        entries = [entry for reply in replies for entry in _entries(reply)]
        if not entries and block_ms:
            await asyncio.sleep(block_ms / 1000)
        return entries

    async def _fan_out(
        self, pipe: Pipeline, entry: OutboxEntry, plans: dict[str, str], subscriptions: list[Subscription]
    ) -> None:
        """Queue one entry for every subscription that wants it, or set it aside if it is not a notice."""
        try:
            notice = AlertNotice.model_validate_json(entry.fields.get("notice", ""))
        except ValueError as exc:  # read again it would fail again: set it aside, with why
            log.error("outbox %s entry %s is not a notice: %s", entry.outbox, entry.id, exc)
            pipe.xadd(
                self.keys.outbox_dead(plans[entry.outbox]),
                {
                    "entry_id": entry.id,
                    "error": str(exc)[:2000],
                    "fields": json.dumps(entry.fields, ensure_ascii=False),
                },
            )
            return
        for subscription in subscriptions:
            if subscription.wants(notice):
                await self._queue(
                    keys=[self.keys.sub_seen(subscription.id), self.keys.sub_queue(subscription.id)],
                    args=[notice.notice_id, entry.fields["notice"]],
                    client=pipe,
                )

    async def _acknowledge(self, entries: list[OutboxEntry]) -> None:
        by_outbox: dict[str, list[str]] = {}
        for entry in entries:
            by_outbox.setdefault(entry.outbox, []).append(entry.id)
        async with self.redis.pipeline(transaction=False) as pipe:
            for outbox, entry_ids in by_outbox.items():
                pipe.xack(outbox, GROUP, *entry_ids)
            await pipe.execute()
