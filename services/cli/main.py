"""`planwatch`: one console command for every part of the service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from services.heap import settle_heap
from services.store import Keyspace

# asyncio, redis-py, pydantic and the plan models are imported by the commands that use them:
# `planwatch --help` should not pay for them.
if TYPE_CHECKING:
    from redis.asyncio import Redis

    from services.notify import Subscription

T = TypeVar("T")

app = typer.Typer(
    name="planwatch",
    help="planwatch — monitors the execution of an annual economic and social development plan.\n\n"
    "Redis: PLANWATCH_REDIS_URL if set, otherwise an embedded server under .planwatch/.",
    no_args_is_help=True,
    add_completion=False,
)
plan_app = typer.Typer(help="Check and publish plan files (plans/*.yaml).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)
redis_app = typer.Typer(
    help="Manage the embedded Redis (used when PLANWATCH_REDIS_URL is not set).", no_args_is_help=True
)
app.add_typer(plan_app, name="plan")
app.add_typer(token_app, name="token")
app.add_typer(redis_app, name="redis")

console = Console()


def run(main: Callable[[], Awaitable[T]]) -> T:
    import asyncio

    return asyncio.run(main())


def with_redis(work: Callable[[Redis, Keyspace], Awaitable[T]]) -> T:
    """Run `work` on a connection to planwatch's Redis (with the key prefix), closed afterwards."""
    from services.store import connect

    async def main() -> T:
        redis = connect()
        try:
            return await work(redis, Keyspace.from_env())
        finally:
            await redis.aclose()

    return run(main)


def _log_to_stderr() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)  # plain: a rich console would re-wrap file:line messages
    return typer.Exit(code)


def _hint(option: str) -> str:
    return f"'{option}'"  # as click quotes an option in "Invalid value for '--plan': …"


def _parse_date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date like 2025-06-30", param_hint=_hint(option)) from None


def _parse_instant(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date-time like 2025-07-10T00:00+08:00", param_hint=_hint(option)
        ) from None
    if instant.tzinfo is None:
        raise typer.BadParameter(f"{text!r} needs a time zone, e.g. 2025-07-10T00:00+08:00", param_hint=_hint(option))
    return instant


PLAN_ID_FORMAT = "2 to 63 lower-case letters, digits and '-', not starting with '-', e.g. rongchang-2025"


def _check_plan_id(text: str) -> str:
    """`text` if it is a plan id as events have them (events.ids.PlanId), else BadParameter."""
    from pydantic import TypeAdapter, ValidationError

    from events.ids import PlanId

    try:
        return TypeAdapter(PlanId).validate_python(text)
    except ValidationError:
        raise typer.BadParameter(f"{text!r} is not a plan id: expected {PLAN_ID_FORMAT}") from None


def _plan_option(value: str | None) -> str | None:
    """Callback of every --plan option: click then names the option in the error (exit 2)."""
    return None if value is None else _check_plan_id(value)


def _plan_options(value: list[str] | None) -> list[str] | None:
    return None if value is None else [_check_plan_id(v) for v in value]


@app.command()
def demo(
    plan_file: Annotated[
        Path | None,
        typer.Option(help="plan file to demo (default: the seed plan, plans/rongchang-2025.yaml)"),
    ] = None,
    out: Annotated[Path, typer.Option(help="directory for the June rollup's .md, .html and .xlsx")] = Path("out"),
) -> None:
    """Publish the seed plan and its H1 2025 history, replay the log, print the report's table,
    and write the June rollup."""
    from events.planfile import PlanFileError, parse_plan
    from services.demo import SEED_PLAN, SeedMismatch, run_demo, seed_history

    path = plan_file or SEED_PLAN
    # Everything is checked before the first write: a plan the demo cannot use stores nothing.
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise fail(f"--plan-file: cannot read {path}: {reason}", 2) from None
    try:
        plan = parse_plan(text, str(path))
        seed_history(plan)
    except (PlanFileError, SeedMismatch) as exc:
        raise fail(f"--plan-file: {exc}", 2) from None
    with_redis(lambda redis, keys: run_demo(console, redis, keys, plan, out))


@app.command()
def table(
    plan: Annotated[str, typer.Option("--plan", help="plan id, e.g. rongchang-2025", callback=_plan_option)],
    as_of: Annotated[
        str | None, typer.Option(help="valid time: judge periods ending by this date (default: latest data)")
    ] = None,
    known_at: Annotated[
        str | None, typer.Option(help="transaction time: ignore events recorded after this instant (with zone)")
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text, markdown or json")] = "text",
) -> None:
    """Print the main-indicator table, the key-project line and the missed targets."""
    from services.app import load_report
    from services.reports import render_table

    if format not in ("text", "markdown", "json"):
        raise typer.BadParameter(f"must be text, markdown or json, not {format!r}", param_hint=_hint("--format"))
    day, instant = _parse_date(as_of, "--as-of"), _parse_instant(known_at, "--known-at")

    async def main(redis: Redis, keys: Keyspace) -> str:
        report = await load_report(redis, plan, as_of=day, known_at=instant, keys=keys)
        # the instant as the API prints it, whatever way it was typed: the two give the same JSON
        return render_table(report, format, instant.isoformat() if instant else None)  # type: ignore[arg-type]

    try:
        output = with_redis(main)
    except LookupError as exc:
        raise fail(str(exc)) from None
    console.print(output, markup=False, highlight=False, soft_wrap=True)


@app.command()
def worker(
    lease_ttl: Annotated[float, typer.Option(help="seconds a plan's lease lasts without renewal")] = 5.0,
    worker_id: Annotated[str | None, typer.Option(help="this worker's id (default: host-pid-random)")] = None,
    reclaim_idle: Annotated[
        float, typer.Option(help="seconds an inbox message or notice may stay unacknowledged before it is reclaimed")
    ] = 30.0,
    notify: Annotated[bool, typer.Option(help="also deliver alert notices to subscribers")] = True,
    retry_base: Annotated[float, typer.Option(help="seconds before the first retry of a failed delivery")] = 2.0,
    link: Annotated[str | None, typer.Option(help="base URL of the API, for links in messages")] = None,
) -> None:
    """Run a worker: keeps every plan's projections (read model, alerts) current, consumes the
    departments' inbox stream, and delivers alert notices to subscribers (several may run)."""
    from services.worker import create_app

    _log_to_stderr()
    app_ = create_app(
        worker_id=worker_id,
        lease_ttl_ms=int(lease_ttl * 1000),
        reclaim_idle_ms=int(reclaim_idle * 1000),
        notify=notify,
        retry_base_s=retry_base,
        link=link,
    )
    settle_heap()
    run(app_.run)


@app.command()
def notifier(
    notifier_id: Annotated[str | None, typer.Option(help="this notifier's id (default: host-pid-random)")] = None,
    retry_base: Annotated[float, typer.Option(help="seconds before the first retry of a failed delivery")] = 2.0,
    reclaim_idle: Annotated[float, typer.Option(help="seconds before a dead notifier's notices are claimed")] = 30.0,
    link: Annotated[str | None, typer.Option(help="base URL of the API, for links in messages")] = None,
) -> None:
    """Run a notifier on its own: delivers alert notices to subscribers (for workers started
    with --no-notify; several may run, each subscription is served by one at a time)."""
    import httpx

    from services.notify import Notifier
    from services.worker import default_worker_id

    _log_to_stderr()

    async def main(redis: Redis, keys: Keyspace) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            await Notifier(
                redis,
                keys,
                notifier_id or default_worker_id(),
                http,
                backoff_s=retry_base,
                claim_idle_ms=int(reclaim_idle * 1000),
                link=link,
            ).run()

    try:
        with_redis(main)
    except KeyboardInterrupt:
        pass


@app.command()
def scheduler(
    once: Annotated[bool, typer.Option(help="write the due rollups that are missing, then exit")] = False,
    now: Annotated[
        str | None,
        typer.Option(help="catch up as of this instant (with zone), then exit, e.g. 2025-07-16T08:00+08:00"),
    ] = None,
) -> None:
    """Write each month's rollup on the plan's schedule (default 08:00 on the 16th, for the month
    before), once however many schedulers run, catching up on months missed while down."""
    from services.scheduler import RollupScheduler, run_forever

    _log_to_stderr()
    fixed = _parse_instant(now, "--now")

    async def main(redis: Redis, keys: Keyspace) -> None:
        if once or fixed:
            rollups = RollupScheduler(redis, keys, clock=lambda: fixed or datetime.now(UTC))
            for result in await rollups.catch_up():
                typer.echo(f"{result.plan_id} {result.period} v{result.version} published")
        else:
            await run_forever(redis, keys)

    try:
        with_redis(main)
    except KeyboardInterrupt:
        pass


@app.command()
def rollup(
    plan: Annotated[str, typer.Option("--plan", help="plan id", callback=_plan_option)],
    period: Annotated[str, typer.Option("--period", help="the month, e.g. 2025-06")],
    format: Annotated[str, typer.Option("--format", "-f", help="md, html or xlsx")] = "md",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write to this file (xlsx needs one)")] = None,
) -> None:
    """Write a month's rollup now (a new version if anything changed since the last) and print or
    save it."""
    from services.app import produce_rollup
    from services.reports import FORMATS, render_rollup

    if format not in FORMATS:
        raise typer.BadParameter(f"must be md, html or xlsx, not {format!r}", param_hint=_hint("--format"))
    if format == "xlsx" and output is None:
        raise typer.BadParameter("an xlsx rollup needs -o FILE", param_hint=_hint("--output"))

    async def main(redis: Redis, keys: Keyspace):
        return await produce_rollup(redis, keys, plan, period)

    try:
        result = with_redis(main)
    except (LookupError, ValueError) as exc:
        raise fail(str(exc)) from None
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


@app.command()
def rollups(plan: Annotated[str, typer.Option("--plan", help="plan id", callback=_plan_option)]) -> None:
    """List a plan's monthly rollups (latest version each)."""
    from services.app import list_rollups

    async def main(redis: Redis, keys: Keyspace):
        return await list_rollups(redis, keys, plan)

    for item in with_redis(main):
        missed = "、".join(item["missed"]) or "-"
        typer.echo(
            f"{item['period']}  v{item['version']}  {item['known_at'][:16]}  未达目标：{missed}  {item['title']}"
        )


@app.command()
def api(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="processes serving requests (uvicorn workers)")] = 1,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs, the inbox's AsyncAPI at /asyncapi.json)."""
    import uvicorn

    # by import string: each worker process builds its own app (and its own Redis connections)
    uvicorn.run("services.api:create_api", factory=True, host=host, port=port, workers=workers, log_level="info")


@app.command("template")
def template_command(
    plan: Annotated[str, typer.Option("--plan", help="plan id", callback=_plan_option)],
    department: Annotated[str, typer.Option("--department", help="department id, e.g. stats")],
    period: Annotated[str, typer.Option("--period", help="reporting period, e.g. 2025-07")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="file to write (.xlsx or .csv)")] = None,
) -> None:
    """Write a department's fill-in sheet for a period: its indicators and projects, Chinese
    headers, units, the targets for reference."""
    from services.spreadsheet import write_template
    from services.store import EventStore, PlanCatalog

    target = output or Path(f"{plan}-{department}-{period}.xlsx")
    fmt = "csv" if target.suffix.lower() == ".csv" else "xlsx"

    async def main(redis: Redis, keys: Keyspace):
        return await PlanCatalog(EventStore(redis, keys)).get(plan)

    found = with_redis(main)
    if found is None:
        raise fail(f"plan {plan!r} has not been published")
    try:
        target.write_bytes(write_template(found, department, period, fmt))
    except ValueError as exc:
        raise fail(str(exc)) from None
    console.print(f"wrote {target}", markup=False)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="a filled template, .xlsx or .csv")],
    token: Annotated[
        str,
        typer.Option(
            "--token",
            envvar="PLANWATCH_TOKEN",
            help="the department's API token (pwt_…), as the API takes it; or set PLANWATCH_TOKEN",
        ),
    ],
    plan: Annotated[
        str | None, typer.Option("--plan", help="plan id (default: the one the file names)", callback=_plan_option)
    ] = None,
) -> None:
    """Import a filled spreadsheet as the department whose token is given (the API's rule: the file
    must be that department's): every row validated; any bad row rejects the whole file with a
    row-by-row report; re-importing the same file stores nothing new."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from services.app import Ingest, IngestError, Unauthorized
    from services.spreadsheet import ForeignSheet, SheetRejected, parse_sheet, sheet_plan_id

    try:
        content = file.read_bytes()
    except OSError as exc:
        raise fail(f"{file}: {exc.strerror}") from None
    plan_id = plan or sheet_plan_id(content, file.name)
    if not plan_id:
        raise fail(f"{file}: the file names no plan; give --plan")
    if plan is None:
        try:
            _check_plan_id(plan_id)
        except typer.BadParameter:
            raise fail(f"{file}: the file names plan {plan_id!r}, which is not a plan id ({PLAN_ID_FORMAT})") from None

    class Refused(Exception):
        """Bad --token: exit 2, nothing stored."""

    async def main(redis: Redis, keys: Keyspace):
        ingest = Ingest.over(redis, keys)
        # The caller is the token's, verified as the API verifies a Bearer token; never the file's say-so.
        try:
            who = await ingest.authenticate(token)
        except Unauthorized as exc:
            raise Refused(f"--token: {exc.message}") from None
        if who.role != "department":
            # The API records an import as the token's department, so it refuses an admin's or an
            # analyst's upload of a department's sheet (403): so does the CLI.
            raise Refused(
                f"--token: {who.role} token {who.id} cannot import a department's sheet "
                "(the API refuses it too); use a token of the department the file is for"
            )
        found = await ingest.catalog.get(plan_id)
        if found is None:
            raise LookupError(f"plan {plan_id!r} has not been published")
        with Progress(TextColumn("[bold]import"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
            task = bar.add_task(file.name, total=None)
            try:
                sheet = parse_sheet(
                    content,
                    file.name,
                    found,
                    department=who.department,
                    progress=lambda d, t: bar.update(task, completed=d, total=t),
                )
            except ForeignSheet as exc:  # the file is another department's: as the API's 403
                raise Refused(f"--token: {exc.errors[0].reason}; nothing imported") from None
        return sheet, await ingest.submit(who, plan_id, sheet.events)

    try:
        sheet, accepted = with_redis(main)
    except Refused as exc:
        raise fail(f"{file}: {exc}", 2) from None
    except SheetRejected as exc:
        raise fail(
            "\n".join([f"{file}: rejected, nothing imported — {exc}", *(f"  {e}" for e in exc.errors)])
        ) from None
    except IngestError as exc:
        details = [f"  {e}" for e in exc.errors]
        raise fail(
            "\n".join([f"{file}: rejected, nothing imported — {exc.message}（{exc.message_zh}）", *details])
        ) from None
    except LookupError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"{file}: {sheet.summary()}; stored {accepted.stored} new event(s), "
        f"{len(accepted.events) - accepted.stored} already imported",
        markup=False,
    )


@app.command()
def docs(
    output: Annotated[Path, typer.Option("-o", "--output", help="directory to write into")] = Path("docs/api"),
) -> None:
    """Write the API's OpenAPI document and the inbox's AsyncAPI document as JSON."""
    import json

    from services.api import create_api
    from services.inbox import asyncapi_document

    output.mkdir(parents=True, exist_ok=True)
    (output / "openapi.json").write_text(json.dumps(create_api().openapi(), ensure_ascii=False, indent=2))
    (output / "asyncapi.json").write_text(json.dumps(asyncapi_document(), ensure_ascii=False, indent=2))
    console.print(f"wrote {output / 'openapi.json'} and {output / 'asyncapi.json'}", markup=False)


@app.command()
def rebuild(plan: Annotated[str, typer.Option("--plan", help="plan id", callback=_plan_option)]) -> None:
    """Replay a plan's log into a new generation of each of its projections (the read model, then
    the alerts), switching readers to each as it catches up."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from services.projection import PROJECTIONS
    from services.projection import rebuild as rebuild_plan

    async def main(redis: Redis, keys: Keyspace):
        if not await redis.exists(keys.events(plan)):
            raise LookupError(f"plan {plan!r} has no events")
        settle_heap()
        with Progress(
            TextColumn("[bold]rebuild {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            results = []
            for projection in PROJECTIONS:
                task = progress.add_task(f"{plan} {projection.label}", total=None)
                results.append(
                    await rebuild_plan(
                        redis,
                        keys,
                        plan,
                        lambda done, total, task=task: progress.update(task, completed=done, total=total),
                        projection=projection,
                    )
                )
            return results

    try:
        results = with_redis(main)
    except LookupError as exc:
        raise fail(str(exc)) from None
    for result in results:
        console.print(
            f"{plan} {result.projection.label}: generation {result.generation} built from "
            f"{result.applied} events{f', {result.parked} parked' if result.parked else ''}; readers switched "
            f"from generation {result.previous or '-'} (deleted)",
            markup=False,
        )


@app.command()
def status(
    plan: Annotated[str | None, typer.Option("--plan", help="one plan (default: all)", callback=_plan_option)] = None,
) -> None:
    """Per plan and projection (read model, alerts): log length, checkpoint, lag, dead letters
    (events the projection could not apply), generation and projecting worker; per plan, the outbox
    dead letters (outbox entries the notifier set aside); per subscription: notices queued, sent
    and given up."""
    from rich.table import Table

    from services.projection import PROJECTIONS, plan_status
    from services.store import EventStore

    async def main(redis: Redis, keys: Keyspace):
        plans = [plan] if plan else await EventStore(redis, keys).plans()
        rows = []
        for p in plans:
            outbox_dead = await redis.xlen(keys.outbox_dead(p))  # the plan's, shown on each of its rows
            rows += [(await plan_status(redis, keys, p, projection), outbox_dead) for projection in PROJECTIONS]
        return rows, await _deliveries(redis, keys)

    rows, deliveries = with_redis(main)
    table_ = Table(title="planwatch status")
    columns = ("plan", "projection", "events", "checkpoint", "applied", "lag", "dead letters", "outbox dead letters")
    for column in (*columns, "generation", "worker"):
        table_.add_column(column)
    for row, outbox_dead in rows:
        table_.add_row(
            row.plan_id,
            row.projection.label,
            str(row.log_length),
            row.checkpoint or "-",
            str(row.applied),
            str(row.lag),
            str(row.parked),
            str(outbox_dead),
            str(row.generation or "-"),
            row.owner or "-",
        )
    console.print(table_)
    if deliveries:
        notices = Table(title="alert deliveries")
        for column in ("subscription", "name", "channel", "queued", "sent", "dead letters"):
            notices.add_column(column)
        for sub, counts in deliveries:
            notices.add_row(sub.id, sub.name, sub.channel, *_count_cells(counts))
        console.print(notices)


async def _deliveries(redis: Redis, keys: Keyspace) -> list[tuple[Subscription, dict[str, int]]]:
    """Every subscription with its queued / sent / dead counts."""
    from services.notify import SubscriptionStore

    return await SubscriptionStore(redis, keys).all_with_counts()


def _count_cells(counts: dict[str, int]) -> list[str]:
    return [str(counts[k]) for k in ("queued", "sent", "dead")]


@plan_app.command("check")
def plan_check(file: Annotated[Path, typer.Argument(help="the plan file, e.g. plans/rongchang-2025.yaml")]) -> None:
    """Validate a plan file; print what it defines, or every problem with its line."""
    from events.planfile import PlanFileError
    from services.app import load_plan

    try:
        plan = load_plan(file)
    except PlanFileError as exc:
        raise fail(str(exc)) from None
    main = sum(1 for i in plan.indicators if i.is_main)
    console.print(
        f"{file}: plan {plan.id} ({plan.name}) is valid — {len(plan.departments)} departments, "
        f"{main} main indicators, {len(plan.indicators) - main} further targets, {len(plan.projects)} key projects",
        markup=False,
    )


@plan_app.command("publish")
def plan_publish(file: Annotated[Path, typer.Argument(help="the plan file to publish")]) -> None:
    """Validate a plan file and append it to the plan's log as a plan.published event."""
    from events.planfile import PlanFileError
    from services.app import load_plan, publish_plan
    from services.store import EventStore

    try:
        plan = load_plan(file)
    except PlanFileError as exc:
        raise fail(str(exc)) from None

    async def main(redis: Redis, keys: Keyspace):
        return await publish_plan(EventStore(redis, keys), plan)

    published = with_redis(main)
    if published.stored:
        console.print(f"published {plan.id} as version {published.version} at {published.position}", markup=False)
    else:
        console.print(f"{plan.id}: this plan is already the current one (at {published.position}); nothing stored")


@app.command()
def subscribe(
    name: Annotated[str, typer.Option(help="who is told, e.g. 区发展改革委值班群")],
    channel: Annotated[str, typer.Option(help="webhook, wecom, dingtalk, feishu or stream")],
    url: Annotated[str | None, typer.Option(help="webhook or robot address (not for stream)")] = None,
    secret: Annotated[str | None, typer.Option(help="signing secret (webhook, DingTalk SEC…, Feishu)")] = None,
    plan: Annotated[
        list[str] | None, typer.Option(help="only these plans (repeatable)", callback=_plan_options)
    ] = None,
    department: Annotated[list[str] | None, typer.Option(help="only these departments (repeatable)")] = None,
    subject: Annotated[list[str] | None, typer.Option(help="only these indicators / projects (repeatable)")] = None,
    rule: Annotated[list[str] | None, typer.Option(help="only these rules (repeatable)")] = None,
    min_severity: Annotated[str, typer.Option(help="warning, critical or emergency")] = "warning",
    resolved: Annotated[bool, typer.Option(help="also tell when an alert is resolved")] = True,
    rollups: Annotated[bool, typer.Option(help="also tell when a monthly rollup is published")] = False,
    allow_private: Annotated[
        bool, typer.Option(help="allow a loopback/private/link-local url (refused otherwise)")
    ] = False,
) -> None:
    """Subscribe a channel to alert notices."""
    from pydantic import ValidationError

    from events.errors import field_errors
    from services.notify import SubscriptionRequest, SubscriptionStore, UnsafeTarget

    try:
        request = SubscriptionRequest.model_validate(
            {
                "name": name,
                "channel": channel,
                "url": url,
                "secret": secret,
                "allow_private": allow_private,
                "filters": {
                    "plans": plan or [],
                    "departments": department or [],
                    "subjects": subject or [],
                    "rules": rule or [],
                    "min_severity": min_severity,
                    "resolved": resolved,
                    "rollups": rollups,
                },
            }
        )
    except ValidationError as exc:
        raise fail("\n".join(str(e) for e in field_errors(exc))) from None

    async def main(redis: Redis, keys: Keyspace):
        return await SubscriptionStore(redis, keys).create(request)

    try:
        created = with_redis(main)
    except UnsafeTarget as exc:
        raise fail(str(exc)) from None
    console.print(f"subscribed {created.id}: {created.name} ({created.channel})", markup=False)
    if created.generated_secret:  # shown once, like a token
        typer.echo(created.generated_secret)
        typer.echo("the webhook's signing secret (HMAC-SHA256): keep it now, it is not shown again", err=True)
    if created.channel == "stream":
        console.print(f"notices go to the stream {Keyspace.from_env().sub_stream(created.id)}", markup=False)


@app.command()
def subscriptions() -> None:
    """List subscriptions with what is queued, sent and given up (dead letters)."""
    from rich.table import Table

    table_ = Table(title="subscriptions")
    for column in ("id", "name", "channel", "filters", "queued", "sent", "dead"):
        table_.add_column(column)
    for sub, counts in with_redis(_deliveries):
        filters = sub.filters.model_dump(exclude_defaults=True) or "all"
        table_.add_row(sub.id, sub.name, sub.channel, str(filters), *_count_cells(counts))
    console.print(table_)


@app.command()
def unsubscribe(subscription_id: Annotated[str, typer.Argument(help="the subscription's id")]) -> None:
    """Stop telling a subscriber."""
    from services.notify import SubscriptionStore

    async def main(redis: Redis, keys: Keyspace):
        return await SubscriptionStore(redis, keys).delete(subscription_id)

    if not with_redis(main):
        raise fail(f"no subscription {subscription_id!r}")
    console.print(f"unsubscribed {subscription_id}")


@app.command()
def alerts(
    plan: Annotated[str, typer.Option("--plan", help="plan id", callback=_plan_option)],
    history: Annotated[bool, typer.Option(help="every raised/escalated/resolved notice instead")] = False,
    limit: Annotated[int, typer.Option(help="history entries")] = 50,
) -> None:
    """A plan's firing alerts (or their history), in Chinese, most severe first."""
    from events.alerts import severity_rank
    from services.projection import alert_notices, firing_alerts

    async def main(redis: Redis, keys: Keyspace):
        if history:
            return await alert_notices(redis, keys, plan, limit)
        return await firing_alerts(redis, keys, plan)

    notices = with_redis(main)
    if notices is None:
        raise fail(f"plan {plan!r} has no alerts projection yet: is a worker running? (planwatch worker)")
    if not history:
        notices.sort(key=lambda n: (-severity_rank(n["severity"]), n["rule"], n["subject"]))
    for n in notices:
        when = n["at"][:16].replace("T", " ")
        typer.echo(f"{when} {n['type']:<16} 【{n['severity_zh']}】{n['summary_zh']}")
    if not notices:
        typer.echo("没有正在生效的预警。" if not history else "暂无预警记录。")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="department, analyst or admin")] = "department",
    department: Annotated[str | None, typer.Option(help="for department tokens: the department id")] = None,
    name: Annotated[str, typer.Option(help="who it is for, e.g. 统计局数据科")] = "",
) -> None:
    """Create a token and print it once (only a hash is kept)."""
    from services.store import TokenStore

    async def main(redis: Redis, keys: Keyspace):
        return await TokenStore(redis, keys).create(role, department, name)  # type: ignore[arg-type]

    try:
        text, info = with_redis(main)
    except ValueError as exc:
        raise fail(str(exc)) from None
    typer.echo(text)
    errors_note = f"{info.role} token {info.id}" + (f" for {info.department}" if info.department else "")
    typer.echo(f"{errors_note}: keep it now, it is not shown again", err=True)


@token_app.command("list")
def token_list() -> None:
    """List tokens (id, role, department, created, revoked) — never their secrets."""
    from rich.table import Table

    from services.store import TokenStore

    async def main(redis: Redis, keys: Keyspace):
        return await TokenStore(redis, keys).list()

    table_ = Table(title="tokens")
    for column in ("id", "role", "department", "name", "created", "revoked"):
        table_.add_column(column, no_wrap=True)
    for info in with_redis(main):
        table_.add_row(info.id, info.role, info.department or "-", info.name, info.created_at, info.revoked_at or "-")
    console.print(table_)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="the token's id (see token list)")]) -> None:
    """Revoke a token: it is refused (401) from now on."""
    from services.store import TokenStore

    async def main(redis: Redis, keys: Keyspace):
        return await TokenStore(redis, keys).revoke(token_id)

    if not with_redis(main):
        raise fail(f"no token {token_id!r}")
    console.print(f"revoked {token_id}")


@redis_app.command("start")
def redis_start() -> None:
    """Start the embedded Redis (no-op if it is already running)."""
    from services.store import EmbeddedRedis

    console.print(f"embedded redis at {EmbeddedRedis().ensure_running()}")


@redis_app.command("stop")
def redis_stop() -> None:
    """Stop the embedded Redis; its AOF keeps the data for the next start."""
    from services.store import EmbeddedRedis

    console.print("stopped" if EmbeddedRedis().stop() else "not running")


@redis_app.command("status")
def redis_status() -> None:
    """Say whether the embedded Redis is running and where."""
    from services.store import EmbeddedRedis

    server = EmbeddedRedis()
    console.print(f"{'running' if server.is_running() else 'not running'}: {server.url}")


def main() -> None:
    app()
