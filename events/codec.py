"""The stored form of an event: what the store writes in a stream entry's `data` field, and how
it is read back. Pure: the folds decode with it without importing the store.

The stored JSON is the event without `recorded_at`; transaction time is the entry's stream id.
"""

from __future__ import annotations

from functools import lru_cache

import pydantic_core

from events.models import Event, event_adapter, recorded_at_of

_STORED_FORM_EXCLUDES = {"recorded_at"}


def encode(event: Event) -> bytes:
    """The event's stored JSON (UTF-8): everything but `recorded_at`, which the store owns.
    pydantic_core.to_json writes exactly what model_dump_json writes, a quarter faster."""
    return pydantic_core.to_json(event, exclude=_STORED_FORM_EXCLUDES)


def decode(position: str, data: str) -> Event:
    """Rebuild an event from its stored JSON, with `recorded_at` taken from its position."""
    recorded = _recorded_at_text(position.split("-", 1)[0])
    return event_adapter.validate_json('{"recorded_at":"' + recorded + '",' + data[1:])


def decode_payload(data: str) -> Event:
    """The event without `recorded_at`, for folds: they take transaction time from the position,
    and skipping the timestamp saves a third of the decoding time of a replay."""
    return event_adapter.validate_json(data)


@lru_cache(maxsize=256)
def _recorded_at_text(millis: str) -> str:
    # A batch is appended within one millisecond, so its events share this text.
    return recorded_at_of(millis).isoformat()
