"""Departments' fill-in sheets: the template, and reading a filled one back into events."""

from __future__ import annotations

from services.spreadsheet.sheet import (
    ForeignSheet,
    RowError,
    SheetImport,
    SheetRejected,
    parse_sheet,
    sheet_plan_id,
    write_template,
)

__all__ = ["ForeignSheet", "RowError", "SheetImport", "SheetRejected", "parse_sheet", "sheet_plan_id", "write_template"]
