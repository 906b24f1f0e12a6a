"""`planwatch redis start|stop|status`: the embedded Redis."""

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
    """Start the embedded Redis (no-op if it is already running)."""
    console.print(f"embedded redis at {_server().ensure_running()}")


@commands.command("stop")
def redis_stop() -> None:
    """Stop the embedded Redis; its AOF keeps the data for the next start."""
    console.print("stopped" if _server().stop() else "not running")


@commands.command("status")
def redis_status() -> None:
    """Say whether the embedded Redis is running and where."""
    server = _server()
    console.print(f"{'running' if server.is_running() else 'not running'}: {server.url}")
