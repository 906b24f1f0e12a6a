"""Cell values as departments type them: numbers (a numeric cell, 1,234.5, 5.5%, Excel's 0.055
shown as 5.5%, 下降12.3%, −12.3, 1.2亿元 in a 万元 column), dates (a date cell, 2025-07-15,
2025/7/15, 2025年7月15日), and a cell's text as messages quote it.
A value that cannot be read raises `CellProblem` saying why, in English and Chinese."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from events.bounds import canonical_decimal_text


@dataclass(frozen=True)
class Cell:
    value: object = None
    percent: bool = False  # an Excel cell shown as a percentage: it holds 0.055 for 5.5%
    formula: str | None = None  # a formula with no stored result (written by a program, never opened in Excel)

    @property
    def blank(self) -> bool:
        return self.formula is None and (self.value is None or (isinstance(self.value, str) and not self.value.strip()))


EMPTY = Cell()


class CellProblem(Exception):
    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(reason)
        self.reason, self.reason_zh = reason, reason_zh


_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
# the minus signs word processors put in (U+2212 −, en and em dashes); NFKC already maps －
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-"})
# a change worded as reports word it: 增长5.5%, 同比下降12.3%, 比上年回落0.4%
_WORDED = re.compile(r"(?:同比|比上年|较上年|比去年|较去年)?(增长|增加|上升|提高|下降|减少|降低|回落)(.+)")
_FALLING = frozenset({"下降", "减少", "降低", "回落"})
# amounts a clerk writes with their unit, in 万元
_WAN_PER: dict[str, Decimal] = {"元": Decimal("0.0001"), "万元": Decimal(1), "亿元": Decimal(10_000)}
_SUFFIX = re.compile(r"(.*?)(亿元|万元|元|%)")
_DATE = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})|(\d{4})年(\d{1,2})月(\d{1,2})日?|(\d{4})(\d{2})(\d{2})")


def _not_a_number(unit: str | None) -> CellProblem:
    if unit == "%":
        return CellProblem(
            "not a number; write it like 5.5, -12.3 or 下降12.3%", "不是有效的数字，可填写如5.5、-12.3或下降12.3%"
        )
    if unit in _WAN_PER:
        return CellProblem(
            f"not a number; write it like 1,234.5 (in {unit}) or 1.2亿元",
            f"不是有效的数字，可填写如1,234.5（单位{unit}）或1.2亿元",
        )
    return CellProblem("not a number; write it like 1,234.5 or -12.3", "不是有效的数字，可填写如1,234.5或-12.3")


def parse_decimal(cell: Cell, unit: str | None) -> Decimal:
    """A number as a department types it, in `unit` (None: not known, anything readable goes): a
    numeric cell, or text like 1,234.5, −12.3, 5.5%, 下降12.3% (a percentage only) or 1.2亿元 (an
    amount in another money unit, converted)."""
    if cell.formula is not None:
        raise CellProblem(
            "a formula without a stored result; open and save the file in Excel, or paste values",
            "公式没有计算结果，请在Excel中打开保存，或粘贴为数值",
        )
    value = cell.value
    if isinstance(value, bool) or isinstance(value, datetime | date | time):
        raise _not_a_number(unit)
    if isinstance(value, int | float | Decimal):
        return _number_of_numeric_cell(value, cell.percent, unit in ("%", None))
    text = unicodedata.normalize("NFKC", plain(value)).translate(_MINUS).replace(" ", "")
    sign, text = _worded_sign(text, unit)
    text, factor = _stated_unit(text, unit)
    if not _NUMBER.fullmatch(text):
        raise _not_a_number(unit)
    return canonical_decimal(sign * Decimal(text.replace(",", "")) * factor)


def _worded_sign(text: str, unit: str | None) -> tuple[int, str]:
    """增长5.5% → (1, '5.5%'), 同比下降12.3% → (-1, '12.3%'); other text unchanged."""
    worded = _WORDED.fullmatch(text)
    if worded is None:
        return 1, text
    word, rest = worded.groups()
    if unit not in ("%", None):
        raise CellProblem(
            f"{word} states a change, but the value is in {unit}: give the figure itself, like 1,234.5",
            f"「{word}」是增减幅度，该项单位为{unit}，请填写数值本身，如1,234.5",
        )
    if rest[:1] in "+-":
        raise CellProblem(
            f"both {word} and a sign: write {word}12.3% or -12.3", f"「{word}」与正负号重复，请写{word}12.3%或-12.3"
        )
    return (-1 if word in _FALLING else 1), rest


def _stated_unit(text: str, unit: str | None) -> tuple[str, Decimal]:
    """The number's text without the unit it states, and the factor into `unit`: 1.2亿元 in a 万元
    column → ('1.2', 10000). A unit that is not the column's, and cannot be converted, is refused."""
    stated = _SUFFIX.fullmatch(text)
    if stated is None:
        if unit and unit not in ("%", *_WAN_PER) and text.endswith(unit) and len(text) > len(unit):
            return text[: -len(unit)], Decimal(1)  # 23个 in a 个 column
        return text, Decimal(1)
    number, suffix = stated.groups()
    if suffix == "%":
        if unit not in ("%", None):
            raise CellProblem("a percentage, but the unit is not %", f"该项单位为{unit}，不是%，请填写数值")
        return number, Decimal(1)
    if unit is None:
        return number, Decimal(1)  # an unknown indicator: its row is refused for that already
    if unit not in _WAN_PER:
        raise CellProblem(f"an amount in {suffix}, but the unit is {unit}", f"该项单位为{unit}，不能填写{suffix}金额")
    return number, _WAN_PER[suffix] / _WAN_PER[unit]


def _number_of_numeric_cell(value: int | float | Decimal, percent: bool, percent_unit: bool) -> Decimal:
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise _not_a_number(None) from None
    if not number.is_finite():
        raise CellProblem("not a finite number", "必须是有限数字")
    if percent:
        # Excel stores 5.5% as 0.055: the department meant the percentage it saw.
        if not percent_unit:
            raise CellProblem("shown as a percentage but the unit is not %", "单元格为百分比格式，但该项单位不是%")
        number *= 100
    return canonical_decimal(number)


def parse_date(cell: Cell) -> date:
    """A date cell, or text with the year first — 2025-07-15, 2025/7/15, 2025.7.15, 2025年7月15日,
    20250715 — so 03/04/2025 is never read the wrong way."""
    if cell.formula is not None:
        raise CellProblem(
            "a formula without a stored result; open and save the file in Excel, or type the date",
            "公式没有计算结果，请在Excel中打开保存，或直接填写日期",
        )
    value = cell.value
    if isinstance(value, datetime):
        if value.time() != time(0):
            raise CellProblem("a date and time; give the date only", "只填写日期，不含时间")
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", plain(value)).replace(" ", "")
    found = _DATE.fullmatch(text)
    if found is None:
        raise CellProblem(
            "not a date; write it like 2025-07-15 (2025/7/15 and 2025年7月15日 are read too)",
            "不是有效的日期，请填写如2025-07-15（也可写2025/7/15或2025年7月15日）",
        )
    year, month, day = (int(part) for part in found.groups() if part and part not in "-/.")
    try:
        return date(year, month, day)
    except ValueError:
        raise CellProblem("no such date", "日期不存在") from None


def canonical_decimal(number: Decimal) -> Decimal:
    """One spelling per number (5.50 → 5.5, 1E+3 → 1000), so equal values give equal events."""
    return Decimal(decimal_text(number))


def decimal_text(number: Decimal) -> str:
    return canonical_decimal_text(number)


def plain(value: object) -> str:
    """A cell's text, trimmed; '' for an empty cell."""
    if value is None:
        return ""
    return str(value).strip()


def shown(value: object) -> str:
    """A cell's value as an error message quotes it."""
    if isinstance(value, datetime) and value.time() == time(0):
        value = value.date()
    if isinstance(value, float):
        value = repr(value)
    text = plain(value)
    return text if len(text) <= 60 else text[:57] + "…"
