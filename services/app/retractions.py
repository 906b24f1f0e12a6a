"""Retracting an acknowledged event: the owning department (or an admin) neutralises a report
without editing the log. The retraction is an event of its own (`event.retracted`): who, when, why,
and what the period shows instead — the report the retracted one had replaced, or none
(projections.retraction works it out by the same fold as everywhere). From its transaction time on
every fold passes over the retracted event; a view as known before still shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from events.codec import Unreadable
from events.errors import FieldError
from events.models import RETRACTABLE, Event, EventRetracted
from events.plan import Plan
from events.positions import StoredEvent
from projections.retraction import restoration, retracted_ids
from services.app.errors import Forbidden, Invalid, NotFound
from services.app.ingest import Ingest, check_plan
from services.app.payloads import text_problems
from services.store import EventStore, TokenInfo, VersionConflict

ATTEMPTS = 5  # a report arriving for the subject meanwhile: work the retraction out again


@dataclass(frozen=True)
class Retracted:
    event: EventRetracted
    position: str
    stored: bool  # False: the event had been retracted already (this is that retraction)

    def body(self) -> dict[str, object]:
        return {"position": self.position, "stored": self.stored, **self.event.model_dump(mode="json")}


class Retractions:
    def __init__(self, ingest: Ingest, store: EventStore) -> None:
        self.ingest, self.store = ingest, store

    async def retract(self, caller: TokenInfo, plan_id: str, event_id: str, reason: str) -> Retracted:
        """Retract event `event_id` of `plan_id` on behalf of `caller` (its subject's department,
        or an admin) for `reason`. Retracting it again answers the first retraction."""
        plan = await self.ingest.plan(plan_id)
        check_plan(caller, plan_id)
        reason = reason.strip()
        if not 1 <= len(reason) <= 500:
            raise _invalid("reason", "say why, in 1 to 500 characters", "请填写撤回原因（1至500字）")
        if controls := text_problems(reason, "reason"):
            raise Invalid("the reason holds control characters", "撤回原因含有控制字符", controls)
        for _ in range(ATTEMPTS):
            position, event = await self._retractable(plan, event_id)
            department = _who_may(caller, plan, event)
            events = await self.store.subject_events(plan_id, event.subject, limit=100_000)
            if str(event.event_id) in retracted_ids(events):
                return _already(events, str(event.event_id))
            retraction = EventRetracted(
                event_id=uuid5(NAMESPACE_URL, f"planwatch/retraction/{plan_id}/{event.event_id}"),
                plan_id=plan_id,
                department=department,
                subject=event.subject,
                period=event.period,
                occurred_at=datetime.now(UTC),
                retracted_event_id=event.event_id,
                retracted_position=position,
                retracted_type=event.type,
                reason=reason,
                requested_by=caller.id,
                restores=restoration(events, event),
            )
            try:  # the subject's version: a report meanwhile changes what the period restores
                result = await self.store.append([retraction], {event.subject: len(events)})
            except VersionConflict:
                continue
            return Retracted(retraction, result.positions[0], stored=not result.all_duplicates)
        raise _invalid("event_id", "the subject keeps changing: try again", "该编号的数据正在变化，请重试")

    async def _retractable(self, plan: Plan, event_id: str) -> tuple[str, Event]:
        try:
            event_id = str(UUID(event_id))  # as the index keeps it: 8-4-4-4-12 lower-case hex
        except ValueError:
            raise _invalid("event_id", f"{event_id!r} is not an event id (a UUID)", "不是有效的事件编号") from None
        stored = await self.store.stored_event(plan.id, event_id)
        if stored is None:
            raise NotFound(f"plan {plan.id} has no event {event_id}", "计划中没有该事件", [_field("event_id")])
        event = stored.event
        if isinstance(event, Unreadable):
            raise _invalid("event_id", "this entry cannot be read: it is parked already", "该事件无法读取，已被搁置")
        if event.type not in RETRACTABLE:
            raise _invalid(
                "event_id",
                f"a {event.type} is not retracted (only {', '.join(RETRACTABLE)})",
                "该类型的事件不能撤回",
            )
        return stored.position, event


def _who_may(caller: TokenInfo, plan: Plan, event: Event) -> str:
    """The department the retraction is recorded for: an admin's is the plan office; otherwise
    the caller's department must be the one the event's subject belongs to (the office for a
    target revision)."""
    if caller.role == "admin":
        return plan.office
    owner = plan.office if event.type == "target.revised" else plan.owner_of(event.subject)
    if owner is None or caller.role != "department" or caller.department != owner:
        raise Forbidden(
            f"only {owner} (or an admin) may retract an event about {event.subject}",
            f"只有{plan.department_name(owner or '?')}或管理员可以撤回该数据",
            [FieldError("event_id", f"{event.subject} belongs to {owner}", "不属于本部门")],
        )
    return owner


def _already(events: list[StoredEvent], event_id: str) -> Retracted:
    for stored in events:
        if isinstance(stored.event, EventRetracted) and str(stored.event.retracted_event_id) == event_id:
            return Retracted(stored.event, stored.position, stored=False)
    raise AssertionError("retracted_ids found it")  # unreachable


def _field(name: str) -> FieldError:
    return FieldError(name, "not found", "不存在")


def _invalid(field: str, reason: str, reason_zh: str) -> Invalid:
    return Invalid(reason, reason_zh, [FieldError(field, reason, reason_zh)])
