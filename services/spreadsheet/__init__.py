"""Departments' fill-in sheets (填报表): the template to download (`template`), and the filled-in
file read back into events (`parse`: `reader` reads the file's table, `ownership` checks whose it
is, `rows` turns rows into events, `cells` reads the values typed in cells); and the plan office's
target table drafted into a plan file (`plan_draft`); a published report read back to check it
against planwatch's table (`published`). Pure: bytes in, bytes, events or text out."""

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
from services.spreadsheet.parse import FIRST_ROW, file_plan_id, parse_rows, parse_sheet, sheet_plan_id
from services.spreadsheet.plan_draft import PlanDraft, PlanIdentity, draft_plan_sheet
from services.spreadsheet.published import read_published
from services.spreadsheet.results import FileProblem, ForeignSheet, RowError, SheetImport, SheetRejected
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
    "FileProblem",
    "ForeignSheet",
    "PlanDraft",
    "PlanIdentity",
    "RowError",
    "SheetImport",
    "SheetRejected",
    "draft_plan_sheet",
    "file_plan_id",
    "parse_rows",
    "parse_sheet",
    "read_published",
    "sheet_plan_id",
    "write_template",
]
