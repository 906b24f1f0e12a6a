"""Tables an office made by hand (a target table, a key-project list): columns found by their
header text, in any order, on the first row that has them (a title or a blank row may stand
above), headings between groups of rows. Pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from services.spreadsheet.cells import Cell, plain, shown
from services.spreadsheet.reader import Table
from services.spreadsheet.results import FileProblem, RowError

HEADER_ROWS_SEARCHED = 10  # a title, a date line, a blank line may stand above the header
_BRACKETED = re.compile(r"^(?P<name>.+?)[(（](?P<unit>[^)）]*)[)）]$")


@dataclass(frozen=True)
class Layout:
    """The columns of a kind of table: each by the header texts offices give it; `required` must
    all be there; `endings`: a header ending so names the column too (2025年目标, 2025年计划投资)."""

    headers: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]
    endings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # when set: the column a header's name gives (None, or a name not in `headers`: none), in place
    # of `headers` and `endings` (a published report's 1—6月 heads its figures, 上半年目标 none)
    classify: Callable[[str], str | None] | None = None


@dataclass(frozen=True)
class Header:
    at: int  # index into the table's rows of the header; -1: the table's own first row
    columns: dict[str, int]  # column → index
    units: dict[str, str]  # column → the unit its header gives in brackets: 年度计划投资（亿元）


def header_text(value: object) -> tuple[str, str]:
    """(name, unit in brackets) of a header cell, spaces and full-width forms evened out."""
    text = unicodedata.normalize("NFKC", plain(value)).replace(" ", "").replace("\n", "")
    bracketed = _BRACKETED.match(text)
    return (bracketed["name"], bracketed["unit"]) if bracketed else (text, "")


def find_header(table: Table, layout: Layout) -> Header:
    """The first row (of the first few) naming every required column; FileProblem naming those
    missing, with the header texts each may have."""
    candidates = [[Cell(value) for value in table.header], *(cells for _, cells in table.rows[:HEADER_ROWS_SEARCHED])]
    best: tuple[int, dict[str, int], dict[str, str]] | None = None
    for at, cells in enumerate(candidates):
        columns, units = _columns(cells, layout)
        if all(column in columns for column in layout.required):
            return Header(at - 1, columns, units)
        if layout.required[0] in columns and best is None:
            best = (at - 1, columns, units)
    found = best[1] if best else {}
    raise FileProblem(*(missing_column(layout, column) for column in layout.required if column not in found))


def table_for(tables: Sequence[Table], layout: Layout) -> tuple[int, Table]:
    """The first of a document's tables naming every required column, with its index; else
    FileProblem naming what the closest one (fewest columns missing) lacks."""
    closest: FileProblem | None = None
    for index, table in enumerate(tables):
        try:
            find_header(table, layout)
        except FileProblem as problem:
            if closest is None or len(problem.errors) < len(closest.errors):
                closest = problem
            continue
        return index, table
    raise closest or FileProblem(*(missing_column(layout, column) for column in layout.required))


def missing_column(layout: Layout, column: str) -> RowError:
    known = "、".join(layout.headers[column])
    return RowError(
        1, column, "", f"no column headed {column} (or one of: {known})", f"找不到「{column}」列（列名可为：{known}）"
    )


def _columns(cells: Sequence[Cell], layout: Layout) -> tuple[dict[str, int], dict[str, str]]:
    columns: dict[str, int] = {}
    units: dict[str, str] = {}
    for index, cell in enumerate(cells):
        name, unit = header_text(cell.value)
        for column in _named(layout, name):
            if column not in columns:
                columns[column], units[column] = index, unit
    return columns, units


def _named(layout: Layout, name: str) -> list[str]:
    if layout.classify is not None:
        column = layout.classify(name) if name else None
        return [column] if column is not None and column in layout.headers else []
    return [
        column
        for column, names in layout.headers.items()
        if name in names or ((ending := layout.endings.get(column, ())) and name.endswith(ending))
    ]


def cell_text(cells: Sequence[Cell], columns: Mapping[str, int], column: str) -> str:
    index = columns.get(column)
    return plain(cells[index].value).strip() if index is not None and index < len(cells) else ""


def cell_at(cells: Sequence[Cell], columns: Mapping[str, int], column: str) -> Cell:
    index = columns.get(column)
    return cells[index] if index is not None and index < len(cells) else Cell()


def unresolved_formulas(number: int, cells: Sequence[Cell], columns: Mapping[str, int]) -> list[RowError]:
    """The row's cells in the table's columns holding a formula without a stored result (a file
    written by a program, never opened in Excel): their text is not known, and reading them as
    empty would draft a target of '' or a row without 责任单位."""
    return [
        RowError(
            number,
            column,
            shown(cell.formula),
            "a formula without a stored result; open and save the file in Excel, or paste values",
            "公式没有计算结果，请在Excel中打开保存，或粘贴为数值",
        )
        for column in columns
        if (cell := cell_at(cells, columns, column)).formula is not None
    ]


def heading(cells: Sequence[Cell]) -> str | None:
    """The text of a row holding one text alone — a heading, often merged across the row
    (`（一）工业经济`, `一、工业项目（30个）`); None for any other row."""
    filled = [plain(cell.value).strip() for cell in cells if not cell.blank]
    return filled[0] if len(filled) == 1 and isinstance(_first_value(cells), str) else None


def _first_value(cells: Sequence[Cell]) -> object:
    return next(cell.value for cell in cells if not cell.blank)


def data_rows(table: Table, header: Header) -> list[tuple[int, list[Cell]]]:
    return table.rows[header.at + 1 :]
