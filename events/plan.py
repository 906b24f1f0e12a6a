"""The plan definition: what a district plan office sets at the start of the year.

It travels inside the `plan.published` event, so it is part of the event model: pure data
with validation, no I/O. `events.planfile` reads it from YAML with line numbers in errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from events.alerts import RULES
from events.ids import DepartmentId, PlanId, SubjectId
from events.periods import Period, PeriodText
from events.problems import LocatedProblems
from events.targets import (
    CumulativeTarget,
    LevelTarget,
    PointsTarget,
    QualitativeTarget,
    RangeTarget,
    RateTarget,
    RelativeTarget,
    Target,
    TargetSpec,
    as_ceiling,
    as_lower_better,
    bare_target,
    canonical_unit,
    named_subject,
    with_unit,
)

Frequency = Literal["monthly", "quarterly", "annual"]
Basis = Literal["period", "ytd"]  # amounts of the period, or 年初至今累计 (year to date)
Problem = tuple[tuple[str | int, ...], str]  # (field path, message), for LocatedProblems


def known_zone(name: str) -> str:
    """`name` if it is an IANA time zone (Asia/Shanghai), else ValueError saying so: the plan's zone
    and a subscription's working hours are checked alike."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


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
    # None: monitored only (reports list such actual-only rows with 「-」 as the target): shown,
    # never judged, never a value alert. Left out of the stored form while unset.
    target: TargetSpec | None = Field(default=None, exclude_if=lambda target: target is None)
    with_growth: bool = Field(
        default=False,
        exclude_if=lambda growth: not growth,  # unset: the plan's stored form as before
        description="reported as a level in `unit` and its growth rate (同比增长 %), both printed: "
        "412.6亿元，增长5.1%; a rate, range or relative target is judged on the growth, an amount on the level",
    )

    better: Literal["higher", "lower"] = Field(
        default="higher",
        exclude_if=lambda better: better == "higher",  # unset: the plan's stored form as before
        description="which way the value is better: lower for unemployment, prices, energy use, emissions; "
        "a rate target whose wording sets no direction (5.5%, 3%左右) is then a ceiling",
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_number_target(cls, data: Any) -> Any:
        """A bare number (`| 7 |` in a table whose unit is in the indicator's name) takes the
        indicator's unit as written (`亿元` before it becomes 万元)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("unit"), str):
            return data
        target = data.get("target")
        if isinstance(target, str) and target.strip() in NO_TARGET:
            return {key: value for key, value in data.items() if key != "target"}  # monitored only
        if isinstance(target, bool) or not isinstance(target, int | float | Decimal | str):
            return data
        text = str(target) if not isinstance(target, str) else target
        if not _BARE_NUMBER.fullmatch(text.strip()):
            try:  # a figure with a bound and no unit (`缩小到2.1以内`) takes the indicator's too
                filled = with_unit(text, data["unit"])
            except ValueError as exc:
                raise LocatedProblems([(("target",), str(exc))]) from None
            return data if filled is None else {**data, "target": filled}
        try:
            return {**data, "target": bare_target(text.strip(), data["unit"])}
        except ValueError as exc:
            raise LocatedProblems([(("target",), f"target {text!r}: {exc}")]) from None

    @field_validator("unit")
    @classmethod
    def _canonical(cls, unit: str) -> str:
        return canonical_unit(unit)

    @model_validator(mode="after")
    def _units_agree(self) -> Indicator:
        target = self.target
        if isinstance(target, CumulativeTarget | LevelTarget) and target.unit != self.unit:
            raise ValueError(f"target {target.text!r} is in {target.unit} but the indicator's unit is {self.unit}")
        if isinstance(target, PointsTarget) and self.unit != "%":
            reason = f"target {target.text!r} moves a rate by 个百分点: the indicator's unit must be %, not {self.unit}"
            raise LocatedProblems([(("target",), reason)])
        return self

    @model_validator(mode="after")
    def _level_has_a_unit(self) -> Indicator:
        if self.with_growth and self.unit == "%":
            reason = (
                f"{self.id}: with_growth reports a level and its growth rate: the level's unit cannot be % "
                "(give the level's unit, e.g. 亿元)"
            )
            raise LocatedProblems([(("with_growth",), reason)])
        return self

    @model_validator(mode="after")
    def _names_itself(self) -> Indicator:
        """`地区生产总值增长6%以上`: words before the figure must name this indicator."""
        if self.target is None:
            return self
        named = named_subject(self.target.text, self.unit)
        if named and not self.answers_to(named):
            reason = (
                f"target {self.target.text!r} names {named!r} before its figure, which is not this "
                f"indicator's id, name or alias ({self.name}); leave the name out or add it to aliases"
            )
            raise LocatedProblems([(("target",), reason)])
        return self

    def answers_to(self, name: str) -> bool:
        """Is `name` this indicator's id, name or alias (a trailing 增长 or 增速 aside)?"""
        own = {self.id, self.name, *self.aliases}
        return bool({name, _without_growth(name)} & (own | {_without_growth(n) for n in own}))

    @property
    def is_main(self) -> bool:
        return self.section == MAIN_SECTION

    def judged_on_growth(self, target: Target | None) -> bool:
        """Does `target` name the growth rate of an indicator reported with one (a rate, range or
        relative target), rather than its level (an amount)?"""
        return self.with_growth and isinstance(target, RateTarget | RangeTarget | RelativeTarget)

    @property
    def assessed(self) -> bool:
        """Is the plan's target judged by the annual assessment (a qualitative target: 完成 / 未完成)?"""
        return isinstance(self.target, QualitativeTarget)

    def judged_target(self, target: Target | None) -> Target | None:
        """`target` (the plan's or a revision) as it is judged for this indicator: for one where
        lower is better, a rate target whose wording sets no direction is a ceiling (as_ceiling),
        and a range's better side is below it."""
        if self.better == "higher":
            return target
        if isinstance(target, RangeTarget):
            return as_lower_better(target)
        return as_ceiling(target) if isinstance(target, RateTarget) else target

    @property
    def target_text(self) -> str:
        """The plan's target as the report words it; 「-」 for an indicator without one."""
        return self.target.text if self.target is not None else "-"


MAIN_SECTION = "主要指标"
NO_TARGET = frozenset({"-", "—", "－", ""})  # as reports print an actual-only row's 全年目标
_BARE_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_GROWTH_SUFFIX = re.compile(r"(?:增长|增速|增幅|涨幅)$")


def _unset(value: object) -> bool:
    return value is None


def _without_growth(name: str) -> str:
    """地区生产总值增长 → 地区生产总值: a relative target or a named target may add the word."""
    return _GROWTH_SUFFIX.sub("", name)


def resolve_name(names: Mapping[str, str], name: str) -> str | None:
    """The indicator id a relative target's reference names: as written, else without 增长/增速,
    else with them (高于经济增长 reads its reference as 经济: the alias may be 经济增长)."""
    return names.get(name) or names.get(_without_growth(name)) or names.get(f"{name}增长") or names.get(f"{name}增速")


class Project(_Strict):
    id: SubjectId
    name: str = Field(min_length=1)
    department: DepartmentId = Field(description="the owning department, which reports the project's progress")
    category: str = Field(min_length=1, description="e.g. 工业, 基础设施, 社会民生")
    planned_investment_wan: Decimal = Field(ge=0, description="investment planned for the plan year, 万元")
    planned_start: PeriodText = Field(description="month the project is planned to start, YYYY-MM")
    planned_completion: PeriodText = Field(description="month the project is planned to be completed, YYYY-MM")
    synthetic: bool = Field(default=False, description="true for demo projects not named in the source report")
    # Fields added after plans were first stored stay out of the stored form while unset (the
    # plan's digest, and so its event id, is unchanged): see events.targets.
    project_type: str | None = Field(
        default=None,
        min_length=1,
        exclude_if=_unset,
        description="the report's kind of key project: 新开工, 续建, 前期, or the plan's own (portfolio.types)",
    )
    scopes: tuple[str, ...] = Field(
        default=(),
        exclude_if=lambda scopes: not scopes,
        description="the scopes it belongs to, each with its own line (portfolio.scopes): by level 省级/市级/县级, "
        "by stage 在建/新开工/预备, or both",
    )

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


Figure = Literal["count", "started", "start_rate", "investment", "investment_rate", "completed", "completion_rate"]
SEED_FIGURES: tuple[Figure, ...] = ("count", "started", "start_rate", "investment", "investment_rate")


class ProjectType(_Strict):
    """One kind of key project the report gives its own sentence (新开工, 续建, 前期 …)."""

    name: str = Field(min_length=1, description="as projects' project_type names it and the report prints it")
    starts: bool = Field(
        default=False,
        description="projects of this kind are due to start this year: they make the start rate "
        "(新开工 yes; 续建, already under way, no)",
    )
    start_rate_of: Literal["all", "due"] = Field(
        default="all",
        description="the start rate's denominator: all projects of the kind, or those due (planned start month ended)",
    )
    figures: tuple[Figure, ...] = Field(
        default=("count", "started", "start_rate", "investment", "investment_rate"),
        description="what its sentence prints, in order",
    )


class ProjectScope(_Strict):
    """A scope of key projects with its own line in the report (省级重点项目12个，完成投资7.3亿元，…): by
    level (省级, 市级, 县级) or by stage (在建, 新开工, 预备); a project names the scopes it is in."""

    name: str = Field(min_length=1, description="as projects' scopes name it: 省级, 在建 …")
    label: str | None = Field(
        default=None, min_length=1, description="how its line names the projects; unset: name + 重点项目 (省级重点项目)"
    )
    figures: tuple[Figure, ...] = Field(
        default=("count", "investment", "investment_rate"), description="what its line prints, in order"
    )
    start_rate_of: Literal["all", "due"] = Field(
        default="all", description="the start rate's denominator: all its projects that start this year, or those due"
    )

    @property
    def words(self) -> str:
        return self.label or f"{self.name}重点项目"


class Precision(_Strict):
    """How many decimals the report prints, where a plan's report differs from the seed's: each
    key-project rate, and amounts in 亿元 (reports often print 7.3亿元 where the seed prints 7.25亿元)."""

    start_rate: int = Field(default=1, ge=0, le=4, description="开工率 decimals")
    investment_rate: int = Field(default=1, ge=0, le=4, description="投资完成率 (or the plan's rate label) decimals")
    completion_rate: int = Field(default=1, ge=0, le=4, description="竣工率 decimals")
    amounts_yi: int | None = Field(
        default=None,
        ge=0,
        le=4,
        description="decimals of amounts in 亿元, printed to exactly this many (7.3亿元, 91.0亿元); unset: up to "
        "two, trailing zeros dropped (91亿元, 7.25亿元), as the seed",
    )


class PortfolioLines(_Strict):
    """How the report words the key projects, when not as the seed does: the rate's label, the
    figures of the total sentence (a figure the plan office does not know is left out, never
    invented), and a sentence per kind of project."""

    rate_label: Literal["投资完成率", "投资进度", "完成年度计划的"] = "投资完成率"
    figures: tuple[Figure, ...] = Field(default=SEED_FIGURES, description="what the total sentence prints, in order")
    types: tuple[ProjectType, ...] = Field(default=(), description="a sentence per kind, in this order")
    scopes: tuple[ProjectScope, ...] = Field(
        default=(),
        exclude_if=lambda scopes: not scopes,  # unset: the plan's stored form as before
        description="a line per scope of projects (by level or by stage), in this order",
    )

    @model_validator(mode="after")
    def _distinct(self) -> PortfolioLines:
        names = [t.name for t in self.types]
        problems: list[Problem] = [
            (("types", index, "name"), f"project type {names[index]!r} is listed twice")
            for index in _duplicate_indexes(names)
        ]
        scopes = [scope.name for scope in self.scopes]
        problems += [
            (("scopes", index, "name"), f"scope {scopes[index]!r} is listed twice")
            for index in _duplicate_indexes(scopes)
        ]
        if problems:
            raise LocatedProblems(problems)
        return self


class RateBands(_Strict):
    """Growth-rate and rate targets, in 个百分点 behind the target."""

    at_risk_points: Decimal = Field(default=Decimal(0), ge=0, description="behind by more than this → at risk")
    off_track_points: Decimal = Field(default=Decimal(2), ge=0, description="behind by more than this → off track")
    about_tolerance: Decimal = Field(default=Decimal(0), ge=0, description="how far below a 左右 target still counts")
    # Left out of the stored form while "missed", so a plan stored before keeps its digest.
    range_beyond: Literal["missed", "met"] = Field(
        default="missed",
        exclude_if=lambda judged: judged == "missed",
        description="a value past a range target on its better side (above 6.5%—7%; below it where lower is "
        "better): missed (outside the range, the design's reading) or met (the range a floor with a stretch)",
    )

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
    excess_factor: Decimal = Field(
        default=Decimal("1.5"),
        gt=1,
        exclude_if=lambda factor: factor == Decimal("1.5"),  # unset: the plan's stored form as before
        description="investment completed above this multiple of the year's plan is noted in the report "
        "(a year-to-date figure sent as a period amount, or a wrong unit, shows up so)",
    )


InhibitLabel = Literal["subject", "department"]


class InhibitRule(_Strict):
    """While an alert of rule `source` fires, the alerts of the rules in `targets` that agree with
    it on every label in `equal` are inhibited: recorded and listed (已抑制), not notified."""

    source: str = Field(description="the inhibiting rule, e.g. data_stale")
    targets: tuple[str, ...] = Field(min_length=1, description="the rules it inhibits")
    equal: tuple[InhibitLabel, ...] = Field(default=(), description="labels both must share; none: plan-wide")

    @field_validator("source")
    @classmethod
    def _known_source(cls, rule: str) -> str:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}: one of {', '.join(RULES)}")
        return rule

    @field_validator("targets")
    @classmethod
    def _known_targets(cls, rules: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [rule for rule in rules if rule not in RULES]
        if unknown:
            raise ValueError(f"unknown rule(s) {', '.join(unknown)}: one of {', '.join(RULES)}")
        return rules

    @model_validator(mode="after")
    def _not_itself(self) -> InhibitRule:
        if self.source in self.targets:
            raise ValueError(f"{self.source} cannot inhibit itself")
        return self


STALE_INHIBITS_VALUES = InhibitRule(  # opt-in: see docs/design/alerts.md (Inhibition) for why not by default
    source="data_stale", targets=("indicator_behind", "relative_target"), equal=("subject",)
)
DEFAULT_INHIBIT: tuple[InhibitRule, ...] = (
    # most of the plan's data overdue at once: one alert, not one per indicator
    InhibitRule(source="data_outage", targets=("data_stale",)),
)
RESOLVE_MARGIN = Decimal("0.1")  # one decimal: the precision reports print figures and gaps in
RESOLVE_AFTER_PERIODS = 2
NEW_ALERT_FIELDS = {
    "inhibit": DEFAULT_INHIBIT,
    "outage_share": Decimal(50),
    "resolve_margin": RESOLVE_MARGIN,
    "resolve_after_periods": RESOLVE_AFTER_PERIODS,
}  # left out of the stored form at their defaults


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
    outage_share: Decimal = Field(
        default=Decimal(50), gt=0, le=100, description="data_outage: at least this % of the indicators overdue at once"
    )
    outage_min_indicators: int = Field(default=5, ge=1, description="data_outage: … and at least this many")
    inhibit: tuple[InhibitRule, ...] = Field(
        default=DEFAULT_INHIBIT, description="which firing alerts quiet which others (default: see DEFAULT_INHIBIT)"
    )
    resolve_margin: Decimal = Field(
        default=RESOLVE_MARGIN,
        ge=0,
        le=100,
        description="hysteresis: a value alert resolves at once only when the value is back past the threshold "
        "by this much — 个百分点 for rate, range, relative and cumulative (completion vs 序时进度) targets, the "
        "indicator's unit for level targets; a value back by less keeps it firing (待恢复)",
    )
    resolve_after_periods: int = Field(
        default=RESOLVE_AFTER_PERIODS,
        ge=1,
        le=12,
        description="hysteresis: … or once the value has been back within the target this many data periods "
        "running (1: at the first period back, whatever the margin)",
    )

    @model_serializer(mode="wrap")
    def _stored_form(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # plans stored before these fields existed keep their bytes (and digests) at the defaults
        data: dict[str, Any] = handler(self)
        for name, default in NEW_ALERT_FIELDS.items():
            if getattr(self, name) == default:
                data.pop(name, None)
        return data


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
class _CronField(NamedTuple):
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # the names of low, low + 1, … (months from 1, weekdays from 0)


_CRON_FIELDS: tuple[_CronField, ...] = (
    _CronField("minute", 0, 59),
    _CronField("hour", 0, 23),
    _CronField("day", 1, 31),
    _CronField("month", 1, 12, tuple("jan feb mar apr may jun jul aug sep oct nov dec".split())),
    _CronField("day of week", 0, 6, tuple("mon tue wed thu fri sat sun".split())),
)
# The part forms APScheduler compiles, tried in its order: `*[/step]`, `first[-last][/step]`, and
# names `first[-last]` in the month and day of week fields (it ignores whatever follows a name, so
# `jan-dec/3` would run monthly: refused here), plus `last` for the last day of the month.
_CRON_ALL = re.compile(r"\*(?:/(?P<step>\d+))?")
_CRON_NUMBERS = re.compile(r"(?P<first>\d+)(?:-(?P<last>\d+))?(?:/(?P<step>\d+))?")
_CRON_NAMES = re.compile(r"(?P<first>[a-z]+)(?:-(?P<last>[a-z]+))?")


def crontab_problem(cron: str) -> str | None:
    """Why `cron` is not a five-field crontab (minute hour day month weekday), or None."""
    fields = cron.split()
    if len(fields) != 5:
        return f"expected 5 fields (minute hour day month weekday), got {len(fields)}"
    for text, field in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.lower().split(","):
            problem = _cron_part_problem(part, field)
            if problem:
                return f"{field.name}: {problem}"
    return None


def _cron_part_problem(part: str, field: _CronField) -> str | None:
    if match := _CRON_ALL.fullmatch(part):
        return _cron_step_problem(match["step"], field.high - field.low)
    if match := _CRON_NUMBERS.fullmatch(part):
        first, last = int(match["first"]), int(match["last"] or match["first"])
        for value in (first, last):
            if not field.low <= value <= field.high:
                return f"{value} is outside {field.low}-{field.high}"
        if first > last:
            return f"the range {part!r} runs backwards"
        # `5/10` runs from 5 to the field's end, as in APScheduler
        return _cron_step_problem(match["step"], (last if match["last"] else field.high) - first)
    if field.names and (match := _CRON_NAMES.fullmatch(part)):
        unknown = [name for name in (match["first"], match["last"]) if name is not None and name not in field.names]
        if unknown:
            return f"{unknown[0]!r} is not one of {', '.join(field.names)}"
        if match["last"] and field.names.index(match["first"]) > field.names.index(match["last"]):
            return f"the range {part!r} runs backwards"
        return None
    if field.name == "day" and part == "last":
        return None
    if field.names and "/" in part:
        return f"{part!r}: a step needs numbers, not names"
    return f"{part!r} is not a value, a range or a step"


def _cron_step_problem(step: str | None, span: int) -> str | None:
    """APScheduler refuses a step of 0 and a step longer than the range it steps through."""
    if step is None:
        return None
    if int(step) == 0:
        return "a step of 0"
    if int(step) > span:
        return f"a step of {int(step)} is longer than the range it steps through ({span})"
    return None


class Plan(_Strict):
    id: PlanId
    name: str = Field(min_length=1, description="e.g. 荣昌区2025年国民经济和社会发展计划")
    region: str = Field(min_length=1)
    year: int = Field(ge=2000, le=2100)
    timezone: str = "Asia/Shanghai"
    office: DepartmentId = Field(description="the department that owns the plan (区发展改革委)")
    projects_label: str = Field(default="重点项目", description="how the report names the portfolio, e.g. 区级重点项目")
    investment_basis: Basis = Field(
        default="period",
        exclude_if=lambda basis: basis == "period",  # unset: a plan's digest and stored form as before
        description="how departments report investment.completed when an event does not say: period (the "
        "amount of the period) or ytd (年初至今累计, 1—6月 7,000万元)",
    )
    departments: tuple[Department, ...] = Field(min_length=1)
    indicators: tuple[Indicator, ...] = ()
    projects: tuple[Project, ...] = ()
    thresholds: Thresholds = Thresholds()
    rollup: RollupSchedule = RollupSchedule()
    portfolio: PortfolioLines | None = Field(
        default=None,
        exclude_if=_unset,
        description="how the report words the key projects; absent: as the seed report does",
    )
    precision: Precision | None = Field(
        default=None,
        exclude_if=_unset,
        description="decimals of the printed key-project rates and of amounts in 亿元; absent: as the seed prints",
    )

    _indicators: dict[str, Indicator] = PrivateAttr(default_factory=dict)
    _projects: dict[str, Project] = PrivateAttr(default_factory=dict)
    _departments: dict[str, str] = PrivateAttr(default_factory=dict)
    _references: dict[str, str | None] = PrivateAttr(default_factory=dict)
    _referenced_by: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    if TYPE_CHECKING:
        __pydantic_private__: dict[str, Any]  # never None: a Plan has private attributes

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        return known_zone(name)

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        names = self._indicator_names()
        problems = (
            self._department_problems()
            + self._subject_problems()
            + _ambiguous_orders(self.indicators)
            + _ambiguous_names(self.indicators)
            + _reference_problems(self.indicators, names)
            + self._project_type_problems()
            + self._scope_problems()
        )
        if problems:
            raise LocatedProblems(problems)
        return self

    def _department_problems(self) -> list[Problem]:
        departments = [d.id for d in self.departments]
        problems: list[Problem] = [
            (("departments", index, "id"), f"department id {departments[index]!r} is defined twice")
            for index in _duplicate_indexes(departments)
        ]
        if self.office not in departments:
            problems.append((("office",), f"office {self.office!r} is not one of the plan's departments"))
        return problems

    def _subject_problems(self) -> list[Problem]:
        """Ids used twice, and owners that are not the plan's departments."""
        subjects: list[tuple[str, int, Indicator | Project]] = [
            *(("indicators", position, indicator) for position, indicator in enumerate(self.indicators)),
            *(("projects", position, project) for position, project in enumerate(self.projects)),
        ]
        problems: list[Problem] = []
        for index in _duplicate_indexes([item.id for _, _, item in subjects]):
            kind, position, item = subjects[index]
            problems.append(
                ((kind, position, "id"), f"id {item.id!r} is used twice (indicators and projects share one namespace)")
            )
        known = {d.id for d in self.departments}
        problems += [
            ((kind, position, "department"), f"{item.id}: unknown department {item.department!r}")
            for kind, position, item in subjects
            if item.department not in known
        ]
        return problems

    def _project_type_problems(self) -> list[Problem]:
        """With portfolio types, every project names one of them; without, none may."""
        known = {t.name for t in self.portfolio.types} if self.portfolio else set()
        return [
            (
                ("projects", position, "project_type"),
                f"{project.id}: project_type {project.project_type!r} is not one of portfolio.types "
                f"({'、'.join(sorted(known)) or 'none listed'})",
            )
            for position, project in enumerate(self.projects)
            if (project.project_type is not None or known) and project.project_type not in known
        ]

    def _scope_problems(self) -> list[Problem]:
        """A project's scopes are among portfolio.scopes, each named once."""
        known = {scope.name for scope in self.portfolio.scopes} if self.portfolio else set()
        problems: list[Problem] = []
        for position, project in enumerate(self.projects):
            for index, scope in enumerate(project.scopes):
                where = ("projects", position, "scopes", index)
                if scope not in known:
                    listed = "、".join(sorted(known)) or "none listed"
                    problems.append((where, f"{project.id}: scope {scope!r} is not one of portfolio.scopes ({listed})"))
                elif scope in project.scopes[:index]:
                    problems.append((where, f"{project.id}: scope {scope!r} is named twice"))
        return problems

    def model_post_init(self, context: object) -> None:
        # Lookups by id happen per event on every write and judgement: index once. Every Plan
        # builds the same index from the same fields, so equality of plans is unaffected.
        self._indicators = {i.id: i for i in self.indicators}
        self._projects = {p.id: p for p in self.projects}
        self._departments = {d.id: d.name for d in self.departments}
        names = self._indicator_names()
        self._references = {
            i.id: resolve_name(names, i.target.reference)
            for i in self.indicators
            if isinstance(i.target, RelativeTarget)
        }
        referenced_by: dict[str, list[str]] = {}
        for indicator_id, reference in self._references.items():
            if reference:
                referenced_by.setdefault(reference, []).append(indicator_id)
        self._referenced_by = referenced_by

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

    def resolve_reference(self, name: str) -> str | None:
        """The indicator a relative target's reference names (id, name or alias), if any."""
        return resolve_name(self._indicator_names(), name)

    # The index is read from __pydantic_private__ itself: pydantic's attribute hook costs µs.
    def reference_of(self, indicator: Indicator) -> str | None:
        """The id of the indicator a relative target compares against."""
        reference: str | None = self.__pydantic_private__["_references"].get(indicator.id)
        return reference

    def referencing(self, subject: str) -> list[str]:
        """Indicators whose relative target compares against `subject`."""
        referencing: list[str] = self.__pydantic_private__["_referenced_by"].get(subject, [])
        return referencing

    def indicator(self, subject: str) -> Indicator | None:
        indicator: Indicator | None = self.__pydantic_private__["_indicators"].get(subject)
        return indicator

    def project(self, subject: str) -> Project | None:
        project: Project | None = self.__pydantic_private__["_projects"].get(subject)
        return project

    def under_way(self, project: Project) -> bool:
        """Is the project of a kind already under way this year (续建: `starts: false`), so never
        "not started"? Projects of a plan without kinds are not."""
        if self.portfolio is None or project.project_type is None:
            return False
        return any(t.name == project.project_type and not t.starts for t in self.portfolio.types)

    def owner_of(self, subject: str) -> str | None:
        """The department that may report on a subject; the office owns the plan itself."""
        if subject == self.id:
            return self.office
        item = self.indicator(subject) or self.project(subject)
        return item.department if item else None

    def department_name(self, department: str) -> str:
        name: str = self.__pydantic_private__["_departments"].get(department, department)
        return name


def _reference_problems(indicators: tuple[Indicator, ...], names: dict[str, str]) -> list[Problem]:
    """Relative targets must name another indicator (by id, name or alias)."""
    problems: list[Problem] = []
    for position, indicator in enumerate(indicators):
        target = indicator.target
        if not isinstance(target, RelativeTarget):
            continue
        where = ("indicators", position, "target")
        reference = resolve_name(names, target.reference)
        if reference is None:
            problems.append(
                (
                    where,
                    f"{indicator.id}: target {target.text!r} refers to {target.reference!r}, "
                    "which is no indicator's id, name or alias",
                )
            )
        elif reference == indicator.id:
            problems.append((where, f"{indicator.id}: target refers to the indicator itself"))
    return problems


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
        spelled: list[tuple[tuple[str | int, ...], str, str]] = [
            (("id",), "id", indicator.id),
            (("name",), "name", indicator.name),
        ]
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
