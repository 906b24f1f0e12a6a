"""A published report read back, to check it against planwatch's table (对账, `projections.reconcile`).

The main table (指标 ｜ 全年目标 ｜ 上半年完成, and 与目标± where it has one; columns found by their
header) comes from a Word document's table, a workbook, a csv, or the report's text as exported
(.txt, .md: a cell a line, as a report pasted from Word reads, or a row a line with its cells
split by tabs or `|`).
From the text (of a .docx or a .txt) come the key-project sentence (开工率, 投资完成率), the
completions sentence (…等26个项目建成投产) and the main indicators named before 没有达到…目标.
Pure: bytes in, a `PublishedReport` out, or `FileProblem` saying why not."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePath

from events.planfile import decode_text
from projections.reconcile import PublishedReport, PublishedRow, column_months
from services.spreadsheet.cells import Cell, plain
from services.spreadsheet.document import read_docx
from services.spreadsheet.headed import (
    Header,
    Layout,
    data_rows,
    find_header,
    header_text,
    heading,
    table_for,
    unresolved_formulas,
)
from services.spreadsheet.layout import FILE
from services.spreadsheet.reader import Table, read_table
from services.spreadsheet.results import FileProblem, RowError

NAME, TARGET, ACTUAL, DEVIATION, UNIT, SERIAL = "指标", "全年目标", "完成", "与目标±", "单位", "序号"
PUBLISHED_LAYOUT = Layout(
    headers={
        NAME: ("指标", "指标名称", "主要指标", "名称"),
        TARGET: ("全年目标", "年度目标", "目标", "预期目标", "全年预期目标", "计划目标", "年初目标"),
        ACTUAL: ("完成", "上半年完成", "全年完成", "实际完成", "一季度完成", "前三季度完成", "完成情况"),
        DEVIATION: ("与目标±", "与目标比", "与目标差距", "比目标±", "与目标相比", "差距", "±"),
        UNIT: ("单位", "计量单位"),
        SERIAL: ("序号",),
    },
    required=(NAME, TARGET, ACTUAL),  # a table without 与目标± is checked on the cells it has
    endings={TARGET: ("年目标",), ACTUAL: ("月完成", "季度完成"), DEVIATION: ("目标±",)},
)
FORMATS = (".docx", ".xlsx", ".csv", ".txt", ".md")
_MAX_CELL = 40  # a table's cell is short; a longer line is the report's prose, after the table
# the sentence on the key projects' figures (112个区级重点项目开工68个，开工率60.7%，…投资完成率50.5%;
# 市级重点项目完成投资12亿元、投资进度55%): checked as holding planwatch's, whatever wording surrounds it
_PROJECT_SENTENCE = re.compile(r"[^。；;\n]*?重点项目[^。；;\n]*?(?:开工率|投资完成率|投资进度)[\d.]+%[^。；;\n]*")
_COMPLETED_SENTENCE = re.compile(r"[^，,。；;\n]*?\d+个项目建成投产")
_MISSED_SENTENCE = re.compile(r"([^，,。；;：:\n]+?)(?:没有|均未|未能|未)达到[^，,。；;\n]*?目标")
_CELL_END = re.compile(r"(?<!\\)\|")  # a Markdown row's `|`, not an escaped one
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark: a backslash before ASCII punctuation
_CONJUNCTION = re.compile(r"^(?:但|而|其中|仅|只有)")


def read_published(content: bytes, filename: str) -> PublishedReport:
    """The report in `content`, read by its file name's suffix; FileProblem naming what is missing."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in FORMATS:
        raise FileProblem(
            RowError(
                0,
                FILE,
                filename,
                "the report must be .docx, .xlsx, .csv, .txt or .md",
                "报告文件须为.docx、.xlsx、.csv、.txt或.md格式",
            )
        )
    if suffix in (".txt", ".md"):
        text = decode_text(content)
        if text is None:
            raise FileProblem(RowError(0, FILE, "", "the file is neither UTF-8 nor GBK text", "文件编码无法识别"))
        column, rows = _text_table(text)
        return _report(column, rows, text)
    if suffix == ".docx":
        tables, text = read_docx(content)
        return _report(*_table_rows(table_for(tables, PUBLISHED_LAYOUT)[1]), text)
    return _report(*_table_rows(read_table(content, filename)), None)


def _report(column: str, rows: list[PublishedRow], text: str | None) -> PublishedReport:
    if not rows:
        raise FileProblem(RowError(0, NAME, "", "the report's table has no rows", "报告的主要指标表没有数据行"))
    if text is None:
        return PublishedReport(column, tuple(rows))
    project = _PROJECT_SENTENCE.search(text)
    completed = _COMPLETED_SENTENCE.search(text)
    return PublishedReport(
        column,
        tuple(rows),
        project[0] if project else None,
        completed[0] if completed else None,
        _missed(text),
    )


def _missed(text: str) -> tuple[str, ...] | None:
    """The names before the first 没有达到…目标 (地区生产总值、一般公共预算收入增速…); None: no such sentence."""
    match = _MISSED_SENTENCE.search(text)
    if match is None:
        return None
    return tuple(name for item in match[1].split("、") if (name := _CONJUNCTION.sub("", item.strip())))


# ---- a table: a document's, a workbook's, a csv ------------------------------------------------


def _table_rows(table: Table) -> tuple[str, list[PublishedRow]]:
    header = find_header(table, PUBLISHED_LAYOUT)
    column = _column_heading(table, header)
    rows, unresolved = [], []
    for number, cells in data_rows(table, header):
        if all(cell.blank for cell in cells) or heading(cells) is not None:
            continue
        unresolved += unresolved_formulas(number, cells, header.columns)  # read as empty, it would differ
        label, target, actual = (_text(cells, header, name) for name in (NAME, TARGET, ACTUAL))
        deviation = _text(cells, header, DEVIATION) if DEVIATION in header.columns else None
        rows.append(PublishedRow(label, target, actual, deviation, number))
    if unresolved:
        raise FileProblem(*unresolved)
    return column, rows


def _column_heading(table: Table, header: Header) -> str:
    """The figures' column as headed: 上半年完成; in a header of two rows (上半年 merged over
    完成 ｜ 与目标±), the months above it and the word below."""
    rows = [[Cell(value) for value in table.header], *(cells for _, cells in table.rows)]
    at, index = header.at + 1, header.columns[ACTUAL]
    column = header_text(rows[at][index].value)[0]
    above = header_text(rows[at - 1][index].value)[0] if at > 0 and index < len(rows[at - 1]) else ""
    if column_months(column) is None and above and column_months(above + column) is not None:
        return above + column
    return column


def _text(cells: Sequence[Cell], header: Header, column: str) -> str:
    index = header.columns[column]
    return plain(cells[index].value).strip() if index < len(cells) else ""


# ---- the report's text ---------------------------------------------------------------------------


def _text_table(text: str) -> tuple[str, list[PublishedRow]]:
    """The table in a report's text: its header's cells in a run (指标, 全年目标, 上半年完成, 与目标±),
    then its rows, as many cells each, until the prose after it."""
    cells = [(number, cell) for number, line in enumerate(text.splitlines(), start=1) for cell in _cells_of(line)]
    for start in range(len(cells)):
        header = _header_run(cells, start)
        if header is not None:
            columns, length = header
            body = cells[start + length :]
            return columns[ACTUAL][1], _text_rows(body, len(columns), {name: at for name, (at, _) in columns.items()})
    raise FileProblem(*_missing_in_text(cells))


def _cells_of(line: str) -> list[str]:
    """A line's cells: split by tabs, or by `|` (a Markdown row: `\\|` is a `|` inside a cell, and
    every backslash escape is read back, as planwatch's own Markdown writes them); a separator row
    `|---|` has none."""
    if "|" in line:
        text = line.strip().removeprefix("|")
        text = text if text.endswith("\\|") else text.removesuffix("|")
        parts = _CELL_END.split(text)
        if all(set(part.strip()) <= set("-: ") for part in parts):
            return []
        return [_ESCAPED.sub(r"\1", part.strip()) for part in parts]
    return [part.strip() for part in line.split("\t") if part.strip()]


def _header_run(cells: Sequence[tuple[int, str]], start: int) -> tuple[dict[str, tuple[int, str]], int] | None:
    """The columns named by the run of header cells at `start` (column → (position in a row, text))
    and the run's length in cells, if it names every required one. A header of two rows pasted as
    text (上半年 merged over 完成 ｜ 与目标±) reads 指标, 全年目标, 上半年, 完成, 与目标±: the months
    cell is no column of the rows, and heads the figures' column (上半年完成)."""
    columns: dict[str, tuple[int, str]] = {}
    months, length = "", 0
    for _, cell in cells[start:]:
        name = header_text(cell)[0]
        column = _column_named(name)
        if column is None and not months and ACTUAL not in columns and _months_only(name):
            months, length = name, length + 1
            continue
        if column is None or column in columns:
            break
        if column == ACTUAL and months and column_months(name) is None:
            name = months + name
        columns[column] = (len(columns), name)
        length += 1
    return (columns, length) if all(column in columns for column in PUBLISHED_LAYOUT.required) else None


def _months_only(name: str) -> bool:
    """上半年, 1-6月, 前三季度: a heading of months alone, over the figures' column."""
    return len(name) <= 12 and column_months(name) is not None


def _column_named(name: str) -> str | None:
    for column, names in PUBLISHED_LAYOUT.headers.items():
        ending = PUBLISHED_LAYOUT.endings.get(column, ())
        if name in names or (ending and name.endswith(ending)):
            return column
    return None


def _text_rows(body: Sequence[tuple[int, str]], width: int, at: dict[str, int]) -> list[PublishedRow]:
    rows = []
    for offset in range(0, len(body) - width + 1, width):
        group = body[offset : offset + width]
        if any(_prose(cell) for _, cell in group):
            break
        texts = [cell for _, cell in group]
        label, target, actual = (texts[at[name]] for name in (NAME, TARGET, ACTUAL))
        deviation = texts[at[DEVIATION]] if DEVIATION in at else None
        rows.append(PublishedRow(label, target, actual, deviation, group[0][0]))
    return rows


def _prose(cell: str) -> bool:
    return len(cell) > _MAX_CELL or "。" in cell or "，" in cell


def _missing_in_text(cells: Sequence[tuple[int, str]]) -> list[RowError]:
    named = {column for _, cell in cells if (column := _column_named(header_text(cell)[0])) is not None}
    missing = [column for column in PUBLISHED_LAYOUT.required if column not in named] or list(PUBLISHED_LAYOUT.required)
    return [
        RowError(
            0,
            column,
            "",
            "no table headed 指标 ｜ 全年目标 ｜ …完成 ｜ 与目标± in the text",
            f"文中找不到「{column}」列",
        )
        for column in missing
    ]
