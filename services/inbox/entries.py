"""Stream entries read with their fields as they were written.

redis-py reads an entry's field list into a dict, so a name given twice in one XADD
(`XADD pw:inbox * type a … type b`) reads as its last value, and nothing tells the consumer the
sender said two things. The inbox's broker connection reads XREADGROUP's and XAUTOCLAIM's replies
with the parsers below instead: the same shapes redis-py's own give FastStream (its legacy RESP2
shape, from a RESP2 or a RESP3 reply), the same dicts for every entry — plus, for an entry whose
names repeat, a `RepeatedFields` dict that keeps the list as sent. The usual entry costs what it
cost: one dict built from the pairs and one length compared.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from redis.asyncio import Redis


class RepeatedFields(dict[Any, Any]):
    """An entry's fields whose names repeat: the dict redis-py would give (the last value of each
    name), and `pairs`, the field list as the entry holds it."""

    __slots__ = ("pairs",)

    def __init__(self, fields: dict[Any, Any], pairs: list[Any]) -> None:
        super().__init__(fields)
        self.pairs = pairs

    @property
    def repeated(self) -> dict[Any, int]:
        """Each name given more than once, with how many times, in the order first given."""
        return {name: n for name, n in Counter(self.pairs[::2]).items() if n > 1}

    def values_of(self, name: Any) -> list[Any]:
        """Every value given for `name`, in order."""
        return [value for key, value in zip(self.pairs[::2], self.pairs[1::2], strict=True) if key == name]


def _fields(pairs: list[Any] | None) -> dict[Any, Any]:
    if pairs is None:  # an entry deleted while pending (XREADGROUP of the history)
        return {}
    it = iter(pairs)
    fields = dict(zip(it, it, strict=False))
    return fields if len(fields) * 2 == len(pairs) else RepeatedFields(fields, pairs)


def _entries(entries: list[Any] | None, claimed: bool = False) -> list[Any] | None:
    """As redis-py's `parse_stream_list`."""
    if entries is None:
        return None
    if claimed:  # XREADGROUP … CLAIM: idle time and delivery count follow the fields
        return [(e[0], _fields(e[1]), *e[2:]) if e is not None else (None, None) for e in entries]
    return [(e[0], _fields(e[1])) if e is not None else (None, None) for e in entries]


def parse_xreadgroup(response: Any, **options: Any) -> list[Any]:
    """XREADGROUP's reply as `[[stream, [(id, fields), …]], …]` (from RESP3's map or RESP2's list alike)."""
    if not response:
        return []
    claimed = "claim_min_idle_time" in options
    streams = response.items() if isinstance(response, dict) else response
    return [[stream, _entries(entries, claimed)] for stream, entries in streams]


def parse_xautoclaim(response: Any, **options: Any) -> Any:
    """XAUTOCLAIM's reply as `[next_id, [(id, fields), …], deleted]`, or the ids alone (JUSTID)."""
    if options.get("parse_justid", False):
        return response[1]
    response[1] = _entries(response[1])
    return response


def install_entry_callbacks(client: Redis) -> None:
    """Have `client` read stream entries with the parsers above (its other commands are untouched)."""
    client.set_response_callback("XREADGROUP", parse_xreadgroup)
    client.set_response_callback("XAUTOCLAIM", parse_xautoclaim)
