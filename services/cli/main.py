"""`planwatch`: one console command for every part of the service. Each command is a thin adapter
over a use case of the application (services.app); the commands live in modules by subject."""

from __future__ import annotations

import sys

import typer

from services.cli import (
    deliveries,
    demo,
    embedded,
    operations,
    plans,
    processes,
    reading,
    retractions,
    sheets,
    silences,
    stack,
    subscriptions,
    tokens,
)
from services.settings import SettingsError

app = typer.Typer(
    name="planwatch",
    help="planwatch — monitors the execution of an annual economic and social development plan.\n\n"
    "Redis: PLANWATCH_REDIS_URL if set, otherwise an embedded server under .planwatch/.",
    no_args_is_help=True,
    add_completion=False,
)
for commands in (
    demo.commands,
    reading.commands,
    processes.commands,
    stack.commands,
    sheets.commands,
    retractions.commands,
    operations.commands,
    subscriptions.commands,
    silences.acknowledging,
):
    app.add_typer(commands)
app.add_typer(plans.commands, name="plan")
app.add_typer(tokens.commands, name="token")
app.add_typer(embedded.commands, name="redis")
app.add_typer(deliveries.commands, name="deliveries")
app.add_typer(silences.commands, name="silence")


def main() -> None:
    try:
        app()
    except SettingsError as exc:  # the environment, not the command: one line, no traceback
        print(f"planwatch: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
