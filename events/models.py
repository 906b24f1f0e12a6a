"""Event models: what departments and the plan office say happened.

Every event shares one envelope; `type` discriminates the payload. `event_id` is chosen by
the sender so a retry is recognised; `recorded_at` (transaction time) is set by the store
from the stream position and never taken from the sender; `period` is the valid time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Literal, get_args
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from events.bounds import (
    Amount,
    EventDate,
    EventId,
    Note,
    Reason,
    Reported,
    ReportedNumber,
    plan_rule_problems,
)
from events.ids import DepartmentId, PlanId, SubjectId
from events.periods import Period, PeriodText, RangeOrPeriodText
from events.plan import Basis, Plan, Project
from events.problems import LocatedProblems
from events.targets import TargetSpec
from events.upcasting import UPCAST_FROM

SCHEMA_VERSION: Final = 1


class EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    # a UUID (not nil: checked at submission, not per decode: see events.bounds)
    event_id: UUID = Field(description="chosen by the sender; a retry with the same id is stored once")
    plan_id: PlanId
    department: DepartmentId = Field(description="the department the event comes from")
    subject: SubjectId = Field(description="the indicator or project the event is about (the plan id for plan events)")
    period: PeriodText = Field(description="the period the event is about: 2025-06, 2025-Q2, 2025-H1 or 2025")
    # its window around the plan year is checked at submission (events.bounds): a bound here would
    # cost every decode, and a stored far-off time breaks no reader
    occurred_at: AwareDatetime = Field(description="when it happened, with time zone")
    recorded_at: AwareDatetime | None = Field(default=None, description="set by the event store; never by the sender")


class PlanPublished(EventBase):
    """Version 2 (events.upcasting): records who published the plan, and a new plan must meet the
    plan rules (events.bounds.plan_rule_problems); one stored as version 1 is read without them."""

    schema_version: Literal[2] = 2  # type: ignore[assignment]  # its own line of versions
    type: Literal["plan.published"] = "plan.published"
    plan: Plan
    published_by: str | None = Field(
        default=None, max_length=64, description="the id of the admin token that published it, or cli"
    )
    _stored_form: bytes | None = PrivateAttr(default=None)  # read from the log as an older version

    @model_validator(mode="after")
    def _plan_rules(self, info: ValidationInfo) -> PlanPublished:
        if info.context and info.context.get(UPCAST_FROM):
            return self  # accepted under the rules of its version
        problems = plan_rule_problems(self.plan)
        if problems:
            raise LocatedProblems([(("plan", *path), reason) for path, reason in problems])
        return self

    @model_validator(mode="after")
    def _same_plan(self) -> PlanPublished:
        # located at the field that disagrees, not at the whole body
        problems: list[tuple[tuple[str | int, ...], str]] = [
            ((field,), f"plan.published for plan {self.plan.id!r} must have plan_id and subject {self.plan.id!r}")
            for field, value in (("plan_id", self.plan_id), ("subject", self.subject))
            if value != self.plan.id
        ]
        if problems:
            raise LocatedProblems(problems)
        return self


class TargetRevised(EventBase):
    type: Literal["target.revised"] = "target.revised"
    target: TargetSpec
    reason: Reason = Field(description="why the target changed, e.g. the 人大 decision")


class IndicatorUpdated(EventBase):
    """The cumulative value of an indicator for a period (累计, e.g. growth Jan..M year on year)."""

    type: Literal["indicator.updated"] = "indicator.updated"
    value: Reported = Field(description="in the indicator's unit; for growth rates the YoY % (5.5 = 5.5%)")
    qualifier: Literal["exact", "at_most", "at_least"] = Field(
        default="exact", description="at_most when only a bound is published, e.g. 5.5%以内"
    )
    assessment: Literal["met", "not_met"] | None = Field(
        default=None, description="for qualitative targets: the annual assessment"
    )
    note: Note = ""
    # Added after events were first stored: left out of the stored form while unset, so every
    # event stored before encodes (and dedups) to the same bytes and decodes unchanged.
    growth: Reported | None = Field(
        default=None,
        exclude_if=lambda growth: growth is None,
        description="for an indicator reported with its growth rate (plan: with_growth): the YoY % beside "
        "the level in `value` (实现地区生产总值412.6亿元，同比增长5.1% → value 4126000, growth 5.1)",
    )


class ProjectRegistered(EventBase):
    type: Literal["project.registered"] = "project.registered"
    project: Project

    @model_validator(mode="after")
    def _same_subject(self) -> ProjectRegistered:
        if self.project.id != self.subject:
            raise ValueError(f"project.id {self.project.id!r} must equal subject {self.subject!r}")
        return self


class ProjectStarted(EventBase):
    type: Literal["project.started"] = "project.started"
    started_on: EventDate


class InvestmentCompleted(EventBase):
    """Investment completed on a project: with basis `period` the amount completed during `period`,
    with basis `ytd` the amount completed from 1 January to the period's end (累计, 1—6月 7,000万元).
    A later report for the same period (and basis) replaces it; the fold keeps the latest
    year-to-date figure and adds only the period amounts after it (projections.portfolio)."""

    type: Literal["investment.completed"] = "investment.completed"
    period: RangeOrPeriodText = Field(  # widened: a year-to-date range too
        description="the period: 2025-06, 2025-Q2, …, or a year-to-date range 2025-01..2025-09, 2025-Q1..Q3"
    )
    amount_wan: Reported = Field(ge=0, description="万元 completed in the period (basis period) or by its end (ytd)")
    basis: Basis | None = Field(
        default=None,
        description="period: the amount of the period; ytd: 年初至今累计. Unset: the plan's investment_basis "
        "(set at submission; a range is ytd; stored before the basis existed: period)",
    )

    @field_validator("period")
    @classmethod
    def _range(cls, period: str) -> str:
        if ".." in period:  # the pattern admits its shape; both ends in one year is checked here
            Period.parse(period)
        return period

    @model_validator(mode="after")
    def _range_is_ytd(self) -> InvestmentCompleted:
        if ".." in self.period:
            if self.basis == "period":
                raise LocatedProblems(
                    [(("basis",), f"the range {self.period} is a year-to-date amount: basis must be ytd")]
                )
        return self

    @property
    def year_to_date(self) -> bool:
        return self.basis == "ytd" or (self.basis is None and ".." in self.period)


class ProjectCompleted(EventBase):
    type: Literal["project.completed"] = "project.completed"
    completed_on: EventDate


class RollupPublished(EventBase):
    """planwatch wrote a month's execution report. The document is derived (it can be written
    again from the log as known at `known_at`); the event records that it was published, which
    version, and a hash of its content."""

    type: Literal["rollup.published"] = "rollup.published"
    version: int = Field(ge=1)
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    as_of: date = Field(description="the last day of the month reported on")
    known_at: AwareDatetime = Field(description="what was known when it was written (transaction time)")
    missed: list[str] = Field(default_factory=list, description="main indicators not reaching their targets")


Retractable = Literal[
    "indicator.updated", "investment.completed", "project.started", "project.completed", "target.revised"
]
RETRACTABLE: Final[tuple[str, ...]] = get_args(Retractable)


class Restored(BaseModel):
    """What the retracted event's subject reports for its period once the event is retracted: the
    report it had replaced (the latest one not retracted), worked out by planwatch when the
    retraction is made (projections.retraction) and carried in the event, so every fold of the
    log applies it the same way. Only the fields of the retracted event's type are set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    position: str = Field(pattern=r"^[0-9]{1,20}-[0-9]{1,20}$", description="the report that counts again")
    value: ReportedNumber | None = None
    qualifier: Literal["exact", "at_most", "at_least"] | None = None
    assessment: Literal["met", "not_met"] | None = None
    revision: int | None = Field(default=None, ge=1)
    previous: ReportedNumber | None = None
    growth: ReportedNumber | None = Field(default=None, exclude_if=lambda growth: growth is None)
    amount_wan: Amount | None = None
    day: EventDate | None = None


class EventRetracted(EventBase):
    """An acknowledged event neutralised: from this event's transaction time on, every fold passes
    over the retracted one — the subject's period shows what it showed before that report, or
    nothing — while a view as known before still shows it. The log itself is never edited; this
    event is its audit (who, when, why). Made by the owning department or an admin
    (services.app.retractions), never posted as an event."""

    type: Literal["event.retracted"] = "event.retracted"
    period: RangeOrPeriodText = Field(  # an investment's range too
        description="the retracted event's period"
    )
    retracted_event_id: EventId
    retracted_position: str = Field(pattern=r"^[0-9]{1,20}-[0-9]{1,20}$", description="where it is in the log")
    retracted_type: Retractable
    reason: Reason = Field(description="why it is retracted, e.g. 数据填报错误")
    requested_by: str = Field(pattern=r"^[0-9a-f]{12}$|^cli$", description="the id of the token (or cli)")
    restores: Restored | None = Field(description="the report that counts again for the period; None: none")


MatcherField = Literal["plan", "department", "subject", "rule", "severity"]
MATCHER_FIELDS: Final[tuple[str, ...]] = get_args(MatcherField)
MatcherValue = Annotated[str, Field(min_length=1, max_length=64)]
ACTOR = r"^[0-9a-f]{12}$|^cli$"  # a token id, or the command line


class AlertSilenced(EventBase):
    """A silence (Alertmanager's model): from `starts_at` to `ends_at`, the plan's alerts that
    match every matcher (field = value) are recorded and listed, marked 已静默, but not notified.
    Made through planwatch (services.app.alerting), never posted; the alerts projection folds it
    (projections.silences), so a rebuild silences the same. Its subject is the plan."""

    type: Literal["alert.silenced"] = "alert.silenced"
    silence_id: str = Field(pattern=r"^[0-9a-f]{12}$")
    matchers: dict[MatcherField, MatcherValue] = Field(min_length=1, description="field → value, all must match")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    created_by: str = Field(pattern=ACTOR, description="the id of the token (or cli)")
    comment: Note = ""

    @model_validator(mode="after")
    def _ends_after_start(self) -> AlertSilenced:
        if self.ends_at <= self.starts_at:
            raise LocatedProblems([(("ends_at",), "must be after starts_at")])
        return self


class SilenceExpired(EventBase):
    """A silence ended before its time (its subject is the plan)."""

    type: Literal["silence.expired"] = "silence.expired"
    silence_id: str = Field(pattern=r"^[0-9a-f]{12}$")
    expired_by: str = Field(pattern=ACTOR, description="the id of the token (or cli)")


class AlertAcknowledged(EventBase):
    """Someone knows about a firing alert and is on it (认领/已知悉). It holds until the alert changes
    (escalates or resolves); the alert's history records it. Its subject is the plan."""

    type: Literal["alert.acknowledged"] = "alert.acknowledged"
    fingerprint: str = Field(min_length=1, max_length=200, description="the alert: plan:rule:subject")
    acknowledged_by: str = Field(pattern=ACTOR, description="the id of the token (or cli)")
    note: Note = ""


Event = Annotated[
    PlanPublished
    | TargetRevised
    | IndicatorUpdated
    | ProjectRegistered
    | ProjectStarted
    | InvestmentCompleted
    | ProjectCompleted
    | RollupPublished
    | EventRetracted
    | AlertSilenced
    | SilenceExpired
    | AlertAcknowledged,
    Field(discriminator="type"),
]

# the union's tags, in its order: a new event type cannot be left out
EVENT_TYPES: tuple[str, ...] = tuple(model.model_fields["type"].default for model in get_args(get_args(Event)[0]))

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)
batch_adapter: TypeAdapter[list[Event]] = TypeAdapter(list[Event])  # a batch validated in one call
# the adapter's compiled validator, called without the adapter's Python wrapper: a replay decodes
# a million entries, and the wrapper is 6 % of each
validate_event_json: Callable[[str | bytes], Event] = event_adapter.validator.validate_json


def plan_published(plan: Plan, version: int, occurred_at: datetime, by: str | None = None) -> PlanPublished:
    """The event publishing `plan` as the plan's version `version` (the number of plans published
    before it), by `by` (a token id, or cli). Its id is derived from the content and the version,
    so a retry is a duplicate and republishing an earlier plan after another one is a new event."""
    return PlanPublished(
        published_by=by,
        event_id=plan_event_id(plan.id, plan_digest(plan), version),
        plan_id=plan.id,
        department=plan.office,
        subject=plan.id,
        period=str(plan.year),
        occurred_at=occurred_at,
        plan=plan,
    )


def plan_event_id(plan_id: str, digest: str, version: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"planwatch/plan.published/{plan_id}/{digest}/{version}")


def plan_digest(plan: Plan) -> str:
    return hashlib.sha256(plan.model_dump_json().encode()).hexdigest()


def parse_event(data: dict[str, Any] | str | bytes) -> Event:
    """Validate one event from a dict or JSON; raises pydantic.ValidationError naming each bad field."""
    if isinstance(data, str | bytes):
        return event_adapter.validate_json(data)
    return event_adapter.validate_python(data)


def recorded_at_of(position: str) -> datetime:
    """Transaction time of a stream position: Redis stream ids start with the append time in ms."""
    millis = int(position.split("-", 1)[0])
    return datetime.fromtimestamp(millis / 1000, tz=UTC)
