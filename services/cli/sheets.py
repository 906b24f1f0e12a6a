"""Departments' spreadsheets: write a fill-in template, import a filled one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from services.cli.common import (
    PLAN_ID_FORMAT,
    check_plan_id,
    console,
    fail,
    given_path,
    hint,
    output_file,
    plan_option,
    use_case,
    with_app,
)

if TYPE_CHECKING:
    from services.app import App, AppError, Imported

commands = typer.Typer()


@commands.command("template")
def template_command(
    plan: Annotated[str, typer.Option("--plan", help="plan id", callback=plan_option)],
    department: Annotated[str, typer.Option("--department", help="department id, e.g. stats")],
    period: Annotated[str, typer.Option("--period", help="reporting period, e.g. 2025-07")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="file to write: its suffix, .xlsx or .csv, says which", parser=given_path),
    ] = None,
) -> None:
    """Write a department's fill-in sheet for a period: its indicators and projects, Chinese
    headers, units, the targets for reference."""
    target = output or Path(f"{plan}-{department}-{period}.xlsx")
    suffix = target.suffix.lower()
    if suffix not in (".xlsx", ".csv"):  # an xlsx under another name opens as nothing
        raise typer.BadParameter(f"{target} must end in .xlsx or .csv, the sheet's format", param_hint=hint("--output"))
    kind: Literal["xlsx", "csv"] = "csv" if suffix == ".csv" else "xlsx"

    async def main(app: App) -> bytes:
        return await app.sheets.template(plan, department, period, kind)

    with output_file(target) as saving:  # created first; written whole, or (a refusal) not at all
        saving.write(use_case(main))
    console.print(f"wrote {saving.path}", markup=False)


@commands.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="a filled template, .xlsx or .csv", parser=given_path, metavar="FILE")],
    token: Annotated[
        str,
        typer.Option(
            "--token",
            envvar="PLANWATCH_TOKEN",
            help="the department's API token (pwt_…), as the API takes it; or set PLANWATCH_TOKEN",
        ),
    ],
    plan: Annotated[
        str | None, typer.Option("--plan", help="plan id (default: the one the file names)", callback=plan_option)
    ] = None,
) -> None:
    """Import a filled spreadsheet as the department whose token is given (the API's rule: the file
    must be that department's): every row validated; any bad row rejects the whole file with a
    row-by-row report; re-importing the same file stores nothing new."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from services.app import MAX_FILE, AppError, files
    from services.spreadsheet import sheet_plan_id

    try:  # a department's sheet is tens of rows; a device or a pipe would be read for ever
        content = files.read_regular(file, MAX_FILE)
    except OSError as exc:
        raise fail(f"FILE: {files.said(exc, file)}; nothing imported") from None
    # None: the file names no plan, or cannot be read; the use case says which (and why)
    plan_id = plan or sheet_plan_id(content, file.name)
    if plan is None and plan_id is not None:
        try:
            check_plan_id(plan_id)
        except typer.BadParameter:
            raise fail(f"{file}: the file names plan {plan_id!r}, which is not a plan id ({PLAN_ID_FORMAT})") from None

    async def main(app: App) -> Imported:
        # The caller is the token's, verified as the API verifies a Bearer token; never the file's say-so.
        who = await app.ingest.authenticate(token)
        with Progress(TextColumn("[bold]import"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
            task = bar.add_task(file.name, total=None)
            return await app.sheets.import_file(
                who, content, file.name, plan_id, progress=lambda d, t: bar.update(task, completed=d, total=t)
            )

    try:
        imported = with_app(main)
    except AppError as exc:
        raise _import_refused(file, exc) from None
    accepted = imported.accepted
    console.print(
        f"{file}: {imported.sheet.summary()}; stored {accepted.stored} new event(s), "
        f"{len(accepted.events) - accepted.stored} already imported",
        markup=False,
    )


def _import_refused(file: Path, exc: AppError) -> typer.Exit:
    """A bad --token (unknown, or not the file's department) exits 2; a bad file, 1."""
    if exc.status in (401, 403):
        said = f"{exc.errors[0].reason}; nothing imported" if exc.errors else exc.message
        return fail(f"{file}: --token: {said}", 2)
    if exc.status == 404:
        return fail(exc.message)
    rows = exc.details.get("rows") or [str(e) for e in exc.errors]
    return fail(
        "\n".join(
            [f"{file}: rejected, nothing imported — {exc.message}（{exc.message_zh}）", *(f"  {r}" for r in rows)]
        )
    )
