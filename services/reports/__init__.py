"""Renderers: the main table as text, Markdown or JSON, and the monthly rollup as Markdown, a
printable HTML page, an XLSX workbook or a Word document. Other rooms import from here."""

from __future__ import annotations

from services.reports.common import beijing_time
from services.reports.docx import DOCX_MEDIA_TYPE, render_docx
from services.reports.html import render_html
from services.reports.markdown import render_markdown
from services.reports.reconciliation import reconciliation_json, reconciliation_text
from services.reports.rollup import FILE_FORMATS, FORMAT_NAMES, FORMATS, RENDERERS, render_rollup
from services.reports.table import render_table, table_header, table_json, table_markdown, table_rows, table_text
from services.reports.trail import render_trail
from services.reports.xlsx import XLSX_MEDIA_TYPE, render_xlsx

__all__ = [
    "DOCX_MEDIA_TYPE",
    "FILE_FORMATS",
    "FORMATS",
    "FORMAT_NAMES",
    "RENDERERS",
    "XLSX_MEDIA_TYPE",
    "beijing_time",
    "reconciliation_json",
    "reconciliation_text",
    "render_docx",
    "render_html",
    "render_markdown",
    "render_rollup",
    "render_table",
    "render_trail",
    "render_xlsx",
    "table_header",
    "table_json",
    "table_markdown",
    "table_rows",
    "table_text",
]
