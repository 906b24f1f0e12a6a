"""Values read back from Redis that a person, another program or a damaged disk may have written:
a reader takes what it can read and passes over the rest, so nothing stored makes it fail."""

from __future__ import annotations

import re

_POSITION = re.compile(r"\d{1,20}-\d{1,20}")


def stored_int(text: str | bytes | int | None) -> int | None:
    """A whole number stored as text; None when absent or not a number."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def is_position(text: str) -> bool:
    """Whether `text` is a stream position (`ms-seq`), as an index of positions should hold."""
    return _POSITION.fullmatch(text) is not None
