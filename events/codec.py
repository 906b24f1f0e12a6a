"""The stored form of an event: what the store writes in a stream entry's `data` field, and how
it is read back. Pure: the folds decode with it without importing the store.

The stored JSON is the event without `recorded_at`; transaction time is the entry's stream id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pydantic_core
from pydantic import BaseModel, ValidationError

from events.bounds import canonical_decimal_text, is_canonical
from events.errors import field_errors
from events.models import (
    Event,
    IndicatorUpdated,
    InvestmentCompleted,
    event_adapter,
    recorded_at_of,
    validate_event_json,
)
from events.upcasting import UPCAST_FROM, upcast

_STORED_FORM_EXCLUDES = {"recorded_at"}
# an investment report without a basis (a period amount, as every report before the basis
# existed) is stored without the field: the log's older entries encode to the same bytes
_INVESTMENT_EXCLUDES = {"recorded_at", "basis"}


def encode(event: Event) -> bytes:
    """The event's stored JSON (UTF-8): everything but `recorded_at`, which the store owns. An
    event read from the log as an older version (upcast) encodes to the bytes it is stored as.
    pydantic_core.to_json writes exactly what model_dump_json writes, a quarter faster."""
    private = event.__pydantic_private__
    if private and (stored := private.get("_stored_form")) is not None:
        return bytes(stored)
    if type(event) is InvestmentCompleted and event.basis is None:
        return pydantic_core.to_json(event, exclude=_INVESTMENT_EXCLUDES)
    return pydantic_core.to_json(event, exclude=_STORED_FORM_EXCLUDES)


def decode(position: str, data: str) -> Event:
    """Rebuild an event from its stored JSON, with `recorded_at` taken from its position."""
    recorded = _recorded_at_text(position.split("-", 1)[0])
    try:
        return validate_event_json('{"recorded_at":"' + recorded + '",' + data[1:])
    except ValidationError:
        return _upcast_or_raise(data, recorded)


def decode_payload(data: str) -> Event:
    """The event without `recorded_at`, for folds: they take transaction time from the position,
    and skipping the timestamp saves a third of the decoding time of a replay."""
    try:
        return validate_event_json(data)
    except ValidationError:
        return _upcast_or_raise(data)


def _upcast_or_raise(data: str, recorded_at: str | None = None) -> Event:
    """The slow path, for an event that does not validate as it is: stored by an older version, it
    is upcast (events.upcasting) and read under the rules of its version; otherwise the original
    error stands."""
    try:
        raw = json.loads(data)
    except ValueError:
        raw = None
    upcast_to = upcast(raw) if isinstance(raw, dict) else None
    if upcast_to is None:
        return event_adapter.validate_json(data)  # raises the error of the data as stored
    upcasted, version = upcast_to
    if recorded_at is not None:
        upcasted["recorded_at"] = recorded_at
    event = event_adapter.validate_python(upcasted, context={UPCAST_FROM: version})
    if event.__pydantic_private__ is not None and "_stored_form" in event.__pydantic_private__:
        event.__pydantic_private__["_stored_form"] = data.encode()
    return event


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A stored entry this version cannot read as an event (written by hand, by a newer version,
    or by an older one that accepted what is refused now, like a value of 1e400). Readers do not
    fail on it: the fold parks it (projections.state), with what could be made out and why."""

    event_type: str
    event_id: str
    subject: str
    reason: str


def decode_stored(data: str | bytes) -> Event | Unreadable:
    """`decode_payload`, or an `Unreadable` saying why not: what every reader of the log uses, so
    nothing stored can make one fail. `data` as the stream entry holds it (text, or bytes from a
    client that does not decode replies; bytes that are no UTF-8 are unreadable, not an error)."""
    try:
        return validate_event_json(data)  # directly: a replay calls this a million times
    except ValidationError:
        pass
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="replace")
    try:
        return _upcast_or_raise(data)
    except ValidationError as exc:
        return _unreadable(data, exc)


def decode_entry(position: str, data: str) -> Event | Unreadable:
    """`decode` (with `recorded_at`), or an `Unreadable` saying why not."""
    try:
        return decode(position, data)
    except ValidationError as exc:
        return _unreadable(data, exc)


def _unreadable(data: str, exc: ValidationError) -> Unreadable:
    details = "; ".join(f"{error.field}: {error.reason}" for error in field_errors(exc))
    return unreadable(data, f"not readable (ValidationError): {details}")


def unreadable(data: str, reason: str) -> Unreadable:
    """An `Unreadable` for `data`, naming its type, id and subject when they can be made out."""
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError):
        raw = None
    found = raw if isinstance(raw, dict) else {}
    event_type, event_id, subject = (str(found.get(name, "?"))[:100] for name in ("type", "event_id", "subject"))
    return Unreadable(event_type, event_id, subject, reason[:1000])


@lru_cache(maxsize=256)
def _recorded_at_text(millis: str) -> str:
    # A batch is appended within one millisecond, so its events share this text.
    return recorded_at_of(millis).isoformat()


def canonical_form(event: Event) -> Event | None:
    """The event with every number written canonically (`7.90` → `7.9`, `1E+2` → `100`), or None
    when it is written so already. Dedup compares digests of this form, so a retry that writes a
    number differently is the same event; the stored bytes stay as the sender wrote them."""
    if isinstance(event, IndicatorUpdated):  # the usual events first: one number each
        if event.growth is not None and not is_canonical(event.growth):
            return event.model_copy(update={"value": _canonical(event.value), "growth": _canonical(event.growth)})
        return None if is_canonical(event.value) else event.model_copy(update={"value": _canonical(event.value)})
    if isinstance(event, InvestmentCompleted):
        return (
            None
            if is_canonical(event.amount_wan)
            else event.model_copy(update={"amount_wan": _canonical(event.amount_wan)})
        )
    changed = _canonical_model(event)
    return changed if changed is not event else None


def _canonical(number: Decimal) -> Decimal:
    return Decimal(canonical_decimal_text(number))


def _canonical_model(model: Any) -> Any:
    """`model` with its numbers canonical, nested models and tuples of them included (the same
    object when nothing changes)."""
    update: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Decimal):
            if not is_canonical(value):
                update[name] = _canonical(value)
        elif isinstance(value, BaseModel):
            if (inner := _canonical_model(value)) is not value:
                update[name] = inner
        elif isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
            items = tuple(_canonical_model(item) for item in value)
            if any(a is not b for a, b in zip(items, value, strict=True)):
                update[name] = items
    return model.model_copy(update=update) if update else model
