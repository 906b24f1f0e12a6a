"""Reading a filled-in file (xlsx or csv) into a `Table`: its header, its rows of `Cell`s and, for a
workbook, the plan, department and period it says it was made for. A file that cannot be read
raises `FileProblem`."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.read_only import ReadOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._reader import WorkSheetParser  # its row iterator pads rows; its parser does not
from openpyxl.worksheet.cell_range import CellRange

from events.planfile import decode_text
from services.spreadsheet.cells import EMPTY, Cell, plain
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
from services.spreadsheet.package import check_package
from services.spreadsheet.results import FileProblem, RowError

if TYPE_CHECKING:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

MAX_ROWS = 20_000  # a department owns tens of subjects; more rows than this is the wrong file
MAX_COLUMNS = 64  # a fill-in sheet has a dozen columns, an office's table not many more

# the three facts a workbook says about itself: the key in `Table.meta`, its property, its 说明 label
_META = (
    ("plan", PROP_PLAN, INFO_PLAN),
    ("department", PROP_DEPARTMENT, INFO_DEPARTMENT),
    ("period", PROP_PERIOD, INFO_PERIOD),
)


@dataclass(frozen=True)
class Merged:
    """A range of an xlsx merged down several rows, its value read into each of them."""

    ref: str  # as Excel names it: G2:G5
    first_column: int  # indexes of its first and last columns in a row's cells
    last_column: int
    first: int  # its first and last spreadsheet rows
    last: int


@dataclass
class Table:
    header: list[object]
    rows: list[tuple[int, list[Cell]]]  # (spreadsheet row number, cells), trailing blank rows dropped
    meta: dict[str, str]  # plan / department / period from an xlsx's properties or 说明 sheet
    csv_layout: bool = False  # csv rows carry plan and department in columns of their own
    merged: list[Merged] = field(default_factory=list)  # an xlsx's ranges merged down several rows

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
        raise FileProblem(_too_many_rows(len(table.rows)))
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
        check_package(content, "工作簿")
        workbook = load_workbook(io.BytesIO(content), read_only=True)
    except FileProblem:
        raise
    except Exception:  # openpyxl raises zip, XML, key and value errors alike for a damaged file
        raise FileProblem(unreadable) from None
    try:
        sheet = _data_sheet(workbook)
        meta = _xlsx_meta(workbook)
        grid, merged = _sheet_grid(workbook, sheet)
    except FileProblem:
        raise
    except Exception:  # read-only sheets are parsed lazily: damage inside a sheet shows up only here
        raise FileProblem(unreadable) from None
    finally:
        workbook.close()
    if not grid:
        raise FileProblem(RowError(1, FILE, "", "the sheet is empty", "表格是空的"))
    rows = [_line(grid.get(number, {})) for number in range(1, max(grid) + 1)]
    numbered = [(number, cells) for number, cells in enumerate(rows[1:], start=2)]
    return Table(header=[cell.value for cell in rows[0]], rows=numbered, meta=meta, merged=merged)


# A sheet as read: row → column → cell (both from 1), only the cells that hold something, so a
# stray cell at column XFD costs one entry, not 16,384 empty ones in each of its rows.
Grid = dict[int, dict[int, Cell]]


def _line(cells: dict[int, Cell]) -> list[Cell]:
    return [cells.get(column, EMPTY) for column in range(1, max(cells, default=0) + 1)]


def _sheet_grid(workbook: Workbook, sheet: ReadOnlyWorksheet) -> tuple[Grid, list[Merged]]:
    """The sheet's cells, formulas with the results Excel stored, merged ranges read as the eye
    reads them; the sheet's declared size is ignored (some writers store a wrong one)."""
    found, merges = _parsed_sheet(workbook, sheet, data_only=False)
    stored = None
    if any(raw["data_type"] == "f" for line in found.values() for raw in line.values()):
        stored = _parsed_sheet(workbook, sheet, data_only=True)[0]  # a second read, only when there are formulas
    grid: Grid = {
        number: {column: _cell(sheet, raw, stored) for column, raw in line.items()} for number, line in found.items()
    }
    return grid, _spread(grid, merges)


def _parsed_sheet(workbook: Workbook, sheet: ReadOnlyWorksheet, data_only: bool) -> tuple[RawGrid, list[str]]:
    """The sheet's raw cells that hold a value, and its merged ranges. openpyxl's row iterator pads
    every row to the widest one, so the sheet is parsed here by its own parser, bounded as it goes."""
    found: RawGrid = {}
    with sheet._get_source() as source:
        parser = WorkSheetParser(
            source,
            sheet._shared_strings,
            data_only=data_only,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        for number, cells in parser.parse():
            line = {raw["column"]: raw for raw in cells if not Cell(raw["value"]).blank}
            if line:
                _check_bounds(number, line)
                found.setdefault(number, {}).update(line)
        merges = [str(ref.coord) for ref in parser.merged_cells.mergeCell] if parser.merged_cells else []
    return found, merges


RawGrid = dict[int, dict[int, dict[str, Any]]]


def _check_bounds(number: int, line: dict[int, dict[str, Any]]) -> None:
    """Refused while reading: a value beyond MAX_COLUMNS, or data beyond MAX_ROWS rows."""
    if number > MAX_ROWS + 1:
        raise FileProblem(_too_many_rows(number - 1))
    beyond = max(line)
    if beyond > MAX_COLUMNS:
        where = f"{get_column_letter(beyond)}{number}"
        raise FileProblem(
            RowError(
                number,
                FILE,
                where,
                f"a value in column {get_column_letter(beyond)}, beyond the {MAX_COLUMNS} columns a table may have",
                f"{where}单元格有内容，超出表格应有的{MAX_COLUMNS}列，请删除多余内容",
            )
        )


def _too_many_rows(rows: int) -> RowError:
    return RowError(
        0,
        FILE,
        str(rows),
        f"more than {MAX_ROWS} data rows: not a department's fill-in sheet",
        f"数据超过{MAX_ROWS}行，不是部门填报表",
    )


def _cell(sheet: ReadOnlyWorksheet, raw: dict[str, Any], stored: RawGrid | None) -> Cell:
    """A cell as read. `stored` holds the values Excel stored for formulas (None: the sheet has none)."""
    value, formula = raw["value"], None
    if raw["data_type"] == "f" and stored is not None:
        value = stored.get(raw["row"], {}).get(raw["column"], {}).get("value")
        formula = str(raw["value"]) if value is None else None
    percent = isinstance(value, int | float) and "%" in (ReadOnlyCell(sheet, **raw).number_format or "")
    return Cell(value, percent, formula)


def _spread(grid: Grid, refs: list[str]) -> list[Merged]:
    """Merged ranges as the docx reader reads them: the range's value in its first column of every
    row it spans, nothing in its other columns (Excel shows nothing there, whatever is stored).
    Ranges below the last row or right of MAX_COLUMNS are cut off there."""
    last = max(grid, default=0)
    boxes = [box for box in map(CellRange, refs) if box.min_row <= last and box.min_col <= MAX_COLUMNS]
    area = sum((min(b.max_row, last) - b.min_row + 1) * (min(b.max_col, MAX_COLUMNS) - b.min_col + 1) for b in boxes)
    if area > (MAX_ROWS + 1) * MAX_COLUMNS:  # overlapping ranges, which Excel never writes
        raise FileProblem(RowError(0, FILE, "", "merged ranges cover more than the sheet", "合并单元格区域重叠或过大"))
    merged = []
    for box in boxes:
        anchor = grid.get(box.min_row, {}).get(box.min_col)
        for number in range(box.min_row, min(box.max_row, last) + 1):
            line = grid.setdefault(number, {})
            for column in [c for c in line if box.min_col <= c <= box.max_col]:
                del line[column]
            if anchor is not None:
                line[box.min_col] = anchor
        if anchor is not None and box.max_row > box.min_row:
            merged.append(Merged(box.coord, box.min_col - 1, box.max_col - 1, box.min_row, box.max_row))
    return merged


def _data_sheet(workbook: Workbook) -> ReadOnlyWorksheet:
    """The 填报 sheet, else the first other sheet (renamed by the department); hidden sheets are
    never read: what is imported is what the department sees."""
    visible = [sheet for sheet in workbook.worksheets if sheet.sheet_state == "visible"]
    named = [sheet for sheet in visible if sheet.title == DATA_SHEET]
    others = [sheet for sheet in visible if sheet.title != INFO_SHEET]
    if named or others:
        return (named or others)[0]
    hidden = [sheet.title for sheet in workbook.worksheets if sheet.title != INFO_SHEET]
    if hidden:
        raise FileProblem(
            RowError(
                0,
                FILE,
                hidden[0],
                f"the sheet {hidden[0]} is hidden, and hidden sheets are not read; unhide it in Excel",
                f"工作表「{hidden[0]}」被隐藏，隐藏的工作表不予读取，请在Excel中取消隐藏",
            )
        )
    raise FileProblem(
        RowError(0, FILE, "", f"no {DATA_SHEET} sheet in the workbook", f"工作簿中没有「{DATA_SHEET}」工作表")
    )


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
