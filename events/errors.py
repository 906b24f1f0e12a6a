"""Validation errors as departments read them: the field, the reason in English and Chinese.

Every entry point (HTTP, inbox stream, spreadsheet, CLI, plan file) reports bad input through
`field_errors`, so the wording is the same wherever a department meets it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from pydantic import ValidationError

from events.models import EVENT_TYPES
from events.periods import PERIOD_PATTERN, RANGE_OR_PERIOD_PATTERN, period_problem
from events.problems import LocatedProblems

# C0 and C1 controls and DEL, but for tab and line breaks; lone surrogates (JSON's \ud800
# escapes make them; no UTF-8 text, so no answer or terminal line, can hold one); and the
# bidirectional embeddings, overrides and isolates, which reorder what follows them on screen
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` as it may be echoed in an answer, a log or a terminal: controls and lone surrogates
    shown as escapes (\\u001b), not as themselves."""
    return CONTROL.sub(lambda m: f"\\u{ord(m[0]):04x}", text) if CONTROL.search(text) else text


def excerpt(text: str, limit: int) -> str:
    """`text`, or if longer than `limit` its start and end around the count left out: a reason
    quotes the value first (a 100,000-digit number) and says why last."""
    if len(text) <= limit:
        return text
    head, tail = limit * 3 // 5, limit // 5
    return f"{text[:head]}…({len(text) - head - tail} characters left out)…{text[-tail:]}"


# pydantic error type → Chinese reason; the English reason is pydantic's own message.
_ZH = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段",
    "string_pattern_mismatch": "格式不符合要求",
    "string_too_short": "内容不能为空",
    "string_type": "应为文本",
    "uuid_parsing": "不是有效的UUID",
    "uuid_type": "不是有效的UUID",
    "timezone_aware": "时间必须带时区",
    "datetime_from_date_parsing": "不是有效的日期时间",
    "datetime_parsing": "不是有效的日期时间",
    "datetime_type": "不是有效的日期时间",
    "date_from_datetime_parsing": "不是有效的日期",
    "date_parsing": "不是有效的日期",
    "date_type": "不是有效的日期",
    "decimal_parsing": "不是有效的数字",
    "decimal_type": "不是有效的数字",
    "finite_number": "必须是有限数字",
    "decimal_max_places": "小数位数过多",
    "decimal_max_digits": "数字位数过多",
    "decimal_whole_digits": "整数位数过多",
    "string_too_long": "内容过长",
    "json_type": "不是有效的JSON",
    "greater_than_equal": "数值太小",
    "greater_than": "数值太小",
    "less_than_equal": "数值太大",
    "less_than": "数值太大",
    "int_parsing": "不是有效的整数",
    "int_type": "不是有效的整数",
    "literal_error": "取值不在允许范围内",
    "union_tag_invalid": "未知的事件类型",
    "union_tag_not_found": "缺少事件类型",
    "value_error": "取值无效",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "list_type": "应为列表",
    "too_short": "数量太少",
    "too_long": "数量太多",
    "json_invalid": "不是有效的JSON",
    "bool_parsing": "不是有效的布尔值",
}

_TAGS = frozenset(EVENT_TYPES)


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str
    reason_zh: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}（{self.reason_zh}）"


def field_path(loc: tuple[str | int, ...], prefix: str = "") -> str:
    """`('indicator.updated', 'value')` → `value`; `(…, 'indicators', 3, 'target')` → `indicators[3].target`."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in _TAGS or part.startswith(("function-", "tagged-union[")):
            continue  # the discriminator's branch name, not a field the sender wrote
        else:
            path += f".{part}" if path else part
    return path


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False):
        kind = err["type"]
        loc = tuple(err["loc"])
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, LocatedProblems):
            errors += [
                FieldError(field_path(loc + where, prefix), message, "计划内容不一致")
                for where, message in cause.problems
            ]
            continue
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            loc += (err.get("ctx", {}).get("discriminator", "'type'").strip("'"),)
        reason = err["msg"].removeprefix("Value error, ")
        if kind == "string_pattern_mismatch" and err["ctx"]["pattern"] in (PERIOD_PATTERN, RANGE_OR_PERIOD_PATTERN):
            reason = period_problem(err["input"])
        errors.append(FieldError(field_path(loc, prefix) or "(body)", reason, _ZH.get(kind, "取值无效")))
    return errors
