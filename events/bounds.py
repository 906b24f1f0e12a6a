"""Input bounds: what planwatch accepts, stated once and used by every entry point.

Two kinds, both pure:

- **Constrained types** the event models are built from (`Reported`, `ReportedNumber`, `Amount`,
  `Note`, `Reason`, `EventId`, `EventDate`): finite numbers, dates inside the years
  periods allow, a real event id, text of a bounded length. Most are checked by pydantic in Rust.
  A check that costs a call into Python per event (a Decimal's size and places, the nil UUID) is
  left out of the two types a replay decodes by the million (`indicator.updated`'s value and
  `investment.completed`'s amount: `Reported`, a plain `EventId` check at submission): every
  submission meets it here (`SubmissionBounds`), and the fold parks a stored number a reader could
  not compute with (`number_fits`), so a stored event outside the bounds never fails a reader.
- **Plan-aware checks** (`submission_problems`): what only makes sense against the plan the event
  is for — the period inside the plan year, dates in a window around it, a value within the bounds
  of its indicator's unit. `services.app.ingest.prepare` runs them for every submission (HTTP,
  inbox, spreadsheet, CLI), so every path refuses the same things with the same words.

docs/input-bounds.md lists every bound with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Final
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field

from events.periods import REPORTING_STEP, period_end

# --- what every stored event satisfies (checked on write and on read) ------------------------

MAX_MAGNITUDE: Final = 10**15
"""No reported number is larger than this in absolute value (10^15 万元 is 10^19 yuan)."""
MAX_PLACES: Final = 6
"""Nor has more decimal places (a value and its quotients stay within Decimal's 28 digits)."""
NOTE_MAX: Final = 2000
REASON_MAX: Final = 500
EARLIEST_DAY: Final = date(2000, 1, 1)  # the years a period may name: 2000..2100
LATEST_DAY: Final = date(2100, 12, 31)


def _not_nil(value: UUID) -> UUID:
    if value.int == 0:
        raise ValueError("the all-zero UUID is not an event id: generate a random one (uuid4)")
    return value


Reported = Annotated[Decimal, Field(allow_inf_nan=False)]
"""A finite number, as the events a replay decodes by the million keep it: its size and places are
checked at submission (`SubmissionBounds`) and by the fold (`number_fits`), not per decode."""

ReportedNumber = Annotated[
    Decimal, Field(allow_inf_nan=False, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE, decimal_places=MAX_PLACES)
]
"""A finite number in an indicator's unit, |x| ≤ 10^15, at most 6 decimal places."""

Amount = Annotated[Decimal, Field(allow_inf_nan=False, ge=0, le=MAX_MAGNITUDE, decimal_places=MAX_PLACES)]
"""A non-negative amount (万元), ≤ 10^15, at most 6 decimal places."""

Note = Annotated[str, Field(max_length=NOTE_MAX)]
Reason = Annotated[str, Field(min_length=1, max_length=REASON_MAX)]
EventId = Annotated[UUID, AfterValidator(_not_nil)]
EventDate = Annotated[date, Field(ge=EARLIEST_DAY, le=LATEST_DAY)]


def number_fits(value: Decimal) -> bool:
    """Whether a stored number is one a reader can compute with: |x| < 10^15 and, unless zero, not
    below 10^-6 in size (quantising it then stays within Decimal's 28 digits). What the fold checks
    of every value it applies: one method call, no allocation."""
    return not value or -MAX_PLACES <= value.adjusted() < 15


def canonical_decimal_text(number: Decimal) -> str:
    """A number as one text whatever way it was written: `7.90`, `7.9` and `79E-1` are `7.9`;
    `1E+2` is `100`; `-0` is `0`."""
    text = f"{number.normalize():f}"
    return "0" if text in ("-0", "0") else text


def is_canonical(number: Decimal) -> bool:
    """Whether `number` is already written as `canonical_decimal_text` writes it: no exponent, no
    trailing zero after the point, not -0 (its text is quicker to look at than its digit tuple)."""
    text = str(number)
    return not ("E" in text or (text[-1] == "0" and "." in text) or text == "-0" or not number.is_finite())


# --- plan-aware checks (submissions) ---------------------------------------------------------

OCCURRED_YEARS_BEFORE: Final = 1  # a report happens from a year before the plan year …
OCCURRED_YEARS_AFTER: Final = 2  # … to two years after it (late annual statistics, revisions)
DATE_YEARS_BEFORE: Final = 5  # a project's start or completion: plan year − 5 …
DATE_YEARS_AFTER: Final = 1  # … to plan year + 1; a year further off is a typing mistake


@dataclass(frozen=True)
class UnitBounds:
    """The values an indicator in this unit may report."""

    low: Decimal
    high: Decimal
    places: int
    what: str  # for the reason: "a percentage", "a count", …

    @property
    def quantum(self) -> Decimal:
        return _QUANTA[self.places]

    def fits(self, value: Decimal) -> bool:
        """`problem(value) is None`, quickly (quantising a value within the bounds is exact and
        cheaper than taking its digits apart)."""
        return self.low <= value <= self.high and value == value.quantize(self.quantum)

    def problem(self, value: Decimal) -> tuple[str, str] | None:
        """Why `value` is outside these bounds (English, Chinese), or None."""
        if not self.low <= value <= self.high:
            low, high = canonical_decimal_text(self.low), canonical_decimal_text(self.high)
            return (
                f"{canonical_decimal_text(value)} is outside {low}..{high}, the range of {self.what}",
                f"数值超出范围（{low}～{high}）",
            )
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > self.places:
            if self.places == 0:
                return f"{self.what} is a whole number", "应为整数"
            return f"{self.what} has at most {self.places} decimal places", f"最多保留{self.places}位小数"
        return None


_QUANTA: Final = {places: Decimal(1).scaleb(-places) for places in range(MAX_PLACES + 1)}
PERCENT = UnitBounds(Decimal(-100_000), Decimal(100_000), 4, "a percentage")
MONEY = UnitBounds(Decimal(-(10**11)), Decimal(10**11), 4, "an amount in 万元 (10^11 万元 is 1,000万亿元)")
# Counts (个, 家, 人 …) are not held to whole numbers: departments report averages and changes
# (建成投产 23.5, a net change of -1,234.5) that the spreadsheet has always taken.
OTHER = UnitBounds(Decimal(-(10**12)), Decimal(10**12), 4, "a quantity")
INVESTMENT = UnitBounds(Decimal(0), Decimal(10**11), 4, "an investment in 万元")


def unit_bounds(unit: str) -> UnitBounds:
    if unit == "%":
        return PERCENT
    if unit == "万元":
        return MONEY
    return OTHER


@dataclass(frozen=True)
class Problem:
    """One plan-aware problem of an event: its field as the sender wrote it, and why."""

    field: str
    reason: str
    reason_zh: str


class SubmissionBounds:
    """The plan-aware bounds of one plan: the plan year and the windows around it (in the plan's
    time zone), and each indicator's unit bounds. Built once per plan (`bounds_for`); `problems` per event, with
    a quick pass for the usual event (a value of the plan year, reported in its window, in bounds)."""

    def __init__(self, plan: Any) -> None:
        year, zone = plan.year, ZoneInfo(plan.timezone)
        self.year, self.year_text = year, str(year)
        self.first_day = date(year - DATE_YEARS_BEFORE, 1, 1)
        self.last_day = date(year + DATE_YEARS_AFTER, 12, 31)
        self.first_report, self.last_report = (
            date(year - OCCURRED_YEARS_BEFORE, 1, 1),
            date(year + OCCURRED_YEARS_AFTER, 12, 31),
        )
        # as instants in the plan's zone: comparing aware datetimes is cheaper than converting each
        self.reports_from = datetime(year - OCCURRED_YEARS_BEFORE, 1, 1, tzinfo=zone)
        self.reports_until = datetime(year + OCCURRED_YEARS_AFTER + 1, 1, 1, tzinfo=zone)
        self.units = {indicator.id: unit_bounds(indicator.unit) for indicator in plan.indicators}
        self.with_growth = frozenset(indicator.id for indicator in plan.indicators if indicator.with_growth)
        # the periods of the plan year a quarterly or annual indicator may report (a monthly one: any)
        self.every = {indicator.id: REPORTING_STEP[indicator.frequency] for indicator in plan.indicators}
        self.due = {subject: _periods_ending_every(step, year) for subject, step in self.every.items() if step > 1}
        # a report dated (in its own offset) in the plan year or the next is inside the window
        # whatever the offset: the quick pass compares years, the exact check the instants
        self.surely_inside = (year, year + 1)

    def problems(self, event: Any) -> list[Problem]:
        """What is out of bounds in `event` (a parsed Event) for the plan: the nil event id, the
        period outside the plan year, `occurred_at` or a date outside its window, a number outside
        its bounds. Typed loosely so that the plan module and the models need not import each other."""
        if (
            event.type == "indicator.updated"
            and event.period.startswith(self.year_text)  # periods are validated: YYYY first
            and event.occurred_at.year in self.surely_inside
            and event.event_id.int
            and ((bounds := self.units.get(event.subject)) is None or bounds.fits(event.value))
            and ((due := self.due.get(event.subject)) is None or event.period in due)
            and ((growth := event.growth) is None) is (event.subject not in self.with_growth)
            and (growth is None or PERCENT.fits(growth))
        ):
            return []  # the usual event, checked in a few comparisons
        return self._all_problems(event)

    def _all_problems(self, event: Any) -> list[Problem]:
        problems: list[Problem] = []
        if event.event_id.int == 0:
            reason = "the all-zero UUID is not an event id: generate a random one (uuid4)"
            problems.append(Problem("event_id", reason, "不是有效的UUID"))
        if not event.period.startswith(self.year_text):
            reason = f"{event.period} is outside the plan year {self.year}"
            problems.append(Problem("period", reason, f"报告期不在计划年度{self.year}年内"))
        if not self.reports_from <= event.occurred_at < self.reports_until:
            problems.append(_outside("occurred_at", event.occurred_at.date(), self.first_report, self.last_report))
        if event.type in _DAY_FIELDS:
            name = _DAY_FIELDS[event.type]
            day = getattr(event, name)
            if not self.first_day <= day <= self.last_day:
                problems.append(_outside(name, day, self.first_day, self.last_day))
        if event.type in ("target.revised", "project.registered"):  # numbers of a target or a project
            field = "target" if event.type == "target.revised" else "project"
            problems += [
                Problem(".".join([field, *map(str, path)]), reason, "数值超出范围")
                for path, reason in model_number_problems(getattr(event, field))
            ]
        return problems + self._frequency_problems(event) + self._value_problems(event)

    def _frequency_problems(self, event: Any) -> list[Problem]:
        """An indicator's value is for a period its frequency reports: a quarterly indicator's ends
        with a quarter (2025-Q2, 2025-06, 2025-H1), an annual one's with the year (2025, 2025-12)."""
        if event.type != "indicator.updated":
            return []
        step = self.every.get(event.subject, 1)
        if period_end(event.period).month % step == 0:
            return []
        frequency, months, example = FREQUENCY_WORDING[step]
        return [
            Problem(
                "period",
                f"{event.subject} is reported {frequency}: a period ending in {months} "
                f"(e.g. {example.format(year=self.year)}), not {event.period}",
                f"该指标按{FREQUENCY_ZH[step]}报送，报告期应为{FREQUENCY_EXAMPLE_ZH[step].format(year=self.year)}",
            )
        ]

    def _value_problems(self, event: Any) -> list[Problem]:
        if event.type == "indicator.updated":
            bounds = self.units.get(event.subject)
            problems = self._growth_problems(event) if bounds is not None else []
            if bounds is not None and (found := bounds.problem(event.value)):
                problems.insert(0, Problem("value", *found))
            return problems
        elif event.type == "investment.completed" and (found := INVESTMENT.problem(event.amount_wan)):
            return [Problem("amount_wan", *found)]
        return []

    def _growth_problems(self, event: Any) -> list[Problem]:
        """A level and its growth rate come together for an indicator reported so (with_growth), and
        a growth rate for no other."""
        growth = event.growth
        if event.subject in self.with_growth:
            if growth is None:
                reason = f"{event.subject} is reported as a level and its growth rate: send growth (YoY %) beside value"
                return [Problem("growth", reason, "该指标需同时报送总量和同比增速（growth）")]
            found = PERCENT.problem(growth)
            return [Problem("growth", *found)] if found else []
        if growth is not None:
            reason = f"{event.subject} is not reported with a growth rate (the plan's with_growth): leave growth out"
            return [Problem("growth", reason, "该指标不报送同比增速，请勿填写growth")]
        return []


_KEPT_BOUNDS: Final = 1024  # plans whose bounds a process keeps (a province has a few hundred)
_bounds_kept: dict[int, tuple[Any, SubmissionBounds]] = {}


def bounds_for(plan: Any) -> SubmissionBounds:
    """The submission bounds of `plan`, built once per plan object: a plan is frozen, and building
    them per request was a twentieth of a single-event POST. Keyed by identity (hashing a whole plan
    costs more than building), the plan held so that its id is not reused while kept."""
    kept = _bounds_kept.get(id(plan))
    if kept is not None and kept[0] is plan:
        return kept[1]
    if len(_bounds_kept) >= _KEPT_BOUNDS:
        _bounds_kept.pop(next(iter(_bounds_kept)))  # the oldest: a plan replaced long ago, usually
    bounds = SubmissionBounds(plan)
    _bounds_kept[id(plan)] = (plan, bounds)
    return bounds


@cache  # built for every submission: it was a third of a single-event POST's time
def _periods_ending_every(step: int, year: int) -> frozenset[str]:
    """The period texts of `year` whose last month is a multiple of `step` (3: 2025-03, 2025-Q1, 2025-H1, …)."""
    texts = [f"{year}-{month:02d}" for month in range(1, 13)] + [f"{year}-Q{q}" for q in range(1, 5)]
    texts += [f"{year}-H1", f"{year}-H2", str(year)]
    return frozenset(text for text in texts if period_end(text).month % step == 0)


FREQUENCY_WORDING: Final = {
    1: ("monthly", "any month", "{year}-06"),
    3: ("quarterly", "March, June, September or December", "{year}-Q2 or {year}-06"),
    12: ("annually", "December", "{year} or {year}-12"),
}
FREQUENCY_ZH: Final = {1: "月", 3: "季", 12: "年"}
FREQUENCY_EXAMPLE_ZH: Final = {
    1: "月份（如{year}-06）",
    3: "季度（如{year}-Q2）或季末月份（3、6、9、12月，如{year}-06）",
    12: "全年（{year}）或12月（{year}-12）",
}

_DAY_FIELDS: Final = {"project.started": "started_on", "project.completed": "completed_on"}


def _outside(name: str, day: date, first: date, last: date) -> Problem:
    return Problem(
        name,
        f"{day} is not between {first} and {last}, the window around the plan year",
        f"日期应在{first}至{last}之间",
    )


# --- the rules a newly published plan must meet (plan.published v2) -------------------------

PROJECT_START_YEARS_BEFORE: Final = DATE_YEARS_BEFORE  # a key project planned to start in plan year − 5 …
PROJECT_START_YEARS_AFTER: Final = DATE_YEARS_AFTER  # … to plan year + 1
PROJECT_COMPLETION_YEARS_AFTER: Final = 10  # and to be completed by plan year + 10


def number_problem(value: Decimal) -> str | None:
    """Why a number of a plan is out of the bounds every reported number keeps, or None."""
    if not value.is_finite():
        return f"{value} is not a finite number"
    if abs(value) > MAX_MAGNITUDE:
        return f"{canonical_decimal_text(value)} is larger than 10^15"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_PLACES:
        return f"{value} has more than {MAX_PLACES} decimal places"
    return None


def plan_rule_problems(plan: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """What a plan being published breaks of the plan rules (field path, reason): every number
    within the bounds of a reported number (readers compute with them), and key projects planned
    to start and end within a window around the plan year. Plans published before these rules
    are read as they were accepted (events.upcasting)."""
    problems = model_number_problems(plan)
    for index, project in enumerate(plan.projects):
        start, end = int(project.planned_start[:4]), int(project.planned_completion[:4])
        if not plan.year - PROJECT_START_YEARS_BEFORE <= start <= plan.year + PROJECT_START_YEARS_AFTER:
            problems.append(
                (
                    ("projects", index, "planned_start"),
                    f"{project.id}: planned to start in {start}, outside "
                    f"{plan.year - PROJECT_START_YEARS_BEFORE}..{plan.year + PROJECT_START_YEARS_AFTER}",
                )
            )
        latest = plan.year + PROJECT_COMPLETION_YEARS_AFTER
        if end > latest:
            where = ("projects", index, "planned_completion")
            problems.append((where, f"{project.id}: planned to be completed in {end}, after {latest}"))
    return problems


PERCENT_FORMS = ("rate", "range", "relative")  # targets whose figures are percentages (growth, a rate)


def percent_target_problems(plan: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Each indicator's `percent_target_problem`, with its path. Checked where a plan is published
    or checked, not in the stored event's model: a plan stored before this check is read as it
    was accepted."""
    return [
        (("indicators", index, "target"), problem)
        for index, indicator in enumerate(plan.indicators)
        if (problem := percent_target_problem(indicator, indicator.target)) is not None
    ]


def percent_target_problem(indicator: Any, target: Any) -> str | None:
    """A target in % on an indicator reported in another unit (地区生产总值 in 亿元, 增长6%): its
    values would be judged against the percentage, and mean nothing; the level must come with its
    growth (`with_growth`), which the target then judges. None when the target fits."""
    if target is None or target.form not in PERCENT_FORMS or indicator.unit == "%" or indicator.with_growth:
        return None
    return (
        f"{indicator.id}: the target {target.text!r} is a percentage, but the values are in {indicator.unit}: "
        "set with_growth: true (the level reported with its growth, judged on the growth), or unit: '%'"
    )


def model_number_problems(model: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Every number of a (nested) model — a plan, a target, a project — out of the bounds of a
    reported number, with its path."""
    return _number_problems(model, ())


def _number_problems(model: Any, path: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = list(enumerate(value)) if isinstance(value, tuple) else [(None, value)]
        for index, item in items:
            where = (*path, name) if index is None else (*path, name, index)
            if isinstance(item, Decimal):
                if (problem := number_problem(item)) is not None:
                    problems.append((where, problem))
            elif hasattr(type(item), "model_fields"):
                problems += _number_problems(item, where)
    return problems
