"""The fold's state and the alert book as stored text, so a projector resumes from its last commit.

Stored compressed (zlib, then base64: the store's replies are text): a state is ~110 kB of JSON
at a district's plan and ~25 kB so, and every caught-up projector writes its own every
`PLANWATCH_STATE_SAVE_S` — at a thousand plans that was most of what the worker wrote to Redis
and to its append-only file. Plain JSON (as written before) is still read."""

from __future__ import annotations

import base64
import zlib

from pydantic import TypeAdapter

from projections.alerts import AlertBook
from projections.state import PlanState

_adapter: TypeAdapter[PlanState] = TypeAdapter(PlanState)
_book_adapter: TypeAdapter[AlertBook] = TypeAdapter(AlertBook)

PACKED = "z1:"  # zlib + base64; JSON itself starts with "{"
_LEVEL = 1  # level 6 saves another fifth for twice the time: states are written far more than read


def pack(raw: bytes) -> bytes:
    return PACKED.encode() + base64.b64encode(zlib.compress(raw, _LEVEL))


def unpack(data: str | bytes) -> str | bytes:
    """The JSON of `data`, packed or not; ValueError if a packing is damaged."""
    text = data.encode() if isinstance(data, str) else data
    if not text.startswith(PACKED.encode()):
        return data
    try:
        return zlib.decompress(base64.b64decode(text[len(PACKED) :], validate=True))
    except (zlib.error, ValueError) as exc:
        raise ValueError(f"a packed snapshot cannot be unpacked: {exc}") from exc


def dump_state(state: PlanState) -> bytes:
    return pack(_adapter.dump_json(state))


def load_state(data: str | bytes) -> PlanState:
    return _adapter.validate_json(unpack(data))


def dump_book(book: AlertBook) -> bytes:
    return pack(_book_adapter.dump_json(book))


def load_book(data: str | bytes) -> AlertBook:
    return _book_adapter.validate_json(unpack(data))
