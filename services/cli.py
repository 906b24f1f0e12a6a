"""`planwatch`: one console command for every part of the service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from services.redis_server import EmbeddedRedis

T = TypeVar("T")

app = typer.Typer(
    name="planwatch",
    help="planwatch — monitors the execution of an annual economic and social development plan.\n\n"
    "Redis: PLANWATCH_REDIS_URL if set, otherwise an embedded server under .planwatch/.",
    no_args_is_help=True,
    add_completion=False,
)
redis_app = typer.Typer(help="Manage the embedded Redis server (used when PLANWATCH_REDIS_URL is not set).")
app.add_typer(redis_app, name="redis")

console = Console()


def run(main: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(main())


@app.command()
def demo() -> None:
    """Append a few events to a demo plan, replay the log and print a summary."""
    from services.demo import run_demo

    run(lambda: run_demo(console))


@redis_app.command("start")
def redis_start() -> None:
    """Start the embedded Redis (no-op if it is already running)."""
    server = EmbeddedRedis()
    console.print(f"embedded redis at {server.ensure_running()}")


@redis_app.command("stop")
def redis_stop() -> None:
    """Stop the embedded Redis; its AOF keeps the data for the next start."""
    stopped = EmbeddedRedis().stop()
    console.print("stopped" if stopped else "not running")


@redis_app.command("status")
def redis_status(
    home: Annotated[str | None, typer.Option(help="the embedded server's directory (default .planwatch/)")] = None,
) -> None:
    """Say whether the embedded Redis is running and where."""
    server = EmbeddedRedis(home)
    console.print(f"{'running' if server.is_running() else 'not running'}: {server.url}")


def main() -> None:
    app()
