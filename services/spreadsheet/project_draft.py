"""The key-project list an office keeps (项目名称 ｜ 责任单位 ｜ 类别 ｜ 年度计划投资 ｜ 计划开工 ｜
计划竣工), read for a plan draft (`plan_draft`): a project per row, its money in 万元 whatever unit
the header or the cell gives, its months as YYYY-MM however they are written. Pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.spreadsheet.cells import Cell, CellProblem, canonical_decimal, parse_decimal, plain
from services.spreadsheet.headed import (
    Header,
    Layout,
    cell_at,
    cell_text,
    data_rows,
    find_header,
    heading,
    unresolved_formulas,
)
from services.spreadsheet.reader import Table
from services.spreadsheet.results import RowError

PROJECT, OWNER, CATEGORY, INVESTMENT, START, COMPLETION, PROJECT_ID = (
    "项目名称",
    "责任单位",
    "类别",
    "年度计划投资",
    "计划开工",
    "计划竣工",
    "标识",
)
PROJECT_LAYOUT = Layout(
    headers={
        PROJECT: ("项目名称", "项目", "名称", "重点项目"),
        OWNER: ("责任单位", "牵头单位", "责任部门", "牵头部门", "主管部门", "业主单位"),
        CATEGORY: ("类别", "项目类别", "行业", "领域", "分类", "类型"),
        INVESTMENT: ("年度计划投资", "年度投资", "本年计划投资", "计划投资", "年度投资计划", "本年度计划投资"),
        START: ("计划开工时间", "开工时间", "计划开工", "开工年月", "计划开工年月"),
        COMPLETION: ("计划竣工时间", "竣工时间", "计划完工时间", "完工时间", "建成时间", "计划建成时间", "计划竣工"),
        PROJECT_ID: ("标识", "编号", "项目编号", "项目代码"),
    },
    required=(PROJECT, OWNER, INVESTMENT, START, COMPLETION),
    endings={INVESTMENT: ("年计划投资",)},
)
UNCATEGORISED = "未分类"
_WAN_PER = {"万元": Decimal(1), "亿元": Decimal(10_000), "元": Decimal("0.0001"), "": Decimal(1)}
_MONTH = re.compile(r"(\d{4})[-/.年](\d{1,2})(?:月份?)?(?:[-/.]?\d{1,2}日?)?")
_MONTH_ONLY = re.compile(r"(\d{1,2})月份?")
_YEAR_END = re.compile(r"(\d{4})年?(?:底|末|年底|年末)?")
_HEADING_NOISE = re.compile(r"^(?:[一二三四五六七八九十]+[、.]|[（(][一二三四五六七八九十\d]+[）)])|[（(]\d+个[）)]$")


@dataclass
class ProjectRow:
    number: int  # the spreadsheet row
    id: str
    name: str
    department: str
    category: str
    investment_wan: Decimal
    start: str  # YYYY-MM
    completion: str  # YYYY-MM


def project_rows(table: Table, year: int) -> tuple[list[ProjectRow], list[RowError], list[str]]:
    """The table's projects, every bad cell, and notes for the office (a category assumed)."""
    header = find_header(table, PROJECT_LAYOUT)
    rows: list[ProjectRow] = []
    errors: list[RowError] = []
    category = UNCATEGORISED
    for number, cells in data_rows(table, header):
        if unresolved := unresolved_formulas(number, cells, header.columns):
            errors += unresolved
            continue
        if not any(cell_text(cells, header.columns, c) for c in (OWNER, INVESTMENT, START, COMPLETION)):
            if (title := heading(cells)) is not None:
                category = _category(title)  # 一、工业项目（30个）
            continue  # else a blank line, or a number with nothing else
        if not cell_text(cells, header.columns, PROJECT):
            errors.append(RowError(number, PROJECT, "", "the project's name is not given", "未填写项目名称"))
            continue
        row, problems = _project(number, cells, header, year, category)
        errors += problems
        rows.append(row)
    notes = (
        []
        if CATEGORY in header.columns or category != UNCATEGORISED
        else [f"项目表没有「{CATEGORY}」列或分组标题：类别均为「{UNCATEGORISED}」"]
    )
    return rows, errors, notes


def _category(title: str) -> str:
    return _HEADING_NOISE.sub("", title).strip() or title


def _project(
    number: int, cells: list[Cell], header: Header, year: int, category: str
) -> tuple[ProjectRow, list[RowError]]:
    columns = header.columns
    errors: list[RowError] = []

    def read(column: str, reader: Callable[[Cell], object]) -> object:
        cell = cell_at(cells, columns, column)
        try:
            return reader(cell)
        except CellProblem as problem:
            errors.append(RowError(number, column, plain(cell.value), problem.reason, problem.reason_zh))
            return None

    investment = read(INVESTMENT, lambda cell: _investment(cell, header.units.get(INVESTMENT, "")))
    start = read(START, lambda cell: _month(cell, year, end=False))
    completion = read(COMPLETION, lambda cell: _month(cell, year, end=True))
    department = cell_text(cells, columns, OWNER)
    if not department:
        errors.append(RowError(number, OWNER, "", "who reports its progress is not given", "未填写责任单位"))
    row = ProjectRow(
        number,
        cell_text(cells, columns, PROJECT_ID),
        cell_text(cells, columns, PROJECT),
        department,
        cell_text(cells, columns, CATEGORY) or category,
        investment if isinstance(investment, Decimal) else Decimal(0),
        start if isinstance(start, str) else "",
        completion if isinstance(completion, str) else "",
    )
    return row, errors


def _investment(cell: Cell, header_unit: str) -> Decimal:
    """The year's planned investment in 万元: a number in the header's unit (万元 unless it says
    亿元 or 元), or text with its own (1.5亿元, 15,000万元)."""
    if cell.blank:
        raise CellProblem("not given; write 0 for a project with none planned this year", "未填写，本年无计划投资请填0")
    unit = header_unit if header_unit in _WAN_PER else ""
    if header_unit and not unit:
        raise CellProblem(
            f"the header's unit {header_unit} is not 万元, 亿元 or 元", f"表头单位「{header_unit}」应为万元、亿元或元"
        )
    return canonical_decimal(parse_decimal(cell, unit or "万元") * _WAN_PER[unit])


def _month(cell: Cell, year: int, *, end: bool) -> str:
    """A month as YYYY-MM: a date cell, 2025-03, 2025.3, 2025/03, 2025年3月, 3月 (of the plan
    year), 202503; a year alone, or 2026年底, is its December for a completion (a start needs its
    month)."""
    value = cell.value
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, int) and not isinstance(value, bool) and 190001 <= value <= 299912:
        return _checked(value // 100, value % 100)
    if isinstance(value, float):  # 2025.10 typed into a number cell reads 2025.1: the month is lost
        raise CellProblem(
            "a number is not a month; write 2025-10 or 2025年10月", "数字无法表示月份，请填写如2025-10或2025年10月"
        )
    text = unicodedata.normalize("NFKC", plain(value)).replace(" ", "")
    if found := _MONTH.fullmatch(text):
        return _checked(int(found[1]), int(found[2]))
    if found := _MONTH_ONLY.fullmatch(text):
        return _checked(year, int(found[1]))
    if end and (found := _YEAR_END.fullmatch(text)):
        return _checked(int(found[1]), 12)
    raise CellProblem(
        "not a month; write it like 2025-03 (2025年3月 and 3月 are read too)",
        "不是有效的月份，请填写如2025-03（也可写2025年3月或3月）",
    )


def _checked(year: int, month: int) -> str:
    if not 1 <= month <= 12:
        raise CellProblem(f"there is no month {month}", f"没有{month}月")
    return f"{year:04d}-{month:02d}"
