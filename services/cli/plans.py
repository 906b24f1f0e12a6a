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
def plan_check(
    file: Annotated[Path, typer.Argument(help="the plan file, e.g. plans/rongchang-2025.yaml")],
    targets: Annotated[
        bool, typer.Option("--targets", help="also print how each indicator's target is judged (考核方式)")
    ] = False,
) -> None:
    """Validate a plan file; print what it defines, or every problem with its line."""
    plan = _load(file)
    main = sum(1 for i in plan.indicators if i.is_main)
    console.print(
        f"{file}: plan {plan.id} ({plan.name}) is valid — {len(plan.departments)} departments, "
        f"{main} main indicators, {len(plan.indicators) - main} further targets, {len(plan.projects)} key projects",
        markup=False,
    )
    if targets:
        _print_targets(plan)


def _print_targets(plan: Plan) -> None:
    """指标 ｜ 全年目标 ｜ 考核方式, by section: what the grammar read each wording as."""
    from events.plan import MAIN_SECTION
    from projections.how_judged import direction_hint, how_judged

    sections = list(dict.fromkeys([MAIN_SECTION, *(i.section for i in plan.indicators)]))  # as the plan has them
    section = None
    for indicator in sorted(plan.indicators, key=lambda i: (sections.index(i.section), i.order)):
        if indicator.section != section:
            section = indicator.section
            console.print(f"{section}（指标 ｜ 全年目标 ｜ 考核方式）", markup=False)
        judged = how_judged(plan, indicator, indicator.target)
        line = f"  {indicator.name}（{indicator.id}） ｜ {indicator.target_text} ｜ {judged}"
        console.print(line, markup=False, soft_wrap=True)
        if hint := direction_hint(indicator):
            console.print(f"    {hint}", markup=False, soft_wrap=True)


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
