"""Logs: one JSON object per line (level, process, plan, request id, message), or a short human
line on a terminal; never a secret; no traceback for an expected outage.

`configure_logging(process, format)` sets the root logger up once per process; `format` is
`json`, `console` or None (console on a terminal, JSON otherwise) — `PLANWATCH_LOG_FORMAT` via
Settings. The plan and the request id come from context variables (`plan_context`,
`request_context`) set where the work starts: a projector's task, an API request, an inbox
message.

Secrets: API tokens (`pwt_<id>_<secret>`) are cut to their id wherever they appear in a message
or a value, `Bearer …` and `token=…` / `secret=…` / `sign=…` texts are masked, and extra fields
named like a secret (token, secret, key, authorization, password, sign) are never printed.

Expected outages: a Redis connection refused or timed out, logged with its traceback by any
library, becomes one warning line with the error's text (the retry is the library's or ours).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

FORMATS = ("json", "console")

_PLAN: ContextVar[str | None] = ContextVar("planwatch_plan", default=None)
_REQUEST: ContextVar[str | None] = ContextVar("planwatch_request_id", default=None)
_PROCESS: dict[str, str] = {"name": "planwatch"}

_TOKEN = re.compile(r"\b(pwt_[0-9a-f]{12})_[A-Za-z0-9_\-]+")
_SECRET_TEXT = re.compile(
    r"(?i)\b(bearer\s+|(?:token|access_token|ticket|key|secret|sign|password|authorization)=)[^\s&\"',;]+"
)
_SECRET_NAME = re.compile(r"(?i)(token|secret|key|authorization|password|sign)")
_OUTAGES = (RedisConnectionError, RedisTimeoutError, ConnectionRefusedError, ConnectionResetError)

_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode  # one encoder for every line
# attributes every LogRecord has: anything else was passed as `extra=` and is printed as a field
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def redact(text: str) -> str:
    """`text` without secrets: tokens cut to their id, bearer and key=value secrets masked."""
    if "pwt_" not in text and "=" not in text and "bearer" not in text.lower():
        return text  # nothing either pattern could match: most lines (the regexes cost ~10 µs a line)
    return _SECRET_TEXT.sub(r"\1***", _TOKEN.sub(r"\1_***", text))


def current_plan() -> str | None:
    return _PLAN.get()


def current_request_id() -> str | None:
    return _REQUEST.get()


@contextmanager
def plan_context(plan: str | None) -> Iterator[None]:
    """Log records made inside name this plan (an asyncio task keeps its own copy of the context)."""
    token = _PLAN.set(plan)
    try:
        yield
    finally:
        _PLAN.reset(token)


@contextmanager
def request_context(request_id: str, plan: str | None = None) -> Iterator[None]:
    """Log records made while serving a request carry its id (and its plan, if it names one)."""
    request_token, plan_token = _REQUEST.set(request_id), _PLAN.set(plan)
    try:
        yield
    finally:
        _REQUEST.reset(request_token)
        _PLAN.reset(plan_token)


class OutageFilter(logging.Filter):
    """A lost Redis connection is expected while Redis restarts: one warning line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and _is_outage(exc):
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _is_outage(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # the outage may be the cause of another error
        if isinstance(current, _OUTAGES):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, process, pid, logger, plan, request id, message,
    the record's extra fields (secret-looking names left out), and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "process": _PROCESS["name"],
            "pid": record.process,
            "logger": record.name,
            "plan": getattr(record, "plan", None) or _PLAN.get(),
            "request_id": _REQUEST.get(),
            "message": redact(record.getMessage()),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in line and not _SECRET_NAME.search(name):
                line[name] = _safe(value)
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return _encode({k: v for k, v in line.items() if v is not None})


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return redact(str(value))


class ConsoleFormatter(logging.Formatter):
    """`08:00:01 WARNING worker [rongchang-2025] message`, for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        plan = getattr(record, "plan", None) or _PLAN.get()
        request = _REQUEST.get()
        where = "".join(f" [{part}]" for part in (plan, request) if part)
        text = f"{when} {record.levelname:<7} {_PROCESS['name']}{where} {redact(record.getMessage())}"
        if record.exc_info:
            text += "\n" + redact(self.formatException(record.exc_info))
        return text


def resolve_format(requested: str | None, stream: Any = None) -> str:
    """The format to use: the one asked for, else console on a terminal and JSON otherwise."""
    if requested:
        return requested
    stream = stream or sys.stderr
    return "console" if hasattr(stream, "isatty") and stream.isatty() else "json"


def configure_logging(
    process: str, format: str | None = None, level: int = logging.INFO, access_log: bool = True
) -> None:
    """Send every log record of this process (planwatch's, uvicorn's, FastStream's) to stderr as
    `format`, replacing any handler set before; uvicorn's access log only with `access_log`."""
    _PROCESS["name"] = process
    # What the formatters never print is not collected (the logging docs' "Optimization"): the
    # caller's file and line, thread and multiprocessing names — a third of an access line's cost.
    logging._srcfile = None
    logging.logThreads = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if resolve_format(format) == "json" else ConsoleFormatter())
    handler.addFilter(OutageFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "faststream.access", "apscheduler"):
        library = logging.getLogger(name)  # their own handlers would print a second, unformatted line
        for old in list(library.handlers):
            library.removeHandler(old)
        library.propagate = True
    # uvicorn writes access lines while its logger has a handler, ours through propagation
    logging.getLogger("uvicorn.access").propagate = access_log
