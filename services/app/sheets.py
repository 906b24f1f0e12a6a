"""Departments' spreadsheets: the fill-in template, and importing a filled one — the one import
path the API, the CLI and the dashboard's upload share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from events.errors import FieldError
from events.periods import Period, reported_period
from events.plan import Indicator, Plan, Project
from services.app.errors import Forbidden, Invalid, TooLarge
from services.app.ingest import Accepted, Ingest
from services.spreadsheet import (
    ASSESSMENT,
    COMPLETED,
    GROWTH,
    INDICATOR_KIND,
    INVESTMENT,
    NOTE,
    PROJECT_KIND,
    STARTED,
    VALUE,
    ForeignSheet,
    SheetImport,
    SheetRejected,
    file_plan_id,
    parse_rows,
    parse_sheet,
    write_template,
)
from services.store import TokenInfo

MAX_FILE = 2_000_000  # bytes: a department's sheet is tens of rows


@dataclass(frozen=True)
class Imported:
    plan_id: str
    sheet: SheetImport
    accepted: Accepted

    def body(self) -> dict[str, object]:
        return {**self.accepted.body(), "summary": self.sheet.summary()}


@dataclass(frozen=True)
class EntryLine:
    """One line of a department's data-entry form: what it reports on, for which period, and the
    columns (as the fill-in sheet names them) it may fill in."""

    kind: str  # 指标 | 项目
    subject: str
    name: str
    unit: str
    target: str
    period: str
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class EntryForm:
    plan: Plan
    department: str
    month: str  # the month being reported, YYYY-MM
    lines: list[EntryLine]


PROJECT_INPUTS = (STARTED, INVESTMENT, COMPLETED)


def _indicator_inputs(indicator: Indicator) -> tuple[str, ...]:
    """The value; its growth rate for one reported as a level and its rate; the assessment (完成 /
    未完成) for one with a qualitative target; a note."""
    growth = (GROWTH,) if indicator.with_growth else ()
    assessment = (ASSESSMENT,) if indicator.assessed else ()
    return (VALUE, *growth, *assessment, NOTE)


def _project_line(project: Project, month: Period) -> EntryLine:
    target = f"年度计划投资{project.planned_investment_wan:f}万元"
    return EntryLine(PROJECT_KIND, project.id, project.name, "万元", target, month.text, PROJECT_INPUTS)


FILE_REFUSAL = ("import a department's sheet", "the file is for", "只能使用填报部门的令牌导入报表")
FORM_REFUSAL = ("report a department's figures", "they are for", "只能使用填报部门的令牌报送数据")


def _department_caller(caller: TokenInfo, refusal: tuple[str, str, str] = FORM_REFUSAL) -> str:
    """The caller's department; a sheet or a form is recorded as it, so an admin or analyst has none."""
    if caller.role != "department" or not caller.department:
        what, whose, zh = refusal
        raise Forbidden(f"{caller.role} token {caller.id} cannot {what}; use a token of the department {whose}", zh)
    return caller.department


class Sheets:
    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest

    async def template(self, plan_id: str, department: str, period: str, fmt: Literal["xlsx", "csv"] = "xlsx") -> bytes:
        """A department's fill-in sheet for a period: its indicators and projects, Chinese headers."""
        plan = await self.ingest.plan(plan_id)
        try:
            return write_template(plan, department, period, fmt)
        except ValueError as exc:  # its message begins with what it is about: period, format or department
            about = next((name for name in ("period", "format") if str(exc).startswith(name)), "department")
            raise Invalid(str(exc), "模板参数有误", [FieldError(about, str(exc), "模板参数有误")]) from None

    async def import_file(
        self,
        caller: TokenInfo,
        content: bytes,
        filename: str,
        plan_id: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Imported:
        """Import a filled sheet as the caller's department (never the file's say-so): every row is
        validated, any bad row rejects the whole file with a row-by-row report, and re-importing
        the same file stores nothing new (event ids come from the file's content)."""
        if len(content) > MAX_FILE:
            raise TooLarge(f"the file exceeds {MAX_FILE} bytes", f"文件过大（上限{MAX_FILE}字节）")
        _department_caller(caller, FILE_REFUSAL)
        plan_id = plan_id or _named_plan(content, filename)
        if not plan_id:
            raise Invalid(
                "the file names no plan; give the plan", "文件中未注明计划", [FieldError("plan", "missing", "缺少计划")]
            )
        plan = await self.ingest.plan(plan_id)
        sheet = _parsed(content, filename, plan, caller.department, progress)
        if not sheet.events:
            raise Invalid("the file has no filled-in values", "文件中没有填报数据")
        return Imported(plan_id, sheet, await self.ingest.submit(caller, plan_id, sheet.events))

    async def entry_form(self, caller: TokenInfo, plan_id: str, month: str) -> EntryForm:
        """What the caller's department reports for `month`: the indicators due then (monthly ones,
        quarterly ones in a quarter's last month, annual ones in December) and its key projects."""
        department = _department_caller(caller)
        plan = await self.ingest.plan(plan_id)
        period = _month(month, plan)
        lines = [
            EntryLine(
                INDICATOR_KIND,
                i.id,
                i.name,
                i.unit,
                i.target_text,
                due,
                _indicator_inputs(i),
            )
            for i in plan.indicators
            if i.department == department and (due := reported_period(i.frequency, period)) is not None
        ]
        lines += [_project_line(p, period) for p in plan.projects if p.department == department]
        return EntryForm(plan, department, period.text, lines)

    async def import_rows(self, caller: TokenInfo, plan_id: str, rows: Sequence[Mapping[str, str]]) -> Imported:
        """Rows typed into the dashboard's form, read by the same rules as a file (each row as a
        sheet's: column header → text) and submitted the same way, all or nothing. A refusal names
        each bad cell as `row N: column` (rows numbered from 2, as in a sheet)."""
        department = _department_caller(caller)
        plan = await self.ingest.plan(plan_id)
        try:
            sheet = parse_rows(plan, department, rows)
        except SheetRejected as exc:
            raise _rejected(exc, "表单") from None
        if not sheet.events:
            raise Invalid("nothing was filled in", "没有填写任何数据")
        return Imported(plan_id, sheet, await self.ingest.submit(caller, plan_id, sheet.events))


def _month(text: str, plan: Plan) -> Period:
    try:
        period = Period.parse(text)
    except ValueError as exc:
        raise Invalid(str(exc), "月份格式应为2025-07", [FieldError("month", str(exc), "月份格式应为2025-07")]) from None
    if period.kind != "month" or period.year != plan.year:
        reason = f"must be a month of the plan year {plan.year}, like {plan.year}-07"
        zh = f"请选择计划年度{plan.year}年内的月份"
        raise Invalid(reason, zh, [FieldError("month", reason, zh)])
    return period


def _rejected(exc: SheetRejected, what: str = "文件") -> Invalid:
    return Invalid(
        str(exc),
        f"{what}有{len(exc.errors)}处错误，未导入任何数据",
        [FieldError(f"row {e.row}: {e.column}", e.reason, e.reason_zh) for e in exc.errors],
        rows=[str(e) for e in exc.errors],
    )


def _named_plan(content: bytes, filename: str) -> str | None:
    """The plan the file names; a file that cannot be read is refused with its reason, not as one naming no plan."""
    try:
        return file_plan_id(content, filename)
    except SheetRejected as exc:
        raise _rejected(exc) from None


def _parsed(
    content: bytes,
    filename: str,
    plan: Plan,
    department: str | None,
    progress: Callable[[int, int], None] | None,
) -> SheetImport:
    try:
        return parse_sheet(content, filename, plan, department=department, progress=progress)
    except ForeignSheet as exc:  # another department's file: as posting on its behalf would be
        [error] = exc.errors
        raise Forbidden(
            f"{error.reason}; nothing was imported",
            f"{error.reason_zh}，未导入任何数据",
            [FieldError(f"row 0: {error.column}", error.reason, error.reason_zh)],
        ) from None
    except SheetRejected as exc:
        raise _rejected(exc) from None
