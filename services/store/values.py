"""Values read back from Redis that a person, another program or a damaged disk may have written:
a reader takes what it can read and passes over the rest, so nothing stored makes it fail."""

from __future__ import annotations

import re

_POSITION = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")  # [0-9]: \d is any Unicode digit
_ID_PART_MAX = 2**64 - 1  # each part of a stream id is a 64-bit unsigned number


def stored_int(text: str | bytes | int | None) -> int | None:
    """A whole number stored as text; None when absent or not a number."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def is_position(text: str) -> bool:
    """Whether `text` is a stream position (`ms-seq`), as an index of positions should hold (and
    Redis would take: 20 digits may be more than a stream id's part holds)."""
    return _POSITION.fullmatch(text) is not None and all(int(part) <= _ID_PART_MAX for part in text.split("-"))
