"""Stored text packed small: zlib, then base64 (the store's replies are text).

What a projector rewrites at every commit or state save — the fold's state (~110 kB of JSON at a
district's plan), the alert book, the read model's summary (~26 kB) and views — is a fifth of
that packed. At a thousand plans those rewrites were most of what a worker wrote to Redis and to
its append-only file, whose rewrites then stalled every commit. Plain JSON, as written before, is
still read."""

from __future__ import annotations

import base64
import zlib

PACKED = "z1:"  # zlib + base64; JSON itself starts with "{" or "["
# packed as z1, a fold's state without what its plan gives (projections.snapshot): a reader that
# knows only z1 cannot read it, and folds the log instead of reading it wrong
LINKED = "z2:"
_MARKERS = (PACKED.encode(), LINKED.encode())
_LEVEL = 1  # level 6 saves another fifth for twice the time: these are written far more than read


def pack(raw: str | bytes, marker: str = PACKED) -> bytes:
    data = raw.encode() if isinstance(raw, str) else raw
    return marker.encode() + base64.b64encode(zlib.compress(data, _LEVEL))


class PrefixPacker:
    """Packs texts that all begin with `prefix` (the fold's state begins with its plan): the prefix
    is compressed once, and each text goes on from a copy of the compressor. One zlib stream of
    the whole text, as `pack` gives (`unpack` reads both): the prefix is flushed (a sync flush
    keeps its window, so the rest still refers back to it), or every copy would compress the
    prefix's unflushed tail again — a quarter of a snapshot's packing."""

    def __init__(self, prefix: bytes) -> None:
        self._compressor = zlib.compressobj(_LEVEL)
        self._head = self._compressor.compress(prefix) + self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def pack(self, rest: bytes, marker: str = PACKED) -> bytes:
        """The packing of `prefix + rest`."""
        compressor = self._compressor.copy()
        return marker.encode() + base64.b64encode(self._head + compressor.compress(rest) + compressor.flush())


def unpack(data: str | bytes) -> str | bytes:
    """The JSON of `data`, packed or not; ValueError if a packing is damaged."""
    text = data.encode() if isinstance(data, str) else data
    if not text.startswith(_MARKERS):
        return data
    try:
        return zlib.decompress(base64.b64decode(text[len(PACKED) :], validate=True))  # markers: 3 characters each
    except (zlib.error, ValueError) as exc:
        raise ValueError(f"a packed value cannot be unpacked: {exc}") from exc


def unpacked_text(data: str | bytes) -> str:
    """`unpack` as text."""
    value = unpack(data)
    return value.decode() if isinstance(value, bytes) else value
