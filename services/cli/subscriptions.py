"""Who is told about alerts: subscribe, list, unsubscribe."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import console, count_cells, fail, plan_options, use_case, with_app

if TYPE_CHECKING:
    from services.app import App, Subscribed
    from services.notify import Subscription

commands = typer.Typer()


@commands.command()
def subscribe(
    name: Annotated[str, typer.Option(help="who is told, e.g. 区发展改革委值班群")],
    channel: Annotated[str, typer.Option(help="webhook, wecom, dingtalk, feishu or stream")],
    url: Annotated[str | None, typer.Option(help="webhook or robot address (not for stream)")] = None,
    secret: Annotated[str | None, typer.Option(help="signing secret (webhook, DingTalk SEC…, Feishu)")] = None,
    plan: Annotated[list[str] | None, typer.Option(help="only these plans (repeatable)", callback=plan_options)] = None,
    department: Annotated[list[str] | None, typer.Option(help="only these departments (repeatable)")] = None,
    subject: Annotated[list[str] | None, typer.Option(help="only these indicators / projects (repeatable)")] = None,
    rule: Annotated[list[str] | None, typer.Option(help="only these rules (repeatable)")] = None,
    min_severity: Annotated[str, typer.Option(help="warning, critical or emergency")] = "warning",
    resolved: Annotated[bool, typer.Option(help="also tell when an alert is resolved")] = True,
    rollups: Annotated[bool, typer.Option(help="also tell when a monthly rollup is published")] = False,
    max_age: Annotated[
        str | None,
        typer.Option(help="retry a failing delivery this long before giving it up: 30m, 24h, 2d (default 24h)"),
    ] = None,
    group_wait: Annotated[
        str | None,
        typer.Option(
            help="a burst's first notice waits this long for the rest, to go as one message "
            "(default 10s robots, 0 webhooks)"
        ),
    ] = None,
    group_interval: Annotated[
        str | None,
        typer.Option(
            help="at least this long between two messages; what comes meanwhile goes as one "
            "(default 1m robots, 0 webhooks)"
        ),
    ] = None,
    repeat_interval: Annotated[
        str | None,
        typer.Option(
            help="remind of the alerts still firing, as one digest, this long after the last reminder, "
            "within working hours: 4h, 1d, off (default 1d robots, off webhooks and streams)"
        ),
    ] = None,
    working_hours: Annotated[
        str | None,
        typer.Option(
            help="when reminders may go: days and hours, optionally a time zone, e.g. '1-5 09:00-18:00' "
            "(the default: 周一至周五 09:00–18:00 in the plans' zone) or 'mon-sun 08:00-22:00 Asia/Shanghai'"
        ),
    ] = None,
    send_firing: Annotated[
        bool, typer.Option("--send-firing", help="send the alerts firing now, once, as one digest")
    ] = False,
    allow_private: Annotated[
        bool,
        typer.Option(
            hidden=True,
            help="no longer accepted: the operator allows private networks (PLANWATCH_ALLOW_PRIVATE_TARGETS)",
        ),
    ] = False,
) -> None:
    """Subscribe a channel to alert notices."""
    from pydantic import ValidationError

    from events.errors import field_errors
    from services.notify import SubscriptionRequest

    if allow_private:
        raise fail(
            "--allow-private is no longer accepted: private networks are allowed only by the operator, "
            "with PLANWATCH_ALLOW_PRIVATE_TARGETS (CIDRs); link-local and metadata addresses never",
            2,
        )
    try:
        request = SubscriptionRequest.model_validate(
            {
                "name": name,
                "channel": channel,
                "url": url,
                "secret": secret,
                **_given(
                    max_age=max_age,
                    group_wait=group_wait,
                    group_interval=group_interval,
                    repeat_interval=repeat_interval,
                    working_hours=working_hours,
                ),
                "send_firing": send_firing,
                "filters": {
                    "plans": plan or [],
                    "departments": department or [],
                    "subjects": subject or [],
                    "rules": rule or [],
                    "min_severity": min_severity,
                    "resolved": resolved,
                    "rollups": rollups,
                },
            }
        )
    except ValidationError as exc:
        raise fail("\n".join(str(e) for e in field_errors(exc))) from None

    async def main(app: App) -> tuple[Subscribed, str]:
        subscribed = await app.alerting.subscribe(request)
        return subscribed, app.keys.sub_stream(subscribed.subscription.id)

    subscribed, stream = use_case(main)
    created = subscribed.subscription
    console.print(f"subscribed {created.id}: {created.name} ({created.channel})", markup=False)
    if subscribed.firing_sent is not None:
        told = f"{subscribed.firing_sent} firing alert(s) go to it now, as one digest"
        console.print(told if subscribed.firing_sent else "nothing fires now: no digest sent", markup=False)
    if created.generated_secret:  # shown once, like a token
        typer.echo(created.generated_secret)
        typer.echo("the webhook's signing secret (HMAC-SHA256): keep it now, it is not shown again", err=True)
    if created.channel == "stream":
        console.print(f"notices go to the stream {stream}", markup=False)


@commands.command()
def subscriptions() -> None:
    """List subscriptions with what is queued, sent and given up (dead letters)."""
    from rich.table import Table

    async def main(app: App) -> list[tuple[Subscription, dict[str, int]]]:
        return await app.alerting.subscriptions_with_counts()

    table_ = Table(title="subscriptions")
    for column in ("id", "name", "channel", "filters", "reminders", "queued", "sent", "dead"):
        table_.add_column(column)
    for sub, counts in with_app(main):
        filters = sub.filters.model_dump(exclude_defaults=True) or "all"
        table_.add_row(sub.id, sub.name, sub.channel, str(filters), _reminders(sub), *count_cells(counts))
    console.print(table_)


@commands.command()
def unsubscribe(subscription_id: Annotated[str, typer.Argument(help="the subscription's id")]) -> None:
    """Stop telling a subscriber."""

    async def main(app: App) -> None:
        await app.alerting.unsubscribe(subscription_id)

    use_case(main)
    console.print(f"unsubscribed {subscription_id}")


def _reminders(sub: Subscription) -> str:
    """`1d 周一至周五 09:00–18:00`, or `off`."""
    seconds = sub.repeat_interval_s
    if not seconds:
        return "off"
    unit = next((u for u, size in (("d", 86_400), ("h", 3600), ("m", 60)) if seconds % size == 0), "s")
    size = {"d": 86_400, "h": 3600, "m": 60, "s": 1}[unit]
    return f"{seconds / size:g}{unit} {sub.hours.label()}"


def _given(**settings: str | None) -> dict[str, str]:
    """The settings given on the command line (the others keep the channel's defaults)."""
    return {name: value for name, value in settings.items() if value is not None}
