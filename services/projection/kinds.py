"""A plan's log has two projections, each with its own generations, checkpoint and dead letters:
the read model (`rm`: the fold's views, what the table and the API read) and the alerts
(`alerts`: the fold judged instant by instant, the alert book, its history and the outbox)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.projection.alerts import AlertsStrategy
from services.projection.read_model import ReadModelStrategy
from services.projection.strategy import ProjectionStrategy


@dataclass(frozen=True)
class Projection:
    """One of a plan's projections of its log (see the module's docstring)."""

    name: str  # in its keys: pw:{plan}:<name>:…
    label: str  # what `planwatch status` and `rebuild` call it
    strategy: Callable[[], ProjectionStrategy]  # makes what a projector of it does with the events


READ_MODEL = Projection("rm", "read model", ReadModelStrategy)
ALERTS = Projection("alerts", "alerts", AlertsStrategy)
PROJECTIONS = (READ_MODEL, ALERTS)
