"""When a reminder may go: working hours and the next reminder instant. Pure — no Redis, no
clock: every instant is an argument, so the rules are unit-tested on their own.

A subscription's reminders come every `repeat_interval` after the last one, but only within its
working hours (default 周一至周五 09:00–18:00 in the plan's zone): a reminder due at night or at
the weekend waits for the next working-hours start. A working day's hours never cross midnight
(`end` may be 24:00), so no reminder is ever due at night unless the hours say so."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from events.plan import known_zone

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_DAY_NAMES = {name: n for n, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), start=1)}
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")


def _day(token: str) -> int:
    token = token.strip().lower()
    if token in _DAY_NAMES:
        return _DAY_NAMES[token]
    if token.isdigit() and 1 <= int(token) <= 7:
        return int(token)
    raise ValueError(f"{token!r} is not a weekday: 1 (Monday) to 7 (Sunday), or mon … sun")


def parse_days(text: str) -> list[int]:
    """`1-5`, `mon-fri`, `1,3,5`, `mon-sun`: ISO weekdays, 1 = Monday."""
    days: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.partition("-")
        low, high = _day(first), _day(last) if dash else _day(first)
        if high < low:
            raise ValueError(f"{part!r}: a range of days goes from Monday towards Sunday")
        days.update(range(low, high + 1))
    return sorted(days)


def parse_working_hours(value: Any) -> Any:
    """`1-5 09:00-18:00` (days, hours, and optionally a time zone: `mon-sun 00:00-24:00
    Asia/Shanghai`), or the fields as an object."""
    if not isinstance(value, str):
        return value
    parts = value.split()
    if len(parts) not in (2, 3) or parts[1].count("-") != 1:
        raise ValueError(f"{value!r} is not working hours like '1-5 09:00-18:00' (days, hours[, time zone])")
    start, end = parts[1].split("-")
    return {
        "days": parse_days(parts[0]),
        "start": start,
        "end": end,
        **({"timezone": parts[2]} if len(parts) == 3 else {}),
    }


class WorkingHours(BaseModel):
    """When people read reminders: on these weekdays, from `start` to `end` (the plan's zone, or
    `timezone`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[int] = Field(default=[1, 2, 3, 4, 5], description="ISO weekdays, 1 = Monday … 7 = Sunday")
    start: str = Field(default="09:00", description="HH:MM")
    end: str = Field(default="18:00", description="HH:MM, after start (24:00 = midnight at the day's end)")
    timezone: str | None = Field(default=None, description="default: the zone of the subscription's plans")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        return parse_working_hours(data)

    @field_validator("days")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        if not days:
            raise ValueError("at least one weekday")
        if any(not 1 <= d <= 7 for d in days):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        return sorted(set(days))

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.fullmatch(value):
            raise ValueError(f"{value!r} is not a time of day like 09:00 (00:00 to 24:00)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        return None if name is None else known_zone(name)

    @model_validator(mode="after")
    def _start_before_end(self) -> WorkingHours:
        if _minutes(self.start) >= _minutes(self.end):
            raise ValueError(f"start {self.start} must come before end {self.end} (hours do not cross midnight)")
        return self

    def label(self) -> str:
        """周一至周五 09:00–18:00, as people read it."""
        return f"{_days_zh(self.days)} {self.start}–{self.end}"

    def window(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
        """The working hours of one local day, or None if it is not a working day."""
        if day.isoweekday() not in self.days:
            return None
        return _at(day, self.start, zone), _at(day, self.end, zone)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _at(day: date, clock: str, zone: ZoneInfo) -> datetime:
    if clock == "24:00":
        return datetime.combine(day + timedelta(days=1), time(0), zone)
    hours, minutes = clock.split(":")
    return datetime.combine(day, time(int(hours), int(minutes)), zone)


def _days_zh(days: list[int]) -> str:
    if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        return f"{WEEKDAYS_ZH[days[0] - 1]}至{WEEKDAYS_ZH[days[-1] - 1]}"
    return "、".join(WEEKDAYS_ZH[d - 1] for d in days)


def working_start(moment: datetime, hours: WorkingHours, zone: ZoneInfo) -> datetime:
    """`moment` itself if it is within working hours, else the start of the next working hours."""
    local = moment.astimezone(zone)
    for offset in range(8):
        window = hours.window(local.date() + timedelta(days=offset), zone)
        if window is None:
            continue
        start, end = window
        if moment < start:
            return start
        if moment < end:
            return moment
    raise AssertionError("a week always has a working day")  # WorkingHours refuses no days


def within(moment: datetime, hours: WorkingHours, zone: ZoneInfo) -> bool:
    return working_start(moment, hours, zone) == moment


def later(last: datetime, interval: timedelta, zone: ZoneInfo) -> datetime:
    """`interval` after `last`, whole days by the zone's clock: a daily reminder at 17:30 stays at
    17:30 when the clocks change (23 or 25 hours later), rather than slipping to 18:30 — past the
    working hours — or to 16:30; the hours that remain are elapsed time."""
    days, rest = divmod(interval, timedelta(days=1))
    wall = last.astimezone(zone) + timedelta(days=days)  # arithmetic in one zone is by its wall clock
    return wall.astimezone(UTC) + rest  # elapsed time: added to an instant, not to a wall clock


def next_reminder(last: datetime, interval: timedelta, hours: WorkingHours, zone: ZoneInfo) -> datetime:
    """When the reminder after `last` is due: `interval` later (whole days by the zone's clock),
    moved to the next working-hours start if that falls outside them. Its instant names the
    reminder (its idempotency key)."""
    return working_start(later(last, interval, zone), hours, zone)


def reminder_due(
    now: datetime, last: datetime, interval: timedelta, hours: WorkingHours, zone: ZoneInfo
) -> datetime | None:
    """The reminder to send now (its due instant), or None: not yet due, or `now` is outside the
    working hours (a notifier that was down past the end of a day waits for the next start)."""
    due = next_reminder(last, interval, hours, zone)
    return due if due <= now and within(now, hours, zone) else None
