"""Departments' fill-in sheets (填报表): the template to download (`template`), and the filled-in
file read back into events (`parse`: `reader` reads the file's table, `ownership` checks whose it
is, `rows` turns rows into events, `cells` reads the values typed in cells). Pure: bytes in,
bytes or events out."""

from __future__ import annotations

from services.spreadsheet.layout import (
    ASSESSMENT,
    COMPLETED,
    GROWTH,
    INDICATOR_KIND,
    INVESTMENT,
    NOTE,
    PROJECT_KIND,
    STARTED,
    VALUE,
)
from services.spreadsheet.parse import FIRST_ROW, parse_rows, parse_sheet, sheet_plan_id
from services.spreadsheet.results import ForeignSheet, RowError, SheetImport, SheetRejected
from services.spreadsheet.template import write_template

__all__ = [
    "ASSESSMENT",
    "COMPLETED",
    "FIRST_ROW",
    "GROWTH",
    "INDICATOR_KIND",
    "INVESTMENT",
    "NOTE",
    "PROJECT_KIND",
    "STARTED",
    "VALUE",
    "ForeignSheet",
    "RowError",
    "SheetImport",
    "SheetRejected",
    "parse_rows",
    "parse_sheet",
    "sheet_plan_id",
    "write_template",
]
