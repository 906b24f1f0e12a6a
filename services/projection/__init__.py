"""The projection runners: each plan's read model and alerts kept current from its log, crash-safe
and rebuildable, and the queries that read them. Other rooms import from here."""

from __future__ import annotations

from services.projection.generations import alert_notices, current_generation, firing_alerts, read_field, read_fields
from services.projection.kinds import ALERTS, PROJECTIONS, READ_MODEL, Projection
from services.projection.queries import Judged, firing_now, fold_log, judge_log, judge_now, state_as_known
from services.projection.rebuild import RebuildResult, rebuild
from services.projection.runner import JUDGEMENT, GenerationChanged, LeaseLost, Parked, Projector
from services.projection.status import PlanStatus, plan_status
from services.projection.strategy import JudgingFailed, ProjectionStrategy
from services.projection.supervisor import ProjectionSupervisor, take_leases

__all__ = [
    "ALERTS",
    "JUDGEMENT",
    "PROJECTIONS",
    "READ_MODEL",
    "GenerationChanged",
    "Judged",
    "JudgingFailed",
    "LeaseLost",
    "Parked",
    "PlanStatus",
    "Projection",
    "ProjectionStrategy",
    "ProjectionSupervisor",
    "Projector",
    "RebuildResult",
    "alert_notices",
    "current_generation",
    "firing_alerts",
    "firing_now",
    "fold_log",
    "judge_log",
    "judge_now",
    "plan_status",
    "read_field",
    "read_fields",
    "rebuild",
    "state_as_known",
    "take_leases",
]
