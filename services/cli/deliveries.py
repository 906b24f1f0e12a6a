"""What waits to be delivered to subscribers and what was given up (dead letters); redelivery."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import console, fail, installation_zone, use_case

if TYPE_CHECKING:
    from services.app import App, Redelivered, SubscriptionDeliveries

commands = typer.Typer(invoke_without_command=True)

SubscriptionOption = Annotated[str | None, typer.Option("--subscription", help="only this subscription (its id)")]


@commands.callback()
def deliveries(ctx: typer.Context, subscription: SubscriptionOption = None) -> None:
    """Deliveries to subscribers. Without a command: list, by subscription, the delivery in
    flight (its failures, the next try), the queue, and the dead letters (given up: the error,
    the attempts, the idempotency key), times in PLANWATCH_TIME_ZONE. `retry` sends dead letters
    again."""
    if ctx.invoked_subcommand is not None:
        return

    async def main(app: App) -> list[SubscriptionDeliveries]:
        return await app.deliveries.listing(subscription)

    zone = installation_zone()
    for listed in use_case(main):
        _print(listed, zone)


@commands.command()
def retry(
    subscription: SubscriptionOption = None,
    every: Annotated[bool, typer.Option("--all", help="every subscription's dead letters")] = False,
) -> None:
    """Send dead letters again, ahead of the queue, each with its original idempotency key (a
    receiver that had it after all can tell); a running notifier sends them."""
    if (subscription is None) == (not every):
        raise fail("say which dead letters to send again: --subscription ID, or --all", 2)

    async def main(app: App) -> list[Redelivered]:
        return await app.deliveries.retry(subscription)

    redelivered = use_case(main)
    for item in redelivered:
        console.print(f"{item.subscription_id}: {item.requeued} dead letter(s) queued to be sent again", markup=False)
    total = sum(item.requeued for item in redelivered)
    console.print(f"{total} in all", markup=False)


def _print(listed: SubscriptionDeliveries, zone: str) -> None:
    sub, pending = listed.subscription, listed.pending
    echo = typer.echo
    echo(f"{sub.id}  {sub.name} ({sub.channel})")
    echo(f"  queued {pending.queued}, redeliveries waiting {pending.outgoing}, dead letters {len(listed.dead)}")
    if pending.inflight:
        echo(f"  in flight: {pending.inflight}")
        if pending.failures:
            echo(
                f"    failed {pending.failures} time(s) since {_when(pending.failing_since, zone)}; "
                f"next try {_when(pending.next_attempt_at, zone)}; "
                f"given up {_max_age(sub.max_age_s)} after the first failure"
            )
    for letter in listed.dead:
        echo(f"  dead {letter.id}: {letter.delivery_id}")
        echo(f"    given up {_when(letter.given_up_at, zone)} after {letter.attempts} attempt(s): {letter.error}")
        for summary in letter.summaries_zh:
            echo(f"    · {summary}")
        if len(letter.notice_ids) > len(letter.summaries_zh):
            echo(f"    … {len(letter.notice_ids)} notices in all")


def _when(moment: datetime | None, zone: str) -> str:
    from projections.formatting import local_time

    return local_time(moment, zone) if moment else "-"


def _max_age(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
