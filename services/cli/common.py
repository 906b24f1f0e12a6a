"""What every command shares: the console, running a use case on the application, refusing bad
options the way click does, and printing a refusal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

# asyncio, redis-py, pydantic and the application are imported when a command runs:
# `planwatch --help` should not pay for them.
if TYPE_CHECKING:
    from services.app import App, files

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)  # progress and notes, so that standard output stays the data

# processes one command may start (--processes, --workers): one core each, and a bound, since each
# holds its own interpreter and connections (~80 MB): 100000 of them took the machine's memory
MAX_PROCESSES = 64
PLAN_ID_FORMAT = "2 to 63 lower-case letters, digits and '-', not starting with '-', e.g. rongchang-2025"


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    import asyncio

    return asyncio.run(main())


def with_app(work: Callable[[App], Awaitable[T]]) -> T:
    """Run `work` on the application (on planwatch's Redis, with the key prefix), closed afterwards."""
    from services.app import App

    check_redis()

    async def main() -> T:
        application = App.connect()
        try:
            return await work(application)
        finally:
            await application.close()

    return run(main)


def check_redis() -> None:
    """Refuse to go on when the embedded Redis was stopped on purpose (planwatch redis stop)."""
    from services.settings import Settings
    from services.store import EmbeddedStopped

    try:
        Settings.from_env().redis_target()
    except EmbeddedStopped as exc:
        raise fail(str(exc)) from None


def use_case(work: Callable[[App], Awaitable[T]]) -> T:
    """`with_app(work)`, and a refusal (an AppError) printed as its message, exit 1."""
    from services.app import AppError

    try:
        return with_app(work)
    except AppError as exc:
        raise fail("\n".join([exc.message, *(f"  {error}" for error in exc.errors)])) from None


def start_logging(process: str) -> None:
    """Log records to stderr as PLANWATCH_LOG_FORMAT says (console on a terminal, JSON otherwise),
    naming this process."""
    from services.observability import configure_logging
    from services.settings import Settings

    settings = Settings.from_env()
    configure_logging(process, settings.log_format, access_log=settings.access_log)


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)  # plain: a rich console would re-wrap file:line messages
    return typer.Exit(code)


def hint(option: str) -> str:
    return f"'{option}'"  # as click quotes an option in "Invalid value for '--plan': …"


def parse_date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date like 2025-06-30", param_hint=hint(option)) from None


def parse_instant(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date-time like 2025-07-10T00:00+08:00", param_hint=hint(option)
        ) from None
    return instant  # without a zone: the caller reads it in the plan's zone


def check_plan_id(text: str) -> str:
    """`text` if it is a plan id as events have them (events.ids.PlanId), else BadParameter."""
    from pydantic import TypeAdapter, ValidationError

    from events.ids import PlanId

    try:
        return TypeAdapter(PlanId).validate_python(text)
    except ValidationError:
        raise typer.BadParameter(f"{text!r} is not a plan id: expected {PLAN_ID_FORMAT}") from None


def plan_option(value: str | None) -> str | None:
    """Callback of every --plan option: click then names the option in the error (exit 2)."""
    return None if value is None else check_plan_id(value)


def plan_options(value: list[str] | None) -> list[str] | None:
    return None if value is None else [check_plan_id(v) for v in value]


def installation_zone() -> str:
    """The zone of times that belong to no plan (tokens, a scheduler's --now): PLANWATCH_TIME_ZONE."""
    from services.settings import Settings

    return Settings.from_env().time_zone


def count_cells(counts: dict[str, int]) -> list[str]:
    return [str(counts[k]) for k in ("queued", "sent", "dead")]


def seconds_within(least: float, most: float) -> Callable[[float], float]:
    """Callback of an option in seconds: a finite number from `least` to `most` (click's FloatRange
    lets nan through, and 1e12 s overflowed a millisecond timer; -1 s warned for ever)."""

    def check(value: float) -> float:
        if not least <= value <= most:  # false for nan
            raise typer.BadParameter(f"{value} is not a number of seconds from {least:g} to {most:g}")
        return value

    return check


def process_name(value: str | None) -> str | None:
    """Callback of --worker-id and --notifier-id: they name Redis clients, consumers and leases."""
    import re

    if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}", value):
        raise typer.BadParameter(
            f"{value!r} is not an id: 1 to 100 letters, digits and '.', '_', ':', '@', '-', e.g. worker-1"
        )
    return value


def link_option(value: str | None) -> str | None:
    """Callback of --link: an http(s) address, as PLANWATCH_PUBLIC_URL is."""
    from services.settings import SettingsError, public_url

    if value is None:
        return None
    try:
        return public_url(value, "--link")
    except SettingsError:
        raise typer.BadParameter(f"{value!r} is not an http:// or https:// address") from None


PORT_RANGE = {"min": 1, "max": 65535}


def given_path(text: str) -> Path:
    """Parser of every file or folder a command takes: an empty one ('') is refused, naming it,
    rather than read as '.' (the current folder)."""
    if not text:
        raise typer.BadParameter("an empty path names no file")
    return Path(text)


def prepared_output(
    path: Path, then: str = "nothing was written", option: str = "--output", overwrite: bool = True
) -> files.OutputFile:
    """The file `path` an option names, created (empty, under a temporary name) before any work, or
    exit 1 with one line naming the option and why it cannot be: a directory, a device, a folder
    that does not exist or cannot be written (/proc, a read-only place)."""
    from services.app import files

    try:
        return files.OutputFile(path, overwrite=overwrite)
    except OSError as exc:
        raise fail(f"{option}: {files.said(exc, path, 'written')}; {then}") from None


@contextmanager
def output_file(path: Path, option: str = "--output", overwrite: bool = True) -> Iterator[files.OutputFile]:
    """`prepared_output(path)` for the block to write: renamed into place when the block ends,
    removed if it fails — a refusal, or a disk gone full (exit 1 naming the option)."""
    from services.app import files

    saving = prepared_output(path, option=option, overwrite=overwrite)
    try:
        yield saving
        saving.commit()
    except OSError as exc:
        saving.discard()
        if isinstance(exc, ConnectionError):  # a socket's (Redis), not the file's
            raise
        raise fail(f"{option}: {files.said(exc, saving.path, 'written')}; nothing was written") from None
    except BaseException:
        saving.discard()
        raise
