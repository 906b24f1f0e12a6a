"""Department fill-in sheets (填报表): a template to download, and the filled-in file back as events.

Pure: bytes in, bytes or events out. `write_template` makes a department's sheet for a reporting
period (xlsx or csv); `parse_sheet` reads it back and returns the events to append, or raises
`SheetRejected` listing every bad cell — a file is imported whole or not at all, so a department
never has to work out which half of its upload got in.

Event ids and times are derived from the file's content, so uploading the same file twice
appends nothing the second time (the store dedups by event_id).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from openpyxl import Workbook, load_workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from pydantic import ValidationError

from events.errors import field_errors
from events.models import Event, EventBase, IndicatorUpdated, InvestmentCompleted, ProjectCompleted, ProjectStarted
from events.periods import Period
from events.plan import Indicator, Plan, Project
from projections.formatting import display_width, money_wan

# ---- layout -------------------------------------------------------------------------------

KIND = "分类"
SUBJECT = "编号"
NAME = "名称"
UNIT = "单位"
TARGET = "全年目标"
PERIOD = "报告期"
VALUE = "本期累计值"
STARTED = "开工日期"
INVESTMENT = "本期完成投资（万元）"
COMPLETED = "建成投产日期"
NOTE = "备注"
PLAN = "计划"
DEPARTMENT = "部门"
FILE = "文件"  # the column named in errors about the file as a whole

COLUMNS: tuple[str, ...] = (KIND, SUBJECT, NAME, UNIT, TARGET, PERIOD, VALUE, STARTED, INVESTMENT, COMPLETED, NOTE)
CSV_COLUMNS: tuple[str, ...] = (PLAN, DEPARTMENT, *COLUMNS)
PROJECT_COLUMNS: tuple[str, ...] = (STARTED, INVESTMENT, COMPLETED)
INPUT_COLUMNS: tuple[str, ...] = (VALUE, *PROJECT_COLUMNS)
# Name, unit and target are for reading only: a file without them still imports.
REQUIRED_COLUMNS: tuple[str, ...] = (KIND, SUBJECT, PERIOD, *INPUT_COLUMNS)

INDICATOR_KIND = "指标"
PROJECT_KIND = "项目"
PROJECT_UNIT = "万元"

DATA_SHEET = "填报"
INFO_SHEET = "说明"
# Labels on the 说明 sheet, column A; the value sits next to them in column B.
INFO_PLAN, INFO_PLAN_NAME, INFO_DEPARTMENT, INFO_DEPARTMENT_NAME, INFO_PERIOD = (
    "计划编号",
    "计划名称",
    "部门编号",
    "部门名称",
    "报告期",
)
# The same three facts as workbook custom properties: invisible, so they survive edits to 说明.
PROP_PLAN, PROP_DEPARTMENT, PROP_PERIOD = "planwatch.plan", "planwatch.department", "planwatch.period"

INSTRUCTIONS = (
    "只填写白色单元格，灰色单元格请留空：指标行填写「本期累计值」；项目行填写「开工日期」「本期完成投资（万元）」「建成投产日期」。",
    "数值按累计口径填写（自年初至报告期末）；百分比指标填写百分数的数值，如增长5.5%填5.5。",
    "金额单位为万元；「本期完成投资（万元）」填写报告期当月完成的投资，报告期须为月份。",
    "日期格式为YYYY-MM-DD，如2025-03-15；开工、建成投产日期填写一次即可，重复上传不会重复记录。",
    "请勿修改编号、报告期，请勿增删列；没有进展的单元格留空。",
    "文件中任何一处有误，整个文件都不会导入；请按提示修改后重新上传。",
)

MAX_ROWS = 20_000  # a department owns tens of subjects; more rows than this is the wrong file
MAX_NOTE = 500
IMPORT_NAMESPACE = "planwatch-import"
EARLIEST_YEARS_BEFORE = 5  # dates before plan year − 5 or after plan year + 1 are typing mistakes
LATEST_YEARS_AFTER = 1

_GREY = PatternFill("solid", start_color="EDEDED", end_color="EDEDED")
_HEADER_FILL = PatternFill("solid", start_color="D9E1F2", end_color="D9E1F2")
_NUMBER_FORMATS = {VALUE: "General", INVESTMENT: "#,##0.00", STARTED: "yyyy-mm-dd", COMPLETED: "yyyy-mm-dd"}
_TEXT_FORMAT = "@"  # keeps Excel from turning 2025-07 into a date if someone retypes it

_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# ---- results and errors -------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One bad cell: `row` is the spreadsheet row (header = 1, first data row = 2); 0 for the file."""

    row: int
    column: str
    value: str
    reason: str
    reason_zh: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"第{self.row}行" if self.row > 0 else "文件"
        shown = f"'{self.value}'" if self.value else ""
        return f"{where}「{self.column}」{shown}：{self.reason_zh} (row {self.row}, {self.column}: {self.reason})"


class SheetRejected(Exception):
    """The whole file is refused; `errors` lists every problem found, in row then column order."""

    def __init__(self, filename: str, errors: list[RowError]) -> None:
        self.filename = filename
        self.errors = sorted(errors, key=_error_order)
        bad_rows = len({e.row for e in self.errors if e.row >= 2})
        file_level = len([e for e in self.errors if e.row < 2])
        parts_en, parts_zh = [], []
        if file_level:
            parts_en.append(f"{file_level} problem{'s' if file_level != 1 else ''} with the file")
            parts_zh.append(f"文件本身有{file_level}处问题")
        if bad_rows:
            parts_en.append(f"{bad_rows} row{'s' if bad_rows != 1 else ''} with errors")
            parts_zh.append(f"{bad_rows}行有错误")
        # One line: callers list `errors` themselves, each in its own row of a report.
        super().__init__(f"{filename}: {'，'.join(parts_zh)}，未导入任何数据 ({', '.join(parts_en)}; nothing imported)")

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors if e.row >= 2})


@dataclass(frozen=True)
class SheetImport:
    """A file that passed: the events to append, in file order, duplicates within the file removed."""

    plan_id: str
    department: str
    periods: tuple[str, ...]  # the 报告期 of the rows that had something filled in, in period order
    events: list[Event]
    rows: int  # data rows read (blank rows not counted)

    def summary(self) -> str:
        counts = Counter(event.type for event in self.events)
        kinds = [
            ("indicator.updated", "指标", "indicator value", "indicator values"),
            ("project.started", "开工", "start", "starts"),
            ("investment.completed", "投资", "investment", "investment"),
            ("project.completed", "建成投产", "completion", "completions"),
        ]
        zh = [f"{label}{counts[t]}条" for t, label, _, _ in kinds if counts[t]]
        en = [f"{counts[t]} {one if counts[t] == 1 else many}" for t, _, one, many in kinds if counts[t]]
        total = len(self.events)
        line_zh = f"{self.rows}行，{total}条数据" + (f"（{'，'.join(zh)}）" if zh else "")
        line_en = f"{self.rows} row{'s' if self.rows != 1 else ''}, {total} event{'s' if total != 1 else ''}"
        return f"{line_zh}; {line_en}" + (f" ({', '.join(en)})" if en else "")


# ---- template -----------------------------------------------------------------------------


def write_template(plan: Plan, department: str, period: str, fmt: Literal["xlsx", "csv"] = "xlsx") -> bytes:
    """The department's fill-in sheet for `period`: one row per indicator, then per key project, it owns."""
    parsed = Period.parse(period)  # ValueError names the accepted forms
    if parsed.year != plan.year:
        raise ValueError(f"period {period!r} is outside the plan year {plan.year} of {plan.id}")
    indicators, projects = _owned(plan, department)
    rows = [_indicator_row(i, parsed.text) for i in indicators] + [_project_row(p, parsed.text) for p in projects]
    if fmt == "xlsx":
        return _template_xlsx(plan, department, parsed.text, rows)
    if fmt == "csv":
        return _template_csv(plan, department, rows)
    raise ValueError(f"format {fmt!r} is not one of xlsx, csv")


def _owned(plan: Plan, department: str) -> tuple[list[Indicator], list[Project]]:
    if department not in {d.id for d in plan.departments}:
        known = ", ".join(d.id for d in plan.departments)
        raise ValueError(f"department {department!r} is not in plan {plan.id} (departments: {known})")
    indicators = [i for i in plan.indicators if i.department == department]
    projects = [p for p in plan.projects if p.department == department]
    if not indicators and not projects:
        raise ValueError(
            f"department {department!r} owns no indicator or project in plan {plan.id}: nothing to fill in"
        )
    return indicators, projects


def _indicator_row(indicator: Indicator, period: str) -> list[str]:
    return [
        INDICATOR_KIND,
        indicator.id,
        indicator.name,
        indicator.unit,
        indicator.target.text,
        period,
        "",
        "",
        "",
        "",
        "",
    ]


def _project_row(project: Project, period: str) -> list[str]:
    target = money_wan(project.planned_investment_wan)
    return [PROJECT_KIND, project.id, project.name, PROJECT_UNIT, target, period, "", "", "", "", ""]


def _template_csv(plan: Plan, department: str, rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows([plan.id, department, *row] for row in rows)
    return out.getvalue().encode("utf-8-sig")  # the BOM makes Excel read it as UTF-8, not GBK


def _template_xlsx(plan: Plan, department: str, period: str, rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = DATA_SHEET
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([value or None for value in row])  # truly empty cells, not empty strings
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for index, row in enumerate(rows, start=2):
        editable = set(INPUT_COLUMNS) - {VALUE} if row[0] == PROJECT_KIND else {VALUE, NOTE}
        for position, column in enumerate(COLUMNS, start=1):
            cell = sheet.cell(row=index, column=position)
            if column in (SUBJECT, PERIOD):
                cell.number_format = _TEXT_FORMAT
            elif column in _NUMBER_FORMATS:
                cell.number_format = _NUMBER_FORMATS[column]
            if column not in editable:
                cell.fill = _GREY
    for position, column in enumerate(COLUMNS, start=1):
        widest = max([display_width(column), *(display_width(row[position - 1]) for row in rows)])
        sheet.column_dimensions[get_column_letter(position)].width = min(max(widest + 2, 10), 50)
    sheet.column_dimensions[get_column_letter(COLUMNS.index(NOTE) + 1)].width = 30
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True

    info = workbook.create_sheet(INFO_SHEET)
    info.append([f"{plan.name} · 填报说明"])
    info["A1"].font = Font(bold=True, size=13)
    info.append([])
    for label, value in (
        (INFO_PLAN, plan.id),
        (INFO_PLAN_NAME, plan.name),
        (INFO_DEPARTMENT, department),
        (INFO_DEPARTMENT_NAME, plan.department_name(department)),
        (INFO_PERIOD, period),
    ):
        info.append([label, value])
        info.cell(row=info.max_row, column=1).font = Font(bold=True)
        info.cell(row=info.max_row, column=2).number_format = _TEXT_FORMAT
    info.append([])
    info.append(["填写要求"])
    info.cell(row=info.max_row, column=1).font = Font(bold=True)
    for number, text in enumerate(INSTRUCTIONS, start=1):
        info.append([f"{number}.", text])
    info.column_dimensions["A"].width = 12
    info.column_dimensions["B"].width = 110

    for name, value in ((PROP_PLAN, plan.id), (PROP_DEPARTMENT, department), (PROP_PERIOD, period)):
        workbook.custom_doc_props.append(StringProperty(name=name, value=value))
    workbook.properties.title = f"{plan.department_name(department)} {period} 填报表"
    workbook.properties.creator = "planwatch"

    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# ---- reading a filled file ----------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    value: object = None
    percent: bool = False  # an Excel cell shown as a percentage: it holds 0.055 for 5.5%
    formula: str | None = None  # a formula with no stored result (written by a program, never opened in Excel)

    @property
    def blank(self) -> bool:
        return self.formula is None and (self.value is None or (isinstance(self.value, str) and not self.value.strip()))


_EMPTY = _Cell()


@dataclass
class _Table:
    header: list[object]
    rows: list[tuple[int, list[_Cell]]]  # (spreadsheet row number, cells), trailing blank rows dropped
    meta: dict[str, str]  # plan / department / period from an xlsx's properties or 说明 sheet
    csv_layout: bool = False  # csv rows carry plan and department in columns of their own


class ForeignSheet(SheetRejected):
    """The file is another department's than the one it was read for: posting on another
    department's behalf, which the API answers 403 and the CLI refuses (exit 2)."""


class _ForeignFile(Exception):
    def __init__(self, error: RowError) -> None:
        self.error = error


class _FileProblem(Exception):
    def __init__(self, *errors: RowError) -> None:
        super().__init__(errors)
        self.errors = list(errors)


class _CellProblem(Exception):
    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(reason)
        self.reason, self.reason_zh = reason, reason_zh


def parse_sheet(
    content: bytes,
    filename: str,
    plan: Plan,
    department: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SheetImport:
    """The events a filled-in sheet reports, or `SheetRejected` listing every bad cell.

    `department` is the uploader's department when known; the file must then be that
    department's. `progress(rows_done, rows_total)` is called after each data row.
    """
    try:
        table = _read_table(content, filename)
        columns = _columns(table.header, table.csv_layout)
        owner = _check_file(table, columns, plan, department)
    except _FileProblem as problem:
        raise SheetRejected(filename, problem.errors) from None
    except _ForeignFile as foreign:
        raise ForeignSheet(filename, [foreign.error]) from None
    reader = _RowReader(plan, owner, table.meta.get("period"))
    total = len(table.rows)
    read = 0
    for done, (number, cells) in enumerate(table.rows, start=1):
        by_name = {name: cells[index] if index < len(cells) else _EMPTY for name, index in columns.items()}
        if not all(cell.blank for cell in cells):
            read += 1
            if table.csv_layout:
                reader.check_csv_identity(number, by_name)
            reader.read(number, by_name)
        if progress is not None:
            progress(done, total)
    if reader.errors:
        raise SheetRejected(filename, reader.errors)
    periods = tuple(p.text for p in sorted(reader.periods))
    return SheetImport(plan_id=plan.id, department=owner, periods=periods, events=reader.events, rows=read)


def sheet_plan_id(content: bytes, filename: str) -> str | None:
    """The plan a filled-in file says it is for, to pick the plan before parsing; None when it
    names none (or cannot be read: `parse_sheet` then says why)."""
    try:
        table = _read_table(content, filename)
        if not table.csv_layout:
            return table.meta.get("plan")
        plans = _distinct(table, _columns(table.header, csv_layout=True)[PLAN])
    except _FileProblem:
        return None
    return plans[0] if len(plans) == 1 else None


def _read_table(content: bytes, filename: str) -> _Table:
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".xlsx":
        table = _read_xlsx(content)
    elif suffix == ".csv":
        table = _read_csv(content)
    elif suffix == ".xls":
        raise _FileProblem(
            RowError(
                0, FILE, filename, "old .xls files are not supported; save as .xlsx", "不支持.xls格式，请另存为.xlsx"
            )
        )
    else:
        raise _FileProblem(RowError(0, FILE, filename, "the file must be .xlsx or .csv", "文件必须是.xlsx或.csv格式"))
    while table.rows and all(cell.blank for cell in table.rows[-1][1]):
        table.rows.pop()
    if len(table.rows) > MAX_ROWS:
        raise _FileProblem(
            RowError(
                0,
                FILE,
                str(len(table.rows)),
                f"more than {MAX_ROWS} data rows: not a department's fill-in sheet",
                f"数据超过{MAX_ROWS}行，不是部门填报表",
            )
        )
    return table


def _read_csv(content: bytes) -> _Table:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")  # what Chinese Excel writes for "CSV（逗号分隔）"
        except UnicodeDecodeError:
            raise _FileProblem(
                RowError(0, FILE, "", "the file is neither UTF-8 nor GBK text", "文件编码无法识别（应为UTF-8或GBK）")
            ) from None
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise _FileProblem(RowError(0, FILE, "", f"not a valid CSV file: {exc}", "不是有效的CSV文件")) from None
    if not records:
        raise _FileProblem(RowError(1, FILE, "", "the file is empty", "文件是空的"))
    rows = [(number, [_Cell(value) for value in record]) for number, record in enumerate(records[1:], start=2)]
    return _Table(header=list(records[0]), rows=rows, meta={}, csv_layout=True)


def _read_xlsx(content: bytes) -> _Table:
    unreadable = RowError(0, FILE, "", "not a readable .xlsx file", "文件已损坏或不是xlsx文件")
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True)
    except Exception:  # openpyxl raises zip, XML, key and value errors alike for a damaged file
        raise _FileProblem(unreadable) from None
    try:
        sheet = _data_sheet(workbook)
        meta = _xlsx_meta(workbook)
        sheet.reset_dimensions()  # some writers store a wrong used range; read every cell there is
        raw = [list(row) for row in sheet.iter_rows()]
        results = _formula_results(content, sheet.title) if any(c.data_type == "f" for r in raw for c in r) else None
    except _FileProblem:
        raise
    except Exception:  # read-only sheets are parsed lazily: damage inside a sheet shows up only here
        raise _FileProblem(unreadable) from None
    finally:
        workbook.close()
    if not raw:
        raise _FileProblem(RowError(1, FILE, "", "the sheet is empty", "表格是空的"))
    rows: list[list[_Cell]] = []
    for index, row in enumerate(raw):
        cells = []
        for position, cell in enumerate(row):
            value, formula = cell.value, None
            if cell.data_type == "f" and results is not None:
                value = _at(results, index, position)
                formula = str(cell.value) if value is None else None
            percent = isinstance(value, int | float) and "%" in (getattr(cell, "number_format", "") or "")
            cells.append(_Cell(value, percent, formula))
        rows.append(cells)
    numbered = [(number, cells) for number, cells in enumerate(rows[1:], start=2)]
    return _Table(header=[cell.value for cell in rows[0]], rows=numbered, meta=meta)


def _formula_results(content: bytes, title: str) -> list[list[object]]:
    """The values Excel stored for formulas; loaded only when there are formulas, as it reads the file again."""
    workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        sheet = workbook[title]
        sheet.reset_dimensions()
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _at(rows: list[list[object]], index: int, position: int) -> object:
    return rows[index][position] if index < len(rows) and position < len(rows[index]) else None


def _data_sheet(workbook: Workbook):  # -> a read-only worksheet, whose class openpyxl keeps private
    if DATA_SHEET in workbook.sheetnames:
        return workbook[DATA_SHEET]
    others = [name for name in workbook.sheetnames if name != INFO_SHEET]
    if not others:
        raise _FileProblem(
            RowError(0, FILE, "", f"no {DATA_SHEET} sheet in the workbook", f"工作簿中没有「{DATA_SHEET}」工作表")
        )
    return workbook[others[0]]  # renamed by the department: the first sheet that is not 说明


def _xlsx_meta(workbook: Workbook) -> dict[str, str]:
    """Plan, department and period from the custom properties and the 说明 sheet; they must agree."""
    from_props = {
        key: str(prop.value).strip()
        for prop in workbook.custom_doc_props
        for key, name in (("plan", PROP_PLAN), ("department", PROP_DEPARTMENT), ("period", PROP_PERIOD))
        if prop.name == name and prop.value is not None
    }
    from_sheet: dict[str, str] = {}
    if INFO_SHEET in workbook.sheetnames:
        labels = {INFO_PLAN: "plan", INFO_DEPARTMENT: "department", INFO_PERIOD: "period"}
        for row in workbook[INFO_SHEET].iter_rows(max_col=2, values_only=True):
            label = _plain(row[0]) if row else ""
            if label in labels and len(row) > 1 and _plain(row[1]):
                from_sheet.setdefault(labels[label], _plain(row[1]))
    errors = []
    for key, label in (("plan", INFO_PLAN), ("department", INFO_DEPARTMENT), ("period", INFO_PERIOD)):
        if key in from_props and key in from_sheet and from_props[key] != from_sheet[key]:
            errors.append(
                RowError(
                    0,
                    INFO_SHEET,
                    from_sheet[key],
                    f"the {INFO_SHEET} sheet says {label} {from_sheet[key]!r} but the workbook was made for "
                    f"{from_props[key]!r}",
                    f"「{INFO_SHEET}」中的{label}被修改过（模板为{from_props[key]}），请重新下载模板",
                )
            )
    if errors:
        raise _FileProblem(*errors)
    return from_props | {k: v for k, v in from_sheet.items() if k not in from_props}


def _columns(header: Sequence[object], csv_layout: bool) -> dict[str, int]:
    """Header text → column index. Columns are found by name, so their order does not matter."""
    columns: dict[str, int] = {}
    errors = []
    for index, value in enumerate(header):
        name = _header_name(value)
        if not name:
            continue
        if name in columns:
            errors.append(RowError(1, name, name, "the column appears twice", "列名重复"))
        columns[name] = index
    required = (PLAN, DEPARTMENT, *REQUIRED_COLUMNS) if csv_layout else REQUIRED_COLUMNS
    for name in required:
        if name not in columns:
            errors.append(
                RowError(1, name, "", "missing column (header row 1 must keep the template's headers)", "缺少此列")
            )
    if errors:
        raise _FileProblem(*errors)
    return columns


def _header_name(value: object) -> str:
    """Headers as people retype them: half-width brackets and stray spaces are the same column."""
    text = unicodedata.normalize("NFKC", _plain(value)).replace(" ", "")
    return text.replace("(", "（").replace(")", "）")


def _check_file(table: _Table, columns: dict[str, int], plan: Plan, department: str | None) -> str:
    """The plan the file is for must be `plan`; returns the department the file reports for."""
    if table.csv_layout:
        plans = _distinct(table, columns[PLAN])
        departments = _distinct(table, columns[DEPARTMENT])
        file_plan = plans[0] if len(plans) == 1 else None
        file_department = departments[0] if len(departments) == 1 else None
        if not plans:
            raise _FileProblem(RowError(0, PLAN, "", "no plan id in the 计划 column", "「计划」列为空"))
        if len(departments) > 1 and department is None:
            raise _FileProblem(
                RowError(
                    0,
                    DEPARTMENT,
                    ", ".join(departments),
                    "the file mixes several departments",
                    "文件中包含多个部门，请每个部门单独上传",
                )
            )
    else:
        file_plan = table.meta.get("plan")
        file_department = table.meta.get("department")
        if file_plan is None:
            raise _FileProblem(
                RowError(
                    0,
                    PLAN,
                    "",
                    f"the workbook does not say which plan it is for (no {INFO_SHEET} sheet)",
                    f"找不到计划编号（缺少「{INFO_SHEET}」工作表），请使用系统下载的模板",
                )
            )
    if file_plan is not None and file_plan != plan.id:
        raise _FileProblem(
            RowError(
                0,
                PLAN,
                file_plan,
                f"the file is for plan {file_plan!r}, not {plan.id!r}",
                f"文件属于其他计划，不是{plan.name}",
            )
        )
    known = {d.id for d in plan.departments}
    owner = department or file_department
    if owner is None:
        raise _FileProblem(
            RowError(0, DEPARTMENT, "", "the file does not say which department it is from", "找不到部门编号")
        )
    if owner not in known:
        raise _FileProblem(
            RowError(0, DEPARTMENT, owner, f"department {owner!r} is not in plan {plan.id}", "计划中没有这个部门")
        )
    if department is not None and file_department is not None and file_department != department:
        raise _ForeignFile(
            RowError(
                0,
                DEPARTMENT,
                file_department,
                f"the file belongs to department {file_department!r}, but you report for {department!r}",
                f"这是{plan.department_name(file_department)}的文件，不能以{plan.department_name(department)}身份上传",
            )
        )
    return owner


def _distinct(table: _Table, index: int) -> list[str]:
    seen = dict.fromkeys(
        _plain(cells[index].value) for _, cells in table.rows if index < len(cells) and not cells[index].blank
    )
    return list(seen)


class _RowReader:
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

    def check_csv_identity(self, number: int, cells: dict[str, _Cell]) -> None:
        # Each CSV row repeats plan and department; a row copied in from another file shows here.
        for column, expected in ((PLAN, self.plan.id), (DEPARTMENT, self.department)):
            cell = cells[column]
            if not cell.blank and _plain(cell.value) != expected:
                self.errors.append(
                    RowError(
                        number,
                        column,
                        _shown(cell.value),
                        f"should be {expected!r} like the rest of the file",
                        f"应为{expected}，与文件其他行一致",
                    )
                )

    def read(self, number: int, cells: dict[str, _Cell]) -> None:
        if all(cells.get(column, _EMPTY).blank for column in INPUT_COLUMNS):
            return  # nothing reported on this row (a note alone has nothing to attach to)
        errors_before = len(self.errors)
        kind = _plain(cells[KIND].value)
        if kind not in (INDICATOR_KIND, PROJECT_KIND):
            self._error(
                number,
                KIND,
                cells[KIND],
                f"must be {INDICATOR_KIND} or {PROJECT_KIND}",
                f"分类应为「{INDICATOR_KIND}」或「{PROJECT_KIND}」",
            )
        subject = self._subject(number, cells[SUBJECT], kind)
        period = self._period(number, cells[PERIOD])
        if period is not None:
            self.periods.add(period)
        # Cells are checked even when the row's subject or period is wrong, so one upload shows every mistake.
        if kind == INDICATOR_KIND:
            for column in PROJECT_COLUMNS:
                if not cells[column].blank:
                    self._error(
                        number, column, cells[column], "only for project rows", "指标行不填此项，请填写「本期累计值」"
                    )
            indicator = subject if isinstance(subject, Indicator) else None
            self._indicator(number, cells, indicator, period, errors_before)
        elif kind == PROJECT_KIND:
            if not cells[VALUE].blank:
                self._error(number, VALUE, cells[VALUE], "only for indicator rows", "项目行不填本期累计值")
            project = subject if isinstance(subject, Project) else None
            self._project(number, cells, project, period, errors_before)

    # -- one row, by kind --

    def _indicator(
        self,
        number: int,
        cells: dict[str, _Cell],
        indicator: Indicator | None,
        period: Period | None,
        errors_before: int,
    ) -> None:
        # An unknown indicator's unit is unknown: let 5.5% through rather than report a second, doubtful error.
        percent_unit = indicator is None or indicator.unit == "%"
        value = self._decimal(number, cells, VALUE, percent_unit=percent_unit)
        note = _plain(cells[NOTE].value) if NOTE in cells else ""
        if len(note) > MAX_NOTE:
            self._error(number, NOTE, cells[NOTE], f"longer than {MAX_NOTE} characters", f"备注不能超过{MAX_NOTE}字")
        if len(self.errors) > errors_before or indicator is None or period is None or value is None:
            return
        # A note changed on re-upload is a new report, not a reused id with different content.
        canonical = _decimal_text(value) + (f"/{note}" if note else "")
        self._add(
            number,
            VALUE,
            ("indicator.updated", indicator.id, period.text),
            canonical,
            IndicatorUpdated,
            period.text,
            self._evening(period),
            value=value,
            note=note,
        )

    def _project(
        self, number: int, cells: dict[str, _Cell], project: Project | None, period: Period | None, errors_before: int
    ) -> None:
        started = self._date(number, cells, STARTED)
        amount = self._decimal(number, cells, INVESTMENT, percent_unit=False)
        if amount is not None and amount < 0:
            self._error(number, INVESTMENT, cells[INVESTMENT], "investment cannot be negative", "完成投资不能为负数")
            amount = None
        if amount is not None and period is not None and period.kind != "month":
            self._error(
                number,
                INVESTMENT,
                cells[INVESTMENT],
                f"investment is reported per month; the period {period.text} is a {period.kind}",
                "完成投资按月填报，报告期应为月份（如2025-07）",
            )
        completed = self._date(number, cells, COMPLETED)
        if started and completed and completed < started:
            self._error(
                number, COMPLETED, cells[COMPLETED], f"before the start date {started}", f"早于开工日期{started}"
            )
        if len(self.errors) > errors_before or project is None:
            return
        if started is not None:
            self._add_day(number, STARTED, project, "project.started", started)
        if amount is not None and period is not None:
            self._add(
                number,
                INVESTMENT,
                ("investment.completed", project.id, period.text),
                _decimal_text(amount),
                InvestmentCompleted,
                period.text,
                self._evening(period),
                amount_wan=amount,
            )
        if completed is not None:
            self._add_day(number, COMPLETED, project, "project.completed", completed)

    def _add_day(self, number: int, column: str, project: Project, kind: str, day: date) -> None:
        month = Period.month(day.year, day.month)
        model = ProjectStarted if kind == "project.started" else ProjectCompleted
        field = "started_on" if kind == "project.started" else "completed_on"
        self._add(
            number,
            column,
            (kind, project.id),  # a project starts and completes once, whatever the period
            day.isoformat(),
            model,
            month.text,
            datetime.combine(day, time(9), tzinfo=self.zone),
            **{field: day},
        )

    def _add(
        self,
        number: int,
        column: str,
        claim: tuple[str, ...],
        canonical: str,
        model: type[EventBase],
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
                self.errors.append(
                    RowError(
                        number,
                        column,
                        canonical.split("/", 1)[0],
                        f"row {earlier[0]} reports a different value for the same thing",
                        f"与第{earlier[0]}行填写的内容不一致",
                    )
                )
            return  # the same report twice in one file is one event
        self._claims[claim] = (number, event_id)
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
                self.errors.append(RowError(number, column, problem.field, problem.reason, problem.reason_zh))

    def _evening(self, period: Period) -> datetime:
        # Values and investment are as of the period's last day; 18:00 is the close of that day's work.
        return datetime.combine(period.end, time(18), tzinfo=self.zone)

    # -- cells --

    def _subject(self, number: int, cell: _Cell, kind: str) -> Indicator | Project | None:
        subject = _plain(cell.value)
        if not subject:
            self._error(number, SUBJECT, cell, "missing subject id", "编号不能为空")
            return None
        item = self.plan.indicator(subject) or self.plan.project(subject)
        if item is None:
            self._error(number, SUBJECT, cell, f"no indicator or project {subject!r} in the plan", "计划中没有这个编号")
            return None
        if item.department != self.department:
            owner = self.plan.department_name(item.department)
            self._error(
                number,
                SUBJECT,
                cell,
                f"{subject} belongs to department {item.department!r}, not {self.department!r}",
                f"该编号由{owner}填报，不属于本部门",
            )
            return None
        is_indicator = isinstance(item, Indicator)
        if kind == INDICATOR_KIND and not is_indicator:
            self._error(number, SUBJECT, cell, f"{subject} is a project, not an indicator", "该编号是项目，不是指标")
            return None
        if kind == PROJECT_KIND and is_indicator:
            self._error(number, SUBJECT, cell, f"{subject} is an indicator, not a project", "该编号是指标，不是项目")
            return None
        return item

    def _period(self, number: int, cell: _Cell) -> Period | None:
        value = cell.value
        if isinstance(value, datetime | date):
            self._error(
                number,
                PERIOD,
                cell,
                "Excel turned the period into a date; format the cell as text and type e.g. 2025-07",
                "报告期被Excel识别成了日期，请将单元格设为文本后填写，如2025-07",
            )
            return None
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else _plain(value)
        if not text:
            if self.default_period is None:
                self._error(number, PERIOD, cell, "missing period", "报告期不能为空")
                return None
            text = self.default_period
        try:
            period = Period.parse(unicodedata.normalize("NFKC", text))
        except ValueError as exc:
            self._error(number, PERIOD, cell, str(exc), "报告期格式应为2025-07、2025-Q3、2025-H1或2025")
            return None
        if period.year != self.plan.year:
            self._error(
                number,
                PERIOD,
                cell,
                f"outside the plan year {self.plan.year}",
                f"报告期不在计划年度{self.plan.year}年内",
            )
            return None
        return period

    def _decimal(self, number: int, cells: dict[str, _Cell], column: str, percent_unit: bool) -> Decimal | None:
        cell = cells[column]
        if cell.blank:
            return None
        try:
            return _parse_decimal(cell, percent_unit)
        except _CellProblem as problem:
            self._error(number, column, cell, problem.reason, problem.reason_zh)
            return None

    def _date(self, number: int, cells: dict[str, _Cell], column: str) -> date | None:
        cell = cells[column]
        if cell.blank:
            return None
        try:
            day = _parse_date(cell)
        except _CellProblem as problem:
            self._error(number, column, cell, problem.reason, problem.reason_zh)
            return None
        if not self.earliest <= day <= self.latest:
            self._error(
                number,
                column,
                cell,
                f"{day} is not between {self.earliest} and {self.latest}: probably a typing mistake",
                f"日期应在{self.earliest.year}年至{self.latest.year}年之间，请检查是否填错",
            )
            return None
        return day

    def _error(self, number: int, column: str, cell: _Cell, reason: str, reason_zh: str) -> None:
        shown = _shown(cell.value if cell.formula is None else cell.formula)
        self.errors.append(RowError(number, column, shown, reason, reason_zh))


# ---- cell values --------------------------------------------------------------------------


def _parse_decimal(cell: _Cell, percent_unit: bool) -> Decimal:
    """A number as a department types it: a numeric cell, or text like 1,234.5 or 5.5%."""
    if cell.formula is not None:
        raise _CellProblem(
            "a formula without a stored result; open and save the file in Excel, or paste values",
            "公式没有计算结果，请在Excel中打开保存，或粘贴为数值",
        )
    value = cell.value
    if isinstance(value, bool) or isinstance(value, datetime | date | time):
        raise _CellProblem("not a number", "不是有效的数字")
    if isinstance(value, int | float | Decimal):
        try:
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except InvalidOperation:
            raise _CellProblem("not a number", "不是有效的数字") from None
        if not number.is_finite():
            raise _CellProblem("not a finite number", "必须是有限数字")
        if cell.percent:
            # Excel stores 5.5% as 0.055: the department meant the percentage it saw.
            if not percent_unit:
                raise _CellProblem("shown as a percentage but the unit is not %", "单元格为百分比格式，但该项单位不是%")
            number *= 100
        return _canonical(number)
    text = unicodedata.normalize("NFKC", _plain(value)).replace(" ", "")
    if text.endswith("%"):
        if not percent_unit:
            raise _CellProblem("a percentage, but the unit is not %", "该项单位不是%，请填写数值")
        text = text[:-1]
    if not _NUMBER.fullmatch(text):
        raise _CellProblem("not a number", "不是有效的数字")
    return _canonical(Decimal(text.replace(",", "")))


def _parse_date(cell: _Cell) -> date:
    """A date cell, or text YYYY-MM-DD; nothing else, so 03/04/2025 is never read the wrong way."""
    if cell.formula is not None:
        raise _CellProblem(
            "a formula without a stored result; open and save the file in Excel, or type the date",
            "公式没有计算结果，请在Excel中打开保存，或直接填写日期",
        )
    value = cell.value
    if isinstance(value, datetime):
        if value.time() != time(0):
            raise _CellProblem("a date and time; give the date only", "只填写日期，不含时间")
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", _plain(value)).replace(" ", "")
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise _CellProblem("no such date", "日期不存在") from None
    raise _CellProblem("not a date in the form YYYY-MM-DD", "不是有效的日期，格式应为YYYY-MM-DD")


def _canonical(number: Decimal) -> Decimal:
    """One spelling per number (5.50 → 5.5, 1E+3 → 1000), so equal values give equal events."""
    return Decimal(_decimal_text(number))


def _decimal_text(number: Decimal) -> str:
    text = f"{number.normalize():f}"
    return "0" if text in ("-0", "0") else text


def _plain(value: object) -> str:
    """A cell's text, trimmed; '' for an empty cell."""
    if value is None:
        return ""
    return str(value).strip()


def _shown(value: object) -> str:
    """A cell's value as an error message quotes it."""
    if isinstance(value, datetime) and value.time() == time(0):
        value = value.date()
    if isinstance(value, float):
        value = repr(value)
    text = _plain(value)
    return text if len(text) <= 60 else text[:57] + "…"


_COLUMN_ORDER = {name: index for index, name in enumerate(CSV_COLUMNS)}


def _error_order(error: RowError) -> tuple[int, int, str]:
    return (error.row, _COLUMN_ORDER.get(error.column, len(_COLUMN_ORDER)), error.column)


__all__ = [
    "COLUMNS",
    "CSV_COLUMNS",
    "RowError",
    "SheetImport",
    "SheetRejected",
    "parse_sheet",
    "sheet_plan_id",
    "write_template",
]
