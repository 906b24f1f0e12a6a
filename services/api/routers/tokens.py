"""API tokens (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.errors import field_errors
from events.ids import PlanId
from services.api.deps import AdminDep, AppDep, read_json
from services.api.schemas import ERRORS, CreatedToken, Revoked, TokenRecord
from services.app import Invalid
from services.store import Role

router = APIRouter(prefix="/v1/tokens", tags=["access"], responses=ERRORS)


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    department: str | None = Field(default=None, description="for department tokens, e.g. stats")
    name: str = Field(default="", max_length=200)
    plans: list[PlanId] = Field(
        default_factory=list,
        max_length=1000,
        description="the plans it is valid for: required for department tokens (each must have the "
        "department); none for an admin or analyst token means every plan",
    )


@router.post("", status_code=201, response_model=CreatedToken)
async def create_token(request: Request, app: AppDep, who: AdminDep) -> dict[str, Any]:
    """Create a token (admin). Its text is in this answer only; planwatch keeps a hash."""
    try:  # read as every body is (services.api.deps.read_json): a key given twice is refused
        wanted = TokenRequest.model_validate(await read_json(request))
    except ValidationError as exc:
        raise Invalid("the token request is not valid", "令牌申请有误", field_errors(exc)) from None
    text, info = await app.access.create_token(wanted.role, wanted.department, wanted.name, wanted.plans)
    return {"token": text, **info.public()}


@router.get("", response_model=list[TokenRecord])
async def list_tokens(app: AppDep, who: AdminDep) -> list[dict[str, Any]]:
    """Every token's record (never a secret)."""
    return [t.public() for t in await app.access.list_tokens()]


@router.delete("/{token_id}", response_model=Revoked)
async def revoke_token(token_id: str, app: AppDep, who: AdminDep) -> dict[str, str]:
    """Revoke a token: requests with it answer 401 from now on."""
    await app.access.revoke_token(token_id)
    return {"revoked": token_id}
