"""Digests of the alerts firing now: reminders, and a new subscriber's first look (`send_firing`).

A subscription with a `repeat_interval` (robots: a day) is reminded, as one message, of the
alerts of its plans still firing — those it would be told of, leaving out the silenced, the
inhibited and the acknowledged — once the interval since its last reminder is over and within
its working hours (`schedule.py`). Nothing firing: nothing is sent, and the next reminder is an
interval later. The last reminder's instant is kept in the subscription's state
(`pw:{sub:ID}:state`, field `reminded_ms`; before the first, the subscription's creation counts),
so a restarted notifier picks up where it was; the reminder is written to the deliveries ahead
of the queue (`sub_outgoing`) together with that instant, in one script, and named by its due
instant (`reminder:{subscription}:{due ms}`): it goes through the same delivery path (retries,
dead letters) with that idempotency key, and is never made twice.

The firing alerts are read by the application's use case (`App.alerting.firing_for`), handed to
the notifier as `FiringOf`: the notifier has no second way of reading them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from redis.asyncio import Redis

from events.alerts import AlertNotice
from services.notify.outgoing import Outgoing
from services.notify.schedule import reminder_due
from services.notify.subscriptions import Subscription
from services.store import Keyspace

log = logging.getLogger("planwatch.notifier")

FiringOf = Callable[[Subscription], Awaitable[list[AlertNotice]]]  # what fires now that it would be told of

# KEYS: the subscription's state, its outgoing deliveries. ARGV: the last reminder as read ('' for
# none), now (ms), then the reminder's fields (none: nothing to remind of). A notifier that read an
# older state (it lost its lease meanwhile) makes nothing.
_REMIND = """
local last = redis.call('HGET', KEYS[1], 'reminded_ms') or ''
if last ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'reminded_ms', ARGV[2])
if #ARGV > 2 then redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3)) end
return 1
"""


def remindable(subscription: Subscription, alerts: Iterable[Mapping[str, Any]]) -> list[AlertNotice]:
    """The firing alerts a digest for `subscription` names: those its filters want, neither
    silenced, inhibited nor acknowledged (an acknowledgement holds until the alert escalates or
    resolves: the alerts projection clears it then)."""
    chosen = []
    for alert in alerts:
        try:
            notice = AlertNotice.model_validate(alert)
        except ValidationError as exc:  # never a reason to remind of nothing else
            log.error("a firing alert cannot be read: %s", exc)
            continue
        quiet = notice.silenced or notice.inhibited or notice.acknowledged is not None
        if notice.state == "firing" and not quiet and subscription.wants(_as_told(notice)):
            chosen.append(notice)
    return chosen


def _as_told(notice: AlertNotice) -> AlertNotice:
    # the firing list holds each alert's latest change, which may be its acknowledgement's record;
    # the filters judge the alert as a raised one
    return notice if notice.type != "alert.acknowledged" else notice.model_copy(update={"type": "alert.raised"})


def digest(subscription: Subscription, notices: list[AlertNotice], kind: str, delivery_id: str, zone: str) -> Outgoing:
    """A digest as a delivery ahead of the queue (one message: `fold`)."""
    return Outgoing(delivery_id, notices, True, kind, "reminder" if kind == "reminder" else "firing", zone)


def zone_of(subscription: Subscription, default: str) -> str:
    """The zone of a subscription's working hours and digests (set at subscription from its plans)."""
    return subscription.hours.timezone or default


async def queue_firing(
    redis: Redis, keys: Keyspace, subscription: Subscription, notices: list[AlertNotice], zone: str
) -> None:
    """Send a new subscriber what fires now, once: one digest ahead of its queue."""
    made = digest(subscription, notices, "firing", f"firing:{subscription.id}", zone)
    await redis.xadd(keys.sub_outgoing(subscription.id), made.fields())  # type: ignore[arg-type]


class Reminders:
    def __init__(self, redis: Redis, keys: Keyspace, firing_of: FiringOf | None, default_zone: str) -> None:
        self.redis, self.keys, self.firing_of, self.default_zone = redis, keys, firing_of, default_zone
        self._remind = redis.register_script(_REMIND)

    async def remind(self, subscription: Subscription, state: dict[str, str], waiting: bool, now_ms: int) -> bool:
        """Make the subscription's reminder if one is due now (not while a delivery is in flight or
        retried, or another made-up delivery waits). Returns whether one was made."""
        interval = subscription.repeat_interval_s
        if not interval or self.firing_of is None or waiting or "inflight" in state or "failures" in state:
            return False
        zone = zone_of(subscription, self.default_zone)
        last_ms = state.get("reminded_ms", "")
        last = _instant(last_ms) if last_ms else datetime.fromisoformat(subscription.created_at)
        now = _instant(str(now_ms))
        due = reminder_due(now, last, timedelta(seconds=interval), subscription.hours, ZoneInfo(zone))
        if due is None:
            return False
        notices = await self.firing_of(subscription)
        fields: list[str] = []
        if notices:  # nothing to remind of: nothing sent, the next reminder an interval later
            made = digest(subscription, notices, "reminder", f"reminder:{subscription.id}:{_ms(due)}", zone)
            fields = [part for pair in made.fields().items() for part in pair]
        keys = [self.keys.sub_state(subscription.id), self.keys.sub_outgoing(subscription.id)]
        done = await self._remind(keys=keys, args=[last_ms, now_ms, *fields])
        return bool(done) and bool(notices)


def _instant(ms: str) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
