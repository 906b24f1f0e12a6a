"""Schema versions and upcasters: the log is forever, so an event stored by an older version is read
by bringing it up to the current model, never by rewriting it.

Every stored event carries `schema_version`. `CURRENT` is each type's version now (1 unless listed);
`UPCASTERS[(type, n)]` turns the stored JSON object of version n into version n + 1. The codec
(events.codec) reads an event as it is when its version is current — the fast path, all in Rust —
and otherwise upcasts it step by step and validates the result *as read*: rules a version brought
in for new events (like the plan rules of `plan.published` v2) are not applied to events written
before them, which were accepted under the rules of their time. An upcast event re-encodes to its
stored bytes (the store's dedup digests compare those), so reading old events changes nothing.

To change a type's stored shape: bump its entry in `CURRENT`, add its upcaster here, keep a stored
example of the old version in tests/data/stored_events_v1.jsonl.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

JsonObject = dict[str, Any]

UPCAST_FROM: Final = "upcast_from"  # the validation context key saying which version an event was stored as


def _plan_published_v1(data: JsonObject) -> JsonObject:
    """v1 → v2: v2 records who published the plan (`published_by`, the token id, or "cli"); a v1
    plan's publisher was not recorded. v2 also checks new plans against the plan rules
    (events.bounds.plan_rule_problems) — a v1 plan is read without them (see the module)."""
    return {**data, "schema_version": 2, "published_by": None}


CURRENT: Final[dict[str, int]] = {"plan.published": 2}
UPCASTERS: Final[dict[tuple[str, int], Callable[[JsonObject], JsonObject]]] = {
    ("plan.published", 1): _plan_published_v1,
}


def current_version(event_type: str) -> int:
    return CURRENT.get(event_type, 1)


def upcast(data: JsonObject) -> tuple[JsonObject, int] | None:
    """`data` (a stored event) brought to its type's current version, and the version it was stored
    as; None when it is current already or cannot be upcast (an unknown type or version: the model
    then says what is wrong with it)."""
    event_type, version = data.get("type"), data.get("schema_version")
    if not isinstance(event_type, str) or type(version) is not int:
        return None
    stored = version
    while version < current_version(event_type):
        step = UPCASTERS.get((event_type, version))
        if step is None:
            return None
        data = step(data)
        version = data["schema_version"]
    return (data, stored) if stored != version else None
