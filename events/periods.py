"""Reporting periods: `2025-06` (month), `2025-Q2` (quarter), `2025-H1` (half), `2025` (year),
and year-to-date ranges `2025-01..2025-09` / `2025-Q1..Q3` (1—9月累计, investment only).

A value reported for a period is cumulative from 1 January to the period's last day (累计),
so the only things that matter about a period are its year and its last month.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache
from typing import Annotated, Final, Literal

from pydantic import Field

PeriodKind = Literal["month", "quarter", "half", "year", "ytd"]

_PATTERN = re.compile(r"(?P<year>[0-9]{4})(?:-(?:(?P<month>[0-9]{2})|Q(?P<quarter>[1-4])|H(?P<half>[12])))?")

# What `Period.parse` accepts, as one regular expression: pydantic checks it in Rust, so a batch of
# a thousand events spends no Python on its periods. field_errors asks `period_problem` why not.
PERIOD_PATTERN = r"^(20[0-9]{2}|2100)(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?$"

# A year-to-date range starts in January (or Q1) and ends in the same year: 2025-01..2025-09,
# 2025-01..09, 2025-Q1..Q3, 2025-Q1..2025-Q3. The pattern admits the shapes; `Period.parse`
# checks that both ends are of one year (a regular expression in Rust has no back-references).
_YEAR = r"(20[0-9]{2}|2100)"
YTD_PATTERN = rf"^{_YEAR}-(01\.\.({_YEAR}-)?(0[1-9]|1[0-2])|Q1\.\.({_YEAR}-)?Q[1-4])$"
RANGE_OR_PERIOD_PATTERN = rf"{PERIOD_PATTERN}|{YTD_PATTERN}"
_RANGE = re.compile(
    r"(?P<year>[0-9]{4})-(?:(?P<first>[0-9]{2})\.\.(?:(?P<year_to>[0-9]{4})-)?(?P<month>[0-9]{2})"
    r"|Q(?P<first_quarter>[1-4])\.\.(?:(?P<quarter_year>[0-9]{4})-)?Q(?P<quarter>[1-4]))"
)


@dataclass(frozen=True, order=True)
class Period:
    """A parsed period. Ordering is by (year, last month, kind rank): shorter periods first."""

    year: int
    last_month: int
    span_months: int
    kind: PeriodKind
    text: str

    @classmethod
    def parse(cls, text: str) -> Period:
        return _parse(text)

    @classmethod
    def _from_text(cls, text: str) -> Period:
        if isinstance(text, str) and ".." in text:
            return cls._range(text)
        match = _PATTERN.fullmatch(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(
                f"period {text!r} is not one of YYYY-MM, YYYY-Qn, YYYY-Hn, YYYY (e.g. 2025-06, 2025-Q2, 2025-H1, 2025)"
            )
        year = int(match["year"])
        if not 2000 <= year <= 2100:
            raise ValueError(f"period {text!r}: year must be between 2000 and 2100")
        if match["month"]:
            month = int(match["month"])
            if not 1 <= month <= 12:
                raise ValueError(f"period {text!r}: month must be 01..12")
            return cls(year, month, 1, "month", text)
        if match["quarter"]:
            return cls(year, int(match["quarter"]) * 3, 3, "quarter", text)
        if match["half"]:
            return cls(year, int(match["half"]) * 6, 6, "half", text)
        return cls(year, 12, 12, "year", text)

    @classmethod
    def _range(cls, text: str) -> Period:
        """A year-to-date range: from January (Q1) to its last month, within one year."""
        match = _RANGE.fullmatch(text)
        if not match:
            raise ValueError(f"period {text!r} is not a year-to-date range like 2025-01..2025-09 or 2025-Q1..Q3")
        year = int(match["year"])
        if not 2000 <= year <= 2100:
            raise ValueError(f"period {text!r}: year must be between 2000 and 2100")
        year_to = match["year_to"] or match["quarter_year"]
        if year_to is not None and int(year_to) != year:
            raise ValueError(f"period {text!r}: a year-to-date range ends in the year it starts")
        if match["quarter"]:
            first, last = int(match["first_quarter"]) * 3 - 2, int(match["quarter"]) * 3
        else:
            first, last = int(match["first"]), int(match["month"])
        if first != 1:
            raise ValueError(f"period {text!r}: a year-to-date range starts in January (01 or Q1)")
        if not 1 <= last <= 12:
            raise ValueError(f"period {text!r}: month must be 01..12")
        return cls(year, last, last, "ytd", text)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls.parse(f"{year:04d}-{month:02d}")

    @cached_property
    def start(self) -> date:
        return date(self.year, self.last_month - self.span_months + 1, 1)

    @cached_property
    def end(self) -> date:
        return month_end(self.year, self.last_month)

    def __str__(self) -> str:
        return self.text


@lru_cache(maxsize=4096)
def _parse(text: str) -> Period:
    # Periods are few and parsed constantly while judging: parse each text once.
    return Period._from_text(text)


@lru_cache(maxsize=4096)
def period_end(text: str) -> date:
    """The last day of a period, by its text: one cached lookup, as the fold asks it per event."""
    return _parse(text).end


PeriodText = Annotated[str, Field(pattern=PERIOD_PATTERN)]
"""A period in its canonical text form, validated."""

RangeOrPeriodText = Annotated[str, Field(pattern=RANGE_OR_PERIOD_PATTERN)]
"""A period, or a year-to-date range (2025-01..2025-09, 2025-Q1..Q3): investment amounts."""


# a period an indicator reports ends in a month that is a multiple of its frequency's step
REPORTING_STEP: Final = {"monthly": 1, "quarterly": 3, "annual": 12}


def reported_period(frequency: str, at: Period) -> str | None:
    """The period an indicator of `frequency` reports at the end of `at`, None when nothing is due:
    for a month, the month (monthly), the quarter in a quarter's last month (quarterly), the year in
    December (annual); for a quarter, a half or the year, that period when its last month is one the
    frequency reports. Templates and the data-entry form list exactly these."""
    if at.last_month % REPORTING_STEP[frequency]:
        return None
    if at.kind != "month" or frequency == "monthly":
        return at.text
    return f"{at.year}-Q{at.last_month // 3}" if frequency == "quarterly" else str(at.year)


def ytd_text(year: int, last_month: int) -> str:
    """The canonical text of the range from January to `last_month`: 2025-01..2025-09."""
    return f"{year:04d}-01..{year:04d}-{last_month:02d}"


def period_problem(text: str) -> str:
    """Why `text` is not a period, as the sender reads it."""
    try:
        period = Period.parse(text)
    except ValueError as exc:
        return str(exc)
    if period.kind == "ytd":
        return (
            f"period {text!r}: a year-to-date range is for investment amounts; other values are year to date "
            f"already, so send the last period: {period.year}-{period.last_month:02d}"
        )
    return f"period {text!r} is not a period"  # unreachable while PERIOD_PATTERN and parse agree


@lru_cache(maxsize=4096)
def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def completed_months(as_of: date, year: int) -> int:
    """Whole months of `year` that have ended on or before `as_of` (0..12)."""
    if as_of.year < year:
        return 0
    if as_of.year > year:
        return 12
    full = as_of.month - 1
    if as_of == month_end(as_of.year, as_of.month):
        full += 1
    return full
