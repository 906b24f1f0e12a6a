"""Alerts and who hears about them: the firing alerts and their history, the live feed, and
subscriptions (create, list with delivery counts, remove)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

from events.alerts import severity_rank
from events.errors import FieldError
from services.app.errors import Invalid, NotFound, Unauthorized
from services.app.live import Item, LiveFeed
from services.notify import Subscription, SubscriptionRequest, SubscriptionStore, UnsafeTarget
from services.projection import alert_notices, firing_alerts
from services.store import EventStore, TokenInfo

AlertState = Literal["firing", "resolved", "all"]
TICKET_SECONDS = 60


def _ticket_digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class Alerting:
    def __init__(self, store: EventStore, subscriptions: SubscriptionStore) -> None:
        self.store, self.subscriptions = store, subscriptions
        self.live = LiveFeed(store.redis)

    async def firing(self, plan_id: str) -> list[dict[str, Any]] | None:
        """The alerts firing now (latest notice of each), most severe first; None before the alerts
        projection has committed anything (no worker has run)."""
        notices = await firing_alerts(self.store.redis, self.store.keys, plan_id)
        if notices is not None:
            notices.sort(key=lambda n: (-severity_rank(n["severity"]), n["rule"], n["subject"]))
        return notices

    async def history(self, plan_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Every raised, escalated and resolved notice, newest last."""
        return await alert_notices(self.store.redis, self.store.keys, plan_id, limit)

    async def latest(self, plan_id: str, state: AlertState, limit: int = 500) -> list[dict[str, Any]]:
        """The firing alerts, or the latest state of every alert in the recent history."""
        if state == "firing":
            return await firing_alerts(self.store.redis, self.store.keys, plan_id) or []
        latest: dict[str, dict[str, Any]] = {}
        for notice in await self.history(plan_id, limit):
            latest[notice["fingerprint"]] = notice
        return [n for n in latest.values() if state == "all" or n["state"] == "resolved"]

    def feed(self, plan_id: str, after: str | None) -> AsyncIterator[Item]:
        """Every alert notice of the plan from the outbox as it happens: (position, type, notice
        JSON), or None after a quiet while (for keep-alives). `after` a position, or None for from
        now on. One Redis reader per plan and process, however many listen (services.app.live)."""
        return self.live.listen(self.store.keys.outbox(plan_id), after)

    async def event_stream(
        self, plan_id: str, after: str | None, disconnected: Callable[[], Awaitable[bool]]
    ) -> AsyncIterator[bytes]:
        """The live feed as Server-Sent Events (the API's and the dashboard's): `id` is the
        notice's position (reconnect with Last-Event-ID), `event` its type, `data` the notice; a
        comment every 15 s keeps proxies from closing a quiet stream."""
        yield b": planwatch alert stream\n\n"
        async for item in self.feed(plan_id, after):
            if await disconnected():
                return
            if item is None:
                yield b": keep-alive\n\n"
                continue
            position, kind, notice = item
            yield f"id: {position}\nevent: {kind}\ndata: {notice}\n\n".encode()

    async def stream_ticket(self, caller: TokenInfo, plan_id: str) -> dict[str, object]:
        """A single-use ticket, valid for TICKET_SECONDS, that opens the plan's alert stream once:
        what a browser's EventSource (which cannot send headers) puts in the URL instead of a token."""
        ticket = "pws_" + secrets.token_urlsafe(24)
        key = self.store.keys.stream_ticket(_ticket_digest(ticket))
        await self.store.redis.set(key, f"{plan_id}|{caller.id}", ex=TICKET_SECONDS)
        return {"ticket": ticket, "expires_in": TICKET_SECONDS, "plan_id": plan_id}

    async def redeem_ticket(self, ticket: str, plan_id: str) -> str:
        """Use a stream ticket (it works once): the id of the token it was issued to."""
        stored = await self.store.redis.getdel(self.store.keys.stream_ticket(_ticket_digest(ticket)))
        plan, _, token_id = str(stored or "").partition("|")
        if not stored or plan != plan_id:
            raise Unauthorized(
                "unknown, used or expired stream ticket: ask for a new one (POST …/alerts/stream-ticket)",
                "流凭证无效、已使用或已过期，请重新申请",
                [FieldError("ticket", "not a valid ticket for this plan", "凭证无效")],
            )
        return token_id

    async def subscribe(self, request: SubscriptionRequest) -> Subscription:
        """Subscribe a channel to alert notices. A url on a loopback, private or link-local address
        is refused unless the request allows private targets."""
        try:
            return await self.subscriptions.create(request)
        except UnsafeTarget as exc:
            raise Invalid(str(exc), "不允许向内网或本机地址推送", [FieldError("url", str(exc), "地址不安全")]) from None

    async def subscriptions_with_counts(self) -> list[tuple[Subscription, dict[str, int]]]:
        """Every subscription (secrets never shown by `public()`) with its queued, sent and dead counts."""
        return await self.subscriptions.all_with_counts()

    async def unsubscribe(self, subscription_id: str) -> None:
        if not await self.subscriptions.delete(subscription_id):
            raise NotFound(f"no subscription {subscription_id!r}", "订阅不存在")
