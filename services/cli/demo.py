"""`planwatch demo`: the seed plan and its H1 2025 history, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import console, fail, given_path, with_app

if TYPE_CHECKING:
    from services.app import App

commands = typer.Typer()


@commands.command()
def demo(
    plan_file: Annotated[
        Path | None,
        typer.Option(
            help="plan file to demo (default: the seed plan, plans/rongchang-2025.yaml); one with a history "
            "beside it (<plan>.history.yaml, as plans/examples/ has) is demoed with that history",
            parser=given_path,
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(help="directory for the June rollup's .md, .html, .xlsx and .docx", parser=given_path),
    ] = Path("out"),
) -> None:
    """Publish the seed plan and its H1 2025 history, replay the log, print the report's table,
    and write the June rollup."""
    import yaml

    from events.planfile import PlanFileError, parse_plan
    from services.app import files, plan_text
    from services.demo import (
        SEED_PLAN,
        SEED_REPORT,
        ExampleError,
        SeedMismatch,
        history_file,
        read_example,
        run_demo,
        seed_history,
    )
    from services.reports import reconciliation_text

    path = plan_file or SEED_PLAN
    # Everything is checked before the first write: a plan the demo cannot use stores nothing, and
    # nor does a folder the rollup cannot be written in (/proc/x, a file, a read-only place).
    try:
        files.check_folder(out)
    except OSError as exc:
        raise fail(f"--out: {files.said(exc, out, 'written')}; nothing was stored", 2) from None
    try:
        text = plan_text(path)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise fail(f"--plan-file: cannot read {path}: {reason}", 2) from None
    example = history_file(path)
    try:
        plan = parse_plan(text, str(path))
        if example.exists():
            read_example(path)  # the history checked against the plan before anything is stored
        else:
            seed_history(plan)
    except (PlanFileError, SeedMismatch) as exc:
        raise fail(f"--plan-file: {exc}", 2) from None
    except (ExampleError, OSError, UnicodeError, ValueError, yaml.YAMLError) as exc:
        raise fail(f"--plan-file: the history in {example} does not fit the plan: {exc}", 2) from None

    async def main(app: App) -> None:
        await run_demo(console, app.redis, app.keys, path if example.exists() else plan, out)
        if path == SEED_PLAN:  # the real report it was built from, checked against the table (对账)
            result = await app.reports.compare(plan.id, SEED_REPORT.read_bytes(), SEED_REPORT.name)
            console.print(reconciliation_text(result, SEED_REPORT.name), markup=False, highlight=False, soft_wrap=True)

    with_app(main)
