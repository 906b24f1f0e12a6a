"""The one way progress enters planwatch: validate, authorise, append.

HTTP, the inbox stream and spreadsheet import all call `submit`, so a department meets the same
rules and the same wording everywhere. A batch is all or nothing: every problem of every event
is collected and reported, and nothing is stored unless all of it is acceptable. The
department recorded on an event is the caller's, never the one a body claims.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis

from events.errors import FieldError, field_errors
from events.keys import Keyspace
from events.models import Event, EventBase, event_adapter
from events.plan import Plan
from events.store import AppendResult, EventIdReused, EventStore, VersionConflict
from services.catalog import PlanCatalog
from services.tokens import TokenInfo, TokenStore

MAX_BATCH = 1000

# Which subjects each event type is about, and who may post it.
INDICATOR_TYPES = frozenset({"indicator.updated"})
PROJECT_TYPES = frozenset({"project.started", "investment.completed", "project.completed"})
OFFICE_TYPES = frozenset({"target.revised", "project.registered"})  # the plan office's decisions


class IngestError(Exception):
    """A refused submission. `status` is the HTTP status the API answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, message_zh: str, errors: Sequence[FieldError] = (), **details: Any) -> None:
        super().__init__(message)
        self.message, self.message_zh, self.errors, self.details = message, message_zh, list(errors), details

    def body(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "errors": [e.as_dict() for e in self.errors],
            **self.details,
        }


class Unauthorized(IngestError):
    status, code = 401, "unauthorized"


class Invalid(IngestError):
    status, code = 422, "invalid"


class Forbidden(IngestError):
    status, code = 403, "forbidden"


class NotFound(IngestError):
    status, code = 404, "not_found"


class Conflict(IngestError):
    status, code = 409, "conflict"


class TooLarge(IngestError):
    status, code = 413, "too_large"


@dataclass(frozen=True)
class Accepted:
    plan_id: str
    events: list[Event]
    result: AppendResult = field(repr=False)

    @property
    def stored(self) -> int:
        return self.result.stored

    @property
    def status(self) -> int:
        """201 when anything was stored; 200 when the whole batch was already there (a retry)."""
        return 200 if self.result.all_duplicates else 201

    def body(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "stored": self.result.stored,
            "duplicates": len(self.events) - self.result.stored,
            "events": [
                {"event_id": str(e.event_id), "position": p, "duplicate": d}
                for e, p, d in zip(self.events, self.result.positions, self.result.duplicate, strict=True)
            ],
        }


def prepare(caller: TokenInfo, plan: Plan, payloads: Sequence[Mapping[str, Any] | Event]) -> list[Event]:
    """Validate and authorise a batch; raise Invalid / NotFound / Forbidden naming every problem."""
    if caller.role == "analyst":
        raise Forbidden("analyst tokens are read-only", "分析人员令牌只能查询，不能提交数据")
    if not payloads:
        raise Invalid("the batch is empty", "提交内容为空", [FieldError("events", "no events", "没有事件")])
    if len(payloads) > MAX_BATCH:
        raise TooLarge(
            f"a batch holds at most {MAX_BATCH} events, this one has {len(payloads)}",
            f"每批最多{MAX_BATCH}条事件，本批{len(payloads)}条",
        )
    as_department = caller.department if caller.role == "department" else plan.office
    errors: list[FieldError] = []
    forbidden: list[str] = []
    events: list[Event] = []
    for index, payload in enumerate(payloads):
        where = f"events[{index}]" if len(payloads) > 1 else ""
        if isinstance(payload, EventBase):  # from a spreadsheet: checked like any other submission
            data = payload.model_dump(mode="json", exclude={"recorded_at"})
        elif isinstance(payload, Mapping):
            data = dict(payload)
        else:
            errors.append(FieldError(where or "(body)", "an event must be a JSON object", "事件必须是JSON对象"))
            continue
        problems = _envelope_problems(data, plan, as_department, where)
        if problems is None:
            claimed = data.get("department")
            forbidden.append(f"{where or 'the event'} claims department {claimed!r}, the token is {as_department!r}")
            continue
        errors += problems
        data["plan_id"], data["department"] = plan.id, as_department
        try:
            events.append(event_adapter.validate_python(data))
        except ValidationError as exc:
            errors += field_errors(exc, prefix=where)
    if errors:
        raise Invalid(
            f"{len(errors)} problem(s) in the submission; nothing was stored",
            f"提交内容有{len(errors)}处错误，未保存任何数据",
            errors,
        )
    if forbidden:
        raise Forbidden("; ".join(forbidden), "令牌所属部门与事件中的部门不一致，未保存任何数据")
    _check_subjects(caller, plan, as_department, events, len(payloads) > 1)
    return events


def _envelope_problems(data: dict[str, Any], plan: Plan, department: str, where: str) -> list[FieldError] | None:
    """Fields a sender may not set; None when the body claims another department (forbidden)."""
    problems = []
    prefix = f"{where}." if where else ""
    if "recorded_at" in data:
        reason = "set by the store, never by the sender"
        problems.append(FieldError(f"{prefix}recorded_at", reason, "由系统记录，不能由报送方填写"))
        del data["recorded_at"]
    if data.get("plan_id") not in (None, plan.id):
        problems.append(
            FieldError(
                f"{prefix}plan_id",
                f"{data['plan_id']!r} is not the plan in the address ({plan.id!r})",
                "与请求地址中的计划不一致",
            )
        )
    if data.get("type") == "rollup.published":
        problems.append(
            FieldError(f"{prefix}type", "rollups are written by planwatch's scheduler", "月度报告由系统生成")
        )
    if data.get("type") == "plan.published":
        problems.append(
            FieldError(f"{prefix}type", "plans are published with PUT /v1/plans/{plan}", "计划须通过发布接口发布")
        )
    if data.get("department") not in (None, department):
        return None
    return problems


def _check_subjects(caller: TokenInfo, plan: Plan, department: str, events: list[Event], batch: bool) -> None:
    unknown: list[FieldError] = []
    invalid: list[FieldError] = []
    forbidden: list[str] = []
    for index, event in enumerate(events):
        where = f"events[{index}].subject" if batch else "subject"
        indicator, project = plan.indicator(event.subject), plan.project(event.subject)
        if event.type == "project.registered":
            if indicator or project:
                invalid.append(FieldError(where, f"{event.subject!r} already exists in the plan", "编号已存在"))
        elif indicator is None and project is None:
            reason = f"{event.subject!r} is no indicator or project of plan {plan.id}"
            unknown.append(FieldError(where, reason, "计划中没有该编号"))
            continue
        elif event.type in INDICATOR_TYPES | {"target.revised"} and indicator is None:
            invalid.append(
                FieldError(
                    where,
                    f"{event.type} is about an indicator; {event.subject!r} is a project",
                    "该事件类型只适用于指标",
                )
            )
        elif event.type in PROJECT_TYPES and project is None:
            invalid.append(
                FieldError(
                    where,
                    f"{event.type} is about a project; {event.subject!r} is an indicator",
                    "该事件类型只适用于项目",
                )
            )
        if event.type in OFFICE_TYPES:
            if caller.role != "admin" and department != plan.office:
                forbidden.append(f"{event.type} is for the plan office ({plan.office}), not {department}")
        else:
            owner = plan.owner_of(event.subject)
            if caller.role != "department" or owner != department:
                forbidden.append(f"{department} does not own {event.subject} (owner: {owner})")
    if unknown:
        raise NotFound("unknown subject(s); nothing was stored", "编号不存在，未保存任何数据", unknown)
    if invalid:
        raise Invalid(
            "event types do not fit their subjects; nothing was stored", "事件类型与编号不符，未保存任何数据", invalid
        )
    if forbidden:
        raise Forbidden("; ".join(dict.fromkeys(forbidden)), "只能报送本部门负责的指标和项目，未保存任何数据")


@dataclass
class Ingest:
    """What every entry point needs to take progress in: the store, the plans, the tokens."""

    redis: Redis
    keys: Keyspace
    store: EventStore
    catalog: PlanCatalog
    tokens: TokenStore

    @classmethod
    def over(cls, redis: Redis, keys: Keyspace) -> Ingest:
        store = EventStore(redis, keys)
        return cls(redis, keys, store, PlanCatalog(store), TokenStore(redis, keys))

    async def plan(self, plan_id: str) -> Plan:
        """The plan in force; NotFound if it was never published."""
        plan = await self.catalog.get(plan_id)
        if plan is None:
            raise NotFound(f"plan {plan_id!r} has not been published", f"计划“{plan_id}”尚未发布")
        return plan

    async def submit(
        self,
        caller: TokenInfo,
        plan_id: str,
        payloads: Sequence[Mapping[str, Any] | Event],
        expected_versions: Mapping[str, int] | None = None,
    ) -> Accepted:
        """Validate, authorise and append a batch for `plan_id` on behalf of `caller`."""
        events = prepare(caller, await self.plan(plan_id), payloads)
        try:
            result = await self.store.append(events, expected_versions)
        except VersionConflict as exc:
            raise Conflict(
                str(exc),
                f"“{exc.subject}”版本冲突：期望第{exc.expected}版，实际第{exc.actual}版，未保存任何数据",
                subject=exc.subject,
                expected=exc.expected,
                actual=exc.actual,
            ) from None
        except EventIdReused as exc:
            raise Conflict(str(exc), "事件编号已被其他内容使用，未保存任何数据", event_id=exc.event_id) from None
        return Accepted(plan_id, events, result)
