"""Operating it: rebuild a plan's projections, see how far everything has got, write the API docs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import console, count_cells, err_console, plan_option, use_case, with_app
from services.heap import settle_heap

if TYPE_CHECKING:
    from rich.progress import Progress

    from services.app import App, ExportSummary, PlanRow, RestoreSummary
    from services.notify import Subscription
    from services.projection import RebuildResult

commands = typer.Typer()


def _progress_bars(progress: Progress, title: str) -> Callable[[str], Callable[[int, int], None]]:
    """A bar per stage: `bars(label)` adds one and gives its callback."""

    def bar(label: str) -> Callable[[int, int], None]:
        task = progress.add_task(f"{title} {label}", total=None)
        return lambda done, total: progress.update(task, completed=done, total=total)

    return bar


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
    )


@commands.command()
def rebuild(plan: Annotated[str, typer.Option("--plan", help="plan id", callback=plan_option)]) -> None:
    """Replay a plan's log into a new generation of each of its projections (the read model, then
    the alerts), switching readers to each as it catches up."""

    async def main(app: App) -> list[RebuildResult]:
        settle_heap()
        with _progress() as progress:
            return await app.operations.rebuild(plan, _progress_bars(progress, f"rebuild {plan}"))

    results = use_case(main)
    for result in results:
        console.print(
            f"{plan} {result.projection.label}: generation {result.generation} built from "
            f"{result.applied} events{f', {result.parked} parked' if result.parked else ''}; readers switched "
            f"from generation {result.previous or '-'} (deleted)",
            markup=False,
        )


@commands.command()
def export(
    plan: Annotated[str, typer.Option("--plan", help="plan id", callback=plan_option)],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="file to write (default: standard output)")
    ] = None,
) -> None:
    """Write a plan's log verbatim (positions, types, data) and its rollup documents as JSON Lines,
    ending with a checksum line: a backup, or a plan to move to another server (planwatch restore)."""
    import sys

    async def main(app: App) -> ExportSummary:
        if output is None:
            return await app.operations.export(plan, sys.stdout.buffer)
        partial = output.with_name(output.name + ".partial")
        with partial.open("wb") as out:  # renamed once complete: a half-written backup never has the name
            summary = await app.operations.export(plan, out)
        partial.replace(output)
        return summary

    summary = use_case(main)
    where = f" to {output}" if output else ""
    err_console.print(
        f"exported {summary.plan_id}: {summary.events} events up to {summary.head}, {summary.documents} rollup "
        f"documents{where} ({summary.checksum})",
        markup=False,
    )


@commands.command()
def restore(
    file: Annotated[Path, typer.Argument(help="a file written by planwatch export", exists=True, dir_okay=False)],
    as_plan: Annotated[
        str | None, typer.Option("--as", help="restore under this plan id instead of the file's", callback=plan_option)
    ] = None,
) -> None:
    """Load an export into an empty plan on this server (embedded, standalone or Cluster): the whole
    file is verified first (checksum, digests) and refused if partial or changed; events keep their
    positions; then the plan's read model and alerts are rebuilt. An interrupted restore of the same
    file can be run again."""

    async def main(app: App) -> RestoreSummary:
        settle_heap()
        with _progress() as progress:
            return await app.operations.restore(file, as_plan, _progress_bars(progress, "restore"))

    summary = use_case(main)
    renamed = f" as {summary.plan_id}" if summary.plan_id != summary.source_plan else ""
    resumed = (
        f" ({summary.written} written now, the rest by an earlier run)" if summary.written < summary.events else ""
    )
    console.print(
        f"restored {summary.source_plan}{renamed}: {summary.events} events{resumed}, {summary.documents} rollup "
        f"documents; read model and alerts rebuilt",
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

    async def main(app: App) -> tuple[list[PlanRow], list[tuple[Subscription, dict[str, int]]]]:
        return await app.operations.status(plan), await app.operations.deliveries()

    rows, deliveries = with_app(main)
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
