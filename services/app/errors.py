"""The refusals of the use cases. Every entry point reports them the same way: the API as
`{error, message, message_zh, errors: [{field, reason, reason_zh}]}` with the status, the CLI as
the message and the field errors, the inbox as a reject entry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from events.errors import FieldError, excerpt, printable

if TYPE_CHECKING:
    from services.store import DamagedKey

# characters a refusal echoes of each of its texts: a reason may quote a value of a megabyte
ECHO_AT_MOST = 1000


def _echoed(text: str) -> str:
    return excerpt(printable(text), ECHO_AT_MOST)


class AppError(Exception):
    """A refused request, as every entry point reports it: `status` is the HTTP status the API
    answers with, `body()` the JSON every error answers with (the CLI prints the same message)."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, message_zh: str, errors: Sequence[FieldError] = (), **details: Any) -> None:
        super().__init__(message)
        # what a refusal echoes of the input may hold anything: never a control character or a
        # lone surrogate (a terminal would obey it; UTF-8 cannot encode it: a 500 instead of the 4xx),
        # and no more than an excerpt of a huge value
        self.message, self.message_zh, self.details = _echoed(message), _echoed(message_zh), details
        self.errors = [FieldError(_echoed(e.field), _echoed(e.reason), _echoed(e.reason_zh)) for e in errors]

    def body(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "errors": [e.as_dict() for e in self.errors],
            **self.details,
        }


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Invalid(AppError):
    status, code = 422, "invalid"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class TooLarge(AppError):
    status, code = 413, "too_large"


class UnsupportedMediaType(AppError):
    status, code = 415, "unsupported_media_type"


class Unavailable(AppError):
    """A dependency (Redis) cannot be reached now: retry later (the API adds Retry-After)."""

    status, code = 503, "unavailable"


class StoreDamaged(AppError):
    """A key the request would write holds another Redis type than planwatch keeps there (written
    by hand or damaged): nothing was written; an operator restores or deletes the key it names."""

    status, code = 503, "store_damaged"

    @classmethod
    def of(
        cls,
        key: str,
        found: str,
        expected: str | None,
        outcome: tuple[str, str] = ("nothing was stored", "未保存任何数据"),
    ) -> StoreDamaged:
        done, done_zh = outcome
        return cls(
            f"{done}: key {key} holds a {found} where planwatch keeps a {expected or 'different type'} "
            "(damaged or written by hand); an operator must restore it from a backup or delete it",
            f"{done_zh}：存储键 {key} 已损坏（类型为{found}，应为{expected or '其他类型'}），"
            "请管理员从备份恢复或删除该键",
            key=key,
        )

    @classmethod
    def of_damage(cls, damage: DamagedKey) -> StoreDamaged:
        """The refusal of a write `damage` stopped (a store's DamagedKey, as every entry point answers it)."""
        return cls.of(damage.key, damage.found, damage.expected)
