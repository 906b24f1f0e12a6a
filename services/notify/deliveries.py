"""What is waiting and what was given up, per subscription: the delivery in flight and its
retries, the queue, and the dead letters — and redelivering dead letters, each as the same
delivery (its original idempotency key, its notices), ahead of the queue."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from events.alerts import AlertNotice
from services.store import Keyspace, stored_int

# Moves every dead letter that names its delivery to the deliveries made up ahead of the queue,
# atomically (two retries at once move each letter once). A dead letter written before `fold`
# was recorded is a summary when its id says so.
_REDELIVER = """
local moved = 0
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local fields = {}
  for i = 1, #entry[2], 2 do fields[entry[2][i]] = entry[2][i + 1] end
  if fields['delivery_id'] and fields['notices'] then
    local fold = fields['fold']
    if not fold then
      fold = (string.sub(fields['delivery_id'], 1, 8) == 'summary:') and '1' or '0'
    end
    local made = {'delivery_id', fields['delivery_id'], 'notices', fields['notices'], 'fold', fold,
      'kind', 'redelivery', 'dead_letter', entry[1]}
    if fields['digest'] then  -- a reminder or a first look is worded as such again
      table.insert(made, 'digest'); table.insert(made, fields['digest'])
      table.insert(made, 'zone'); table.insert(made, fields['zone'] or '')
    end
    redis.call('XADD', KEYS[2], '*', unpack(made))
    redis.call('XDEL', KEYS[1], entry[1])
    moved = moved + 1
  end
end
return moved
"""

SHOWN_SUMMARIES = 5  # a dead letter lists its first few notices' summaries, and counts them all


@dataclass(frozen=True)
class DeadLetter:
    """A delivery given up: its idempotency key, why, after how many attempts and when."""

    id: str  # the entry in the dead letters
    delivery_id: str
    error: str
    attempts: int
    failing_since: datetime | None
    given_up_at: datetime | None  # None for dead letters written before it was recorded
    notice_ids: list[str]
    summaries_zh: list[str]  # the first few notices' Chinese summaries


@dataclass(frozen=True)
class Pending:
    """What waits for one subscription: the queue, redeliveries ahead of it, and the delivery in
    flight with its failures so far."""

    queued: int
    outgoing: int  # deliveries made up ahead of the queue (redeliveries)
    inflight: str | None  # the delivery id being sent (or retried)
    failures: int
    failing_since: datetime | None
    next_attempt_at: datetime | None


class Deliveries:
    def __init__(self, redis: Redis, keys: Keyspace) -> None:
        self.redis, self.keys = redis, keys
        self._redeliver = redis.register_script(_REDELIVER)

    async def pending(self, subscription_id: str) -> Pending:
        keys = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(keys.sub_queue(subscription_id))
            pipe.xlen(keys.sub_outgoing(subscription_id))
            pipe.hgetall(keys.sub_state(subscription_id))
            queued, outgoing, state = await pipe.execute()
        inflight = _inflight_id(state.get("inflight"))
        return Pending(
            queued=queued,
            outgoing=outgoing,
            inflight=inflight,
            failures=_int(state.get("failures")),
            failing_since=_instant(state.get("failing_since_ms")),
            next_attempt_at=_instant(state.get("next_attempt_ms")),
        )

    async def dead(self, subscription_id: str, limit: int = 1000) -> list[DeadLetter]:
        """The dead letters, oldest first."""
        entries: list[tuple[str, dict[str, str]]] = await self.redis.xrange(  # type: ignore[assignment]
            self.keys.sub_dead(subscription_id), count=limit
        )  # decoded: str fields
        return [_dead_letter(entry, fields) for entry, fields in entries]

    async def redeliver(self, subscription_id: str) -> int:
        """Queue every dead letter to be sent again, ahead of the queue, as the same delivery (the
        receiver sees its original idempotency key). Returns how many."""
        keys = [self.keys.sub_dead(subscription_id), self.keys.sub_outgoing(subscription_id)]
        return int(await self._redeliver(keys=keys, args=[]))


def _dead_letter(entry: str, fields: dict[str, str]) -> DeadLetter:
    """A dead letter as stored by any version; what cannot be read is shown as such, not raised."""
    try:
        notices = json.loads(fields.get("notices", "[]"))
        notices = notices if isinstance(notices, list) else []
    except ValueError:
        notices = []
    notices = [n for n in notices if isinstance(n, dict)]
    return DeadLetter(
        id=entry,
        delivery_id=fields.get("delivery_id", "?"),
        error=fields.get("error", ""),
        attempts=_int(fields.get("attempts")),
        failing_since=_instant(fields.get("failing_since_ms")),
        given_up_at=_instant(fields.get("given_up_ms")) or _instant(entry.split("-", 1)[0]),
        notice_ids=[_notice_id(n) for n in notices],
        summaries_zh=[str(n.get("summary_zh", "")) for n in notices[:SHOWN_SUMMARIES]],
    )


def _notice_id(notice: dict[str, object]) -> str:
    try:
        return AlertNotice.model_validate(notice).notice_id
    except ValueError:  # a notice of a shape no longer read: named as best it can be
        return f"{notice.get('fingerprint', '?')}:{notice.get('type', '?')}:{notice.get('at', '?')}"


def _inflight_id(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(json.loads(text)["delivery_id"])
    except (ValueError, KeyError, TypeError):
        return "?"


def _int(text: str | None) -> int:
    return stored_int(text) or 0


def _instant(ms: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(ms) / 1000, UTC) if ms else None
    except (ValueError, OverflowError, OSError):
        return None
