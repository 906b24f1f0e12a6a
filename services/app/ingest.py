"""The one way progress enters planwatch: validate, authorise, append.

HTTP, the inbox stream and spreadsheet import all call `submit`, so a department meets the same
rules and the same wording everywhere. A batch is all or nothing: every problem of every event
is collected and reported, and nothing is stored unless all of it is acceptable. The
department recorded on an event is the caller's, never the one a body claims.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from events.bounds import bounds_for, percent_target_problem
from events.errors import FieldError, field_errors
from events.models import Event, EventBase, TargetRevised, batch_adapter, event_adapter
from events.plan import Indicator, Plan
from events.targets import RelativeTarget
from services.app.access import Access
from services.app.errors import (
    AppError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    StoreDamaged,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from services.app.payloads import event_field_problems
from services.observability import metrics
from services.store import (
    AppendResult,
    DamagedKey,
    EventIdReused,
    EventStore,
    PlanCatalog,
    PlanChanged,
    TokenInfo,
    VersionConflict,
)

MAX_BATCH = 1000
FUTURE_SKEW = timedelta(days=1)  # an event may say it happened this far ahead of our clock (zones, skew)
PLAN_CHANGES = 5  # plans found replaced while one request is checked, before it is refused (503)

EntryPoint = Literal["http", "inbox", "sheet"]
_ENTRY: ContextVar[EntryPoint] = ContextVar("planwatch_entry_point", default="http")


@contextmanager
def intake(entry: EntryPoint) -> Iterator[None]:
    """Whatever is submitted inside came in at `entry` (the metrics count accepted events under it),
    and a refusal (an AppError) that leaves it is counted once, by reason. The API counts its
    refusals by the answer's status instead (its error handlers turn them into answers first)."""
    token = _ENTRY.set(entry)
    try:
        yield
    except AppError as exc:
        metrics.EVENTS_REFUSED.labels(entry, exc.code).inc()
        raise
    finally:
        _ENTRY.reset(token)


# Which subjects each event type is about, and who may post it.
INDICATOR_TYPES = frozenset({"indicator.updated"})
PROJECT_TYPES = frozenset({"project.started", "investment.completed", "project.completed"})
OFFICE_TYPES = frozenset({"target.revised", "project.registered"})  # the plan office's decisions
ABOUT_INDICATORS = INDICATOR_TYPES | {"target.revised"}


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
                {"event_id": e, "position": p, "duplicate": d}
                for e, p, d in zip(self.result.event_ids, self.result.positions, self.result.duplicate, strict=True)
            ],
        }


INVALID, UNKNOWN, FORBIDDEN = "invalid", "unknown", "forbidden"
_KINDS = {
    INVALID: ("invalid values", "内容有误"),
    UNKNOWN: ("unknown subjects", "编号不存在"),
    FORBIDDEN: ("not the caller's to report", "无权报送"),
}
_NOT_YOURS_ZH = "只能报送本部门负责的指标和项目"


@dataclass(frozen=True)
class _Problem:
    """One problem of a batch: its kind decides the status, `error` is what the sender reads;
    a forbidden one also carries the sentence for the 403's message."""

    kind: str
    error: FieldError
    summary: str = ""
    summary_zh: str = ""


def prepare(caller: TokenInfo, plan: Plan, payloads: Sequence[Mapping[str, Any] | Event]) -> list[Event]:
    """Validate and authorise a batch; raise Invalid / NotFound / Forbidden naming every problem.

    Every event is checked in full before anything is decided: the fields of an event that does
    not parse are reported, and every event that parses is checked against the plan (unknown
    subject, event type that does not fit its subject, subject owned by another department, a
    department claimed in the body that is not the caller's). Then one answer, naming every
    problem with its field (`events[3].subject`; no index for a single event) and its reason in
    English and Chinese:

    - 422 Invalid when any event is invalid (field errors, a type that does not fit its subject,
      fields a sender may not set), or when problems of different kinds are mixed;
    - 403 Forbidden when the only problems are subjects or events the caller may not report on
      (another department's subject, the plan office's events, a body claiming another department);
    - 404 NotFound when the only problems are unknown subjects.

    Nothing of the batch is stored in any of these cases. Refusals about the request as a whole
    come first and alone: an analyst token (403), an empty batch (422), too many events (413);
    an unknown plan is a 404 from `Ingest.plan` before this runs, since every other rule needs it.
    """
    if caller.role == "analyst":
        raise Forbidden("analyst tokens are read-only", "分析人员令牌只能查询，不能提交数据")
    if not payloads:
        raise Invalid("the batch is empty", "提交内容为空", [FieldError("events", "no events", "没有事件")])
    if len(payloads) > MAX_BATCH:
        raise TooLarge(
            f"a batch holds at most {MAX_BATCH} events, this one has {len(payloads)}",
            f"每批最多{MAX_BATCH}条事件，本批{len(payloads)}条",
            [FieldError("events", f"{len(payloads)} events, more than {MAX_BATCH}", f"超过{MAX_BATCH}条")],
        )
    as_department = caller.department if caller.role == "department" else plan.office
    if as_department is None:  # a department token always names one; a damaged record may not
        raise Forbidden("this department token names no department", "该部门令牌未登记所属部门")
    checked = _envelopes(payloads, plan, as_department)
    problems: list[_Problem] = []
    events: list[Event] = []
    acceptable: set[tuple[str, str]] = set()  # (subject, type) pairs of this batch found fine
    bounds = bounds_for(plan)
    latest = datetime.now(UTC) + FUTURE_SKEW
    for (where, _, envelope), parsed in zip(checked, _parse([data for _, data, _ in checked]), strict=True):
        problems += envelope
        if isinstance(parsed, ValidationError):
            problems += [_Problem(INVALID, error) for error in field_errors(parsed, prefix=where)]
        elif parsed is not None:
            if (parsed.subject, parsed.type) not in acceptable:
                found = _subject_problems(caller, plan, as_department, parsed, where)
                problems += found
                if not found:
                    acceptable.add((parsed.subject, parsed.type))
            # the year first: comparing aware times costs ~0.6 µs, and most events are of a past year
            if parsed.occurred_at.year >= latest.year and parsed.occurred_at > latest:
                problems.append(_Problem(INVALID, _in_the_future(where, parsed)))
            if (parsed.subject, parsed.type) in acceptable:  # bounds matter once the subject is the caller's
                prefix = f"{where}." if where else ""
                problems += [
                    _Problem(INVALID, FieldError(prefix + p.field, p.reason, p.reason_zh))
                    for p in bounds.problems(parsed)
                ]
                if isinstance(parsed, TargetRevised):
                    problems += [_Problem(INVALID, error) for error in _revision_problems(plan, parsed, prefix)]
            events.append(parsed)
    if problems:
        _refuse(problems)
    return events


def _in_the_future(where: str, event: Event) -> FieldError:
    field_name = f"{where}.occurred_at" if where else "occurred_at"
    reason = f"{event.occurred_at.isoformat()} is in the future (more than a day after now): check the sender's clock"
    return FieldError(field_name, reason, "发生时间晚于当前时间，请检查报送方的时钟")


def _envelopes(
    payloads: Sequence[Mapping[str, Any] | Event], plan: Plan, as_department: str
) -> list[tuple[str, dict[str, Any] | None, list[_Problem]]]:
    """Each payload as (where, its data with the plan and the caller's department set — None if it
    is no object —, the problems of its envelope)."""
    checked: list[tuple[str, dict[str, Any] | None, list[_Problem]]] = []
    for index, payload in enumerate(payloads):
        where = f"events[{index}]" if len(payloads) > 1 else ""
        if type(payload) is dict:  # the usual case first: isinstance() on the classes below is slow
            data = dict(payload)
        elif isinstance(payload, EventBase):  # from a spreadsheet: checked like any other submission
            data = payload.model_dump(mode="json", exclude={"recorded_at"})
        elif isinstance(payload, Mapping):
            data = dict(payload)
        else:
            not_object = FieldError(where or "(body)", "an event must be a JSON object", "事件必须是JSON对象")
            checked.append((where, None, [_Problem(INVALID, not_object)]))
            continue
        envelope = _envelope_problems(data, plan, as_department, where)
        if fields := event_field_problems(data, f"{where}." if where else ""):
            envelope += [_Problem(INVALID, error) for error in fields]
        data["plan_id"], data["department"] = plan.id, as_department
        if data.get("type") == "investment.completed":
            data["basis"] = _basis(data, plan)
        checked.append((where, data, envelope))
    return checked


def _basis(data: dict[str, Any], plan: Plan) -> object:
    """The basis an investment report is stored with: year to date for a range, or when the event or
    else the plan says so; otherwise none, which means a period amount — as for every report
    stored before the basis existed — so a retry of such a report is the same event, and a later
    plan with another basis cannot change what an acknowledged report meant."""
    basis, period = data.get("basis"), data.get("period")
    if basis is None:
        ranged = isinstance(period, str) and ".." in period
        basis = "ytd" if ranged or plan.investment_basis == "ytd" else None
    return None if basis == "period" and not (isinstance(period, str) and ".." in period) else basis


def _parse(datas: list[dict[str, Any] | None]) -> list[Event | ValidationError | None]:
    """Each event parsed, or why it does not parse (None where it was no JSON object). A batch
    that is all valid, the usual case, is validated in one call."""
    if all(data is not None for data in datas):
        try:
            return list(batch_adapter.validate_python(datas))
        except ValidationError:
            pass  # some event is invalid: find out which, event by event
    parsed: list[Event | ValidationError | None] = []
    for data in datas:
        try:
            parsed.append(None if data is None else event_adapter.validate_python(data))
        except ValidationError as exc:
            parsed.append(exc)
    return parsed


def _refuse(problems: list[_Problem]) -> None:
    """Raise the one answer for a batch's problems (the status rule is in `prepare`)."""
    kinds = list(dict.fromkeys(p.kind for p in problems))
    errors = [p.error for p in problems]
    if kinds == [FORBIDDEN]:
        raise Forbidden(
            "; ".join(dict.fromkeys(p.summary for p in problems)),
            "；".join(dict.fromkeys(p.summary_zh for p in problems)) + "，未保存任何数据",
            errors,
        )
    if kinds == [UNKNOWN]:
        raise NotFound("unknown subject(s); nothing was stored", "编号不存在，未保存任何数据", errors)
    what = ", ".join(_KINDS[k][0] for k in kinds)
    what_zh = "、".join(_KINDS[k][1] for k in kinds)
    raise Invalid(
        f"{len(errors)} problem(s) in the submission ({what}); nothing was stored",
        f"提交内容有{len(errors)}处错误（{what_zh}），未保存任何数据",
        errors,
    )


_NOT_FOR_SENDERS = {  # event types planwatch writes itself: (reason, reason_zh)
    "rollup.published": ("rollups are written by planwatch's scheduler", "月度报告由系统生成"),
    "plan.published": ("plans are published with PUT /v1/plans/{plan}", "计划须通过发布接口发布"),
    "event.retracted": (
        "retractions are made with POST /v1/plans/{plan}/events/{event_id}/retraction",
        "撤回须通过撤回接口办理",
    ),
    "alert.silenced": ("silences are made with POST /v1/plans/{plan}/silences", "静默须通过静默接口设置"),
    "silence.expired": ("silences are expired with DELETE /v1/plans/{plan}/silences/{id}", "静默须通过静默接口解除"),
    "alert.acknowledged": (
        "alerts are acknowledged with POST /v1/plans/{plan}/alerts/acknowledgements",
        "认领预警须通过认领接口办理",
    ),
}


def _envelope_problems(data: dict[str, Any], plan: Plan, department: str, where: str) -> list[_Problem]:
    """Fields a sender may not set, and a department claimed that is not the caller's."""
    problems: list[_Problem] = []
    kind = data.get("type")
    reserved = _NOT_FOR_SENDERS.get(kind) if isinstance(kind, str) else None  # any JSON may come here
    if "recorded_at" not in data and "plan_id" not in data and "department" not in data and not reserved:
        return problems  # none of the fields checked below: the usual case, kept quick
    prefix = f"{where}." if where else ""
    if "recorded_at" in data:
        reason = "set by the store, never by the sender"
        problems.append(_Problem(INVALID, FieldError(f"{prefix}recorded_at", reason, "由系统记录，不能由报送方填写")))
        del data["recorded_at"]
    if data.get("plan_id") not in (None, plan.id):
        reason = f"{data['plan_id']!r} is not the plan in the address ({plan.id!r})"
        problems.append(_Problem(INVALID, FieldError(f"{prefix}plan_id", reason, "与请求地址中的计划不一致")))
    if reserved:
        reason, reason_zh = reserved
        problems.append(_Problem(INVALID, FieldError(f"{prefix}type", reason, reason_zh)))
    claimed = data.get("department")
    if claimed not in (None, department):
        reason = f"claims department {claimed!r}, the token is {department!r}"
        reason_zh = f"填写的部门“{claimed}”与令牌所属部门“{department}”不一致"
        problems.append(
            _Problem(
                FORBIDDEN,
                FieldError(f"{prefix}department", reason, reason_zh),
                f"{where or 'the event'} {reason}",
                "令牌所属部门与事件中的部门不一致",
            )
        )
    return problems


def _subject_problems(caller: TokenInfo, plan: Plan, department: str, event: Event, where: str) -> list[_Problem]:
    """What is wrong with an event that parsed, as far as the plan is concerned."""
    problems = []
    field_name = f"{where}.subject" if where else "subject"
    subject = event.subject
    indicator, project = plan.indicator(subject), plan.project(subject)
    if event.type == "project.registered":
        if indicator or project:
            problems.append(
                _Problem(INVALID, FieldError(field_name, f"{subject!r} already exists in the plan", "编号已存在"))
            )
    elif indicator is None and project is None:
        reason = f"{subject!r} is no indicator or project of plan {plan.id}"
        return [_Problem(UNKNOWN, FieldError(field_name, reason, f"计划中没有编号“{subject}”"))]
    elif event.type in ABOUT_INDICATORS and indicator is None:
        reason = f"{event.type} is about an indicator; {subject!r} is a project"
        problems.append(_Problem(INVALID, FieldError(field_name, reason, "该事件类型只适用于指标")))
    elif event.type in PROJECT_TYPES and project is None:
        reason = f"{event.type} is about a project; {subject!r} is an indicator"
        problems.append(_Problem(INVALID, FieldError(field_name, reason, "该事件类型只适用于项目")))
    if event.type in OFFICE_TYPES:
        if caller.role != "admin" and department != plan.office:
            reason = f"{event.type} is for the plan office ({plan.office}), not {department}"
            reason_zh = f"该事件只能由计划牵头部门（{plan.department_name(plan.office)}）报送"
            type_field = f"{where}.type" if where else "type"
            problems.append(_Problem(FORBIDDEN, FieldError(type_field, reason, reason_zh), reason, _NOT_YOURS_ZH))
    else:
        owner = plan.owner_of(subject)
        if caller.role != "department" or owner != department:
            reason = f"{department} does not own {subject} (owner: {owner})"
            owner_name = plan.department_name(owner) if owner else "?"
            reason_zh = f"“{subject}”由{owner_name}报送，不属于本部门"
            problems.append(_Problem(FORBIDDEN, FieldError(field_name, reason, reason_zh), reason, _NOT_YOURS_ZH))
    return problems


def _revision_problems(plan: Plan, event: TargetRevised, prefix: str) -> list[FieldError]:
    """A revised target must fit its indicator as the plan's own must (its unit, the name before
    its figure, a 百分点 move only of a rate) and compare with what the plan's compares with."""
    indicator = plan.indicator(event.subject)
    if indicator is None:
        return []
    try:
        Indicator.model_validate({**indicator.model_dump(), "target": event.target})
    except ValidationError as exc:
        return [
            FieldError(f"{prefix}target", error.reason, "修订后的目标与指标不符：" + error.reason)
            for error in field_errors(exc)
        ]
    target = event.target
    if (problem := percent_target_problem(indicator, target)) is not None:
        return [FieldError(f"{prefix}target", problem, "修订后的目标为百分比，但该指标按总量报送")]
    if isinstance(target, RelativeTarget):
        compared = plan.reference_of(indicator)
        if compared is None or plan.resolve_reference(target.reference) != compared:
            reason = (
                f"target {target.text!r} compares with {target.reference!r}; a revision compares with what the "
                f"plan's target does ({compared or 'nothing'}): publish a new plan to change it"
            )
            return [FieldError(f"{prefix}target", reason, "修订后的对比指标须与计划中的相同，如需更改请重新发布计划")]
    return []


def _check_expected(events: Sequence[Event], expected_versions: Mapping[str, int] | None) -> None:
    """A version may be expected only of a subject the batch reports on: of any other it would
    tell the caller another department's count, and check nothing the batch changes."""
    reported = {event.subject for event in events}
    strangers = [subject for subject in expected_versions or () if subject not in reported]
    if strangers:
        raise Invalid(
            "expected_versions names subjects the batch does not report on",
            "expected_versions 只能列出本批事件涉及的编号",
            [
                FieldError(
                    f"expected_versions.{s[:64]}",
                    "no event of this batch is about it",
                    "本批事件不涉及该编号",
                )
                for s in strangers
            ],
        )


def check_plan(caller: TokenInfo, plan_id: str) -> None:
    """Forbidden unless the caller's token is valid for `plan_id`."""
    if not caller.may_use(plan_id):
        valid_for = ", ".join(caller.plans or ()) or "no plan"
        raise Forbidden(
            f"this token is not valid for plan {plan_id!r} (it is for {valid_for})",
            f"该令牌不适用于计划“{plan_id}”",
            [FieldError("plan", f"the token is for {valid_for}", "令牌不适用于该计划")],
        )


class Ingest:
    """Taking progress in: who is calling, which plan, and the one way events are submitted."""

    def __init__(self, store: EventStore, catalog: PlanCatalog, access: Access) -> None:
        self.store, self.catalog, self.access = store, catalog, access
        self.tokens = access.tokens

    async def authenticate(self, token: str, plan_id: str | None = None) -> TokenInfo:
        """The caller a token stands for; Unauthorized if it is unknown or revoked, Forbidden if it
        is not valid for `plan_id` (every entry point checks tokens here). A token stored before
        tokens were bound to plans is bound now (services.app.access)."""
        info = await self.tokens.verify(token.strip())
        if info is None:
            raise Unauthorized("unknown or revoked token", "令牌无效或已被吊销")
        info = await self.access.bind(info)
        if plan_id is not None and not info.may_use(plan_id):
            await self.plan(plan_id)  # an unknown plan is a 404 whoever asks
            check_plan(info, plan_id)
        return info

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
        """Validate, authorise and append a batch for `plan_id` on behalf of `caller`. The plan is
        the one this process read last; the append checks it is still in force (one round trip
        per request), and a plan published meanwhile is read and the batch checked again."""
        found, fresh = await self.catalog.cached(plan_id), False
        check_plan(caller, plan_id)
        for _ in range(PLAN_CHANGES):
            if found is None:
                raise NotFound(f"plan {plan_id!r} has not been published", f"计划“{plan_id}”尚未发布")
            version, plan = found
            try:
                events = prepare(caller, plan, payloads)
                _check_expected(events, expected_versions)
                result = await self._append(events, expected_versions, version)
                break
            except AppError:
                if fresh:  # refused by the plan in force
                    raise
            except PlanChanged:
                pass
            # a refusal may come from a plan since replaced (by another process): judge by the one in force
            found, fresh = await self.catalog.versioned(plan_id), True
        else:  # plans are published a few times a year: this many in one request is something else
            raise Unavailable(
                f"plan {plan_id!r} changed {PLAN_CHANGES} times while the request was checked; try again",
                f"计划“{plan_id}”在校验期间多次变更，请稍后重试",
            )
        entry = _ENTRY.get()
        metrics.EVENTS_ACCEPTED.labels(entry, plan_id).inc(result.stored)
        if result.stored < len(events):
            metrics.EVENTS_DUPLICATE.labels(entry, plan_id).inc(len(events) - result.stored)
        return Accepted(plan_id, events, result)

    async def _append(
        self, events: list[Event], expected_versions: Mapping[str, int] | None, plan_version: int
    ) -> AppendResult:
        """Append, with the store's refusals as the AppError each is for."""
        try:
            return await self.store.append(events, expected_versions, plan_version)
        except VersionConflict as exc:
            reason = f"expected version {exc.expected}, the subject is at {exc.actual}"
            reason_zh = f"期望第{exc.expected}版，实际第{exc.actual}版"
            raise Conflict(
                str(exc),
                f"“{exc.subject}”版本冲突：{reason_zh}，未保存任何数据",
                [FieldError(f"expected_versions.{exc.subject}", reason, reason_zh)],
                subject=exc.subject,
                expected=exc.expected,
                actual=exc.actual,
            ) from None
        except DamagedKey as exc:  # a key the append writes holds another Redis type: nothing stored
            raise StoreDamaged.of_damage(exc) from exc
        except EventIdReused as exc:
            where = _event_id_field(events, exc.event_id)
            reused = FieldError(where, "this event_id is already stored with other content", "该事件编号已用于其他内容")
            raise Conflict(
                str(exc), "事件编号已被其他内容使用，未保存任何数据", [reused], event_id=exc.event_id
            ) from None


def _event_id_field(events: Sequence[Event], event_id: str) -> str:
    """Where in the batch the event with `event_id` is: `event_id`, or `events[3].event_id`."""
    if len(events) == 1:
        return "event_id"
    index = next((i for i, event in enumerate(events) if str(event.event_id) == str(event_id)), None)
    return f"events[{index}].event_id" if index is not None else "event_id"
