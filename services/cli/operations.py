"""Operating it: rebuild a plan's projections, see how far everything has got, write the API docs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import console, count_cells, plan_option, use_case, with_app
from services.heap import settle_heap

if TYPE_CHECKING:
    from services.app import App, PlanRow
    from services.notify import Subscription
    from services.projection import RebuildResult

commands = typer.Typer()


@commands.command()
def rebuild(plan: Annotated[str, typer.Option("--plan", help="plan id", callback=plan_option)]) -> None:
    """Replay a plan's log into a new generation of each of its projections (the read model, then
    the alerts), switching readers to each as it catches up."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    async def main(app: App) -> list[RebuildResult]:
        settle_heap()
        with Progress(
            TextColumn("[bold]rebuild {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:

            def bar(label: str) -> Callable[[int, int], None]:
                task = progress.add_task(f"{plan} {label}", total=None)
                return lambda done, total: progress.update(task, completed=done, total=total)

            return await app.operations.rebuild(plan, bar)

    results = use_case(main)
    for result in results:
        console.print(
            f"{plan} {result.projection.label}: generation {result.generation} built from "
            f"{result.applied} events{f', {result.parked} parked' if result.parked else ''}; readers switched "
            f"from generation {result.previous or '-'} (deleted)",
            markup=False,
        )


@commands.command()
def status(
    plan: Annotated[str | None, typer.Option("--plan", help="one plan (default: all)", callback=plan_option)] = None,
) -> None:
    """Per plan and projection (read model, alerts): log length, checkpoint, lag, dead letters
    (events the projection could not apply), generation and projecting worker; per plan, the outbox
    dead letters (outbox entries the notifier set aside); per subscription: notices queued, sent
    and given up."""
    from rich.table import Table

    async def main(
        app: App,
    ) -> tuple[list[PlanRow], list[tuple[Subscription, dict[str, int]]], list[dict[str, str]]]:
        parked = await app.operations.parked(plan) if plan else []
        return await app.operations.status(plan), await app.operations.deliveries(), parked

    rows, deliveries, parked = with_app(main)
    table_ = Table(title="planwatch status")
    columns = ("plan", "projection", "events", "checkpoint", "applied", "lag", "dead letters", "outbox dead letters")
    for column in (*columns, "generation", "worker"):
        table_.add_column(column)
    for row in rows:
        s = row.status
        table_.add_row(
            s.plan_id,
            s.projection.label,
            str(s.log_length),
            s.checkpoint or "-",
            str(s.applied),
            str(s.lag),
            str(s.parked),
            str(row.outbox_dead),
            str(s.generation or "-"),
            s.owner or "-",
        )
    console.print(table_)
    for entry in parked:  # with --plan: what its read model passed over, and why
        console.print(
            f"dead letter {entry['position']} {entry['type']} ({entry['source']}): {entry['reason']}", markup=False
        )
    if deliveries:
        notices = Table(title="alert deliveries")
        for column in ("subscription", "name", "channel", "queued", "sent", "dead letters"):
            notices.add_column(column)
        for sub, counts in deliveries:
            notices.add_row(sub.id, sub.name, sub.channel, *count_cells(counts))
        console.print(notices)


@commands.command()
def docs(
    output: Annotated[Path, typer.Option("-o", "--output", help="directory to write into")] = Path("docs/api"),
) -> None:
    """Write the API's OpenAPI document and the inbox's AsyncAPI document as JSON."""
    import json

    from services.api import create_api
    from services.inbox import asyncapi_document
    from services.settings import Settings

    output.mkdir(parents=True, exist_ok=True)
    (output / "openapi.json").write_text(json.dumps(create_api().openapi(), ensure_ascii=False, indent=2))
    (output / "asyncapi.json").write_text(
        json.dumps(asyncapi_document(Settings.from_env().keys), ensure_ascii=False, indent=2)
    )
    console.print(f"wrote {output / 'openapi.json'} and {output / 'asyncapi.json'}", markup=False)
