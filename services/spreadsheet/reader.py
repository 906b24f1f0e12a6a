"""Reading a filled-in file (xlsx or csv) into a `Table`: its header, its rows of `Cell`s and, for a
workbook, the plan, department and period it says it was made for. A file that cannot be read
raises `FileProblem`."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

from openpyxl import Workbook, load_workbook

from events.planfile import decode_text
from services.spreadsheet.cells import Cell, plain
from services.spreadsheet.layout import (
    DATA_SHEET,
    DEPARTMENT,
    FILE,
    INFO_DEPARTMENT,
    INFO_PERIOD,
    INFO_PLAN,
    INFO_SHEET,
    PLAN,
    PROP_DEPARTMENT,
    PROP_PERIOD,
    PROP_PLAN,
    REQUIRED_COLUMNS,
)
from services.spreadsheet.results import FileProblem, RowError

if TYPE_CHECKING:
    from openpyxl.cell.read_only import EmptyCell, ReadOnlyCell
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

MAX_ROWS = 20_000  # a department owns tens of subjects; more rows than this is the wrong file

# the three facts a workbook says about itself: the key in `Table.meta`, its property, its 说明 label
_META = (
    ("plan", PROP_PLAN, INFO_PLAN),
    ("department", PROP_DEPARTMENT, INFO_DEPARTMENT),
    ("period", PROP_PERIOD, INFO_PERIOD),
)


@dataclass
class Table:
    header: list[object]
    rows: list[tuple[int, list[Cell]]]  # (spreadsheet row number, cells), trailing blank rows dropped
    meta: dict[str, str]  # plan / department / period from an xlsx's properties or 说明 sheet
    csv_layout: bool = False  # csv rows carry plan and department in columns of their own

    def distinct(self, index: int) -> list[str]:
        """The different texts in column `index`, in order of first appearance, blanks left out."""
        seen = dict.fromkeys(
            plain(cells[index].value) for _, cells in self.rows if index < len(cells) and not cells[index].blank
        )
        return list(seen)


def read_table(content: bytes, filename: str) -> Table:
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".xlsx":
        table = _read_xlsx(content)
    elif suffix == ".csv":
        table = _read_csv(content)
    elif suffix == ".xls":
        raise FileProblem(
            RowError(
                0, FILE, filename, "old .xls files are not supported; save as .xlsx", "不支持.xls格式，请另存为.xlsx"
            )
        )
    else:
        raise FileProblem(RowError(0, FILE, filename, "the file must be .xlsx or .csv", "文件必须是.xlsx或.csv格式"))
    while table.rows and all(cell.blank for cell in table.rows[-1][1]):
        table.rows.pop()
    if len(table.rows) > MAX_ROWS:
        raise FileProblem(
            RowError(
                0,
                FILE,
                str(len(table.rows)),
                f"more than {MAX_ROWS} data rows: not a department's fill-in sheet",
                f"数据超过{MAX_ROWS}行，不是部门填报表",
            )
        )
    return table


def find_columns(header: Sequence[object], csv_layout: bool) -> dict[str, int]:
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
        raise FileProblem(*errors)
    return columns


def _header_name(value: object) -> str:
    """Headers as people retype them: half-width brackets and stray spaces are the same column."""
    text = unicodedata.normalize("NFKC", plain(value)).replace(" ", "")
    return text.replace("(", "（").replace(")", "）")


# ---- csv ----------------------------------------------------------------------------------


def _read_csv(content: bytes) -> Table:
    text = decode_text(content)  # GBK is what Chinese Excel writes for "CSV（逗号分隔）"
    if text is None:
        raise FileProblem(
            RowError(0, FILE, "", "the file is neither UTF-8 nor GBK text", "文件编码无法识别（应为UTF-8或GBK）")
        )
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise FileProblem(RowError(0, FILE, "", f"not a valid CSV file: {exc}", "不是有效的CSV文件")) from None
    if not records:
        raise FileProblem(RowError(1, FILE, "", "the file is empty", "文件是空的"))
    rows = [(number, [Cell(value) for value in record]) for number, record in enumerate(records[1:], start=2)]
    return Table(header=list(records[0]), rows=rows, meta={}, csv_layout=True)


# ---- xlsx ---------------------------------------------------------------------------------


def _read_xlsx(content: bytes) -> Table:
    unreadable = RowError(0, FILE, "", "not a readable .xlsx file", "文件已损坏或不是xlsx文件")
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True)
    except Exception:  # openpyxl raises zip, XML, key and value errors alike for a damaged file
        raise FileProblem(unreadable) from None
    try:
        sheet = _data_sheet(workbook)
        meta = _xlsx_meta(workbook)
        sheet.reset_dimensions()  # some writers store a wrong used range; read every cell there is
        raw = [list(row) for row in sheet.iter_rows()]
        results = _formula_results(content, sheet.title) if any(c.data_type == "f" for r in raw for c in r) else None
    except FileProblem:
        raise
    except Exception:  # read-only sheets are parsed lazily: damage inside a sheet shows up only here
        raise FileProblem(unreadable) from None
    finally:
        workbook.close()
    if not raw:
        raise FileProblem(RowError(1, FILE, "", "the sheet is empty", "表格是空的"))
    rows = [_cells(row, None if results is None else _stored_row(results, index)) for index, row in enumerate(raw)]
    numbered = [(number, cells) for number, cells in enumerate(rows[1:], start=2)]
    return Table(header=[cell.value for cell in rows[0]], rows=numbered, meta=meta)


def _stored_row(results: list[list[object]], index: int) -> list[object]:
    return results[index] if index < len(results) else []


def _cells(row: Sequence[ReadOnlyCell | EmptyCell], stored: list[object] | None) -> list[Cell]:
    """A worksheet row's cells. `stored` holds the values Excel stored for the row's formulas
    (None when the sheet has no formula at all)."""
    cells = []
    for position, cell in enumerate(row):
        value, formula = cell.value, None
        if cell.data_type == "f" and stored is not None:
            value = stored[position] if position < len(stored) else None
            formula = str(cell.value) if value is None else None
        percent = isinstance(value, int | float) and "%" in (getattr(cell, "number_format", "") or "")
        cells.append(Cell(value, percent, formula))
    return cells


def _formula_results(content: bytes, title: str) -> list[list[object]]:
    """The values Excel stored for formulas; loaded only when there are formulas, as it reads the file again."""
    workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        sheet = workbook[title]
        sheet.reset_dimensions()
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _data_sheet(workbook: Workbook) -> ReadOnlyWorksheet:
    if DATA_SHEET in workbook.sheetnames:
        return workbook[DATA_SHEET]
    others = [name for name in workbook.sheetnames if name != INFO_SHEET]
    if not others:
        raise FileProblem(
            RowError(0, FILE, "", f"no {DATA_SHEET} sheet in the workbook", f"工作簿中没有「{DATA_SHEET}」工作表")
        )
    return workbook[others[0]]  # renamed by the department: the first sheet that is not 说明


def _xlsx_meta(workbook: Workbook) -> dict[str, str]:
    """Plan, department and period from the custom properties and the 说明 sheet; they must agree."""
    from_props = {
        key: str(prop.value).strip()
        for prop in workbook.custom_doc_props
        for key, name, _ in _META
        if prop.name == name and prop.value is not None
    }
    from_sheet = _info_sheet_meta(workbook)
    errors = [
        RowError(
            0,
            INFO_SHEET,
            from_sheet[key],
            f"the {INFO_SHEET} sheet says {label} {from_sheet[key]!r} but the workbook was made for "
            f"{from_props[key]!r}",
            f"「{INFO_SHEET}」中的{label}被修改过（模板为{from_props[key]}），请重新下载模板",
        )
        for key, _, label in _META
        if key in from_props and key in from_sheet and from_props[key] != from_sheet[key]
    ]
    if errors:
        raise FileProblem(*errors)
    return from_props | {k: v for k, v in from_sheet.items() if k not in from_props}


def _info_sheet_meta(workbook: Workbook) -> dict[str, str]:
    """Plan, department and period as the 说明 sheet lists them (the first of each label counts)."""
    found: dict[str, str] = {}
    if INFO_SHEET not in workbook.sheetnames:
        return found
    keys = {label: key for key, _, label in _META}
    for row in workbook[INFO_SHEET].iter_rows(max_col=2, values_only=True):
        label = plain(row[0]) if row else ""
        if label in keys and len(row) > 1 and plain(row[1]):
            found.setdefault(keys[label], plain(row[1]))
    return found
