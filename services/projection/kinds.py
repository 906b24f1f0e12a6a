"""A plan's log has two projections, each with its own generations, checkpoint and dead letters:
the read model (`rm`: the fold's views, what the table and the API read) and the alerts
(`alerts`: the fold judged instant by instant, the alert book, its history and the outbox)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Projection:
    """One of a plan's projections of its log (see the module's docstring)."""

    name: str  # in its keys: pw:{plan}:<name>:…
    label: str  # what `planwatch status` and `rebuild` call it
    judges: bool  # judges alerts (book, history, outbox) instead of writing views


READ_MODEL = Projection("rm", "read model", judges=False)
ALERTS = Projection("alerts", "alerts", judges=True)
PROJECTIONS = (READ_MODEL, ALERTS)
