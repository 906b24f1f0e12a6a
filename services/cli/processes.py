"""The long-running processes: worker, notifier, scheduler, API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import log_to_stderr, parse_instant, run, with_app
from services.heap import settle_heap

if TYPE_CHECKING:
    from services.app import App

commands = typer.Typer()


@commands.command()
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

    log_to_stderr()
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


@commands.command()
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
    from services.store import Sealer
    from services.worker import default_worker_id

    log_to_stderr()

    async def main(app: App) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            await Notifier(
                app.redis,
                app.keys,
                notifier_id or default_worker_id(),
                http,
                backoff_s=retry_base,
                claim_idle_ms=int(reclaim_idle * 1000),
                link=link,
                allowed_targets=app.settings.allow_private_targets,
                sealer=Sealer(app.settings.secret_key),
            ).run()

    try:
        with_app(main)
    except KeyboardInterrupt:
        pass


@commands.command()
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

    log_to_stderr()
    fixed = parse_instant(now, "--now")

    async def main(app: App) -> None:
        if once or fixed:
            rollups = RollupScheduler(app, clock=lambda: fixed or datetime.now(UTC))
            for result in await rollups.catch_up():
                typer.echo(f"{result.plan_id} {result.period} v{result.version} published")
        else:
            await run_forever(app)

    try:
        with_app(main)
    except KeyboardInterrupt:
        pass


@commands.command()
def api(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="processes serving requests (uvicorn workers)")] = 1,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs, the inbox's AsyncAPI at /asyncapi.json)."""
    import uvicorn

    from services.api.logs import log_config

    # by import string: each worker process builds its own app (and its own Redis connections);
    # the log configuration takes tokens out of every line (the access log prints query strings)
    uvicorn.run(
        "services.api:create_api",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=log_config(),
    )
