"""Reading a plan: the main table, its alerts, its monthly rollups."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from events.alerts import status_labels
from projections.formatting import local_time
from services.cli.common import console, fail, hint, parse_date, parse_instant, plan_option, use_case

if TYPE_CHECKING:
    from projections.provenance import Provenance
    from projections.reconcile import Reconciliation
    from services.app import App, RollupListing, RollupResult

commands = typer.Typer()
PlanOption = Annotated[str, typer.Option("--plan", help="plan id, e.g. rongchang-2025", callback=plan_option)]


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
            help="the published report: .docx, .txt or .md (its table and sentences), .xlsx or .csv (its table)"
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
    and the missed list. Exits 1 when they differ, naming every difference."""
    from services.reports import reconciliation_json, reconciliation_text

    if format not in ("text", "json"):
        raise typer.BadParameter(f"must be text or json, not {format!r}", param_hint=hint("--format"))
    day, instant = parse_date(as_of, "--as-of"), parse_instant(known_at, "--known-at")
    try:
        content = report.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {report}: {exc.strerror}") from None

    async def main(app: App) -> Reconciliation:
        return await app.reports.compare(plan, content, report.name, day, instant)  # summary reads it in the plan zone

    result = use_case(main)
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
    limit: Annotated[int, typer.Option(help="history entries")] = 50,
) -> None:
    """A plan's firing alerts (or their history), in Chinese, most severe first."""

    async def main(app: App) -> tuple[list[dict[str, str]] | None, str]:
        notices = await (app.alerting.history(plan, limit) if history else app.alerting.firing(plan))
        return notices, await _zone_of(app, plan)

    notices, zone = use_case(main)
    if notices is None:
        raise fail(f"plan {plan!r} has no alerts projection yet: is a worker running? (planwatch worker)")
    for n in notices:
        marks = "".join(f"〔{label}〕" for label in status_labels(n))
        typer.echo(f"{local_time(n['at'], zone)} {n['type']:<16} 【{n['severity_zh']}】{marks}{n['summary_zh']}")
    if not notices:
        typer.echo("没有正在生效的预警。" if not history else "暂无预警记录。")


@commands.command()
def rollup(
    plan: PlanOption,
    period: Annotated[str, typer.Option("--period", help="the month, e.g. 2025-06")],
    format: Annotated[str, typer.Option("--format", "-f", help="md, html, xlsx or docx (Word)")] = "md",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write to this file (xlsx and docx need one)")
    ] = None,
) -> None:
    """Write a month's rollup now (a new version if anything changed since the last) and print or
    save it."""
    from services.reports import FILE_FORMATS, FORMAT_NAMES, FORMATS, render_rollup

    if format not in FORMATS:
        raise typer.BadParameter(f"must be {FORMAT_NAMES}, not {format!r}", param_hint=hint("--format"))
    if format in FILE_FORMATS and output is None:
        raise typer.BadParameter(f"an {format} rollup needs -o FILE", param_hint=hint("--output"))
    if output is not None:
        _check_writable(output)

    async def main(app: App) -> RollupResult:
        return await app.rollups.produce(plan, period)

    result = use_case(main)
    status = {"published": "published", "unchanged": "unchanged since"}[result.outcome]
    typer.echo(f"{plan} {period}: {status} version {result.version}", err=True)
    document = result.document
    assert document is not None  # only a scheduled run answers "exists" without one
    content = render_rollup(document, format)
    if output is not None:
        output.write_bytes(content)
        typer.echo(f"wrote {output}", err=True)
    else:
        typer.echo(content.decode())


def _check_writable(output: Path) -> None:
    """Before the rollup is published: a version stored that cannot then be saved is a surprise."""
    folder = output.parent
    problem = None
    if not folder.is_dir():
        problem = f"{folder} is not a directory（目录不存在）"
    elif output.is_dir():
        problem = f"{output} is a directory: give a file name（请给出文件名）"
    elif not os.access(folder, os.W_OK | os.X_OK) or (output.exists() and not os.access(output, os.W_OK)):
        problem = f"cannot write {output}（无写入权限）"
    if problem is not None:
        raise fail(f"--output: {problem}; nothing was published")


@commands.command()
def rollups(plan: PlanOption) -> None:
    """List a plan's monthly rollups (latest version each)."""

    async def main(app: App) -> tuple[list[RollupListing], str]:
        return await app.rollups.list(plan), await _zone_of(app, plan)

    listed, zone = use_case(main)
    for item in listed:
        missed = "、".join(item.missed) or "-"
        written = local_time(item.known_at, zone)
        typer.echo(f"{item.period}  v{item.version}  生成于 {written}  未达目标：{missed}  {item.title}")


async def _zone_of(app: App, plan_id: str) -> str:
    """The zone a plan's times are printed in (the installation's for a plan not published)."""
    plan = await app.catalog.get(plan_id)
    return plan.timezone if plan is not None else app.settings.time_zone
