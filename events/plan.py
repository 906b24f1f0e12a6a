"""The plan definition: what a district plan office sets at the start of the year.

It travels inside the `plan.published` event, so it is part of the event model: pure data
with validation, no I/O. `events.planfile` reads it from YAML with line numbers in errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from events.ids import DepartmentId, PlanId, SubjectId
from events.periods import Period, PeriodText
from events.problems import LocatedProblems
from events.targets import (
    CumulativeTarget,
    LevelTarget,
    RelativeTarget,
    TargetSpec,
    canonical_unit,
)

Frequency = Literal["monthly", "quarterly", "annual"]
Problem = tuple[tuple[str | int, ...], str]  # (field path, message), for LocatedProblems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Department(_Strict):
    id: DepartmentId
    name: str = Field(min_length=1, description="Chinese name, e.g. 区统计局")


class Indicator(_Strict):
    id: SubjectId
    name: str = Field(min_length=1, description="Chinese name as the report prints it")
    unit: str = Field(min_length=1, description="canonical unit of reported values: %, 万元, 人, 个, 家, 天 …")
    department: DepartmentId
    frequency: Frequency
    order: int = Field(ge=1, description="display order within its section")
    section: str = Field(default="主要指标", min_length=1, description="report section; 主要指标 is the main table")
    aliases: tuple[str, ...] = Field(default=(), description="other names a relative target may use, e.g. GDP")
    target: TargetSpec

    @field_validator("unit")
    @classmethod
    def _canonical(cls, unit: str) -> str:
        return canonical_unit(unit)

    @model_validator(mode="after")
    def _units_agree(self) -> Indicator:
        target = self.target
        if isinstance(target, CumulativeTarget | LevelTarget) and target.unit != self.unit:
            raise ValueError(f"target {target.text!r} is in {target.unit} but the indicator's unit is {self.unit}")
        return self

    @property
    def is_main(self) -> bool:
        return self.section == MAIN_SECTION


MAIN_SECTION = "主要指标"


class Project(_Strict):
    id: SubjectId
    name: str = Field(min_length=1)
    department: DepartmentId = Field(description="the owning department, which reports the project's progress")
    category: str = Field(min_length=1, description="e.g. 工业, 基础设施, 社会民生")
    planned_investment_wan: Decimal = Field(ge=0, description="investment planned for the plan year, 万元")
    planned_start: PeriodText = Field(description="month the project is planned to start, YYYY-MM")
    planned_completion: PeriodText = Field(description="month the project is planned to be completed, YYYY-MM")
    synthetic: bool = Field(default=False, description="true for demo projects not named in the source report")

    @field_validator("planned_start", "planned_completion")
    @classmethod
    def _monthly(cls, text: str) -> str:
        if Period.parse(text).kind != "month":
            raise ValueError(f"{text!r} must be a month, YYYY-MM")
        return text

    @model_validator(mode="after")
    def _ordered(self) -> Project:
        if Period.parse(self.planned_completion) < Period.parse(self.planned_start):
            raise ValueError(
                f"planned_completion {self.planned_completion} is before planned_start {self.planned_start}"
            )
        return self


class RateBands(_Strict):
    """Growth-rate and rate targets, in 个百分点 behind the target."""

    at_risk_points: Decimal = Field(default=Decimal(0), ge=0, description="behind by more than this → at risk")
    off_track_points: Decimal = Field(default=Decimal(2), ge=0, description="behind by more than this → off track")
    about_tolerance: Decimal = Field(default=Decimal(0), ge=0, description="how far below a 左右 target still counts")

    @model_validator(mode="after")
    def _ordered(self) -> RateBands:
        if self.off_track_points < self.at_risk_points:
            raise ValueError("off_track_points must not be below at_risk_points")
        return self


class ProgressBands(_Strict):
    """Cumulative tasks against 序时进度 (time progress).

    mode `points` (Yinchuan 2025): at risk when more than `at_risk` 个百分点 behind, off track
    when more than `off_track` points behind. mode `ratio` (Wuhan): at risk below `at_risk`% of
    time progress, off track below `off_track`%.
    """

    mode: Literal["points", "ratio"] = "points"
    at_risk: Decimal = Field(default=Decimal(10), ge=0)
    off_track: Decimal = Field(default=Decimal(30), ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ProgressBands:
        wrong = self.off_track < self.at_risk if self.mode == "points" else self.off_track > self.at_risk
        if wrong:
            raise ValueError(
                "off_track must be further behind than at_risk "
                "(points: off_track ≥ at_risk; ratio: off_track ≤ at_risk)"
            )
        return self


class ProjectRules(_Strict):
    """A project not started once its planned start month has ended is overdue; counted in whole
    months after that month (Yinchuan: yellow when the month passes, red after 3 more)."""

    at_risk_after_months: int = Field(default=0, ge=0, description="overdue this many months → at risk")
    off_track_after_months: int = Field(default=3, ge=0, description="overdue this many months → off track")


class AlertRules(_Strict):
    """When alerts fire beyond the traffic lights of each target."""

    stale_after_days: int = Field(default=20, ge=0, description="a period's value is overdue N days after it ends")
    escalate_after_periods: int = Field(
        default=2, ge=1, description="an alert firing for this many consecutive periods rises a level (Sanya: 2)"
    )
    start_rate_at_risk: Decimal = Field(
        default=Decimal(90), ge=0, le=100, description="% of projects due to have started that have: below → at risk"
    )
    start_rate_off_track: Decimal = Field(default=Decimal(75), ge=0, le=100, description="… below → off track")


class Thresholds(_Strict):
    """Traffic-light rules. They differ by city, so they are plan configuration, not code."""

    rate: RateBands = RateBands()
    progress: ProgressBands = ProgressBands()
    projects: ProjectRules = ProjectRules()
    alerts: AlertRules = AlertRules()


class RollupSchedule(_Strict):
    """When the monthly rollup is written: cron (minute hour day month weekday) in the plan's time
    zone, for the month before. Default: 08:00 on the 16th, once official monthly statistics are out."""

    cron: str = Field(default="0 8 16 * *", description="e.g. '0 8 16 * *'")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        problem = crontab_problem(cron)
        if problem:
            raise ValueError(f"cron {cron!r} is not valid: {problem}")
        return cron


# The five crontab fields as APScheduler's `CronTrigger.from_crontab` reads them (day of week 0 =
# Monday there), so a plan valid here is one the scheduler can schedule.
_CRON_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}),
    ("day of week", 0, 6, {d: i for i, d in enumerate("mon tue wed thu fri sat sun".split())}),
)
_CRON_PART = re.compile(r"^(?P<range>\*|(?P<low>\w+)(?:-(?P<high>\w+))?)(?:/(?P<step>\d+))?$")


def crontab_problem(cron: str) -> str | None:
    """Why `cron` is not a five-field crontab (minute hour day month weekday), or None."""
    fields = cron.split()
    if len(fields) != 5:
        return f"expected 5 fields (minute hour day month weekday), got {len(fields)}"
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.lower().split(","):
            problem = _cron_part_problem(part, low, high, names, name)
            if problem:
                return problem
    return None


def _cron_part_problem(part: str, low: int, high: int, names: dict[str, int], field: str) -> str | None:
    if field == "day" and part == "last":
        return None
    match = _CRON_PART.match(part)
    if not match:
        return f"{field}: {part!r} is not a value, a range or a step"
    if match["step"] is not None and int(match["step"]) == 0:
        return f"{field}: a step of 0"
    if match["range"] == "*":
        return None
    bounds = []
    for text in (match["low"], match["high"]):
        if text is None:
            continue
        value = names.get(text, int(text) if text.isdigit() else None)
        if value is None or not low <= value <= high:
            return f"{field}: {text!r} is outside {low}-{high}"
        bounds.append(value)
    if len(bounds) == 2 and bounds[0] > bounds[1]:
        return f"{field}: the range {part!r} runs backwards"
    return None


class Plan(_Strict):
    id: PlanId
    name: str = Field(min_length=1, description="e.g. 荣昌区2025年国民经济和社会发展计划")
    region: str = Field(min_length=1)
    year: int = Field(ge=2000, le=2100)
    timezone: str = "Asia/Shanghai"
    office: DepartmentId = Field(description="the department that owns the plan (区发展改革委)")
    projects_label: str = Field(default="重点项目", description="how the report names the portfolio, e.g. 区级重点项目")
    departments: tuple[Department, ...] = Field(min_length=1)
    indicators: tuple[Indicator, ...] = ()
    projects: tuple[Project, ...] = ()
    thresholds: Thresholds = Thresholds()
    rollup: RollupSchedule = RollupSchedule()

    _indicators: dict[str, Indicator] = PrivateAttr(default_factory=dict)
    _projects: dict[str, Project] = PrivateAttr(default_factory=dict)
    _departments: dict[str, str] = PrivateAttr(default_factory=dict)
    _references: dict[str, str | None] = PrivateAttr(default_factory=dict)
    _referenced_by: dict[str, list[str]] = PrivateAttr(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        problems: list[Problem] = []
        departments = [d.id for d in self.departments]
        for index in _duplicate_indexes(departments):
            problems.append((("departments", index, "id"), f"department id {departments[index]!r} is defined twice"))
        known = set(departments)
        if self.office not in known:
            problems.append((("office",), f"office {self.office!r} is not one of the plan's departments"))
        subjects = [("indicators", i, x.id) for i, x in enumerate(self.indicators)]
        subjects += [("projects", i, x.id) for i, x in enumerate(self.projects)]
        for index in _duplicate_indexes([s[2] for s in subjects]):
            kind, position, subject = subjects[index]
            problems.append(
                ((kind, position, "id"), f"id {subject!r} is used twice (indicators and projects share one namespace)")
            )
        for kind, items in (("indicators", self.indicators), ("projects", self.projects)):
            for position, item in enumerate(items):
                if item.department not in known:
                    problems.append(
                        ((kind, position, "department"), f"{item.id}: unknown department {item.department!r}")
                    )
        problems += _ambiguous_orders(self.indicators) + _ambiguous_names(self.indicators)
        names = self._indicator_names()
        for position, indicator in enumerate(self.indicators):
            target = indicator.target
            if isinstance(target, RelativeTarget):
                where = ("indicators", position, "target")
                ref = names.get(target.reference)
                if ref is None:
                    problems.append(
                        (
                            where,
                            f"{indicator.id}: target {target.text!r} refers to {target.reference!r}, "
                            "which is no indicator's id, name or alias",
                        )
                    )
                elif ref == indicator.id:
                    problems.append((where, f"{indicator.id}: target refers to the indicator itself"))
        if problems:
            raise LocatedProblems(problems)
        return self

    def model_post_init(self, context: object) -> None:
        # Lookups by id happen per event on every write and judgement: index once. Every Plan
        # builds the same index from the same fields, so equality of plans is unaffected.
        self._indicators = {i.id: i for i in self.indicators}
        self._projects = {p.id: p for p in self.projects}
        self._departments = {d.id: d.name for d in self.departments}
        names = self._indicator_names()
        self._references = {
            i.id: names.get(i.target.reference) for i in self.indicators if isinstance(i.target, RelativeTarget)
        }
        self._referenced_by: dict[str, list[str]] = {}
        for indicator_id, reference in self._references.items():
            if reference:
                self._referenced_by.setdefault(reference, []).append(indicator_id)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Plan:
        copy = super().model_copy(update=update, deep=deep)
        if update:  # a copy with other indicators or projects needs its own index
            copy.model_post_init(None)
        return copy

    def _indicator_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for indicator in self.indicators:
            for name in (indicator.id, indicator.name, *indicator.aliases):
                names.setdefault(name, indicator.id)
        return names

    def reference_of(self, indicator: Indicator) -> str | None:
        """The id of the indicator a relative target compares against."""
        return self.__pydantic_private__["_references"].get(indicator.id)  # type: ignore[index]

    # (the private dicts are read from __pydantic_private__: pydantic's attribute hook costs µs)
    def referencing(self, subject: str) -> list[str]:
        """Indicators whose relative target compares against `subject`."""
        return self.__pydantic_private__["_referenced_by"].get(subject, [])  # type: ignore[index]

    def indicator(self, subject: str) -> Indicator | None:
        return self.__pydantic_private__["_indicators"].get(subject)  # type: ignore[index]

    def project(self, subject: str) -> Project | None:
        return self.__pydantic_private__["_projects"].get(subject)  # type: ignore[index]

    def owner_of(self, subject: str) -> str | None:
        """The department that may report on a subject; the office owns the plan itself."""
        if subject == self.id:
            return self.office
        item = self.indicator(subject) or self.project(subject)
        return item.department if item else None

    def department_name(self, department: str) -> str:
        return self.__pydantic_private__["_departments"].get(department, department)  # type: ignore[index]


def _ambiguous_orders(indicators: tuple[Indicator, ...]) -> list[Problem]:
    """Two indicators of one section at the same `order`: the report could print either first."""
    problems: list[Problem] = []
    first: dict[tuple[str, int], str] = {}
    for position, indicator in enumerate(indicators):
        other = first.setdefault((indicator.section, indicator.order), indicator.id)
        if other != indicator.id:
            problems.append(
                (
                    ("indicators", position, "order"),
                    f"{indicator.id}: order {indicator.order} in section {indicator.section} "
                    f"is also the order of {other}",
                )
            )
    return problems


def _ambiguous_names(indicators: tuple[Indicator, ...]) -> list[Problem]:
    """A name or alias that two indicators answer to: a relative target naming it could mean either."""
    problems: list[Problem] = []
    owners: dict[str, tuple[str, str]] = {}  # id, name or alias → (indicator id, which of the three)
    for position, indicator in enumerate(indicators):
        mine: set[str] = set()  # an indicator may repeat its own name among its aliases
        spelled = [(("id",), "id", indicator.id), (("name",), "name", indicator.name)]
        spelled += [(("aliases", n), "alias", alias) for n, alias in enumerate(indicator.aliases)]
        for where, kind, text in spelled:
            if text in mine:
                continue
            mine.add(text)
            owner = owners.setdefault(text, (indicator.id, kind))
            if owner[0] == indicator.id or (kind == "id" and owner[1] == "id"):
                continue  # the same indicator, or a duplicate id (reported as such)
            problems.append(
                (
                    ("indicators", position, *where),
                    f"{indicator.id}: {kind} {text!r} is also the {owner[1]} of {owner[0]}; "
                    "a target referring to it would be ambiguous",
                )
            )
    return problems


def _duplicate_indexes(values: list[str]) -> list[int]:
    """Indexes of values that already appeared earlier in the list."""
    seen: set[str] = set()
    dups: list[int] = []
    for index, value in enumerate(values):
        if value in seen:
            dups.append(index)
        seen.add(value)
    return dups
