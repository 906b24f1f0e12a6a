"""Numbers as Chinese plan reports print them: `5.5%`, `-1.0个百分点`, `91亿元`, `5800万元`."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

ONE_DECIMAL = Decimal("0.1")
TWO_DECIMALS = Decimal("0.01")
WAN_PER_YI = Decimal(10000)


def round1(value: Decimal) -> Decimal:
    """Round half up to one decimal, as statistical tables do (50.45 → 50.5)."""
    return value.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def plain(value: Decimal, places: Decimal = TWO_DECIMALS) -> str:
    """Up to two decimals, trailing zeros dropped, never an exponent: 91.00 → 91, 8.010 → 8.01."""
    text = f"{value.quantize(places, rounding=ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(value: Decimal) -> str:
    """A rate with one decimal: 8 → 8.0%, -33.3 → -33.3%."""
    return f"{round1(value):f}%"


def points(value: Decimal) -> str:
    """A signed gap in percentage points: +4.9个百分点, -1.0个百分点."""
    rounded = round1(value)
    sign = "+" if rounded > 0 else "-" if rounded < 0 else ""
    return f"{sign}{abs(rounded):f}个百分点"


def fixed(value: Decimal, places: int) -> str:
    """Exactly `places` decimals, rounded half up: (7.25, 1) → 7.3, (91, 1) → 91.0, (105.26, 0) → 105."""
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"


def money_wan(wan: Decimal, yi_places: int | None = None) -> str:
    """An amount held in 万元, printed in 亿元 from one 亿 up: 910000 → 91亿元, 5800 → 5800万元; with
    `yi_places` (the plan's precision) 亿元 are printed to exactly that many decimals: 72500 → 7.3亿元."""
    if abs(wan.quantize(TWO_DECIMALS, rounding=ROUND_HALF_UP)) >= WAN_PER_YI:  # 9999.996万 prints as 1亿元
        yi = wan / WAN_PER_YI
        return f"{plain(yi) if yi_places is None else fixed(yi, yi_places)}亿元"
    return f"{plain(wan)}万元"


def amount(value: Decimal, unit: str, yi_places: int | None = None) -> str:
    """A value in its indicator's canonical unit: money via `money_wan`, others as plain numbers."""
    if unit == "万元":
        return money_wan(value, yi_places)
    if unit == "%":
        return percent(value)
    return f"{plain(value)}{unit}"


def display_width(text: str) -> int:
    """Columns a text takes in a terminal or a spreadsheet: CJK characters are two Latin ones wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


ZONE_NAMES_ZH = {"Asia/Shanghai": "北京时间", "Asia/Chongqing": "北京时间", "Asia/Urumqi": "乌鲁木齐时间"}


def local_time(instant: datetime | str, zone: str) -> str:
    """An instant as a person in the plan's zone reads it, labelled: `2025-07-16 08:00 北京时间`, or
    `2025-07-16 02:00 Europe/Berlin (UTC+02:00)`. A naive instant is taken as UTC (as stored)."""
    moment = datetime.fromisoformat(instant) if isinstance(instant, str) else instant
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo(zone))
    offset = f"{local:%z}"
    label = ZONE_NAMES_ZH.get(zone) or f"{zone} (UTC{offset[:3]}:{offset[3:]})"
    return f"{local:%Y-%m-%d %H:%M} {label}"


def in_zone(moment: datetime, zone: str) -> datetime:
    """A time typed without a zone, read in the plan's zone; one with a zone, unchanged."""
    return moment.replace(tzinfo=ZoneInfo(zone)) if moment.tzinfo is None else moment
