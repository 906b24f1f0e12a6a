"""`planwatch demo`: the seed report, rebuilt from events.

Publishes plans/rongchang-2025.yaml and its H1 2025 history through the event store, replays
the log and prints the report's main table, key-project line and missed targets, then writes the
June rollup (Markdown, HTML, XLSX) under `out/`. Every event id is deterministic, so a second run
stores nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis.asyncio import Redis
from rich.console import Console

from events.keys import Keyspace
from events.planfile import load_plan
from events.store import EventStore
from projections.replay import fold_log
from projections.report import build_report
from projections.rollup import RollupDocument
from services.plans import publish_plan
from services.render import render_text
from services.rollup_render import render_html, render_markdown, render_xlsx
from services.rollups import produce_rollup
from services.seed_history import PLAN_PUBLISHED_AT, h1_history

SEED_PLAN = Path(__file__).resolve().parent.parent / "plans" / "rongchang-2025.yaml"
BATCH = 500
DEMO_ROLLUP_MONTH = "2025-06"


async def load_seed(store: EventStore, plan_file: Path = SEED_PLAN) -> tuple[str, int, int]:
    """Publish the seed plan and its H1 history. Returns (plan id, events stored, events sent)."""
    plan = load_plan(plan_file)
    published = await publish_plan(store, plan, PLAN_PUBLISHED_AT)
    history = h1_history(plan)
    stored = int(published.stored)
    for start in range(0, len(history), BATCH):
        stored += (await store.append(history[start : start + BATCH])).stored
    return plan.id, stored, len(history) + 1


async def run_demo(
    console: Console, redis: Redis, keys: Keyspace, plan_file: Path = SEED_PLAN, out: Path = Path("out")
) -> None:
    store = EventStore(redis, keys)
    plan_id, stored, sent = await load_seed(store, plan_file)
    console.print(
        f"[bold]{plan_id}[/]: sent {sent} events (plan + H1 2025 history), stored {stored} new, "
        f"{sent - stored} were already in the log ({await store.length(plan_id)} in all)"
    )
    state = await fold_log(store, plan_id)
    console.print(render_text(build_report(state)), markup=False, highlight=False, soft_wrap=True)
    # the June rollup, as the scheduler would write it on 16 July (unchanged on a second run)
    result = await produce_rollup(redis, keys, plan_id, DEMO_ROLLUP_MONTH)
    document = result.document
    assert document is not None
    written = await asyncio.to_thread(_save_rollup, document, out)
    console.print(
        f"月度报告 {DEMO_ROLLUP_MONTH} 第{result.version}版 ({result.outcome}): " + ", ".join(map(str, written)),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _save_rollup(document: RollupDocument, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{document.plan_id}-{document.period}"
    files = {
        stem.with_suffix(".md"): render_markdown(document).encode(),
        stem.with_suffix(".html"): render_html(document).encode(),
        stem.with_suffix(".xlsx"): render_xlsx(document),
    }
    for path, content in files.items():
        path.write_bytes(content)
    return list(files)
