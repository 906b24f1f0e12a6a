"""What every entry point asks of a payload before its events are validated: JSON read strictly
(no key twice, no NaN, numbers exactly as written), and, of an event's own fields, no control
character in its text and no number written any other way than in ASCII decimals.

Kept out of the event models on purpose: the models also read the stored log, and an event
stored before a rule existed must still read (nothing stored may make a reader fail)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from events.errors import CONTROL, FieldError
from services.app.errors import Invalid


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key!r} is given twice in one object")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of the body, refusing a key given twice (plain JSON parsing keeps the last one,
    so a body could say two things and be read as one of them)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (numbers must be finite)")


def strict_json(text: bytes | str, field: str = "(body)") -> Any:
    """`text` as JSON, strictly: no key twice in an object, no NaN or Infinity, and a number with a
    fraction read as the Decimal it spells (as a float, 1.00000000000000000001 would pass as 1.0,
    and 1e-400 as 0, past the checks of decimal places). Invalid naming `field` otherwise. The
    standard library's C parser with a hook for the keys is as fast here as pydantic_core's
    (measured on a 500-event batch), which cannot refuse duplicate keys."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=Decimal)
    except _DuplicateKey as exc:
        reason = f"the key {exc.key!r} is given twice in one object"  # echoed escaped (AppError)
        raise Invalid(
            "the body gives a key twice", "请求体中有重复的字段", [FieldError(exc.key, reason, "字段重复出现")]
        ) from None
    except UnicodeDecodeError as exc:  # most often GBK from a system set up for Chinese Windows
        reason = f"not UTF-8 text (byte {exc.start}): send JSON as UTF-8"
        raise Invalid(
            "the body is not UTF-8", "请求体不是UTF-8编码", [FieldError(field, reason, "请以UTF-8编码发送JSON")]
        ) from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise Invalid(
            "the body is not valid JSON", "请求体不是有效的JSON", [FieldError(field, reason, "不是有效的JSON")]
        ) from None


# an event's fields that hold numbers: as JSON numbers, or text of ASCII decimals (a stream's fields)
NUMBER_FIELDS = frozenset({"value", "growth", "amount_wan", "previous"})
# … and times and dates as text (pydantic would read a bare number as seconds since 1970)
WHEN_FIELDS = frozenset({"occurred_at", "starts_at", "ends_at", "known_at", "started_on", "completed_on", "day"})


def text_problems(value: Any, field: str) -> list[FieldError]:
    """Control characters anywhere in `value` (a text, or the texts inside a list or an object),
    each named by where it is: they break the spreadsheets and documents a report is written to,
    and a terminal that prints them."""
    if isinstance(value, str):
        found = CONTROL.search(value)
        if found is None:
            return []
        reason = f"holds the control character U+{ord(found[0]):04X}: text only (tabs and line breaks allowed)"
        return [FieldError(field, reason, "含有不可见的控制字符")]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in text_problems(item, _joined(field, key))]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in text_problems(item, f"{field}[{i}]")]
    return []


# an event's fields of free text (or holding some: a target's wording, a project's name)
TEXT_FIELDS = frozenset({"note", "reason", "comment", "target", "project", "matchers", "fingerprint", "published_by"})
_CHECKED = NUMBER_FIELDS | WHEN_FIELDS | TEXT_FIELDS


def event_field_problems(data: dict[str, Any], prefix: str) -> list[FieldError]:
    """What an event's own fields may not be, beyond what its model checks: text with control
    characters, a number as anything but ASCII decimals (Python's Decimal would read 1_0 as 10 and
    Arabic-Indic ٧ as 7), a date or time as anything but text. Only the fields that can be so
    are looked at (ids, periods and types have patterns of their own), and a field that is
    fine is passed by C-level string tests before any pattern: every event of a batch pays this."""
    problems: list[FieldError] = []
    for key in data.keys() & _CHECKED:
        value = data[key]
        if type(value) is str:
            if key in NUMBER_FIELDS:
                if not _plain_number(value):
                    reason = f"{value[:40]!r} is not a number: write it in ASCII digits, e.g. 7.1"
                    problems.append(FieldError(prefix + key, reason, "须为数字（半角阿拉伯数字，如 7.1）"))
            elif key not in WHEN_FIELDS and not value.isprintable():  # line breaks, 全角空格 … or a control
                problems += text_problems(value, prefix + key)
        elif key in WHEN_FIELDS:
            if value is not None:
                reason = "must be a date or date-time text, e.g. 2025-07-15T10:00:00+08:00"
                problems.append(
                    FieldError(prefix + key, reason, "须为日期或日期时间文本，如 2025-07-15T10:00:00+08:00")
                )
        elif key in TEXT_FIELDS:
            problems += text_problems(value, prefix + key)
    return problems


def _plain_number(text: str) -> bool:
    """ASCII, no spaces around, no digit-group underscores: what Decimal reads the way it reads."""
    return text.isascii() and "_" not in text and text.strip() == text


def _joined(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key
