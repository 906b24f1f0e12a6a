"""`planwatch token create|list|revoke`: API tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import console, installation_zone, use_case, with_app

if TYPE_CHECKING:
    from services.app import App
    from services.store import TokenInfo

commands = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)


@commands.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="department, analyst or admin")] = "department",
    department: Annotated[str | None, typer.Option(help="for department tokens: the department id")] = None,
    name: Annotated[str, typer.Option(help="who it is for, e.g. 统计局数据科")] = "",
    plan: Annotated[
        list[str] | None,
        typer.Option(
            "--plan",
            help="a plan it is valid for (repeat for several); required for department tokens, "
            "whose department each plan must have; none: an admin or analyst token for every plan",
        ),
    ] = None,
) -> None:
    """Create a token and print it once (only a hash is kept)."""

    async def main(app: App) -> tuple[str, TokenInfo]:
        return await app.access.create_token(role, department, name, plan or [])  # type: ignore[arg-type]

    text, info = use_case(main)
    typer.echo(text)
    errors_note = f"{info.role} token {info.id}" + (f" for {info.department}" if info.department else "")
    typer.echo(f"{errors_note}, valid for {_plans(info)}: keep it now, it is not shown again", err=True)


def _plans(info: TokenInfo) -> str:
    if not info.bound:
        return "(not bound yet: run planwatch token migrate)"
    return ", ".join(info.plans) if info.plans is not None else "every plan"


@commands.command("migrate")
def token_migrate() -> None:
    """Bind tokens created before tokens were bound to plans: a department token to every plan
    that has its department, admin and analyst tokens to every plan. Safe to run again."""

    async def main(app: App) -> list[TokenInfo]:
        return await app.access.migrate()

    bound = use_case(main)
    for info in bound:
        console.print(f"{info.id} ({info.role}{' ' + info.department if info.department else ''}): {_plans(info)}")
    console.print(f"{len(bound)} token(s) bound")


@commands.command("list")
def token_list() -> None:
    """List tokens (id, role, department, created, revoked) — never their secrets."""
    from rich.table import Table

    async def main(app: App) -> list[TokenInfo]:
        return await app.access.list_tokens()

    from projections.formatting import local_time

    zone = installation_zone()
    table_ = Table(title="tokens")
    for column in ("id", "role", "department", "plans", "name", "created", "revoked"):
        table_.add_column(column, no_wrap=True)
    for info in with_app(main):
        created = local_time(info.created_at, zone)
        revoked = local_time(info.revoked_at, zone) if info.revoked_at else "-"
        table_.add_row(info.id, info.role, info.department or "-", _plans(info), info.name, created, revoked)
    console.print(table_)


@commands.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="the token's id (see token list)")]) -> None:
    """Revoke a token: it is refused (401) from now on."""

    async def main(app: App) -> None:
        await app.access.revoke_token(token_id)

    use_case(main)
    console.print(f"revoked {token_id}")
