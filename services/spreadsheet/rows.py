"""Rows into events: each data row of a filled-in sheet becomes an indicator value, or a project's
start, month's investment and completion. Every bad cell is collected as a `RowError`, so one
upload shows every mistake; two rows reporting different values for the same thing are caught.

Event ids and times are derived from the file's content, so uploading the same file twice
appends nothing the second time (the store dedups by event_id).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from events.bounds import DATE_YEARS_AFTER, DATE_YEARS_BEFORE, unit_bounds
from events.bounds import INVESTMENT as INVESTMENT_BOUNDS
from events.errors import field_errors
from events.models import Event, IndicatorUpdated, InvestmentCompleted, ProjectCompleted, ProjectStarted
from events.periods import Period
from events.plan import Indicator, Plan, Project
from services.spreadsheet.cells import EMPTY, Cell, CellProblem, decimal_text, parse_date, parse_decimal, plain, shown
from services.spreadsheet.layout import (
    ASSESSMENT,
    ASSESSMENT_WORDS,
    COMPLETED,
    DEPARTMENT,
    GROWTH,
    INDICATOR_KIND,
    INPUT_COLUMNS,
    INVESTMENT,
    KIND,
    NOTE,
    PERIOD,
    PLAN,
    PROJECT_COLUMNS,
    PROJECT_KIND,
    PROJECT_UNIT,
    STARTED,
    SUBJECT,
    VALUE,
)
from services.spreadsheet.results import RowError

MAX_NOTE = 500
IMPORT_NAMESPACE = "planwatch-import"
EARLIEST_YEARS_BEFORE = DATE_YEARS_BEFORE  # dates before plan year − 5 or after plan year + 1 are typing mistakes
LATEST_YEARS_AFTER = DATE_YEARS_AFTER

ImportedEvent = IndicatorUpdated | InvestmentCompleted | ProjectStarted | ProjectCompleted
# the project events a date column reports: the event type, its model and the field for the day
_DAY_EVENTS: dict[str, tuple[str, type[ProjectStarted | ProjectCompleted], str]] = {
    STARTED: ("project.started", ProjectStarted, "started_on"),
    COMPLETED: ("project.completed", ProjectCompleted, "completed_on"),
}


@dataclass
class _Row:
    """One data row being read: its cells by column header, and the problems found in it."""

    number: int
    cells: dict[str, Cell]
    errors: list[RowError] = field(default_factory=list)

    def text(self, column: str) -> str:
        return plain(self.cells[column].value)

    def error(self, column: str, reason: str, reason_zh: str) -> None:
        cell = self.cells[column]
        self.errors.append(
            RowError(
                self.number, column, shown(cell.value if cell.formula is None else cell.formula), reason, reason_zh
            )
        )

    def decimal(self, column: str, unit: str | None) -> Decimal | None:
        cell = self.cells[column]
        if cell.blank:
            return None
        try:
            return parse_decimal(cell, unit)
        except CellProblem as problem:
            self.error(column, problem.reason, problem.reason_zh)
            return None

    def date(self, column: str) -> date | None:
        cell = self.cells[column]
        if cell.blank:
            return None
        try:
            return parse_date(cell)
        except CellProblem as problem:
            self.error(column, problem.reason, problem.reason_zh)
            return None


class RowReader:
    """Turns rows into events, collecting every error; remembers what each row claimed, to catch
    two rows reporting different values for the same thing."""

    def __init__(self, plan: Plan, department: str, default_period: str | None) -> None:
        self.plan, self.department, self.default_period = plan, department, default_period
        self.zone = ZoneInfo(plan.timezone)
        self.earliest = date(plan.year - EARLIEST_YEARS_BEFORE, 1, 1)
        self.latest = date(plan.year + LATEST_YEARS_AFTER, 12, 31)
        self.events: list[Event] = []
        self.errors: list[RowError] = []
        self.periods: set[Period] = set()
        self._claims: dict[tuple[str, ...], tuple[int, UUID]] = {}

    def check_csv_identity(self, number: int, cells: dict[str, Cell]) -> None:
        # Each CSV row repeats plan and department; a row copied in from another file shows here.
        row = _Row(number, cells)
        for column, expected in ((PLAN, self.plan.id), (DEPARTMENT, self.department)):
            if not cells[column].blank and row.text(column) != expected:
                row.error(
                    column, f"should be {expected!r} like the rest of the file", f"应为{expected}，与文件其他行一致"
                )
        self.errors += row.errors

    def read(self, number: int, cells: dict[str, Cell]) -> None:
        if all(cells.get(column, EMPTY).blank for column in (*INPUT_COLUMNS, GROWTH, ASSESSMENT)):
            return  # nothing reported on this row (a note alone has nothing to attach to)
        row = _Row(number, cells)
        kind = row.text(KIND)
        if kind not in (INDICATOR_KIND, PROJECT_KIND):
            row.error(
                KIND, f"must be {INDICATOR_KIND} or {PROJECT_KIND}", f"分类应为「{INDICATOR_KIND}」或「{PROJECT_KIND}」"
            )
        subject = self._subject(row, kind)
        period = self._period(row)
        if period is not None:
            self.periods.add(period)
        # Cells are checked even when the row's subject or period is wrong, so one upload shows every mistake.
        if kind == INDICATOR_KIND:
            self._indicator_row(row, subject if isinstance(subject, Indicator) else None, period)
        elif kind == PROJECT_KIND:
            self._project_row(row, subject if isinstance(subject, Project) else None, period)
        self.errors += row.errors

    # -- one row, by kind --

    def _indicator_row(self, row: _Row, indicator: Indicator | None, period: Period | None) -> None:
        for column in PROJECT_COLUMNS:
            if not row.cells[column].blank:
                row.error(column, "only for project rows", "指标行不填此项，请填写「本期累计值」")
        # An unknown indicator's unit is unknown: let 5.5% through rather than report a second, doubtful error.
        value = row.decimal(VALUE, None if indicator is None else indicator.unit)
        if value is not None and indicator is not None and (bad := unit_bounds(indicator.unit).problem(value)):
            row.error(VALUE, *bad)  # the bounds every entry point applies (events.bounds)
        growth = self._growth(row, indicator)
        if growth is None and value is not None and indicator is not None and indicator.with_growth:
            row.error(GROWTH, "the growth rate is reported beside the level", "该指标需同时填写同比增长（%）")
        assessment = self._assessment(row, indicator)
        if row.cells[VALUE].blank and (growth is not None or assessment is not None):  # not dropped unsaid
            row.error(VALUE, "the value is reported beside the growth rate or assessment", "请同时填写本期累计值")
        note = row.text(NOTE) if NOTE in row.cells else ""
        if len(note) > MAX_NOTE:
            row.error(NOTE, f"longer than {MAX_NOTE} characters", f"备注不能超过{MAX_NOTE}字")
        if row.errors or indicator is None or period is None or value is None:
            return
        # A note changed on re-upload is a new report, not a reused id with different content.
        canonical = decimal_text(value) + (f"+{decimal_text(growth)}" if growth is not None else "")
        canonical += f"={assessment}" if assessment is not None else ""
        canonical += f"/{note}" if note else ""
        self._add(
            row,
            VALUE,
            ("indicator.updated", indicator.id, period.text),
            canonical,
            IndicatorUpdated,
            period.text,
            self._evening(period),
            value=value,
            note=note,
            **({"growth": growth} if growth is not None else {}),
            **({"assessment": assessment} if assessment is not None else {}),
        )

    def _growth(self, row: _Row, indicator: Indicator | None) -> Decimal | None:
        """The growth rate beside a level: only for an indicator reported with one (with_growth)."""
        if GROWTH not in row.cells or row.cells[GROWTH].blank:
            return None
        if indicator is not None and not indicator.with_growth:
            row.error(GROWTH, "this indicator is not reported with a growth rate", "该指标不填同比增长")
            return None
        growth = row.decimal(GROWTH, "%")
        if growth is not None and (bad := unit_bounds("%").problem(growth)):
            row.error(GROWTH, *bad)
        return growth

    def _assessment(self, row: _Row, indicator: Indicator | None) -> str | None:
        """完成 / 未完成 beside the value: only for an indicator whose target is qualitative."""
        if ASSESSMENT not in row.cells or row.cells[ASSESSMENT].blank:
            return None
        if indicator is not None and not indicator.assessed:
            row.error(ASSESSMENT, "this indicator's target is not qualitative", "该指标不是定性目标，不填考核结论")
            return None
        word = row.text(ASSESSMENT)
        assessment = ASSESSMENT_WORDS.get(word)
        if assessment is None:
            row.error(
                ASSESSMENT, f"{word!r} is not 完成 or 未完成", f"考核结论应填「完成」或「未完成」，而不是「{word}」"
            )
        return assessment

    def _project_row(self, row: _Row, project: Project | None, period: Period | None) -> None:
        for column in (VALUE, GROWTH, ASSESSMENT):
            if column in row.cells and not row.cells[column].blank:
                row.error(column, "only for indicator rows", f"项目行不填{column}")
        started = self._date(row, STARTED)
        amount = self._investment(row, period)
        completed = self._date(row, COMPLETED)
        if started and completed and completed < started:
            row.error(COMPLETED, f"before the start date {started}", f"早于开工日期{started}")
        if row.errors or project is None:
            return
        if started is not None:
            self._add_day(row, STARTED, project, started)
        if amount is not None and period is not None:
            self._add(
                row,
                INVESTMENT,
                ("investment.completed", project.id, period.text),
                decimal_text(amount),
                InvestmentCompleted,
                period.text,
                self._evening(period),
                amount_wan=amount,
            )
        if completed is not None:
            self._add_day(row, COMPLETED, project, completed)

    def _investment(self, row: _Row, period: Period | None) -> Decimal | None:
        amount = row.decimal(INVESTMENT, PROJECT_UNIT)
        if amount is None:
            return None
        if amount < 0:
            row.error(INVESTMENT, "investment cannot be negative", "完成投资不能为负数")
            return None
        if bad := INVESTMENT_BOUNDS.problem(amount):
            row.error(INVESTMENT, *bad)
            return None
        if period is not None and period.kind != "month":
            row.error(
                INVESTMENT,
                f"investment is reported per month; the period {period.text} is a {period.kind}",
                "完成投资按月填报，报告期应为月份（如2025-07）",
            )
        return amount

    # -- events --

    def _add_day(self, row: _Row, column: str, project: Project, day: date) -> None:
        kind, model, day_field = _DAY_EVENTS[column]
        self._add(
            row,
            column,
            (kind, project.id),  # a project starts and completes once, whatever the period
            day.isoformat(),
            model,
            Period.month(day.year, day.month).text,
            datetime.combine(day, time(9), tzinfo=self.zone),
            **{day_field: day},
        )

    def _add(
        self,
        row: _Row,
        column: str,
        claim: tuple[str, ...],
        canonical: str,
        model: type[ImportedEvent],
        period: str,
        occurred_at: datetime,
        **fields: object,
    ) -> None:
        kind, subject = claim[0], claim[1]
        event_id = uuid5(
            NAMESPACE_URL,
            f"{IMPORT_NAMESPACE}/{self.plan.id}/{self.department}/{kind}/{subject}/{period}/{canonical}",
        )
        earlier = self._claims.get(claim)
        if earlier is not None:
            if earlier[1] != event_id:
                row.errors.append(
                    RowError(
                        row.number,
                        column,
                        canonical.split("/", 1)[0],
                        f"row {earlier[0]} reports a different value for the same thing",
                        f"与第{earlier[0]}行填写的内容不一致",
                    )
                )
            return  # the same report twice in one file is one event
        self._claims[claim] = (row.number, event_id)
        try:
            self.events.append(
                model(
                    event_id=event_id,
                    plan_id=self.plan.id,
                    department=self.department,
                    subject=subject,
                    period=period,
                    occurred_at=occurred_at,
                    **fields,
                )
            )
        except ValidationError as exc:  # defensive: every field was checked above
            for problem in field_errors(exc):
                row.errors.append(RowError(row.number, column, problem.field, problem.reason, problem.reason_zh))

    def _evening(self, period: Period) -> datetime:
        # Values and investment are as of the period's last day; 18:00 is the close of that day's work.
        return datetime.combine(period.end, time(18), tzinfo=self.zone)

    # -- cells that need the plan --

    def _subject(self, row: _Row, kind: str) -> Indicator | Project | None:
        subject = row.text(SUBJECT)
        if not subject:
            row.error(SUBJECT, "missing subject id", "编号不能为空")
            return None
        item = self.plan.indicator(subject) or self.plan.project(subject)
        if item is None:
            row.error(SUBJECT, f"no indicator or project {subject!r} in the plan", "计划中没有这个编号")
            return None
        if item.department != self.department:
            owner = self.plan.department_name(item.department)
            row.error(
                SUBJECT,
                f"{subject} belongs to department {item.department!r}, not {self.department!r}",
                f"该编号由{owner}填报，不属于本部门",
            )
            return None
        is_indicator = isinstance(item, Indicator)
        if kind == INDICATOR_KIND and not is_indicator:
            row.error(SUBJECT, f"{subject} is a project, not an indicator", "该编号是项目，不是指标")
            return None
        if kind == PROJECT_KIND and is_indicator:
            row.error(SUBJECT, f"{subject} is an indicator, not a project", "该编号是指标，不是项目")
            return None
        return item

    def _period(self, row: _Row) -> Period | None:
        value = row.cells[PERIOD].value
        if isinstance(value, datetime | date):
            row.error(
                PERIOD,
                "Excel turned the period into a date; format the cell as text and type e.g. 2025-07",
                "报告期被Excel识别成了日期，请将单元格设为文本后填写，如2025-07",
            )
            return None
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else plain(value)
        if not text:
            if self.default_period is None:
                row.error(PERIOD, "missing period", "报告期不能为空")
                return None
            text = self.default_period
        try:
            period = Period.parse(unicodedata.normalize("NFKC", text))
        except ValueError as exc:
            row.error(PERIOD, str(exc), "报告期格式应为2025-07、2025-Q3、2025-H1或2025")
            return None
        if period.year != self.plan.year:
            row.error(PERIOD, f"outside the plan year {self.plan.year}", f"报告期不在计划年度{self.plan.year}年内")
            return None
        return period

    def _date(self, row: _Row, column: str) -> date | None:
        """A date that is plausible for the plan: a year far off is a typing mistake."""
        day = row.date(column)
        if day is not None and not self.earliest <= day <= self.latest:
            row.error(
                column,
                f"{day} is not between {self.earliest} and {self.latest}: probably a typing mistake",
                f"日期应在{self.earliest.year}年至{self.latest.year}年之间，请检查是否填错",
            )
            return None
        return day
