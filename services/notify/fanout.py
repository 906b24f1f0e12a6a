"""Fan-out: from the plans' outboxes to the subscriptions' queues, each notice once.

A consumer group `notifier` reads every plan's outbox (alert notices written by the live
projection). Each notice is queued for every subscription that wants it — once: the queueing
script remembers the notice id per subscriber — and only then acknowledged, so a crash re-reads
it and queues nothing twice. Pending entries of a dead notifier are claimed (XAUTOCLAIM). An
entry that is not a notice would fail on every read: it goes to the plan's outbox dead letters
with the error, and is acknowledged."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from typing import NamedTuple, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from events.alerts import AlertNotice
from services.notify.recent import Recent
from services.notify.subscriptions import Subscription
from services.store import EventStore, Keyspace, is_cluster

log = logging.getLogger("planwatch.notifier")

GROUP = "notifier"
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


class FanOut:
    def __init__(
        self,
        redis: Redis,
        keys: Keyspace,
        consumer: str,
        subscriptions: Recent[list[Subscription]],
        *,
        claim_idle_ms: int,
    ) -> None:
        self.redis, self.keys, self.consumer = redis, keys, consumer
        self.subscriptions, self.claim_idle_ms = subscriptions, claim_idle_ms
        self.store = EventStore(redis, keys)
        self._queue = redis.register_script(_QUEUE)
        self._plans: Recent[dict[str, str]] = Recent(self._outbox_plans, initial={})  # outbox key → its plan
        self._groups: set[str] = set()
        self._next_claim = 0.0
        self._claim_from = 0  # where in the sorted outboxes the next slice to claim from starts

    async def step(self, block_ms: int = 1000) -> int:
        """Queue new outbox notices for the subscriptions that want them; returns how many read."""
        plans = await self._outboxes()
        if not plans:
            await asyncio.sleep(block_ms / 1000)
            return 0
        entries = await self._claim(list(plans))
        entries += await self._read(list(plans), block_ms=None if entries else block_ms)
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
        await self._acknowledge(entries)
        return len(entries)

    async def _outboxes(self) -> dict[str, str]:
        """The plans' outboxes (the plan list is re-read each second), with the consumer group on each."""
        plans = await self._plans.get()
        for outbox in plans:
            if outbox not in self._groups:
                try:
                    await self.redis.xgroup_create(outbox, GROUP, id="0", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
                self._groups.add(outbox)
        return plans

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

    async def _read(self, outboxes: list[str], *, block_ms: int | None) -> list[OutboxEntry]:
        if is_cluster(self.redis):
            return await self._read_each(outboxes, block_ms=block_ms)
        reply = await self.redis.xreadgroup(
            GROUP, self.consumer, dict.fromkeys(outboxes, ">"), count=200, block=block_ms
        )
        return _entries(reply)

    async def _read_each(self, outboxes: list[str], *, block_ms: int | None) -> list[OutboxEntry]:
        """On a Cluster one read may not span plans (their outboxes are in different slots): each
        outbox is read without blocking, in one pipeline (one round trip per node), and the wait
        is a sleep when none had anything."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for outbox in outboxes:
                pipe.xreadgroup(GROUP, self.consumer, {outbox: ">"}, count=200)
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
