"""`planwatch redis start|stop|status|cli`: the embedded Redis.

`stop` is on purpose: until `start`, no planwatch command starts the server again behind the
operator's back (workers still running wait for it; commands say it was stopped)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from services.cli.common import console

if TYPE_CHECKING:
    from services.store import EmbeddedRedis

commands = typer.Typer(
    help="Manage the embedded Redis (used when PLANWATCH_REDIS_URL is not set).", no_args_is_help=True
)


def _server() -> EmbeddedRedis:
    from services.settings import Settings
    from services.store import EmbeddedRedis

    return EmbeddedRedis(Settings.from_env().home)


@commands.command("start")
def redis_start() -> None:
    """Start the embedded Redis (no-op if it is already running); lifts a `planwatch redis stop`."""
    console.print(f"embedded redis at {_server().start()}")


@commands.command("stop")
def redis_stop() -> None:
    """Stop the embedded Redis; its AOF keeps the data for the next start. Until `planwatch redis
    start`, other commands refuse to start it again (running workers wait for it)."""
    console.print("stopped" if _server().stop() else "not running")


@commands.command("status")
def redis_status() -> None:
    """Say whether the embedded Redis is running and where."""
    server = _server()
    console.print(f"{'running' if server.is_running() else 'not running'}: {server.url}")


@commands.command("cli", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def redis_cli(ctx: typer.Context) -> None:
    """Run the bundled redis-cli against planwatch's Redis (the embedded server's socket, or
    PLANWATCH_REDIS_URL), passing every argument on: `planwatch redis cli XADD pw:inbox '*' …`."""
    import os

    from services.settings import Settings
    from services.store import embedded_binary, is_cluster_url, plain_url

    settings = Settings.from_env()
    binary = str(embedded_binary().with_name("redis-cli"))
    if settings.redis_url is None:
        target = ["-s", str(_server().socket)]
        _server().ensure_running()  # refused after `planwatch redis stop`, as every command is
    elif is_cluster_url(settings.redis_url):
        target = ["-c", "-u", plain_url(settings.redis_url)]
    elif settings.redis_url.startswith("unix://"):
        target = ["-s", settings.redis_url.removeprefix("unix://").split("?", 1)[0]]
    else:
        target = ["-u", settings.redis_url]
    os.execv(binary, [binary, *target, *ctx.args])
