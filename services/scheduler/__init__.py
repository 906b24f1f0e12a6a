"""The monthly rollup on each plan's schedule (APScheduler), once across replicas."""

from __future__ import annotations

from services.scheduler.rollups import MonthBusy, RollupScheduler, due_periods, due_time, reported_month, run_forever

__all__ = ["MonthBusy", "RollupScheduler", "due_periods", "due_time", "reported_month", "run_forever"]
