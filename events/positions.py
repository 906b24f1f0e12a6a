"""Positions in a plan's stream, and an event at its position. Pure: the folds and the judgement
use these without importing the store (which talks to Redis)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from events.codec import Unreadable
from events.models import Event


class StoredEvent(NamedTuple):
    """An event and its position in the plan's stream (a tuple: millions are made in a replay).
    An entry that does not decode is an `Unreadable` in its place, which the fold parks: reading
    the log never fails."""

    position: str
    event: Event | Unreadable


def position_key(position: str) -> tuple[int, int]:
    """Sort key of a stream position `ms-seq` ("" sorts first)."""
    if not position:
        return (0, 0)
    millis, _, seq = position.partition("-")
    return int(millis), int(seq or 0)


def position_after(position: str, than: str) -> bool:
    """`position_key(position) > position_key(than)` for stream ids (`ms-seq`, the fold starts
    at `0-0`), without parsing numbers: stream ids have no leading zeros, so a longer number is
    larger and equal lengths compare as text. A replay asks this once per event."""
    millis, _, seq = position.partition("-")
    than_millis, _, than_seq = than.partition("-")
    if millis != than_millis:
        return len(millis) > len(than_millis) or (len(millis) == len(than_millis) and millis > than_millis)
    return len(seq) > len(than_seq) or (len(seq) == len(than_seq) and seq > than_seq)


MAX_SEQ = 2**64 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def position_instant(position: str) -> int:
    """The transaction time of a stream position, in ms since the epoch."""
    return int(position.partition("-")[0] or 0)


def position_at(instant: datetime) -> str:
    """The last stream position recorded at or before `instant` (transaction time)."""
    if instant.tzinfo is None:
        raise ValueError("known_at needs a time zone, e.g. 2025-07-10T00:00+08:00")
    # whole milliseconds in integers: a float timestamp × 1000 can fall a hair short of the
    # millisecond an event was stored in (….210 → 209.99…) and leave that event out
    since = instant - _EPOCH
    ms = (since.days * 86_400 + since.seconds) * 1000 + since.microseconds // 1000
    return f"{max(ms, 0)}-{MAX_SEQ}"  # before 1970 nothing was recorded
