"""`planwatch demo`: append a few events through the store, replay the log, print a summary."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from rich.console import Console
from rich.table import Table

from events.models import IndicatorUpdated
from events.store import EventStore
from services.redis_server import connect

PLAN_ID = "demo-2025"
SHANGHAI = timezone(timedelta(hours=8))
# GDP growth, cumulative year on year, as the district statistics bureau reported it in 2025.
GDP_GROWTH = {"2025-03": Decimal("5.8"), "2025-06": Decimal("5.5")}


async def run_demo(console: Console) -> None:
    redis = connect()
    try:
        store = EventStore(redis)
        events = [
            IndicatorUpdated(
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"planwatch-demo/{PLAN_ID}/gdp/{period}"),
                plan_id=PLAN_ID,
                department="stats",
                subject="gdp",
                period=period,
                occurred_at=datetime(2025, int(period[-2:]) + 1, 15, 9, tzinfo=SHANGHAI),
                value=value,
            )
            for period, value in GDP_GROWTH.items()
        ]
        result = await store.append(events)
        console.print(f"appended {result.stored} new event(s), {len(events) - result.stored} already stored")
        table = Table(title=f"event log of {PLAN_ID}")
        for column in ("position", "type", "subject", "period", "value", "recorded_at"):
            table.add_column(column)
        async for stored in store.replay(PLAN_ID):
            event = stored.event
            table.add_row(
                stored.position,
                event.type,
                event.subject,
                event.period,
                str(getattr(event, "value", "")),
                event.recorded_at.isoformat() if event.recorded_at else "",
            )
        console.print(table)
    finally:
        await redis.aclose()
