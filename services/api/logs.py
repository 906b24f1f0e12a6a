"""Logging for `planwatch api`: uvicorn's configuration with one filter on every handler, which
takes tokens and stream tickets out of whatever is logged (the access log prints each request's
path with its query string: a token a client put in a URL must not end up in the log)."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from services.store import redact_tokens

# the values of query parameters that carry credentials, whatever they hold
_CREDENTIAL_PARAMETER = re.compile(r"(?i)([?&](?:token|ticket|access_token|key|secret|sign)=)[^&\s\"]*")


def redact(text: str) -> str:
    """`text` with tokens replaced by their id and credential query parameters emptied."""
    return _CREDENTIAL_PARAMETER.sub(r"\1…", redact_tokens(text))


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration, every handler filtered by `RedactSecrets`."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_secrets": {"()": RedactSecrets}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_secrets"]
    return config
