"""Reading a plan: the main table, its alerts, its monthly rollups."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from events.alerts import CHANGE_ZH, status_labels
from projections.formatting import local_time
from services.cli.common import (
    console,
    fail,
    given_path,
    hint,
    parse_date,
    parse_instant,
    plan_option,
    prepared_output,
    use_case,
    with_app,
)

if TYPE_CHECKING:
    from projections.provenance import Provenance
    from projections.reconcile import Reconciliation
    from services.app import App, RollupListing, RollupResult, files

commands = typer.Typer()
PlanOption = Annotated[str, typer.Option("--plan", help="plan id, e.g. rongchang-2025", callback=plan_option)]
MAX_HISTORY = 5000  # alert-history entries one listing shows: as the API's ?limit= (services/api)
# what a rollup's file name says of its format, when -f does not
ROLLUP_SUFFIXES = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".xlsx": "xlsx", ".docx": "docx"}


@commands.command()
def table(
    plan: PlanOption,
    as_of: Annotated[
        str | None, typer.Option(help="valid time: judge periods ending by this date (default: latest data)")
    ] = None,
    known_at: Annotated[
        str | None,
        typer.Option(
            help="transaction time: ignore events recorded after this instant, e.g. 2025-07-10T00:00 "
            "(in the plan's zone unless it names one: 2025-07-10T00:00+08:00)"
        ),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text, markdown or json")] = "text",
) -> None:
    """Print the main-indicator table, the key-project line and the missed targets."""
    from services.reports import render_table

    if format not in ("text", "markdown", "json"):
        raise typer.BadParameter(f"must be text, markdown or json, not {format!r}", param_hint=hint("--format"))
    day, instant = parse_date(as_of, "--as-of"), parse_instant(known_at, "--known-at")

    async def main(app: App) -> str:
        known = await app.reports.in_plan_zone(plan, instant)
        report = await app.reports.table(plan, as_of=day, known_at=known)
        # the instant as the API prints it, whatever way it was typed: the two give the same JSON
        return render_table(report, format, known.isoformat() if known else None)  # type: ignore[arg-type]

    output = use_case(main)
    console.print(output, markup=False, highlight=False, soft_wrap=True)


@commands.command()
def compare(
    report: Annotated[
        Path,
        typer.Argument(
            help="the published report: .docx, .txt or .md (its table and sentences), .xlsx or .csv (its table)",
            parser=given_path,
            metavar="REPORT",
        ),
    ],
    plan: PlanOption,
    as_of: Annotated[
        str | None,
        typer.Option(help="valid time (default: the months the report's column names, 上半年完成 → 06-30)"),
    ] = None,
    known_at: Annotated[str | None, typer.Option(help="transaction time, as for `planwatch table`")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
) -> None:
    """Check a report the office published against planwatch's table (对账): the main table row
    for row (全年目标, the months' figure, 与目标±), the key-project and completions sentences
    and the missed list, naming every difference.

    Exit status, as diff's: 0 the report agrees, 1 it differs, 2 trouble (unreadable, no such plan)."""
    from services.app import MAX_REPORT, AppError, files
    from services.reports import reconciliation_json, reconciliation_text

    if format not in ("text", "json"):
        raise typer.BadParameter(f"must be text or json, not {format!r}", param_hint=hint("--format"))
    day, instant = parse_date(as_of, "--as-of"), parse_instant(known_at, "--known-at")
    try:  # a report with its charts is a few MB; a device or a pipe would be read for ever
        content = files.read_regular(report, MAX_REPORT)
    except OSError as exc:
        raise fail(f"REPORT: {files.said(exc, report)}", 2) from None

    async def main(app: App) -> Reconciliation:
        return await app.reports.compare(plan, content, report.name, day, instant)  # summary reads it in the plan zone

    try:
        result = with_app(main)
    except AppError as exc:
        raise fail("\n".join([exc.message, *(f"  {error}" for error in exc.errors)]), 2) from None
    render = reconciliation_json if format == "json" else reconciliation_text
    console.print(render(result, report.name), markup=False, highlight=False, soft_wrap=True)
    if not result.agrees:
        raise typer.Exit(1)


@commands.command()
def why(
    plan: PlanOption,
    cell: Annotated[str | None, typer.Option("--cell", help="an indicator's id: trace its row, e.g. gdp")] = None,
    project: Annotated[str | None, typer.Option("--project", help="a key project's id, e.g. kp-001")] = None,
    as_of: Annotated[str | None, typer.Option(help="valid time, as for `planwatch table`")] = None,
    known_at: Annotated[str | None, typer.Option(help="transaction time, as for `planwatch table`")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
) -> None:
    """Where a printed number comes from: the events behind an indicator's row (value, target,
    reference) or a key project's figures (plan, start, investment reports counted, completion)."""
    if (cell is None) == (project is None):
        raise typer.BadParameter("give one of --cell INDICATOR or --project PROJECT", param_hint=hint("--cell"))
    if format not in ("text", "json"):
        raise typer.BadParameter(f"must be text or json, not {format!r}", param_hint=hint("--format"))
    day, instant = parse_date(as_of, "--as-of"), parse_instant(known_at, "--known-at")
    subject = cell or project or ""

    async def main(app: App) -> tuple[Provenance, str]:
        known = await app.reports.in_plan_zone(plan, instant)
        return await app.reports.provenance(plan, subject, day, known), await _zone_of(app, plan)

    trail, zone = use_case(main)
    if format == "json":
        typer.echo(trail.model_dump_json(indent=2))
        return
    from services.reports import render_trail

    typer.echo(render_trail(trail, zone))


@commands.command()
def alerts(
    plan: PlanOption,
    history: Annotated[bool, typer.Option(help="every raised/escalated/resolved notice instead")] = False,
    limit: Annotated[int, typer.Option(min=1, max=MAX_HISTORY, help="history entries (the latest)")] = 50,
) -> None:
    """A plan's firing alerts (or their history), in Chinese, most severe first."""

    async def main(app: App) -> tuple[list[dict[str, str]] | None, str]:
        zone = (await app.ingest.plan(plan)).timezone  # a plan never published: refused, exit 1
        notices = await (app.alerting.history(plan, limit) if history else app.alerting.firing(plan))
        return notices, zone

    notices, zone = use_case(main)
    if notices is None:
        raise fail(f"plan {plan!r} has no alerts projection yet: is a worker running? (planwatch worker)")
    for n in notices:
        marks = "".join(f"〔{label}〕" for label in status_labels(n))
        change = CHANGE_ZH.get(n["type"], n["type"])  # 新增预警, 预警升级, 预警解除
        typer.echo(f"{local_time(n['at'], zone)} {change} 【{n['severity_zh']}】{marks}{n['summary_zh']}")
    if not notices:
        typer.echo("没有正在生效的预警。" if not history else "暂无预警记录。")


@commands.command()
def rollup(
    plan: PlanOption,
    period: Annotated[str, typer.Option("--period", help="the month, e.g. 2025-06")],
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="md, html, xlsx or docx (Word); default: -o's suffix says, else md"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="write to this file (xlsx and docx need one)", parser=given_path),
    ] = None,
) -> None:
    """Write a month's rollup now (a new version if anything changed since the last) and print or
    save it."""
    from services.reports import render_rollup

    chosen = _rollup_format(format, output)
    # before the rollup is published: a version stored that cannot then be saved is a surprise
    saving = prepared_output(output, "nothing was published") if output is not None else None

    async def main(app: App) -> RollupResult:
        return await app.rollups.produce(plan, period)

    try:
        result = use_case(main)
    except BaseException:
        if saving is not None:
            saving.discard()
        raise
    status = {"published": "published", "unchanged": "unchanged since"}[result.outcome]
    typer.echo(f"{plan} {period}: {status} version {result.version}", err=True)
    document = result.document
    assert document is not None  # only a scheduled run answers "exists" without one
    content = render_rollup(document, chosen)
    if saving is None:
        typer.echo(content.decode())
        return
    _save(saving, content)
    typer.echo(f"wrote {saving.path}", err=True)


def _rollup_format(format: str | None, output: Path | None) -> str:
    """-f, or the format -o's suffix names (else md); a suffix naming another format than -f is
    refused, naming both (an xlsx saved as out.md opens as nothing)."""
    from services.reports import FILE_FORMATS, FORMAT_NAMES, FORMATS

    if format is not None and format not in FORMATS:
        raise typer.BadParameter(f"must be {FORMAT_NAMES}, not {format!r}", param_hint=hint("--format"))
    named = ROLLUP_SUFFIXES.get(output.suffix.lower()) if output is not None else None
    if format is not None and named is not None and named != format:
        raise typer.BadParameter(
            f"the name {output} says {named}, not {format}: give -f {named}, or a name ending .{format}",
            param_hint="'--format' / '--output'",
        )
    chosen = format or named or "md"
    if chosen in FILE_FORMATS and output is None:
        raise typer.BadParameter(f"an {chosen} rollup needs -o FILE", param_hint=hint("--output"))
    return chosen


def _save(saving: files.OutputFile, content: bytes) -> None:
    """Write the rollup published already: the file was created before, so only a disk gone full or
    away is left to fail."""
    from services.app import files

    try:
        saving.write(content)
        saving.commit()
    except OSError as exc:
        saving.discard()
        raise fail(f"--output: {files.said(exc, saving.path, 'written')}; the rollup was published") from None


@commands.command()
def rollups(plan: PlanOption) -> None:
    """List a plan's monthly rollups (latest version each)."""

    async def main(app: App) -> tuple[list[RollupListing], str]:
        zone = (await app.ingest.plan(plan)).timezone  # a plan never published: refused, exit 1
        return await app.rollups.list(plan), zone

    listed, zone = use_case(main)
    for item in listed:
        missed = "、".join(item.missed) or "-"
        written = local_time(item.known_at, zone)
        typer.echo(f"{item.period}  v{item.version}  生成于 {written}  未达目标：{missed}  {item.title}")


async def _zone_of(app: App, plan_id: str) -> str:
    """The zone a plan's times are printed in (the installation's for a plan not published)."""
    plan = await app.catalog.get(plan_id)
    return plan.timezone if plan is not None else app.settings.time_zone
