"""`planwatch silence create|list|expire` and `planwatch ack`: saying "we know" about alerts,
recorded as events in the plan's log (services.app.alerting)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from projections.formatting import local_time
from services.cli.common import hint, parse_instant, plan_option, use_case

if TYPE_CHECKING:
    from services.app import App, Invalid
    from services.store import TokenInfo

commands = typer.Typer(
    help="Silences (静默): matching alerts are recorded and listed as 已静默 but not notified.",
    no_args_is_help=True,
)
acknowledging = typer.Typer()

PlanOption = Annotated[str, typer.Option("--plan", help="plan id, e.g. rongchang-2025", callback=plan_option)]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="PLANWATCH_TOKEN",
        help="act as this token (a department: only its own alerts); without one, as the operator (an admin)",
    ),
]
DURATION = re.compile(r"^(\d{1,4})([dhm])$")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}
OPTIONS = {"starts_at": "--starts", "ends_at": "--until", "duration_hours": "--for"}
STATE_ZH = {"active": "生效中", "pending": "未开始", "expired": "已结束"}


def _duration(text: str | None) -> timedelta | None:
    if text is None:
        return None
    found = DURATION.match(text)
    if not found or int(found.group(1)) == 0:
        raise typer.BadParameter(f"{text!r} is not a duration like 7d, 12h or 90m", param_hint=hint("--for"))
    return timedelta(**{UNITS[found.group(2)]: int(found.group(1))})


def _matchers(given: list[str]) -> dict[str, str]:
    """FIELD=VALUE pairs; a field given twice is refused (all must match: one alert has one rule,
    so the last would silently win)."""
    matchers: dict[str, str] = {}
    for item in given:
        name, equals, value = item.partition("=")
        if not equals or not name.strip() or not value.strip():
            raise typer.BadParameter(f"{item!r} is not FIELD=VALUE, e.g. rule=data_stale", param_hint=hint("--match"))
        if name.strip() in matchers:
            raise typer.BadParameter(
                f"{name.strip()} given twice ({name.strip()}={matchers[name.strip()]} and {item}): "
                "every --match must hold, so give each field once（同一字段只能填一次）",
                param_hint=hint("--match"),
            )
        matchers[name.strip()] = value.strip()
    return matchers


async def _caller(app: App, token: str | None) -> TokenInfo:
    from services.store import TokenInfo

    return await app.ingest.authenticate(token) if token else TokenInfo("cli", "admin", None, "operator", "")


async def _zoned(app: App, plan_id: str, instant: datetime | None) -> datetime | None:
    """A time typed without a zone is read in the plan's."""
    if instant is None or instant.utcoffset() is not None:
        return instant
    from zoneinfo import ZoneInfo

    plan = await app.ingest.plan(plan_id)
    return instant.replace(tzinfo=ZoneInfo(plan.timezone))


def _as_options(refused: Invalid) -> Invalid:
    """The refusal with the use case's field names (the API's) said as this command's options."""
    from services.app import Invalid

    named = [replace(e, field=OPTIONS.get(e.field, e.field)) for e in refused.errors]
    return Invalid(refused.message, refused.message_zh, named)


def _when(instant: str, zone: str) -> str:
    """In the plan's zone; as stored (UTC) if that zone's clock cannot show it (near year 9999)."""
    try:
        return local_time(instant, zone)
    except (OverflowError, ValueError):
        return instant


def _print(silence: dict[str, Any], zone: str) -> None:
    matchers = " ".join(f"{k}={v}" for k, v in silence["matchers"].items())
    state = STATE_ZH.get(silence["state"], silence["state"])
    typer.echo(
        f"{silence['id']}  {state}  {matchers}  "
        f"{_when(silence['starts_at'], zone)} 至 {_when(silence['ends_at'], zone)}  "
        f"创建人 {silence['created_by']}  {silence['comment']}"
    )


@commands.command("create")
def create(
    plan: PlanOption,
    match: Annotated[
        list[str],
        typer.Option(
            "--match",
            help="FIELD=VALUE, repeatable, all must match; fields: plan, department, subject, rule, severity",
        ),
    ],
    for_: Annotated[str | None, typer.Option("--for", help="how long: 7d, 12h or 90m")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="when it ends, e.g. 2025-10-08T00:00 (plan time)")
    ] = None,
    starts: Annotated[str | None, typer.Option("--starts", help="when it begins (default now)")] = None,
    comment: Annotated[str, typer.Option(help="why, e.g. 国庆假期，统计局已知悉")] = "",
    token: TokenOption = None,
) -> None:
    """Silence the plan's alerts that match every --match: still recorded and listed (已静默), not
    notified, until --until or for --for."""
    matchers, duration = _matchers(match), _duration(for_)
    if (duration is None) == (until is None):
        raise typer.BadParameter("give either --for or --until", param_hint=hint("--for"))
    starts_at, ends_at = parse_instant(starts, "--starts"), parse_instant(until, "--until")

    async def main(app: App) -> tuple[dict[str, Any], str]:
        from services.app import Invalid

        who = await _caller(app, token)
        start = await _zoned(app, plan, starts_at)
        end = await _zoned(app, plan, ends_at)
        # the use case adds --for to the start once the start is checked (a year-9999 one overflows)
        try:
            made = await app.alerting.create_silence(plan, who, matchers, end, start, comment, duration)
        except Invalid as exc:
            raise _as_options(exc) from None
        return made, (await app.ingest.plan(plan)).timezone

    made, zone = use_case(main)
    typer.echo("已创建静默：", nl=False)
    _print(made, zone)


@commands.command("list")
def list_(
    plan: PlanOption,
    state: Annotated[str, typer.Option(help="active, pending, expired or all")] = "all",
    token: TokenOption = None,
) -> None:
    """The plan's silences, newest first: id, state (生效中/未开始/已结束), matchers, when, who, why."""
    if state not in ("active", "pending", "expired", "all"):
        raise typer.BadParameter(f"must be active, pending, expired or all, not {state!r}", param_hint=hint("--state"))

    async def main(app: App) -> tuple[list[dict[str, Any]], str]:
        found = await app.alerting.silences(plan, await _caller(app, token), state)  # type: ignore[arg-type]
        return found, (await app.ingest.plan(plan)).timezone

    found, zone = use_case(main)
    for silence in found:
        _print(silence, zone)
    if not found:
        typer.echo("没有静默。")


@commands.command("expire")
def expire(
    silence_id: Annotated[str, typer.Argument(help="the silence's id (planwatch silence list)")],
    plan: PlanOption,
    token: TokenOption = None,
) -> None:
    """End a silence now: its alerts are notified again from their next change."""

    async def main(app: App) -> tuple[dict[str, Any], str]:
        done = await app.alerting.expire_silence(plan, silence_id, await _caller(app, token))
        return done, (await app.ingest.plan(plan)).timezone

    done, zone = use_case(main)
    typer.echo("静默已结束：", nl=False)
    _print(done, zone)


@acknowledging.command("ack")
def acknowledge(
    fingerprint: Annotated[str, typer.Argument(help="the firing alert, plan:rule:subject (planwatch alerts)")],
    plan: PlanOption,
    note: Annotated[str, typer.Option(help="what is being done, e.g. 已联系统计局，月底前补报")] = "",
    token: TokenOption = None,
) -> None:
    """Acknowledge a firing alert (认领/已知悉): no reminders until it escalates or resolves; its
    history records who, when and the note."""

    async def main(app: App) -> dict[str, Any]:
        return await app.alerting.acknowledge(plan, fingerprint, await _caller(app, token), note)

    done = use_case(main)
    typer.echo(f"已认领预警 {done['fingerprint']}（{done['by']}）{done['note']}")
