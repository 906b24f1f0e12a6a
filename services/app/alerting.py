"""Alerts and who hears about them: the firing alerts and their history, the live feed, and
subscriptions (create, list with delivery counts, remove)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from uuid import NAMESPACE_URL, uuid4, uuid5

from pydantic import TypeAdapter, ValidationError

from events.alerts import AlertNotice, severity_rank
from events.errors import FieldError, printable
from events.ids import DepartmentId, PlanId, SubjectId
from events.models import AlertAcknowledged, AlertSilenced, SilenceExpired
from events.plan import Plan
from projections.silences import Silence, silences_of
from services.app.errors import Invalid, NotFound, Unauthorized
from services.app.ingest import check_plan
from services.app.live import Item, LiveFeed
from services.app.silencing import (
    checked_matchers,
    checked_note,
    checked_window,
    department_of,
    may_acknowledge,
)
from services.notify import (
    Filters,
    Subscription,
    SubscriptionRequest,
    SubscriptionStore,
    UnsafeTarget,
    WorkingHours,
    queue_firing,
    remindable,
    zone_of,
)
from services.projection import alert_notices, firing_alerts, firing_now
from services.store import EventStore, TokenInfo, redis_now_ms

if TYPE_CHECKING:
    from services.app.ingest import Ingest

log = logging.getLogger("planwatch.alerts")

AlertState = Literal["firing", "resolved", "all"]
SilenceState = Literal["active", "pending", "expired", "all"]
TICKET_SECONDS = 60
SILENCE_FROM_ALERT = timedelta(days=7)  # the dashboard's 静默 button: a week, unless told otherwise


@dataclass(frozen=True)
class Subscribed:
    """A new subscription, and how many firing alerts its first digest names (`send_firing`: 0 if
    nothing fires, so nothing is sent; None if not asked)."""

    subscription: Subscription
    firing_sent: int | None

    def public(self) -> dict[str, Any]:
        """The creation answer: the subscription as listed (with a generated secret, this once)."""
        shown = {} if self.firing_sent is None else {"firing_sent": self.firing_sent}
        return {**self.subscription.public(), **shown}


def _ticket_digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class Alerting:
    def __init__(
        self, store: EventStore, subscriptions: SubscriptionStore, ingest: Ingest, zone: str = "Asia/Shanghai"
    ) -> None:
        """`zone`: the installation's (PLANWATCH_TIME_ZONE), for subscriptions to no plan in particular."""
        self.store, self.subscriptions, self.ingest, self.zone = store, subscriptions, ingest, zone
        self.live = LiveFeed(store.redis)

    async def firing(self, plan_id: str) -> list[dict[str, Any]] | None:
        """The alerts firing now (latest notice of each), most severe first; None before the alerts
        projection has committed anything (no worker has run)."""
        notices = await self._firing(plan_id)
        if notices is not None:
            notices.sort(key=lambda n: (-severity_rank(n["severity"]), n["rule"], n["subject"]))
        return notices

    async def _firing(self, plan_id: str) -> list[dict[str, Any]] | None:
        """The firing list the alerts projection stored; judged from its last state and alert book
        if that list cannot be read."""
        redis, keys = self.store.redis, self.store.keys
        try:
            return await firing_alerts(redis, keys, plan_id)
        except ValueError as exc:
            log.warning("plan %s: the stored firing alerts cannot be read, judging them: %.200s", plan_id, exc)
            return [notice.model_dump(mode="json") for notice in await firing_now(redis, keys, plan_id)]

    async def history(self, plan_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Every raised, escalated and resolved notice, newest last."""
        return await alert_notices(self.store.redis, self.store.keys, plan_id, limit)

    async def latest(self, plan_id: str, state: AlertState, limit: int = 500) -> list[dict[str, Any]]:
        """The firing alerts, or the latest state of every alert in the recent history."""
        if state == "firing":
            return await self._firing(plan_id) or []
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

    async def firing_for(self, subscription: Subscription) -> list[AlertNotice]:
        """The alerts firing now that a digest for `subscription` names (reminders, `send_firing`):
        of its plans (every plan if it names none), those its filters want, neither silenced,
        inhibited nor acknowledged."""
        plans = subscription.filters.plans or await self.store.plans()
        alerts = [alert for plan_id in plans for alert in await self.firing(plan_id) or []]
        return remindable(subscription, alerts)

    async def subscribe(self, request: SubscriptionRequest) -> Subscribed:
        """Subscribe a channel to alert notices. A url on a loopback, private or link-local address
        is refused unless the operator allows its network. Its working hours are in its plans'
        zone (the installation's when they are several zones, or none in particular). With
        `send_firing`, what fires now goes to it once, as one digest: returns how many alerts it
        names (0: nothing fires, nothing sent; None: not asked)."""
        if problems := filter_problems(request.filters):
            raise Invalid("the subscription's filters are not valid", "订阅的筛选条件有误", problems)
        request = request.model_copy(update={"working_hours": await self._hours(request)})
        try:
            created = await self.subscriptions.create(request)
        except UnsafeTarget as exc:
            raise Invalid(str(exc), "不允许向内网或本机地址推送", [FieldError("url", str(exc), "地址不安全")]) from None
        if not request.send_firing:
            return Subscribed(created, None)
        firing = await self.firing_for(created)
        if firing:
            await queue_firing(self.store.redis, self.store.keys, created, firing, zone_of(created, self.zone))
        return Subscribed(created, len(firing))

    async def _hours(self, request: SubscriptionRequest) -> WorkingHours:
        """The request's working hours, in the zone of its plans unless it names one."""
        hours = request.working_hours or WorkingHours()
        if hours.timezone is not None:
            return hours
        zones = set()
        for plan_id in request.filters.plans:
            plan = await self.ingest.catalog.get(plan_id)
            zones.add(plan.timezone if plan else self.zone)
        return hours.model_copy(update={"timezone": zones.pop() if len(zones) == 1 else self.zone})

    async def subscriptions_with_counts(self) -> list[tuple[Subscription, dict[str, int]]]:
        """Every subscription (secrets never shown by `public()`) with its queued, sent and dead counts."""
        return await self.subscriptions.all_with_counts()

    async def unsubscribe(self, subscription_id: str) -> None:
        if not await self.subscriptions.delete(subscription_id):
            raise NotFound(f"no subscription {subscription_id!r}", "订阅不存在")

    # --- silences and acknowledgement: events in the plan's log, folded by the alerts projection

    async def create_silence(
        self,
        plan_id: str,
        caller: TokenInfo,
        matchers: Mapping[str, Any],
        ends_at: datetime | None = None,
        starts_at: datetime | None = None,
        comment: str = "",
        duration: timedelta | None = None,
    ) -> dict[str, Any]:
        """Silence the plan's alerts matching every matcher (plan, department, subject, rule,
        severity) from `starts_at` (default now) until `ends_at`, or for `duration`: recorded and
        listed, marked 已静默, not notified. An admin or analyst may silence anything, a department
        its own alerts. Both ends within a year of now (services.app.silencing.checked_window)."""
        plan = await self._plan_for(caller, plan_id)
        wanted = checked_matchers(plan, matchers)
        start, end = checked_window(starts_at, ends_at, await self.now(), duration)
        silence_id = secrets.token_hex(6)
        event = AlertSilenced(
            event_id=uuid5(NAMESPACE_URL, f"planwatch/silence/{plan_id}/{silence_id}"),
            plan_id=plan_id,
            department=department_of(caller, plan, wanted),
            subject=plan_id,
            period=str(plan.year),
            occurred_at=await self.now(),
            silence_id=silence_id,
            matchers=wanted,  # checked against MATCHER_FIELDS above
            starts_at=start,
            ends_at=end,
            created_by=_actor(caller),
            comment=checked_note("comment", comment),
        )
        await self.store.append([event])
        return await self._silence(plan_id, silence_id)

    async def silence(
        self,
        plan_id: str,
        fingerprint: str,
        caller: TokenInfo,
        duration: timedelta = SILENCE_FROM_ALERT,
        comment: str = "",
    ) -> dict[str, Any]:
        """Silence one firing alert (its plan, rule and subject) for `duration`: the dashboard's
        静默 button."""
        alert = await self._firing_alert(plan_id, fingerprint, caller)
        matchers = {"rule": alert["rule"], "subject": alert["subject"]}
        if caller.role == "department":
            matchers["department"] = alert["department"]
        return await self.create_silence(
            plan_id, caller, matchers, comment=comment or "从预警页面静默", duration=duration
        )

    async def silences(self, plan_id: str, caller: TokenInfo, state: SilenceState = "all") -> list[dict[str, Any]]:
        """The plan's silences (from its log), newest first, each with its state now."""
        await self._plan_for(caller, plan_id)
        now_ms = await redis_now_ms(self.store.redis)
        made = silences_of(await self.store.subject_events(plan_id, plan_id, limit=100_000)).silences.values()
        listed = [_silence_view(s, now_ms) for s in sorted(made, key=lambda s: -s.created_ms)]
        return [s for s in listed if state == "all" or s["state"] == state]

    async def expire_silence(self, plan_id: str, silence_id: str, caller: TokenInfo) -> dict[str, Any]:
        """End a silence now (whoever may make it may end it). Expiring it again changes nothing."""
        plan = await self._plan_for(caller, plan_id)
        found = await self._silence(plan_id, silence_id)
        department = department_of(caller, plan, found["matchers"])
        if found["state"] != "expired":
            event = SilenceExpired(
                event_id=uuid5(NAMESPACE_URL, f"planwatch/silence-expired/{plan_id}/{silence_id}"),
                plan_id=plan_id,
                department=department,
                subject=plan_id,
                period=str(plan.year),
                occurred_at=await self.now(),
                silence_id=silence_id,
                expired_by=_actor(caller),
            )
            await self.store.append([event])
        return await self._silence(plan_id, silence_id)

    async def acknowledge(self, plan_id: str, fingerprint: str, caller: TokenInfo, note: str = "") -> dict[str, Any]:
        """认领/已知悉: the caller knows about a firing alert and is on it. Holds until the alert
        escalates or resolves; recorded in its history, never notified. Reminders skip it."""
        plan = await self._plan_for(caller, plan_id)
        alert = await self._firing_alert(plan_id, fingerprint, caller)
        may_acknowledge(caller, alert)
        event = AlertAcknowledged(
            event_id=uuid4(),
            plan_id=plan_id,
            department=caller.department if caller.role == "department" and caller.department else plan.office,
            subject=plan_id,
            period=str(plan.year),
            occurred_at=await self.now(),
            fingerprint=fingerprint,
            acknowledged_by=_actor(caller),
            note=checked_note("note", note),
        )
        result = await self.store.append([event])
        return {
            "fingerprint": fingerprint,
            "position": result.positions[0],
            "by": event.acknowledged_by,
            "note": event.note,
        }

    async def _plan_for(self, caller: TokenInfo, plan_id: str) -> Plan:
        plan = await self.ingest.plan(plan_id)
        check_plan(caller, plan_id)
        return plan

    async def now(self) -> datetime:
        """Redis' clock (the one stream ids come from), as an aware time."""
        return datetime.fromtimestamp(await redis_now_ms(self.store.redis) / 1000, tz=UTC)

    async def _firing_alert(self, plan_id: str, fingerprint: str, caller: TokenInfo) -> dict[str, Any]:
        await self._plan_for(caller, plan_id)
        for alert in await self.firing(plan_id) or []:
            if alert["fingerprint"] == fingerprint:
                return alert
        raise NotFound(
            f"no alert {fingerprint!r} is firing in plan {plan_id}",
            "该预警当前未生效",
            [FieldError("fingerprint", "not a firing alert of this plan", "不是该计划正在生效的预警")],
        )

    async def _silence(self, plan_id: str, silence_id: str) -> dict[str, Any]:
        now_ms = await redis_now_ms(self.store.redis)
        made = silences_of(await self.store.subject_events(plan_id, plan_id, limit=100_000)).silences
        if silence_id not in made:
            raise NotFound(
                f"plan {plan_id} has no silence {silence_id!r}",
                "没有该静默",
                [FieldError("silence_id", "not a silence of this plan", "计划中没有该静默")],
            )
        return _silence_view(made[silence_id], now_ms)


def _actor(caller: TokenInfo) -> str:
    """Who did it, as the log records it: the token's id, or cli for the operator."""
    return caller.id


def _at(ms: int | None) -> str | None:
    """A stored instant as ISO text. One beyond what a datetime holds (a silence written before
    its ends were bounded: 9999-12-31T23:30-12:00 is year 10000 in UTC) is shown at that edge,
    so that the listing still answers."""
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return (datetime.max if ms > 0 else datetime.min).replace(tzinfo=UTC).isoformat()


def _silence_view(silence: Silence, now_ms: int) -> dict[str, Any]:
    return {
        "id": silence.silence_id,
        "matchers": silence.matchers,
        "starts_at": _at(silence.starts_ms),
        "ends_at": _at(silence.ends_ms),
        "created_by": silence.created_by,
        "created_at": _at(silence.created_ms),
        "comment": silence.comment,
        "state": silence.state(now_ms),
        "expired_at": _at(silence.expired_ms),
        "expired_by": silence.expired_by,
    }


_FILTER_IDS: dict[str, TypeAdapter[str]] = {
    "plans": TypeAdapter(PlanId),
    "departments": TypeAdapter(DepartmentId),
    "subjects": TypeAdapter(SubjectId),
}


def filter_problems(filters: Filters) -> list[FieldError]:
    """Ids a subscription's filters name that no plan could have: such a filter would match
    nothing, ever, and no one would know why."""
    problems = []
    for name, adapter in _FILTER_IDS.items():
        for index, value in enumerate(getattr(filters, name)):
            try:
                adapter.validate_python(value)
            except ValidationError:
                reason = f"{printable(value)[:64]!r} is no {name[:-1]} id (lower-case letters, digits and -)"
                problems.append(FieldError(f"filters.{name}[{index}]", reason, "编号格式有误"))
    return problems
