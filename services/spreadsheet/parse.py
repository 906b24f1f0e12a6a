"""Reading a filled-in sheet back: the events to append, or `SheetRejected` listing every bad
cell — a file is imported whole or not at all, so a department never has to work out which half
of its upload got in."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from events.plan import Plan
from services.spreadsheet.cells import EMPTY, Cell
from services.spreadsheet.layout import ASSESSMENT, COLUMNS, GROWTH, INPUT_COLUMNS, KIND, PLAN, SUBJECT
from services.spreadsheet.ownership import file_owner
from services.spreadsheet.reader import Table, find_columns, read_table
from services.spreadsheet.results import FileProblem, ForeignFile, ForeignSheet, RowError, SheetImport, SheetRejected
from services.spreadsheet.rows import RowReader


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
        table = read_table(content, filename)
        columns = find_columns(table.header, table.csv_layout)
        _refuse_merged(table, columns)
        owner = file_owner(table, columns, plan, department)
    except FileProblem as problem:
        raise SheetRejected(filename, problem.errors) from None
    except ForeignFile as foreign:
        raise ForeignSheet(filename, [foreign.error]) from None
    reader = RowReader(plan, owner, table.meta.get("period"))
    total = len(table.rows)
    read = 0
    for done, (number, cells) in enumerate(table.rows, start=1):
        by_name = {name: cells[index] if index < len(cells) else EMPTY for name, index in columns.items()}
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


# Each row is one subject's report: what it is and its figures and dates are its own. A cell merged
# down several rows in these columns would give one figure to several subjects (or leave all but
# one without it), so it is refused; in the others (报告期, 备注) the value is read into every row.
_OWN_COLUMNS = frozenset({KIND, SUBJECT, *INPUT_COLUMNS, GROWTH, ASSESSMENT})


def _refuse_merged(table: Table, columns: dict[str, int]) -> None:
    errors = []
    for merged in table.merged:
        names = [n for n, i in columns.items() if n in _OWN_COLUMNS and merged.first_column <= i <= merged.last_column]
        errors += [
            RowError(
                merged.first,
                name,
                merged.ref,
                f"cells {merged.ref} are merged over rows {merged.first}-{merged.last}; each row needs its own "
                "value: unmerge them and fill in every row",
                f"{merged.ref}为合并单元格（第{merged.first}至{merged.last}行），每行须分别填写，请取消合并后逐行填写",
            )
            for name in names[:1]
        ]
    if errors:
        raise FileProblem(*errors)


FIRST_ROW = 2  # rows are numbered as a sheet's would be (the header is row 1), so messages read the same


def parse_rows(plan: Plan, department: str, rows: Sequence[Mapping[str, str]], form: str = "填报表单") -> SheetImport:
    """The events that rows typed into a form report — rows as a sheet has them (column header →
    text: 分类, 编号, 报告期, 本期累计值, 开工日期, 本期完成投资（万元）, 建成投产日期, 备注) — read by the
    same rules as an uploaded file, or `SheetRejected` listing every bad cell. Row i of `rows` is
    row FIRST_ROW + i in the errors."""
    reader = RowReader(plan, department, None)
    read = 0
    for number, row in enumerate(rows, start=FIRST_ROW):
        cells = {column: Cell(row.get(column) or None) for column in COLUMNS}
        if any(not cell.blank for cell in cells.values()):
            read += 1
            reader.read(number, cells)
    if reader.errors:
        raise SheetRejected(form, reader.errors)
    periods = tuple(p.text for p in sorted(reader.periods))
    return SheetImport(plan_id=plan.id, department=department, periods=periods, events=reader.events, rows=read)


def file_plan_id(content: bytes, filename: str) -> str | None:
    """The plan a filled-in file says it is for, to pick the plan before parsing; None when it
    names none. A file that cannot be read raises `SheetRejected` saying why, as `parse_sheet`
    would: "names no plan" is not the reason an unreadable file was refused."""
    try:
        table = read_table(content, filename)
        if not table.csv_layout:
            return table.meta.get("plan")
        plans = table.distinct(find_columns(table.header, csv_layout=True)[PLAN])
    except FileProblem as problem:
        raise SheetRejected(filename, problem.errors) from None
    return plans[0] if len(plans) == 1 else None


def sheet_plan_id(content: bytes, filename: str) -> str | None:
    """`file_plan_id`, None also when the file cannot be read (for callers that read it again and
    say why then)."""
    try:
        return file_plan_id(content, filename)
    except SheetRejected:
        return None
