"""`planwatch plan check|publish`: plan files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import console, fail, with_app

if TYPE_CHECKING:
    from events.plan import Plan
    from services.app import App, Published

commands = typer.Typer(help="Check and publish plan files (plans/*.yaml).", no_args_is_help=True)


def _load(file: Path) -> Plan:
    from events.planfile import PlanFileError
    from services.app import load_plan

    try:
        return load_plan(file)
    except PlanFileError as exc:
        raise fail(str(exc)) from None


@commands.command("check")
def plan_check(file: Annotated[Path, typer.Argument(help="the plan file, e.g. plans/rongchang-2025.yaml")]) -> None:
    """Validate a plan file; print what it defines, or every problem with its line."""
    plan = _load(file)
    main = sum(1 for i in plan.indicators if i.is_main)
    console.print(
        f"{file}: plan {plan.id} ({plan.name}) is valid — {len(plan.departments)} departments, "
        f"{main} main indicators, {len(plan.indicators) - main} further targets, {len(plan.projects)} key projects",
        markup=False,
    )


@commands.command("publish")
def plan_publish(file: Annotated[Path, typer.Argument(help="the plan file to publish")]) -> None:
    """Validate a plan file and append it to the plan's log as a plan.published event."""
    plan = _load(file)

    async def main(app: App) -> Published:
        return await app.plans.publish(plan, by="cli")

    published = with_app(main)
    if published.stored:
        console.print(f"published {plan.id} as version {published.version} at {published.position}", markup=False)
    else:
        console.print(f"{plan.id}: this plan is already the current one (at {published.position}); nothing stored")
