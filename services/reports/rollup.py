"""The monthly rollup as people read it: Markdown, a printable HTML page, an XLSX workbook, a Word
document.

Every renderer prints the document's own strings (the main table's cells are the report's
wording, kept unchanged so they compare with the seed report row for row) and adds nothing the
document does not say. The order follows the district's execution report: the main table, key
projects, further targets by section, what missed, what changed since the previous rollup.
"""

from __future__ import annotations

from collections.abc import Callable

from projections.rollup import RollupDocument
from services.reports.docx import DOCX_MEDIA_TYPE, render_docx
from services.reports.html import render_html
from services.reports.markdown import render_markdown
from services.reports.xlsx import XLSX_MEDIA_TYPE, render_xlsx

RENDERERS: dict[str, tuple[Callable[[RollupDocument], bytes], str]] = {
    "md": (lambda doc: render_markdown(doc).encode(), "text/markdown; charset=utf-8"),
    "html": (lambda doc: render_html(doc).encode(), "text/html; charset=utf-8"),
    "xlsx": (render_xlsx, XLSX_MEDIA_TYPE),
    "docx": (render_docx, DOCX_MEDIA_TYPE),
}  # format → (renderer, media type)
FORMATS = tuple(RENDERERS)
FILE_FORMATS = ("xlsx", "docx")  # saved as files, not shown: a browser downloads them, the CLI writes them
FORMAT_NAMES = ", ".join(FORMATS[:-1]) + f" or {FORMATS[-1]}"  # for help and messages: md, html, xlsx or docx


def render_rollup(doc: RollupDocument, fmt: str) -> bytes:
    """The rollup in one of FORMATS."""
    return RENDERERS[fmt][0](doc)
