"""A plan's silences (create, list, expire) and acknowledging a firing alert: events in the plan's
log, made through the application (services.app.alerting)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from events.errors import field_errors
from services.api.deps import AppDep, CallerDep, read_json
from services.api.schemas import ERRORS
from services.app import Invalid, SilenceState

Parsed = TypeVar("Parsed", bound=BaseModel)
router = APIRouter(prefix="/v1/plans/{plan}", tags=["silences"], responses=ERRORS)


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: dict[str, Any] = Field(
        description="field → value, all must match; fields: plan, department, subject, rule, severity",
        examples=[{"rule": "data_stale", "department": "stats"}],
    )
    starts_at: AwareDatetime | None = Field(default=None, description="default: now")
    ends_at: AwareDatetime | None = Field(default=None, description="when it ends (or give duration_hours)")
    duration_hours: float | None = Field(default=None, gt=0, le=366 * 24, description="instead of ends_at")
    comment: str = Field(default="", max_length=500, description="why, e.g. 国庆假期，统计局已知悉")


class AcknowledgementRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fingerprint: str = Field(min_length=1, max_length=200, description="the firing alert: plan:rule:subject")
    note: str = Field(default="", max_length=500, description="e.g. 已联系统计局，月底前补报")


def _parsed(model: type[Parsed], body: object, what: str, what_zh: str) -> Parsed:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise Invalid(
            f"the {what} is not valid; nothing was stored", f"{what_zh}有误，未保存", field_errors(exc)
        ) from None


@router.get("/silences")
async def list_silences(
    plan: str,
    app: AppDep,
    who: CallerDep,
    state: Annotated[SilenceState, Query(description="active, pending (not begun), expired, or all")] = "all",
) -> list[dict[str, Any]]:
    """The plan's silences, newest first, each with its state now."""
    return await app.alerting.silences(plan, who, state)


@router.post("/silences", status_code=201)
async def create_silence(plan: str, request: Request, app: AppDep, who: CallerDep) -> dict[str, Any]:
    """Silence the alerts matching every matcher: they are recorded and listed (已静默) but not
    notified. An admin or analyst may silence anything; a department only its own alerts."""
    wanted = _parsed(SilenceRequest, await read_json(request), "silence", "静默设置")
    # the use case adds the duration to the start, once both are checked (a year-9999 start overflows)
    hours = wanted.duration_hours
    duration = None if hours is None else timedelta(hours=hours)
    return await app.alerting.create_silence(
        plan, who, wanted.matchers, wanted.ends_at, wanted.starts_at, wanted.comment, duration
    )


@router.delete("/silences/{silence_id}")
async def expire_silence(plan: str, silence_id: str, app: AppDep, who: CallerDep) -> dict[str, Any]:
    """End a silence now (its state becomes expired; expiring it again changes nothing)."""
    return await app.alerting.expire_silence(plan, silence_id, who)


@router.post("/alerts/acknowledgements", status_code=201)
async def acknowledge(plan: str, request: Request, app: AppDep, who: CallerDep) -> dict[str, Any]:
    """认领/已知悉 a firing alert (its department, an analyst or an admin): reminders stop until it
    escalates or resolves; the alert's history records it."""
    wanted = _parsed(AcknowledgementRequest, await read_json(request), "acknowledgement", "认领")
    return await app.alerting.acknowledge(plan, wanted.fingerprint, who, wanted.note)
