"""Silences, folded from the log (Alertmanager's model): which silences a plan has, which are in
force at an instant, and which of them match an alert. Pure: the live alerts projection, a
rebuild and the listing (`planwatch silence list`) all read the same events the same way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from events.models import AlertSilenced, SilenceExpired
from events.positions import StoredEvent


def _ms(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class Silence:
    silence_id: str
    matchers: dict[str, str]
    starts_ms: int
    ends_ms: int
    created_by: str
    comment: str = ""
    created_ms: int = 0  # the transaction time of the silence's event
    expired_ms: int | None = None  # when it was expired early, if it was
    expired_by: str | None = None

    def in_force(self, now_ms: int) -> bool:
        end = self.ends_ms if self.expired_ms is None else min(self.ends_ms, self.expired_ms)
        return self.starts_ms <= now_ms < end

    def state(self, now_ms: int) -> str:
        """pending (not begun), active, or expired."""
        if self.in_force(now_ms):
            return "active"
        return "pending" if now_ms < self.starts_ms and self.expired_ms is None else "expired"

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(name) == value for name, value in self.matchers.items())


@dataclass
class SilenceBook:
    silences: dict[str, Silence] = field(default_factory=dict)  # silence id → silence

    def fold(self, stored: StoredEvent) -> bool:
        """Note a silence or its early end; whether the event was one."""
        event, at = stored.event, int(stored.position.split("-", 1)[0])
        if isinstance(event, AlertSilenced):
            if event.silence_id not in self.silences:  # a silence is made once
                self.silences[event.silence_id] = Silence(
                    event.silence_id,
                    {str(name): value for name, value in event.matchers.items()},
                    _ms(event.starts_at),
                    _ms(event.ends_at),
                    event.created_by,
                    event.comment,
                    at,
                )
            return True
        if isinstance(event, SilenceExpired):
            silence = self.silences.get(event.silence_id)
            if silence is not None and silence.expired_ms is None:
                silence.expired_ms, silence.expired_by = at, event.expired_by
            return True
        return False

    def matching(self, labels: dict[str, str], now_ms: int) -> list[str]:
        """The ids of the silences in force at `now_ms` that match an alert's labels."""
        return sorted(s.silence_id for s in self.silences.values() if s.in_force(now_ms) and s.matches(labels))

    def prune(self, now_ms: int) -> None:
        """Forget the silences that can match nothing any more (their end has passed)."""
        for silence_id in [
            i for i, s in self.silences.items() if not s.in_force(now_ms) and s.state(now_ms) != "pending"
        ]:
            del self.silences[silence_id]


def silences_of(events: Iterable[StoredEvent]) -> SilenceBook:
    """Every silence a plan's events made, with its early end if it had one (nothing pruned)."""
    book = SilenceBook()
    for stored in events:
        book.fold(stored)
    return book
