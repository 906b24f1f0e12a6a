"""The monthly rollup as a Word document (.docx): what a plan office edits, files and sends on.
A4, the typefaces of government documents (方正小标宋 title, 黑体 and 楷体 headings, 仿宋 text,
宋体 tables), rows tinted by status as the printable page has them. Pure: a `RollupDocument` in,
bytes out. Charts are the page's (HTML) alone: a document keeps the figures, as the report does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from io import BytesIO

from docx import Document
from docx.document import Document as WordDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.styles import CT_Style
from docx.oxml.table import CT_Row
from docx.oxml.text.run import CT_R
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import ParagraphStyle
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from projections.rollup import RollupDocument
from services.reports.common import (
    FURTHER_HEADER,
    PART_CHANGES,
    PART_FURTHER,
    PART_MAIN,
    PART_OFF_TRACK,
    PART_PROJECTS,
    STATUS_BY_TEXT,
    changes_part,
    further_cells,
    main_cells,
    meta_parts,
    off_track_item,
    portfolio_sentences,
    project_lists,
    xml_safe,
)
from services.reports.table import table_header

DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

ROW_FILL = {"off_track": "FBE5D6", "at_risk": "FFF2CC"}  # the page's row tints
STATUS_COLOUR = {"off_track": RGBColor(0xC0, 0x00, 0x00), "at_risk": RGBColor(0xB2, 0x6B, 0x00)}
HEADER_FILL = "F2F2F2"
# Column widths (mm) within the 168 mm between the margins: names and targets wide, figures narrow
MAIN_WIDTHS = (56, 44, 34, 34)
FURTHER_WIDTHS = (38, 34, 18, 18, 16, 22, 22)

# (style, East Asian typeface, Latin typeface, size in pt): 二号 title, 三号 text and headings
_TYPE = {
    "Normal": ("仿宋", "FangSong", 16),
    "Title": ("方正小标宋简体", "SimSun", 22),
    "Heading 1": ("黑体", "SimHei", 16),
    "Heading 2": ("楷体", "KaiTi", 16),
}
TABLE_TYPE = ("宋体", "SimSun", 10.5)  # 五号


def render_docx(doc: RollupDocument) -> bytes:
    """The rollup as a .docx, in the order the district's report reads."""
    doc = xml_safe(doc)
    word = Document()
    _page_and_styles(word, doc)
    word.add_paragraph(doc.title, style="Title")
    meta = word.add_paragraph("　".join(meta_parts(doc)))
    _plain(meta, centred=True, size=12)

    word.add_heading(PART_MAIN, level=1)
    main_rows = ((row.judged_status, main_cells(row, doc)) for row in doc.main)
    _table(word, table_header(doc.column), main_rows, text_columns={0}, judged={3}, widths=MAIN_WIDTHS)

    _projects_part(word, doc)

    word.add_heading(PART_FURTHER, level=1)
    for section in doc.sections:
        word.add_heading(section.name, level=2)
        rows = ((row.judged_status, further_cells(row)) for row in section.rows)
        _table(word, FURTHER_HEADER, rows, text_columns={0, 1, 6}, judged={3, 5}, widths=FURTHER_WIDTHS)
    if not doc.sections:
        word.add_paragraph("无其他目标任务。")

    word.add_heading(PART_OFF_TRACK, level=1)
    word.add_paragraph(doc.missed_sentence)
    for item in doc.off_track:
        _item(word, off_track_item(item), STATUS_BY_TEXT.get(item.status_zh, ""), item.status_zh)
    if not doc.off_track:
        word.add_paragraph("无未达到目标或滞后的事项。")

    word.add_heading(PART_CHANGES, level=1)
    paragraphs, items = changes_part(doc)
    for paragraph in paragraphs:
        word.add_paragraph(paragraph)
    for change in items:
        _item(word, change)
    out = BytesIO()
    word.save(out)
    return out.getvalue()


def _projects_part(word: WordDocument, doc: RollupDocument) -> None:
    word.add_heading(PART_PROJECTS, level=1)
    said, scopes, completed = portfolio_sentences(doc)
    for sentence in (*said, *scopes, *completed):
        word.add_paragraph(sentence)
    if not doc.projects:  # no key projects: nothing overdue or lagging to speak of
        return
    for heading, items, none in project_lists(doc):
        if not items:
            word.add_paragraph(none)
            continue
        word.add_heading(f"{heading}（{len(items)}个）", level=2)
        for project, line in items:
            _item(word, line, project.judged_status, project.status_zh)


def _page_and_styles(word: WordDocument, doc: RollupDocument) -> None:
    section = word.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(25), Mm(22)
    section.left_margin, section.right_margin = Mm(22), Mm(20)
    for name, (east_asian, latin, size) in _TYPE.items():
        style = word.styles[name]
        assert isinstance(style, ParagraphStyle)
        _typeface(style.element, east_asian, latin)
        style.font.size, style.font.bold, style.font.color.rgb = Pt(size), False, RGBColor(0, 0, 0)
        style.paragraph_format.space_before, style.paragraph_format.space_after = Pt(6), Pt(3)
        style.paragraph_format.line_spacing = 1.5 if name == "Normal" else 1.25
    word.styles["Normal"].paragraph_format.first_line_indent = Pt(32)  # two characters
    for name in ("Title", "Heading 1", "Heading 2"):
        word.styles[name].paragraph_format.first_line_indent = Pt(0)
    word.styles["Title"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _no_title_rule(word)
    properties = word.core_properties  # what the file says of itself, fixed by the document
    properties.title, properties.subject = doc.title, doc.plan_name
    properties.author = properties.last_modified_by = "planwatch"
    properties.created = properties.modified = doc.known_at.replace(tzinfo=None)
    properties.revision, properties.comments = doc.version, f"{doc.plan_id} {doc.period} 第{doc.version}版"


def _no_title_rule(word: WordDocument) -> None:
    """The default template's Title has a rule under it and a spacing of its own: not a 公文's."""
    ppr = word.styles["Title"].element.pPr
    if ppr is not None:
        for border in ppr.findall(qn("w:pBdr")):
            ppr.remove(border)


def _typeface(element: CT_Style | CT_R, east_asian: str, latin: str) -> None:
    """Set a style's or run's typefaces: Chinese text takes the East Asian one, which Word keeps
    apart from the Latin (python-docx's `font.name` sets only the latter)."""
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attribute, face in (("w:ascii", latin), ("w:hAnsi", latin), ("w:eastAsia", east_asian)):
        fonts.set(qn(attribute), face)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme"):  # a theme font would win
        fonts.attrib.pop(qn(theme), None)


def _plain(paragraph: Paragraph, *, centred: bool = False, size: float | None = None) -> None:
    paragraph.paragraph_format.first_line_indent = Pt(0)
    if centred:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if size is not None:
        for run in paragraph.runs:
            run.font.size = Pt(size)


def _item(word: WordDocument, text: str, status: str = "", status_zh: str = "") -> None:
    """A list item, as the page's: a bullet, the text, and its status in brackets in its colour."""
    paragraph = word.add_paragraph()
    paragraph.paragraph_format.first_line_indent = Pt(-16)
    paragraph.paragraph_format.left_indent = Pt(32)
    paragraph.add_run(f"• {text}")
    if status_zh:
        judged = paragraph.add_run(f"【{status_zh}】")
        colour = STATUS_COLOUR.get(status)
        if colour is not None:
            judged.font.color.rgb, judged.font.bold = colour, True


def _table(
    word: WordDocument,
    header: Sequence[str],
    rows: Iterable[tuple[str, Sequence[str]]],
    text_columns: set[int],
    judged: set[int],
    widths: Sequence[float],
) -> Table:
    """A grid table whose header repeats on every page; each row comes with its status, which
    tints the row; columns in `judged` take the status's colour, figures are centred."""
    table = word.add_table(rows=1, cols=len(header))
    table.style = word.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Mm(width)
    _row_flags(table.rows[0]._tr, "w:cantSplit", "w:tblHeader")  # in the schema's order
    for cell, text, width in zip(table.rows[0].cells, header, widths, strict=True):
        cell.width = Mm(width)
        _cell(cell, text, centred=True, bold=True, fill=HEADER_FILL)
    for status, cells in rows:
        row = table.add_row()
        _row_flags(row._tr, "w:cantSplit")
        for index, (cell, text) in enumerate(zip(row.cells, cells, strict=True)):
            cell.width = Mm(widths[index])  # Word reads a cell's own width, LibreOffice the grid's
            colour = STATUS_COLOUR.get(status) if index in judged else None
            _cell(cell, text, centred=index not in text_columns, colour=colour, fill=ROW_FILL.get(status))
    word.add_paragraph().paragraph_format.space_after = Pt(0)  # Word joins tables that touch
    return table


def _row_flags(tr: CT_Row, *flags: str) -> None:
    properties = tr.get_or_add_trPr()
    for flag in flags:
        properties.append(OxmlElement(flag))


def _cell(
    cell: _Cell,
    text: str,
    *,
    centred: bool,
    bold: bool = False,
    colour: RGBColor | None = None,
    fill: str | None = None,
) -> None:
    [paragraph] = cell.paragraphs
    paragraph.paragraph_format.first_line_indent = Pt(0)
    paragraph.paragraph_format.line_spacing = 1.15
    paragraph.paragraph_format.space_before = paragraph.paragraph_format.space_after = Pt(2)
    if centred:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(text)
    east_asian, latin, size = TABLE_TYPE
    _typeface(run._element, east_asian, latin)
    run.font.size, run.font.bold = Pt(size), bold or (colour is not None and colour == STATUS_COLOUR["off_track"])
    if colour is not None:
        run.font.color.rgb = colour
    if fill is not None:
        shading = OxmlElement("w:shd")
        for attribute, value in (("w:val", "clear"), ("w:color", "auto"), ("w:fill", fill)):
            shading.set(qn(attribute), value)
        cell._tc.get_or_add_tcPr().append(shading)
