"""`planwatch plan check|publish`: plan files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import console, fail, given_path, output_file, plan_option, with_app

if TYPE_CHECKING:
    from events.plan import Plan
    from services.app import App, PlanDraft, PlanIdentity, Published

commands = typer.Typer(
    help="Check and publish plan files (plans/*.yaml), or draft one from the office's target table.",
    no_args_is_help=True,
)


def _load(file: Path) -> Plan:
    from events.planfile import PlanFileError
    from services.app import load_plan

    try:
        return load_plan(file)
    except PlanFileError as exc:
        raise fail(str(exc)) from None


@commands.command("check")
def plan_check(
    file: Annotated[
        Path, typer.Argument(help="the plan file, e.g. plans/rongchang-2025.yaml", parser=given_path, metavar="FILE")
    ],
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
    from projections.how_judged import targets_said_back

    for section, rows in targets_said_back(plan):
        console.print(f"{section}（指标 ｜ 全年目标 ｜ 考核方式）", markup=False)
        for said in rows:
            indicator = said.indicator
            line = f"  {indicator.name}（{indicator.id}） ｜ {indicator.target_text} ｜ {said.sentence}"
            console.print(line, markup=False, soft_wrap=True)
            if said.hint:
                console.print(f"    {said.hint}", markup=False, soft_wrap=True)


def _plan_text(value: str) -> str:
    """Callback of the texts a drafted plan takes from options: publishing refuses a plan whose
    texts hold control characters (they go into every report), so drafting does too."""
    from events.errors import CONTROL

    if CONTROL.search(value):
        raise typer.BadParameter(f"{value!r} holds a control character")
    return value


def _required_text(value: str) -> str:
    if not value.strip():
        raise typer.BadParameter("must not be empty")
    return _plan_text(value)


@commands.command("draft")
def plan_draft(
    table: Annotated[
        Path,
        typer.Argument(
            help="the office's target table, .xlsx, .csv or a Word document (.docx) holding it "
            "(指标 ｜ 单位 ｜ 全年目标 ｜ 责任单位 …)",
            parser=given_path,
            metavar="TABLE",
        ),
    ],
    plan_id: Annotated[str, typer.Option("--id", help="the plan's id, e.g. rongchang-2025", callback=plan_option)],
    year: Annotated[int, typer.Option("--year", min=2000, max=2100, help="the plan year, e.g. 2025")],
    region: Annotated[str, typer.Option("--region", help="e.g. 重庆市荣昌区", callback=_required_text)],
    name: Annotated[
        str,
        typer.Option("--name", help="default: {region}{year}年国民经济和社会发展计划", callback=_plan_text),
    ] = "",
    office: Annotated[
        str,
        typer.Option(
            "--office", help="the department that owns the plan, by name or part of it", callback=_required_text
        ),
    ] = "发展改革委",
    projects: Annotated[
        Path | None,
        typer.Option(
            "--projects",
            help="the key-project list, .xlsx, .csv or .docx "
            "(项目名称 ｜ 责任单位 ｜ 年度计划投资 ｜ 计划开工 ｜ 计划竣工)",
            parser=given_path,
        ),
    ] = None,
    projects_label: Annotated[
        str,
        typer.Option(
            "--projects-label", help="how the report names the key projects, e.g. 区级重点项目", callback=_required_text
        ),
    ] = "重点项目",
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="write the plan file here (else print it)", parser=given_path),
    ] = None,
) -> None:
    """Draft a plan file from the target table the office keeps (and its key-project list): an
    indicator (a project) per row, a row with one text alone a section heading (a category);
    targets as written, departments by name. Every bad cell is listed and nothing is written;
    what to check before publishing is printed."""
    from services.app import PlanIdentity

    if output is not None and output.exists():
        raise fail(f"--output: {output} exists: drafting does not overwrite a plan file")
    identity = PlanIdentity(
        id=plan_id, year=year, region=region, name=name, office=office, projects_label=projects_label
    )
    if output is None:
        draft = _draft(table, identity, projects)
        typer.echo(draft.text, nl=False)
    else:
        with output_file(output, overwrite=False) as saving:  # created first: a bad -o drafts nothing
            draft = _draft(table, identity, projects)
            saving.write(draft.text.encode())
    plan = draft.plan
    main = sum(1 for i in plan.indicators if i.is_main)
    where = f"wrote {output}" if output is not None else "drafted"
    typer.echo(
        f"{where}: plan {plan.id}, {len(plan.departments)} departments, {main} main indicators, "
        f"{len(plan.indicators) - main} further targets, {len(plan.projects)} key projects; "
        "check it with planwatch plan check --targets",
        err=True,
    )
    for note in draft.notes:
        typer.echo(f"  请核对：{note}", err=True)


def _draft(table: Path, identity: PlanIdentity, projects: Path | None) -> PlanDraft:
    """The draft, or exit 1 listing every bad cell (or naming the file that cannot be read: TABLE,
    --projects)."""
    from services.app import AppError, draft_plan_file

    try:
        return draft_plan_file(table, identity, projects)
    except AppError as exc:
        unread = {"table": "TABLE", "projects": "--projects"}.get(exc.errors[0].field if exc.errors else "")
        if unread is not None:
            raise fail(f"{unread}: {exc.message}; no plan drafted") from None
        rows = exc.details.get("rows") or [str(error) for error in exc.errors]
        raise fail("\n".join([f"{exc.message}（{exc.message_zh}）", *(f"  {row}" for row in rows)])) from None


@commands.command("publish")
def plan_publish(
    file: Annotated[Path, typer.Argument(help="the plan file to publish", parser=given_path, metavar="FILE")],
) -> None:
    """Validate a plan file and append it to the plan's log as a plan.published event."""
    plan = _load(file)

    async def main(app: App) -> Published:
        return await app.plans.publish(plan, by="cli")

    published = with_app(main)
    if published.stored:
        console.print(f"published {plan.id} as version {published.version} at {published.position}", markup=False)
    else:
        console.print(f"{plan.id}: this plan is already the current one (at {published.position}); nothing stored")
