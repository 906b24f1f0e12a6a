"""Generations of a projection, and reading the one readers use."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any, cast

from pydantic import TypeAdapter
from redis.asyncio import Redis

from events.alerts import AlertNotice
from projections.packing import unpacked_text
from services.projection.kinds import ALERTS, READ_MODEL, Projection
from services.projection.replies import hash_values, read_latest
from services.store import Keyspace, stored_int

log = logging.getLogger("planwatch.projection")
_FIRING: TypeAdapter[list[AlertNotice]] = TypeAdapter(list[AlertNotice])


async def current_generation(
    redis: Redis, keys: Keyspace, plan_id: str, create: bool = False, projection: Projection = READ_MODEL
) -> int:
    """The generation readers use (0: none yet); with `create`, the first one is made if there is
    none. A pointer that is not a number (written by hand, damaged) is none: readers fold the log
    instead, and a projector replaces it with a new generation, which replays the log — as it does a
    pointer of another Redis type, which reads as missing (services/store/wrongtype.py)."""
    current_key = keys.projection_current(plan_id, projection.name)
    stored = await redis.get(current_key)
    current = stored_int(stored)
    if current is None and stored is not None:
        log.warning("plan %s %s: the current generation %.40r is not a number", plan_id, projection.name, stored)
    if current is None and create:
        fresh = await redis.incr(keys.projection_generations(plan_id, projection.name))
        await redis.set(current_key, fresh, nx=stored is None)  # nx: a concurrent creator wins
        current = stored_int(await redis.get(current_key))
        if current is None:  # still none: a key of another Redis type (read as missing), replaced
            await redis.set(current_key, fresh)
            current = fresh
    return current or 0


async def read_fields(
    redis: Redis, keys: Keyspace, plan_id: str, *fields: str, projection: Projection = READ_MODEL
) -> list[str | None] | None:
    """Fields of the current generation of a projection (the read model by default), unpacked;
    None if the plan has none yet. A rebuild may delete the old generation between our two reads,
    so a vanished hash is read again. ValueError if a packed field is damaged."""
    for _ in range(3):
        generation = await current_generation(redis, keys, plan_id, projection=projection)
        if not generation:
            return None
        values = await hash_values(
            redis, keys.generation(plan_id, generation, projection.name), ["checkpoint", *fields]
        )
        if values[0] is not None:
            return [None if value is None else unpacked_text(value) for value in values[1:]]
    return None


async def read_field(
    redis: Redis, keys: Keyspace, plan_id: str, field: str, projection: Projection = READ_MODEL
) -> str | None:
    """One field of the current generation of a projection (None without one)."""
    [value] = await read_fields(redis, keys, plan_id, field, projection=projection) or [None]
    return value


async def firing_alerts(redis: Redis, keys: Keyspace, plan_id: str) -> list[dict[str, Any]] | None:
    """The alerts firing now (the latest notice of each), as JSON objects; None before the alerts
    projection has committed anything. ValueError if the stored list cannot be read as notices
    (the caller judges them instead: services.projection.queries.firing_now)."""
    firing = await read_field(redis, keys, plan_id, "alerts", ALERTS)
    if not firing:
        return None
    listed = json.loads(firing)
    _FIRING.validate_python(listed)  # the shape every reader relies on; a ValidationError is a ValueError
    return cast(list[dict[str, Any]], listed)


async def alert_notices(redis: Redis, keys: Keyspace, plan_id: str, limit: int) -> list[dict[str, Any]]:
    """The current alerts generation's latest `limit` notices, oldest first, as JSON objects."""
    generation = await current_generation(redis, keys, plan_id, projection=ALERTS)
    if not generation:
        return []
    entries = await read_latest(redis, keys.alert_history(plan_id, generation), limit)
    return [raw for raw, _ in history_notices(plan_id, reversed(entries))]


def history_notices(
    plan_id: str, entries: Iterable[tuple[str, dict[str, str]]]
) -> Iterator[tuple[dict[str, Any], AlertNotice]]:
    """Each alert-history entry's notice, as its JSON object and read; an entry that cannot be read
    as a notice (written by hand, damaged) is passed over, with a warning."""
    for position, fields in entries:
        try:
            raw = json.loads(fields["notice"])
            notice = AlertNotice.model_validate(raw)
        except (KeyError, ValueError) as exc:
            log.warning("plan %s: alert history entry %s cannot be read, passed over: %.200s", plan_id, position, exc)
            continue
        yield raw, notice
