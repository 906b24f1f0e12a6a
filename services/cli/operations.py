"""Operating it: rebuild a plan's projections, see how far everything has got, write the API docs."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.cli.common import (
    MAX_PROCESSES,
    console,
    count_cells,
    err_console,
    fail,
    given_path,
    output_file,
    plan_option,
    use_case,
    with_app,
)
from services.heap import settle_heap

if TYPE_CHECKING:
    from rich.progress import Progress

    from services.app import App, PlanOverview, PlanRow, RestoreSummary
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
def rebuild(
    plan: Annotated[str | None, typer.Option("--plan", help="plan id", callback=plan_option)] = None,
    every: Annotated[bool, typer.Option("--all", help="every plan on this server, instead of --plan")] = False,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_PROCESSES,
            help="with --all: plans rebuilt side by side by this many processes, one core each",
        ),
    ] = 1,
) -> None:
    """Replay a plan's log (with --all, every plan's) into a new generation of each of its
    projections (the read model, then the alerts), switching readers to each as it catches up."""
    if (plan is None) != every:
        raise typer.BadParameter("give either --plan ID or --all", param_hint="'--plan' / '--all'")
    if plan is None:
        _rebuild_every_plan(processes)
        return
    if processes != 1:
        raise typer.BadParameter("rebuilds one plan in one process; it goes with --all", param_hint="'--processes'")

    async def main(app: App) -> list[RebuildResult]:
        settle_heap()
        with _progress() as progress:
            return await app.operations.rebuild(plan, _progress_bars(progress, f"rebuild {plan}"))

    for line in _rebuilt_lines(plan, use_case(main)):
        console.print(line, markup=False)


def _rebuilt_lines(plan_id: str, results: list[RebuildResult]) -> list[str]:
    return [
        f"{plan_id} {result.projection.label}: generation {result.generation} built from "
        f"{result.applied} events{f', {result.parked} parked' if result.parked else ''}; readers switched "
        f"from generation {result.previous or '-'} (deleted)"
        for result in results
    ]


def _rebuild_every_plan(processes: int) -> None:
    """Every plan rebuilt by `processes` processes, each running the one rebuild use case for one
    plan after another (a plan's rebuild is one core's work: a province's plans are not)."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    async def listed(app: App) -> list[str]:
        return await app.operations.plan_ids()

    plan_ids, failed = use_case(listed), []
    processes = max(1, min(processes, len(plan_ids)))  # never more processes than plans
    # spawned, not forked: a fork would copy this process's Redis connections and event loop
    with ProcessPoolExecutor(processes, get_context("spawn"), initializer=_open_rebuilder) as pool, _progress() as bars:
        plans = f"{len(plan_ids)} plan{'' if len(plan_ids) == 1 else 's'}"
        bar = bars.add_task(f"rebuild {plans} ({processes} processes)", total=len(plan_ids))
        pending = {pool.submit(_rebuild_one, plan_id): plan_id for plan_id in plan_ids}
        for done in as_completed(pending):
            lines, error = done.result()
            for line in lines:
                console.print(line, markup=False)
            if error:
                failed.append(pending[done])
                err_console.print(f"{pending[done]}: not rebuilt: {error}", markup=False)
            bars.advance(bar)
    if failed:
        raise fail(f"{len(failed)} of {len(plan_ids)} plans not rebuilt: {', '.join(sorted(failed))}")


_rebuilder: tuple[Any, App] | None = None  # in a rebuilding process: its event loop and application


def _open_rebuilder() -> None:
    """A rebuilding process's set-up: one event loop and one application for all its plans."""
    import asyncio

    from services.app import App

    global _rebuilder

    async def connect() -> App:
        return App.connect()

    loop = asyncio.new_event_loop()
    _rebuilder = (loop, loop.run_until_complete(connect()))
    settle_heap()
    _exit_with(os.getppid())


def _exit_with(parent: int) -> None:
    """End this process when `parent` does: a rebuild stopped by a signal (a timeout, kill) does not
    shut its pool down, and a spawned process would go on holding memory and connections."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _rebuild_one(plan_id: str) -> tuple[list[str], str | None]:
    """In a rebuilding process: rebuild one plan; its report lines, or why it failed (as text: an
    exception need not survive the way back to the parent process)."""
    from services.app import AppError

    assert _rebuilder is not None
    loop, app = _rebuilder
    try:
        return _rebuilt_lines(plan_id, loop.run_until_complete(app.operations.rebuild(plan_id))), None
    except AppError as exc:
        return [], exc.message
    except Exception as exc:  # one plan's failure must not stop the others
        return [], f"{type(exc).__name__}: {exc}"


@commands.command()
def export(
    plan: Annotated[str, typer.Option("--plan", help="plan id", callback=plan_option)],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="file to write (default: standard output)", parser=given_path),
    ] = None,
) -> None:
    """Write a plan's log verbatim (positions, types, data) and its rollup documents as JSON Lines,
    ending with a checksum line: a backup, or a plan to move to another server (planwatch restore)."""
    import sys

    if output is None:
        summary = use_case(lambda app: app.operations.export(plan, sys.stdout.buffer))
    else:
        with output_file(output) as saving:  # renamed once complete: a half-written backup never has the name
            summary = use_case(lambda app: app.operations.export(plan, saving.file))
    where = f" to {output}" if output else ""
    err_console.print(
        f"exported {summary.plan_id}: {summary.events} events up to {summary.head}, {summary.documents} rollup "
        f"documents{where} ({summary.checksum})",
        markup=False,
    )


@commands.command()
def restore(
    file: Annotated[
        Path,
        typer.Argument(help="a file written by planwatch export", parser=given_path, metavar="FILE"),
    ],
    as_plan: Annotated[
        str | None, typer.Option("--as", help="restore under this plan id instead of the file's", callback=plan_option)
    ] = None,
) -> None:
    """Load an export into an empty plan on this server (embedded, standalone or Cluster): the whole
    file is verified first (checksum, digests) and refused if partial or changed; events keep their
    positions; then the plan's read model and alerts are rebuilt. An interrupted restore of the same
    file can be run again."""
    from services.app import files

    try:  # before the progress bars: a missing file, a directory, /dev/zero, a pipe
        with files.open_regular(file):
            pass
    except OSError as exc:
        raise fail(f"FILE: {files.said(exc, file)}; nothing was restored", 2) from None

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
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (every field) instead of the table")] = False,
) -> None:
    """Per plan and projection (rm: read model, alerts): events in the log, applied, lag, dead letters
    (events the projection could not apply), generation and the worker running it; per plan, the
    outbox dead letters (entries the notifier set aside); per subscription: notices queued, sent and
    given up. The table fits 80 columns; --json has every field (checkpoints too)."""

    async def main(
        app: App,
    ) -> tuple[list[PlanRow], list[tuple[Subscription, dict[str, int]]], list[dict[str, str]]]:
        if plan is not None:
            await app.ingest.plan(plan)  # a plan never published: refused, exit 1
        parked = await app.operations.parked(plan) if plan else []
        return await app.operations.status(plan), await app.operations.deliveries(), parked

    rows, deliveries, parked = use_case(main)
    if as_json:
        typer.echo(json.dumps({**_status_json(rows, deliveries), "parked": parked}, ensure_ascii=False, indent=2))
        return
    typer.echo(_fixed(("plan", "proj", "events", "applied", "lag", "dead", "outbox", "gen", "worker"), _WIDTHS))
    for row in rows:
        s = row.status
        cells = (s.plan_id, s.projection.name, s.log_length, s.applied, s.lag, s.parked, row.outbox_dead)
        typer.echo(_fixed((*cells, s.generation or "-", s.owner or "-"), _WIDTHS))
    for entry in parked:  # with --plan: what its read model passed over, and why
        typer.echo(f"dead letter {entry['position']} {entry['type']} ({entry['source']}): {entry['reason']}")
    if deliveries:
        typer.echo("")
        typer.echo(_fixed(("subscription", "channel", "queued", "sent", "dead", "name"), _SUB_WIDTHS))
        for sub, counts in deliveries:
            typer.echo(_fixed((sub.id, sub.channel, *count_cells(counts), sub.name), _SUB_WIDTHS))


_WIDTHS = (18, 6, 8, 8, 6, 5, 6, 4, 0)  # 0: the rest of 80 columns
_SUB_WIDTHS = (14, 9, 7, 7, 5, 0)


def _fixed(cells: tuple[object, ...], widths: tuple[int, ...], total: int = 79) -> str:
    """One line of fixed-width columns within `total` columns; a long value is cut with "…"."""
    from projections.formatting import display_width

    parts, used = [], 0
    for cell, width in zip(cells, widths, strict=True):
        room = width or max(total - used, 4)
        text = str(cell)
        while display_width(text) > room:
            text = text[: max(len(text) - 2, 0)] + "…" if not text.endswith("…") else text[:-2] + "…"
        parts.append(text + " " * (room - display_width(text)) if width else text)
        used += room + 1
    return " ".join(parts).rstrip()


def _status_json(rows: list[PlanRow], deliveries: list[tuple[Subscription, dict[str, int]]]) -> dict[str, Any]:
    return {
        "projections": [
            {
                "plan": row.status.plan_id,
                "projection": row.status.projection.name,
                "label": row.status.projection.label,
                "events": row.status.log_length,
                "checkpoint": row.status.checkpoint,
                "applied": row.status.applied,
                "lag": row.status.lag,
                "dead_letters": row.status.parked,
                "outbox_dead_letters": row.outbox_dead,
                "generation": row.status.generation,
                "worker": row.status.owner,
            }
            for row in rows
        ],
        "subscriptions": [
            {"id": sub.id, "name": sub.name, "channel": sub.channel, **counts} for sub, counts in deliveries
        ],
    }


@commands.command()
def plans(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of the table")] = False,
) -> None:
    """The published plans: events in each log, the larger lag of its projections, its latest
    monthly rollup and when it was written (in the plan's zone)."""
    from projections.formatting import local_time

    async def main(app: App) -> list[PlanOverview]:
        return await app.operations.plans()

    overviews = with_app(main)
    if as_json:
        typer.echo(json.dumps([asdict(o) for o in overviews], ensure_ascii=False, indent=2))
        return
    widths = (18, 8, 6, 10, 0)
    typer.echo(_fixed(("plan", "events", "lag", "rollup", "written"), widths))
    for o in overviews:
        rollup = f"{o.rollup_period} v{o.rollup_version}" if o.rollup_period else "-"
        written = local_time(o.rollup_known_at, o.timezone) if o.rollup_known_at else "-"
        typer.echo(_fixed((o.plan_id, o.events, o.lag, rollup, written), widths))
    if not overviews:
        typer.echo("no plan published yet (planwatch plan publish FILE)")


@commands.command()
def docs(
    output: Annotated[Path, typer.Option("-o", "--output", help="directory to write into", parser=given_path)] = Path(
        "docs/api"
    ),
) -> None:
    """Write the API's OpenAPI document and the inbox's AsyncAPI document as JSON."""
    import json

    from services.api import create_api
    from services.app import files
    from services.inbox import asyncapi_document
    from services.settings import Settings

    try:
        files.check_folder(output)  # before a folder is made: /proc/x, a file, a read-only place
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"--output: {files.said(exc, output, 'made')}; nothing was written") from None
    documents = {
        "openapi.json": create_api().openapi(),
        "asyncapi.json": asyncapi_document(Settings.from_env().keys),
    }
    with ExitStack() as stack:  # both written, or neither
        for name, document in documents.items():
            saving = stack.enter_context(output_file(output / name))
            saving.write(json.dumps(document, ensure_ascii=False, indent=2).encode())
    console.print(f"wrote {output / 'openapi.json'} and {output / 'asyncapi.json'}", markup=False)
