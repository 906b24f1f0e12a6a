"""`planwatch demo`: the seed report, rebuilt from events.

Publishes plans/rongchang-2025.yaml and its H1 2025 history through the event store, replays
the log and prints the report's main table, key-project line and missed targets. Every event
id is deterministic, so a second run stores nothing.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from events.planfile import load_plan
from events.store import EventStore
from projections.replay import fold_log
from projections.report import build_report
from services.plans import publish_plan
from services.redis_server import connect
from services.render import render_text
from services.seed_history import PLAN_PUBLISHED_AT, h1_history

SEED_PLAN = Path(__file__).resolve().parent.parent / "plans" / "rongchang-2025.yaml"
BATCH = 500


async def load_seed(store: EventStore, plan_file: Path = SEED_PLAN) -> tuple[str, int, int]:
    """Publish the seed plan and its H1 history. Returns (plan id, events stored, events sent)."""
    plan = load_plan(plan_file)
    published = await publish_plan(store, plan, PLAN_PUBLISHED_AT)
    history = h1_history(plan)
    stored = int(published.stored)
    for start in range(0, len(history), BATCH):
        stored += (await store.append(history[start : start + BATCH])).stored
    return plan.id, stored, len(history) + 1


async def run_demo(console: Console, plan_file: Path = SEED_PLAN) -> None:
    redis = connect()
    try:
        store = EventStore(redis)
        plan_id, stored, sent = await load_seed(store, plan_file)
        console.print(
            f"[bold]{plan_id}[/]: sent {sent} events (plan + H1 2025 history), stored {stored} new, "
            f"{sent - stored} were already in the log ({await store.length(plan_id)} in all)"
        )
        state = await fold_log(store, plan_id)
        console.print(render_text(build_report(state)), markup=False, highlight=False, soft_wrap=True)
    finally:
        await redis.aclose()
