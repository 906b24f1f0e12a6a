"""`planwatch demo`: the seed report, rebuilt from events.

Publishes plans/rongchang-2025.yaml and its H1 2025 history through the event store, replays
the log and prints the report's main table, key-project line and missed targets, then writes the
June rollup (Markdown, HTML, XLSX) under `out/`. Every event id is deterministic, so a second run
stores nothing. A plan file with a history beside it (`<plan>.history.yaml`, as the example plans
under plans/examples/ have) is demoed with that history instead.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis.asyncio import Redis
from rich.console import Console

from events.models import Event
from events.plan import Plan
from projections.report import build_report
from projections.rollup import RollupDocument
from services.app import load_plan, produce_rollup, publish_plan
from services.demo.examples import history_file, load_example
from services.demo.seed_history import H1_END, PLAN_PUBLISHED_AT, SERIES, URBAN_VILLAGES, h1_history
from services.projection import fold_log
from services.reports import FORMATS, render_rollup, table_text
from services.store import EventStore, Keyspace

SEED_PLAN = Path(__file__).resolve().parents[2] / "plans" / "rongchang-2025.yaml"
SEED_REPORT = Path(__file__).resolve().parents[2] / "docs" / "source" / "rongchang-2025-h1-report.txt"  # the real one
BATCH = 500
DEMO_ROLLUP_MONTH = "06"  # June of the plan's year, as the scheduler would write it on 16 July


class SeedMismatch(ValueError):
    """The demo's H1 history cannot be laid over a plan (it was written for the seed plan)."""


def seed_history(plan: Plan) -> list[Event]:
    """The demo's H1 2025 history for `plan`, or SeedMismatch saying in one line why it does not
    fit. Called before anything is published, so a plan it does not fit leaves the log alone."""
    lead = "the demo's H1 history is for the seed plan"
    missing = [subject for subject in SERIES if plan.indicator(subject) is None]
    if missing:
        names = ", ".join(map(repr, missing))
        raise SeedMismatch(
            f"{lead}; indicator {names} is not in this plan"
            if len(missing) == 1
            else f"{lead}; indicators {names} are not in this plan"
        )
    if plan.year != H1_END.year:
        raise SeedMismatch(f"{lead}, whose year is {H1_END.year}; this plan is for {plan.year}")
    if plan.project(URBAN_VILLAGES) is None:
        raise SeedMismatch(f"{lead}; project {URBAN_VILLAGES!r} is not in this plan")
    try:
        return h1_history(plan)
    except (ValueError, ArithmeticError, LookupError) as exc:  # e.g. a project the H1 investment overruns
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise SeedMismatch(f"{lead} and does not fit plan {plan.id}: {reason}") from None


async def load_seed(store: EventStore, plan_file: Path | Plan = SEED_PLAN) -> tuple[str, int, int]:
    """Publish the seed plan (or `plan_file`, if the seed history fits it) and its H1 history.
    Returns (plan id, events stored, events sent)."""
    plan = plan_file if isinstance(plan_file, Plan) else load_plan(plan_file)
    history = seed_history(plan)  # before publishing: a plan it does not fit stores nothing
    published = await publish_plan(store, plan, PLAN_PUBLISHED_AT)
    stored = int(published.stored)
    for start in range(0, len(history), BATCH):
        stored += (await store.append(history[start : start + BATCH])).stored
    return plan.id, stored, len(history) + 1


async def run_demo(
    console: Console, redis: Redis, keys: Keyspace, plan_file: Path | Plan = SEED_PLAN, out: Path = Path("out")
) -> None:
    store = EventStore(redis, keys)
    if isinstance(plan_file, Path) and history_file(plan_file).exists():
        plan, stored = await load_example(store, plan_file)
        plan_id, year = plan.id, plan.year
        console.print(
            f"[bold]{plan_id}[/]: plan + the history in {history_file(plan_file).name}, stored {stored} new "
            f"events ({await store.length(plan_id)} in all)"
        )
    else:
        plan_id, stored, sent = await load_seed(store, plan_file)
        year = H1_END.year
        console.print(
            f"[bold]{plan_id}[/]: sent {sent} events (plan + H1 2025 history), stored {stored} new, "
            f"{sent - stored} were already in the log ({await store.length(plan_id)} in all)"
        )
    state = await fold_log(store, plan_id)
    console.print(table_text(build_report(state)), markup=False, highlight=False, soft_wrap=True)
    # the June rollup, as the scheduler would write it on 16 July (unchanged on a second run)
    month = f"{year}-{DEMO_ROLLUP_MONTH}"
    result = await produce_rollup(redis, keys, plan_id, month)
    document = result.document
    assert document is not None
    written = await asyncio.to_thread(_save_rollup, document, out)
    console.print(
        f"月度报告 {month} 第{result.version}版 ({result.outcome}): " + ", ".join(map(str, written)),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _save_rollup(document: RollupDocument, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{document.plan_id}-{document.period}"
    files = [stem.with_suffix(f".{fmt}") for fmt in FORMATS]
    for path, fmt in zip(files, FORMATS, strict=True):
        path.write_bytes(render_rollup(document, fmt))
    return files
