"""The fill-in sheet a department downloads for a reporting period: one row per indicator, then
per key project, it owns; xlsx (with a 说明 sheet and properties saying whose sheet it is) or csv."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Literal

from openpyxl import Workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from events.bounds import DATE_YEARS_AFTER, DATE_YEARS_BEFORE, PERCENT, unit_bounds
from events.bounds import INVESTMENT as INVESTMENT_BOUNDS
from events.periods import Period, reported_period
from events.plan import Indicator, Plan, Project
from projections.formatting import display_width, money_wan
from services.spreadsheet.layout import (
    ASSESSMENT,
    ASSESSMENT_CHOICES,
    COLUMNS,
    COMPLETED,
    CSV_COLUMNS,
    DATA_SHEET,
    GROWTH,
    INDICATOR_KIND,
    INFO_DEPARTMENT,
    INFO_DEPARTMENT_NAME,
    INFO_PERIOD,
    INFO_PLAN,
    INFO_PLAN_NAME,
    INFO_SHEET,
    INPUT_COLUMNS,
    INVESTMENT,
    KIND,
    NAME,
    NOTE,
    PERIOD,
    PROJECT_KIND,
    PROJECT_UNIT,
    PROP_DEPARTMENT,
    PROP_PERIOD,
    PROP_PLAN,
    STARTED,
    SUBJECT,
    TARGET,
    UNIT,
    VALUE,
)

INSTRUCTIONS = (
    "只填写白色单元格，灰色单元格已锁定：指标行填写「本期累计值」（按总量和增速报送的指标同时填写「同比增长（%）」）；"
    "项目行填写「开工日期」「本期完成投资（万元）」「建成投产日期」。",
    "定性目标的指标（如「完成市下达任务」）同时在「考核结论」中选择「完成」或「未完成」（年度考核结果出来后填写）。",
    "表中只列本报告期应报的指标（按月、按季、按年报送），每行的「报告期」即该指标应报的期间，请勿修改。",
    "数值按累计口径填写（自年初至报告期末）；百分比指标填写百分数的数值，如增长5.5%填5.5，"
    "下降12.3%填-12.3，也可直接写「下降12.3%」「同比增长5.5%」。",
    "金额单位为万元；也可写明单位，如「1.2亿元」会按12000万元读取。{investment}",
    "日期如2025-03-15，也可写2025/3/15或2025年3月15日；开工、建成投产日期填写一次即可，重复上传不会重复记录。",
    "「备注」可从下拉列表选择数据口径（快报数、初步核算数等），也可自行填写，不超过500字。",
    "请勿修改编号、报告期，请勿增删列；没有进展的单元格留空。",
    "文件中任何一处有误，整个文件都不会导入；请按提示修改后重新上传。",
)
# what the investment cell holds, by the plan's investment_basis (an import is read on that basis)
INVESTMENT_BASIS_ZH = {
    "period": "「本期完成投资（万元）」填写报告期当月完成的投资（当月数），报告期须为月份。",
    "ytd": "「本期完成投资（万元）」填写自年初至报告期末累计完成的投资（累计数，如1—6月合计），报告期须为月份。",
}
NOTE_CHOICES = ("快报数", "初步核算数", "核实数", "预计数")

_GREY = PatternFill("solid", start_color="EDEDED", end_color="EDEDED")
_HEADER_FILL = PatternFill("solid", start_color="D9E1F2", end_color="D9E1F2")
_NUMBER_FORMATS = {
    VALUE: "General",
    GROWTH: "General",
    INVESTMENT: "#,##0.00",
    STARTED: "yyyy-mm-dd",
    COMPLETED: "yyyy-mm-dd",
}
_TEXT_FORMAT = "@"  # keeps Excel from turning 2025-07 into a date if someone retypes it


def write_template(plan: Plan, department: str, period: str, fmt: Literal["xlsx", "csv"] = "xlsx") -> bytes:
    """The department's fill-in sheet for `period`: one row per indicator, then per key project, it owns."""
    parsed = Period.parse(period)  # ValueError names the accepted forms
    if parsed.year != plan.year:
        raise ValueError(f"period {period!r} is outside the plan year {plan.year} of {plan.id}")
    indicators, projects = _owned(plan, department, parsed)
    rows = [_indicator_row(i, due) for i, due in indicators] + [_project_row(p, parsed.text) for p in projects]
    if fmt == "xlsx":
        growth = {i.id for i, _ in indicators if i.with_growth}
        assessed = {i.id for i, _ in indicators if i.assessed}
        return _template_xlsx(plan, department, parsed.text, rows, _Inputs(growth, assessed))
    if fmt == "csv":
        return _template_csv(plan, department, rows)
    raise ValueError(f"format {fmt!r} is not one of xlsx, csv")


def _owned(plan: Plan, department: str, period: Period) -> tuple[list[tuple[Indicator, str]], list[Project]]:
    """The department's indicators due at `period` (with the period each reports: a quarterly one in
    June reports 2025-Q2) and its projects."""
    if department not in {d.id for d in plan.departments}:
        known = ", ".join(d.id for d in plan.departments)
        raise ValueError(f"department {department!r} is not in plan {plan.id} (departments: {known})")
    indicators = [
        (i, due)
        for i in plan.indicators
        if i.department == department and (due := reported_period(i.frequency, period)) is not None
    ]
    projects = [p for p in plan.projects if p.department == department]
    if not indicators and not projects:
        raise ValueError(
            f"department {department!r} owns no indicator due in {period.text} and no project in plan {plan.id}: "
            "nothing to fill in"
        )
    return indicators, projects


def _indicator_row(indicator: Indicator, period: str) -> list[str]:
    return _row(INDICATOR_KIND, indicator.id, indicator.name, indicator.unit, indicator.target_text, period)


def _project_row(project: Project, period: str) -> list[str]:
    target = money_wan(project.planned_investment_wan)
    return _row(PROJECT_KIND, project.id, project.name, PROJECT_UNIT, target, period)


def _row(kind: str, subject: str, name: str, unit: str, target: str, period: str) -> list[str]:
    """A template row in `COLUMNS` order: what the department reports on, its input cells empty."""
    given = {KIND: kind, SUBJECT: subject, NAME: name, UNIT: unit, TARGET: target, PERIOD: period}
    return [given.get(column, "") for column in COLUMNS]


def _template_csv(plan: Plan, department: str, rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows([plan.id, department, *row] for row in rows)
    return out.getvalue().encode("utf-8-sig")  # the BOM makes Excel read it as UTF-8, not GBK


@dataclass(frozen=True)
class _Inputs:
    """The indicators with more to fill in than their value: a growth rate, an assessment."""

    growth: set[str]  # reported as a level and its growth rate
    assessed: set[str]  # with a qualitative target: 完成 / 未完成


def _template_xlsx(plan: Plan, department: str, period: str, rows: list[list[str]], inputs: _Inputs) -> bytes:
    workbook = Workbook()
    _write_data_sheet(workbook.active, rows, inputs)
    _add_validations(workbook.active, plan.year, rows, inputs)
    _write_info_sheet(workbook.create_sheet(INFO_SHEET), plan, department, period)
    for name, value in ((PROP_PLAN, plan.id), (PROP_DEPARTMENT, department), (PROP_PERIOD, period)):
        workbook.custom_doc_props.append(StringProperty(name=name, value=value))
    workbook.properties.title = f"{plan.department_name(department)} {period} 填报表"
    workbook.properties.creator = "planwatch"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _write_data_sheet(sheet: Worksheet, rows: list[list[str]], inputs: _Inputs) -> None:
    """The 填报 sheet: the rows, input cells white and formatted for what they take, the rest grey
    (the growth and assessment cells are white for the indicators that report them)."""
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
        if row[0] == INDICATOR_KIND:
            editable |= {GROWTH} if row[1] in inputs.growth else set()
            editable |= {ASSESSMENT} if row[1] in inputs.assessed else set()
        for position, column in enumerate(COLUMNS, start=1):
            cell = sheet.cell(row=index, column=position)
            if column in (SUBJECT, PERIOD):
                cell.number_format = _TEXT_FORMAT
            elif column in _NUMBER_FORMATS:
                cell.number_format = _NUMBER_FORMATS[column]
            if column in editable:
                cell.protection = Protection(locked=False)
            else:
                cell.fill = _GREY
    for position, column in enumerate(COLUMNS, start=1):
        widest = max([display_width(column), *(display_width(row[position - 1]) for row in rows)])
        sheet.column_dimensions[get_column_letter(position)].width = min(max(widest + 2, 10), 50)
    sheet.column_dimensions[get_column_letter(COLUMNS.index(NOTE) + 1)].width = 30
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    # ids, names and periods locked against slips (no password: 审阅 → 撤销工作表保护 if ever needed);
    # filtering, sorting and resizing stay allowed
    protection = sheet.protection
    protection.sheet = True
    protection.autoFilter = protection.sort = protection.formatColumns = protection.formatRows = False
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def _add_validations(sheet: Worksheet, year: int, rows: list[list[str]], inputs: _Inputs) -> None:
    """Excel's own checks on the input cells: numbers within the bounds every entry point applies,
    dates in the plan's window, a dropdown of common notes. They warn and let the clerk go on (a
    worded value like 下降12.3% is not a number to Excel, but planwatch reads it); the import
    decides."""
    column = {name: get_column_letter(COLUMNS.index(name) + 1) for name in COLUMNS}
    indicators = [(index, row) for index, row in enumerate(rows, start=2) if row[0] != PROJECT_KIND]
    projects = [index for index, row in enumerate(rows, start=2) if row[0] == PROJECT_KIND]
    by_bounds: dict[tuple[str, str], list[int]] = {}
    for index, row in indicators:
        bounds = unit_bounds(row[COLUMNS.index(UNIT)])
        by_bounds.setdefault((f"{bounds.low:f}", f"{bounds.high:f}"), []).append(index)
    for (low, high), numbers in by_bounds.items():
        rule = _warning("decimal", low, high, "请核对数值", "请填写数值，如5.5；下降可填-12.3或「下降12.3%」")
        _apply(sheet, rule, column[VALUE], numbers)
    if rates := [index for index, row in indicators if row[1] in inputs.growth]:
        rule = _warning(
            "decimal", f"{PERCENT.low:f}", f"{PERCENT.high:f}", "请核对增速", "请填写百分数的数值，如5.1；下降填-2.3"
        )
        _apply(sheet, rule, column[GROWTH], rates)
    if assessed := [index for index, row in indicators if row[1] in inputs.assessed]:
        choices = '"' + ",".join(ASSESSMENT_CHOICES) + '"'
        verdict = DataValidation(type="list", formula1=choices, allow_blank=True, showErrorMessage=True)
        verdict.errorTitle, verdict.error = "请选择考核结论", "请从下拉列表选择「完成」或「未完成」"
        _apply(sheet, verdict, column[ASSESSMENT], assessed)
    if projects:
        money = _warning(
            "decimal",
            f"{INVESTMENT_BOUNDS.low:f}",
            f"{INVESTMENT_BOUNDS.high:f}",
            "请核对金额",
            "请填写万元数，如1,250.5",
        )
        _apply(sheet, money, column[INVESTMENT], projects)
        first, last = f"DATE({year - DATE_YEARS_BEFORE},1,1)", f"DATE({year + DATE_YEARS_AFTER},12,31)"
        for name in (STARTED, COMPLETED):
            day = _warning(
                "date",
                first,
                last,
                "请核对日期",
                f"日期应在{year - DATE_YEARS_BEFORE}年至{year + DATE_YEARS_AFTER}年之间，如{year}-03-15",
            )
            _apply(sheet, day, column[name], projects)
    if indicators:
        # a list offered, not imposed: any note may still be typed
        notes = DataValidation(type="list", formula1='"' + ",".join(NOTE_CHOICES) + '"', showErrorMessage=False)
        _apply(sheet, notes, column[NOTE], [index for index, _ in indicators])


def _warning(kind: str, low: str, high: str, title: str, message: str) -> DataValidation:
    return DataValidation(
        type=kind,
        operator="between",
        formula1=low,
        formula2=high,
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="warning",
        errorTitle=title,
        error=message,
    )


def _apply(sheet: Worksheet, rule: DataValidation, letter: str, rows: list[int]) -> None:
    for row in rows:
        rule.add(f"{letter}{row}")
    sheet.add_data_validation(rule)


def _write_info_sheet(info: Worksheet, plan: Plan, department: str, period: str) -> None:
    """The 说明 sheet: whose sheet it is, for which period, and how to fill it in."""
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
    investment = INVESTMENT_BASIS_ZH[plan.investment_basis]
    for number, text in enumerate((line.format(investment=investment) for line in INSTRUCTIONS), start=1):
        info.append([f"{number}.", text])
    info.column_dimensions["A"].width = 12
    info.column_dimensions["B"].width = 110
