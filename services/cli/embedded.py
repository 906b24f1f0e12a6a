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


def _configured_url() -> str | None:
    from services.settings import Settings

    return Settings.from_env().redis_url


def _shown(url: str) -> str:
    """`url` with its password left out: status lines end up in tickets and chats."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def _not_embedded(url: str) -> typer.Exit:
    """start and stop act on the embedded server only: with PLANWATCH_REDIS_URL set, that server is
    someone else's to run."""
    typer.echo(
        f"PLANWATCH_REDIS_URL is set ({_shown(url)}): planwatch uses that server, not the embedded one; "
        "start and stop it where it runs",
        err=True,
    )
    return typer.Exit(1)


@commands.command("start")
def redis_start() -> None:
    """Start the embedded Redis (no-op if it is already running); lifts a `planwatch redis stop`.
    Refused when PLANWATCH_REDIS_URL is set."""
    if (url := _configured_url()) is not None:
        raise _not_embedded(url)
    console.print(f"embedded redis at {_server().start()}")


@commands.command("stop")
def redis_stop() -> None:
    """Stop the embedded Redis; its AOF keeps the data for the next start. Until `planwatch redis
    start`, other commands refuse to start it again (running workers wait for it). Refused when
    PLANWATCH_REDIS_URL is set."""
    if (url := _configured_url()) is not None:
        raise _not_embedded(url)
    console.print("stopped" if _server().stop() else "not running")


@commands.command("status")
def redis_status() -> None:
    """Say whether planwatch's Redis is running and where: the embedded server, or the one
    PLANWATCH_REDIS_URL names (asked with a PING; exit 1 when it does not answer)."""
    url = _configured_url()
    if url is None:
        server = _server()
        console.print(f"{'running' if server.is_running() else 'not running'}: {server.url}")
        return
    answered = _answers(url)
    console.print(f"{'running' if answered else 'not answering'}: {_shown(url)} (PLANWATCH_REDIS_URL)")
    if not answered:
        raise typer.Exit(1)


def _answers(url: str) -> bool:
    from redis.exceptions import RedisError

    from services.store import connect_sync

    try:
        client = connect_sync(url, "planwatch-status")
    except (RedisError, OSError, ValueError):
        return False
    try:
        return bool(client.ping())
    except (RedisError, OSError):
        return False
    finally:
        client.close()


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
