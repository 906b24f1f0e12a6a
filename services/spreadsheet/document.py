"""The tables of a Word document (.docx): an approved plan's target table (附表：主要指标) and
key-project list are often kept in Word, not in a workbook, and so is a published report.

Each table becomes a `Table` as a workbook's sheet would: its first row the header, the rest
numbered from 2 as rows of that table. A cell merged across a row (a heading such as
`一、经济发展`) is read once, in its first column; a cell merged down a column (one 责任单位 for
several indicators) gives its text to every row it spans, as the reader sees it."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from services.spreadsheet.cells import Cell
from services.spreadsheet.layout import FILE
from services.spreadsheet.package import check_package
from services.spreadsheet.reader import MAX_ROWS, Table
from services.spreadsheet.results import FileProblem, RowError

if TYPE_CHECKING:
    from docx.table import Table as WordTable


def read_docx_tables(content: bytes) -> list[Table]:
    """Every table of the document, in order (nested tables aside); FileProblem when the file is
    not a readable .docx or holds no table."""
    return read_docx(content)[0]


def read_docx(content: bytes) -> tuple[list[Table], str]:
    """Every table of the document, in order (nested tables aside), and the text of its
    paragraphs, a line each; FileProblem when the file is not a readable .docx or holds no table."""
    from docx import Document  # python-docx is only needed when an office reads from Word

    try:
        check_package(content, "文档")  # before python-docx unpacks and parses every part whole
        document = Document(io.BytesIO(content))
        tables = [_table(table) for table in document.tables]
        text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    except FileProblem:
        raise
    except Exception:  # python-docx raises zip, XML, key and value errors alike for a damaged file
        raise FileProblem(RowError(0, FILE, "", "not a readable .docx file", "文件已损坏或不是docx文件")) from None
    if not tables:
        raise FileProblem(RowError(0, FILE, "", "the document holds no table", "文档中没有表格"))
    return tables, text


def _table(table: WordTable) -> Table:
    rows: list[list[Cell]] = []
    for row in table.rows:
        if len(rows) > MAX_ROWS:
            raise FileProblem(RowError(0, FILE, "", f"a table of more than {MAX_ROWS} rows", f"表格超过{MAX_ROWS}行"))
        cells = row.cells
        # a merged cell is the same element in every column it spans: its text counts once
        rows.append(
            [Cell(None if at and cell._tc is cells[at - 1]._tc else cell.text.strip()) for at, cell in enumerate(cells)]
        )
    if not rows:
        return Table(header=[], rows=[], meta={})
    while len(rows) > 1 and all(cell.blank for cell in rows[-1]):
        rows.pop()
    return Table(header=[cell.value for cell in rows[0]], rows=list(enumerate(rows[1:], start=2)), meta={})
