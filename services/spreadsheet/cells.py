"""Cell values as departments type them: numbers (a numeric cell, 1,234.5, 5.5%, Excel's 0.055
shown as 5.5%), dates (a date cell or YYYY-MM-DD), and a cell's text as messages quote it.
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
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _not_a_number() -> CellProblem:
    return CellProblem("not a number", "不是有效的数字")


def parse_decimal(cell: Cell, percent_unit: bool) -> Decimal:
    """A number as a department types it: a numeric cell, or text like 1,234.5 or 5.5%."""
    if cell.formula is not None:
        raise CellProblem(
            "a formula without a stored result; open and save the file in Excel, or paste values",
            "公式没有计算结果，请在Excel中打开保存，或粘贴为数值",
        )
    value = cell.value
    if isinstance(value, bool) or isinstance(value, datetime | date | time):
        raise _not_a_number()
    if isinstance(value, int | float | Decimal):
        return _number_of_numeric_cell(value, cell.percent, percent_unit)
    text = unicodedata.normalize("NFKC", plain(value)).replace(" ", "")
    if text.endswith("%"):
        if not percent_unit:
            raise CellProblem("a percentage, but the unit is not %", "该项单位不是%，请填写数值")
        text = text[:-1]
    if not _NUMBER.fullmatch(text):
        raise _not_a_number()
    return canonical_decimal(Decimal(text.replace(",", "")))


def _number_of_numeric_cell(value: int | float | Decimal, percent: bool, percent_unit: bool) -> Decimal:
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise _not_a_number() from None
    if not number.is_finite():
        raise CellProblem("not a finite number", "必须是有限数字")
    if percent:
        # Excel stores 5.5% as 0.055: the department meant the percentage it saw.
        if not percent_unit:
            raise CellProblem("shown as a percentage but the unit is not %", "单元格为百分比格式，但该项单位不是%")
        number *= 100
    return canonical_decimal(number)


def parse_date(cell: Cell) -> date:
    """A date cell, or text YYYY-MM-DD; nothing else, so 03/04/2025 is never read the wrong way."""
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
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise CellProblem("no such date", "日期不存在") from None
    raise CellProblem("not a date in the form YYYY-MM-DD", "不是有效的日期，格式应为YYYY-MM-DD")


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
