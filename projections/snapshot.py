"""The fold's state as JSON, so a projector resumes from its last commit instead of from zero."""

from __future__ import annotations

from pydantic import TypeAdapter

from projections.state import PlanState

_adapter: TypeAdapter[PlanState] = TypeAdapter(PlanState)


def dump_state(state: PlanState) -> bytes:
    return _adapter.dump_json(state)


def load_state(data: str | bytes) -> PlanState:
    return _adapter.validate_json(data)
