"""`planwatch retract`: neutralise an acknowledged event, recorded in the log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import console, plan_option, use_case

if TYPE_CHECKING:
    from services.app import App, Retracted

commands = typer.Typer()


@commands.command()
def retract(
    event_id: Annotated[str, typer.Argument(help="the event's id (its event_id)")],
    plan: Annotated[str, typer.Option("--plan", help="plan id", callback=plan_option)],
    reason: Annotated[str, typer.Option(help="why, e.g. 数据填报错误，以更正后数据为准")],
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="PLANWATCH_TOKEN",
            help="as this token's department (or admin); without one, as the operator (an admin)",
        ),
    ] = None,
) -> None:
    """Retract an event: from now on every view, rollup and alert passes over it (its period shows
    the report it had replaced, or nothing); as known before, it still shows. Audited in the log."""
    from services.store import TokenInfo

    async def main(app: App) -> Retracted:
        who = await app.ingest.authenticate(token) if token else TokenInfo("cli", "admin", None, "operator", "")
        return await app.retractions.retract(who, plan, event_id, reason)

    done = use_case(main)
    event = done.event
    said = "retracted" if done.stored else "already retracted"
    console.print(
        f"{said}: {event.retracted_type} {event.subject} {event.period} (event {event.retracted_event_id}) "
        f"at {done.position}; the period now shows {_shown(done)}",
        markup=False,
    )


def _shown(done: Retracted) -> str:
    restored = done.event.restores
    if restored is None:
        return "no report"
    value = restored.value if restored.value is not None else restored.amount_wan or restored.day
    return f"the report at {restored.position} ({value})"
