"""The long-running processes: worker, notifier, scheduler, API."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import (
    MAX_PROCESSES,
    PORT_RANGE,
    check_redis,
    installation_zone,
    link_option,
    parse_instant,
    process_name,
    run,
    seconds_within,
    start_logging,
    with_app,
)
from services.heap import settle_heap

if TYPE_CHECKING:
    from services.app import App

commands = typer.Typer()

HOUR, DAY = 3600.0, 86400.0
MetricsPort = Annotated[
    int | None,
    typer.Option(**PORT_RANGE, help="serve Prometheus metrics at http://HOST:PORT/metrics (default: none)"),
]
MetricsHost = Annotated[str, typer.Option(help="address the metrics listen on (0.0.0.0 in a container)")]
RetryBase = Annotated[
    float,
    typer.Option(callback=seconds_within(0.01, HOUR), help="seconds before the first retry of a failed delivery"),
]
RetryCap = Annotated[
    float,
    typer.Option(
        callback=seconds_within(0.01, DAY),
        help="longest wait in seconds between retries of a failed delivery (the waits double from "
        "--retry-base up to this; a subscription's max_age, default 24h, says when to give up)",
    ),
]
Link = Annotated[
    str | None,
    typer.Option(
        callback=link_option, help="public address of planwatch, for links in messages (PLANWATCH_PUBLIC_URL)"
    ),
]


def check_retries(retry_base: float, retry_cap: float) -> None:
    if retry_cap < retry_base:
        raise typer.BadParameter(
            f"{retry_cap:g} is shorter than --retry-base {retry_base:g}: the waits grow from the base up to it",
            param_hint="'--retry-cap'",
        )


def start_process(process: str, metrics_port: int | None, metrics_host: str) -> None:
    """What every long-running process does first: its logs, and its metrics if asked."""
    from services.observability import metrics

    check_redis()
    start_logging(process)
    metrics.serve_metrics(metrics_port, metrics_host)


@commands.command()
def worker(
    lease_ttl: Annotated[
        float,
        typer.Option(callback=seconds_within(0.5, HOUR), help="seconds a plan's lease lasts without renewal"),
    ] = 5.0,
    worker_id: Annotated[
        str | None, typer.Option(callback=process_name, help="this worker's id (default: host-pid-random)")
    ] = None,
    reclaim_idle: Annotated[
        float,
        typer.Option(
            callback=seconds_within(0.1, DAY),
            help="seconds an inbox message or notice may stay unacknowledged before it is reclaimed",
        ),
    ] = 30.0,
    notify: Annotated[bool, typer.Option(help="also deliver alert notices to subscribers")] = True,
    retry_base: RetryBase = 2.0,
    retry_cap: RetryCap = 300.0,
    link: Link = None,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_PROCESSES,
            help="worker processes to run, one core each (they split the plans as separate workers do; "
            "with --worker-id ID they are ID-1, ID-2…, with --metrics-port P they serve P, P+1…)",
        ),
    ] = 1,
    hand_over: Annotated[
        float,
        typer.Option(
            callback=seconds_within(0, HOUR),
            help="seconds a stopping worker (SIGTERM) goes on running its plans until the other workers have "
            "taken them, as fast as they load them; then it lets go of the rest (0: at once)",
        ),
    ] = 20.0,
) -> None:
    """Run a worker: keeps the projections (read model, alerts) of its share of the plans current,
    consumes the departments' inbox stream, and delivers alert notices to subscribers (several may
    run; each plan's projection is leased to one of them at a time)."""
    from services.worker import create_app

    check_retries(retry_base, retry_cap)
    if processes > 1:
        from services.worker import STOP_GRACE_S, WorkerArguments, WorkerPool

        check_redis()
        start_logging("worker")
        options = [
            *("--lease-ttl", str(lease_ttl), "--reclaim-idle", str(reclaim_idle), "--metrics-host", metrics_host),
            *("--retry-base", str(retry_base), "--retry-cap", str(retry_cap), "--hand-over", str(hand_over)),
            "--notify" if notify else "--no-notify",
            *(("--link", link) if link else ()),
        ]
        pool = WorkerPool(
            processes, WorkerArguments(options, worker_id, metrics_port), grace_s=hand_over + STOP_GRACE_S
        )
        raise typer.Exit(pool.run())
    start_process("worker", metrics_port, metrics_host)
    app_ = create_app(
        worker_id=worker_id,
        lease_ttl_ms=int(lease_ttl * 1000),
        reclaim_idle_ms=int(reclaim_idle * 1000),
        notify=notify,
        retry_base_s=retry_base,
        retry_cap_s=retry_cap,
        link=link,
        hand_over_s=hand_over,
    )
    settle_heap()
    run(app_.run)


@commands.command()
def notifier(
    notifier_id: Annotated[
        str | None, typer.Option(callback=process_name, help="this notifier's id (default: host-pid-random)")
    ] = None,
    retry_base: RetryBase = 2.0,
    retry_cap: RetryCap = 300.0,
    reclaim_idle: Annotated[
        float,
        typer.Option(callback=seconds_within(0.1, DAY), help="seconds before a dead notifier's notices are claimed"),
    ] = 30.0,
    link: Link = None,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Run a notifier on its own: delivers alert notices to subscribers (for workers started
    with --no-notify; several may run, each subscription is served by one at a time)."""
    import asyncio

    import httpx

    from services.notify import Notifier
    from services.store import Announcements, Sealer, SignedLinks, client_name, connect, node_url_for_key
    from services.tasks import cancel_and_wait
    from services.worker import default_worker_id

    check_retries(retry_base, retry_cap)
    start_process("notifier", metrics_port, metrics_host)
    name = notifier_id or default_worker_id()

    async def main(app: App) -> None:
        settings = app.settings
        links = await SignedLinks.load(app.redis, app.keys, link or settings.public_url, settings.secret_key)
        # the outbox news: one subscription, to any node of a Cluster (pub/sub reaches every node)
        url = node_url_for_key(settings.redis_target(), app.keys.plans)
        announcements = Announcements(connect(url, 1, client_name(name, "announcements")))
        async with httpx.AsyncClient(timeout=10) as http:
            notifier = Notifier(
                app.redis,
                app.keys,
                name,
                http,
                backoff_s=retry_base,
                backoff_cap_s=retry_cap,
                claim_idle_ms=int(reclaim_idle * 1000),
                links=links,
                allowed_targets=app.settings.allow_private_targets,
                sealer=Sealer(app.settings.secret_key),
                firing_of=app.alerting.firing_for,  # reminders read what fires through the use case
                zone=app.settings.time_zone,
                announcements=announcements,
            )
            listening = asyncio.create_task(announcements.run(), name="announcements")
            try:
                await notifier.run()
            finally:
                await cancel_and_wait([listening], 1.0)
                await announcements.redis.aclose()

    try:
        with_app(main)
    except KeyboardInterrupt:
        pass


@commands.command()
def scheduler(
    once: Annotated[bool, typer.Option(help="write the due rollups that are missing, then exit")] = False,
    now: Annotated[
        str | None,
        typer.Option(
            help="catch up as of this instant, then exit, e.g. 2025-07-16T08:00 (in PLANWATCH_TIME_ZONE, "
            "Asia/Shanghai by default, unless it names a zone: 2025-07-16T08:00+08:00)"
        ),
    ] = None,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Write each month's rollup on the plan's schedule (default 08:00 on the 16th, for the month
    before), once however many schedulers run, catching up on months missed while down."""
    from services.scheduler import RollupScheduler, run_forever

    start_process("scheduler", metrics_port, metrics_host)
    fixed = parse_instant(now, "--now")
    if fixed is not None and fixed.tzinfo is None:  # spans plans: the installation's zone
        from zoneinfo import ZoneInfo

        fixed = fixed.replace(tzinfo=ZoneInfo(installation_zone()))

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
    port: Annotated[int, typer.Option(**PORT_RANGE, help="port")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=MAX_PROCESSES, help="processes serving requests (uvicorn workers)")
    ] = 1,
    access_log: Annotated[
        bool | None,
        typer.Option(
            "--access-log/--no-access-log",
            help="a log line per request, tokens taken out (default: PLANWATCH_ACCESS_LOG, on); without "
            "it, events taken in and refused are still counted in /metrics and server errors logged (a "
            "line costs ~7 percent of a single-event POST)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs, the inbox's AsyncAPI at /asyncapi.json, Prometheus
    metrics at /metrics — added up over the processes when --workers is more than one)."""
    if workers > 1:
        _multiprocess_metrics()  # before anything imports prometheus_client
    import uvicorn

    check_redis()
    if access_log is not None:  # the setting every process of --workers N reads (services/api/app.py)
        os.environ["PLANWATCH_ACCESS_LOG"] = "on" if access_log else "off"
    start_logging("api")
    # by import string: each worker process builds its own app (and its own Redis connections);
    # log_config=None: uvicorn's records go through planwatch's handler, in its format
    uvicorn.run("services.api:create_api", factory=True, host=host, port=port, workers=workers, log_config=None)


def _multiprocess_metrics() -> None:
    """The API's processes write their metrics to files in one directory, which /metrics adds up:
    PROMETHEUS_MULTIPROC_DIR if set, else a new temporary directory; emptied first (values of an
    earlier run would be added in), removed at exit when it is ours."""
    import atexit
    import os
    import shutil
    import tempfile
    from pathlib import Path

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    directory = Path(given or tempfile.mkdtemp(prefix="planwatch-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("*.db"):
        leftover.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    if not given:
        atexit.register(shutil.rmtree, directory, True)
