"""The monthly rollup as people read it: Markdown, a printable HTML page, an XLSX workbook.

Pure: a `RollupDocument` in, text or bytes out. Every renderer prints the document's own strings
(the main table's cells are the report's wording, kept unchanged so they compare with the seed
report row for row) and adds nothing the document does not say. The order follows the district's
execution report: the main table, key projects, further targets by section, what missed, what
changed since the previous rollup.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from projections.evaluate import STATUS_ZH
from projections.formatting import display_width
from projections.rollup import OffTrack, RollupChange, RollupDocument, RollupProject, RollupRow
from services.reports.table import table_header

BEIJING = ZoneInfo("Asia/Shanghai")

PART_MAIN = "一、主要计划目标完成情况"
PART_PROJECTS = "二、重点项目"
PART_FURTHER = "三、其他目标任务"
PART_OFF_TRACK = "四、未达到目标和滞后的事项"
PART_CHANGES = "五、与上期相比的变化"

FURTHER_HEADER = ("目标任务", "全年目标", "完成", "完成全年目标", "序时进度", "与目标±", "责任单位")
FIRST_REPORT = "（首期报告，无对比）"
NO_CHANGES = "无变化"

CHANGE_KIND_ZH = {
    "status": "状态变化",
    "alert.raised": "新增预警",
    "alert.escalated": "预警升级",
    "alert.resolved": "预警解除",
    "revised": "数据修订",
    "value": "数值修订",
}
OFF_TRACK_KIND_ZH = {"indicator": "指标", "project": "项目"}

# CSS class per status: the colour says how worried to be; the text says the rest.
STATUS_CLASS = {
    "met": "status-met",
    "on_track": "status-on-track",
    "at_risk": "status-at-risk",
    "off_track": "status-off-track",
    "not_due": "status-not-due",
    "no_data": "status-no-data",
}
# OffTrack carries only the status's wording; read it back to pick the colour.
STATUS_BY_TEXT = {text: status for status, text in STATUS_ZH.items()}
# The same colours as spreadsheet fills (light, so black text stays legible when printed).
STATUS_FILL = {"off_track": "F8CBAD", "at_risk": "FFE699", "met": "C6E0B4"}


# ---- shared wording --------------------------------------------------------------------------


def beijing_time(moment: datetime) -> str:
    """When the report was written, as the office reads clocks: 2025-07-16 08:00（北京时间）."""
    if moment.tzinfo is None:  # the log stores UTC; a naive time is taken as such
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(BEIJING):%Y-%m-%d %H:%M}（北京时间）"


def _when_parts(doc: RollupDocument) -> list[str]:
    """Data date, writing time and version: the workbook's note line; the page's adds plan and 对比."""
    return [f"数据截至 {doc.as_of.isoformat()}", f"生成于 {beijing_time(doc.known_at)}", f"第{doc.version}版"]


def _meta_parts(doc: RollupDocument) -> list[str]:
    compared = [f"对比 {doc.compared_with}"] if doc.compared_with else []
    return [doc.plan_name, *_when_parts(doc), *compared]


def _percent(value: float | None) -> str:
    """A completion or time-progress figure as the tables print it: 47.4%, or - when there is none."""
    return "-" if value is None else f"{value:.1f}%"


def _fraction(value: float | None) -> float | None:
    """A percentage as the fraction a spreadsheet's `0.0%` format expects, without float noise."""
    return None if value is None else float(Decimal(str(value)) / 100)


def _further_cells(row: RollupRow) -> tuple[str, ...]:
    return (
        row.label,
        row.target,
        row.actual,
        _percent(row.completion),
        _percent(row.time_progress),
        row.deviation,
        row.department_name,
    )


def _overdue(doc: RollupDocument) -> list[RollupProject]:
    return [p for p in doc.projects if p.months_overdue is not None]


def _lagging(doc: RollupDocument) -> list[RollupProject]:
    # An overdue project is named once, as overdue, even if its investment also lags.
    return [p for p in doc.projects if p.lagging and p.months_overdue is None]


def _overdue_item(project: RollupProject) -> str:
    who = f"{project.name}（{project.department_name}）"
    return f"{who}：计划{project.planned_start}开工，逾期{project.months_overdue}个月"


def _lagging_item(project: RollupProject) -> str:
    return (
        f"{project.name}（{project.department_name}）：完成投资占年度计划{_percent(project.investment_rate)}，"
        f"项目序时进度{_percent(project.schedule_progress)}"
    )


def _off_track_item(item: OffTrack) -> str:
    return f"{item.name}（{item.department_name}）：{item.detail_zh}"


def _change_item(change: RollupChange) -> str:
    return f"【{CHANGE_KIND_ZH.get(change.kind, change.kind)}】{change.detail_zh}"


def _changes_part(doc: RollupDocument) -> tuple[list[str], list[str]]:
    """Part 五 as (paragraphs, then list items), shared by Markdown and HTML."""
    if doc.compared_with is None:
        # A first report has no earlier rollup, but statistics revised before it are still news.
        paragraphs = [FIRST_REPORT, *(["本期报告已反映的数据修订："] if doc.changes else [])]
    else:
        paragraphs = [f"与 {doc.compared_with} 相比："] if doc.changes else [NO_CHANGES]
    return paragraphs, [_change_item(change) for change in doc.changes]


def _changes_empty(doc: RollupDocument) -> str:
    return FIRST_REPORT if doc.compared_with is None else NO_CHANGES


# ---- Markdown --------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    """A table cell: a `|` would end the cell and a newline the row, so neither may pass as is."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(_md_cell(cell) for cell in header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def render_markdown(doc: RollupDocument) -> str:
    """The rollup as a Chinese report in Markdown, in the order the district's report reads."""
    lines = [f"# {doc.title}", "", "；".join(_meta_parts(doc)), ""]

    lines += [f"## {PART_MAIN}", ""]
    lines += _md_table(table_header(doc.column), ((r.label, r.target, r.actual, r.deviation) for r in doc.main))
    lines.append("")

    lines += [f"## {PART_PROJECTS}", "", f"{doc.portfolio.line}。", "", f"{doc.portfolio.completed_line}。", ""]
    overdue, lagging = _overdue(doc), _lagging(doc)
    if overdue:
        items = [f"- {_overdue_item(p)}【{p.status_zh}】" for p in overdue]
        lines += [f"**逾期未开工项目（{len(overdue)}个）**", "", *items, ""]
    else:
        lines += ["无逾期未开工项目。", ""]
    if lagging:
        items = [f"- {_lagging_item(p)}【{p.status_zh}】" for p in lagging]
        lines += [f"**投资进度滞后项目（{len(lagging)}个）**", "", *items, ""]
    else:
        lines += ["无投资进度滞后项目。", ""]

    lines += [f"## {PART_FURTHER}", ""]
    for section in doc.sections:
        lines += [f"### {section.name}", "", *_md_table(FURTHER_HEADER, map(_further_cells, section.rows)), ""]
    if not doc.sections:
        lines += ["无其他目标任务。", ""]

    lines += [f"## {PART_OFF_TRACK}", "", doc.missed_sentence, ""]
    if doc.off_track:
        lines += [f"- {_off_track_item(item)}【{item.status_zh}】" for item in doc.off_track]
    else:
        lines.append("无未达到目标或滞后的事项。")
    lines.append("")

    lines += [f"## {PART_CHANGES}", ""]
    paragraphs, items = _changes_part(doc)
    for paragraph in paragraphs:
        lines += [paragraph, ""]
    lines += [f"- {item}" for item in items]
    return "\n".join(lines).rstrip() + "\n"


# ---- HTML ------------------------------------------------------------------------------------

CSS = """
@page { size: A4; margin: 25mm 20mm 22mm 22mm; }
* { box-sizing: border-box; }
body {
  margin: 0 auto; max-width: 210mm; padding: 16mm 14mm; color: #000; background: #fff;
  font-family: "FangSong", "仿宋", "FangSong_GB2312", "STFangsong", "SimSun", "宋体", "Songti SC",
    "Noto Serif CJK SC", "Source Han Serif SC", serif;
  font-size: 16pt; line-height: 1.75;
}
h1 {
  font-family: "方正小标宋简体", "FZXiaoBiaoSong-B05S", "SimSun", "宋体", "Songti SC", "Noto Serif CJK SC",
    "Source Han Serif SC", serif;
  font-size: 20pt; font-weight: normal; text-align: center; line-height: 1.5; margin: 0 0 0.4em;
}
h2, h3 { font-size: 16pt; font-weight: normal; }
h2 {
  font-family: "SimHei", "黑体", "Heiti SC", "Noto Sans CJK SC", "Source Han Sans SC", sans-serif;
  margin: 1.2em 0 0.4em;
}
h3 { font-family: "KaiTi", "楷体", "STKaiti", "Noto Serif CJK SC", serif; margin: 0.9em 0 0.3em; }
p { margin: 0.3em 0; text-indent: 2em; }
p.meta { text-indent: 0; text-align: center; font-size: 12pt; color: #333; }
p.legend { text-indent: 0; font-size: 11pt; }
ul { margin: 0.3em 0 0.3em 2em; padding: 0; }
table {
  width: 100%; border-collapse: collapse; margin: 0.5em 0;
  font-family: "SimSun", "宋体", "Songti SC", "Noto Serif CJK SC", "Source Han Serif SC", serif;
  font-size: 11pt; line-height: 1.4;
}
th, td { border: 1px solid #000; padding: 3pt 5pt; vertical-align: middle; }
th { font-weight: bold; text-align: center; background: #f2f2f2; }
td.num { text-align: center; white-space: nowrap; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; break-inside: avoid; }
.status-off-track td.judged, span.status-off-track { color: #c00000; font-weight: bold; }
.status-at-risk td.judged, span.status-at-risk { color: #b26b00; font-weight: bold; }
.status-met td.judged, span.status-met { color: #2e7d32; }
tr.status-off-track { background: #fbe5d6; }
tr.status-at-risk { background: #fff2cc; }
span.status { white-space: nowrap; }
@media print {
  body { max-width: none; padding: 0; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
}
""".strip()


def _h(text: str) -> str:
    return escape(text, quote=True)


def _status_class(status: str) -> str:
    return STATUS_CLASS.get(status, "status-unknown")


def _html_table(
    header: Sequence[str],
    rows: Iterable[tuple[str, Sequence[str]]],
    css_class: str,
    text_columns: set[int],
    judged: set[int],
) -> list[str]:
    """A table; each row comes with its status, which becomes the row's class. Columns in
    `text_columns` (names, departments) are left-aligned, the figures centred; columns in
    `judged` (completion, the gap) take the status colour."""
    lines = [f'<table class="{css_class}">', "<thead>", "<tr>"]
    lines += [f'<th scope="col">{_h(cell)}</th>' for cell in header]
    lines += ["</tr>", "</thead>", "<tbody>"]
    for status, cells in rows:
        lines.append(f'<tr class="{_status_class(status)}">')
        for index, cell in enumerate(cells):
            classes = [] if index in text_columns else ["num"]
            classes += ["judged"] if index in judged else []
            attribute = f' class="{" ".join(classes)}"' if classes else ""
            lines.append(f"<td{attribute}>{_h(cell)}</td>")
        lines.append("</tr>")
    lines += ["</tbody>", "</table>"]
    return lines


def _html_list(items: Iterable[str]) -> list[str]:
    """`items` are already escaped HTML fragments."""
    return ["<ul>", *(f"<li>{item}</li>" for item in items), "</ul>"]


def _off_track_class(item: OffTrack) -> str:
    return _status_class(STATUS_BY_TEXT.get(item.status_zh, ""))


def _status_span(status_class: str, text: str) -> str:
    return f'<span class="status {status_class}">【{_h(text)}】</span>'


def render_html(doc: RollupDocument) -> str:
    """The rollup as a standalone printable HTML5 page (A4, government-document typefaces)."""
    lines = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(doc.title)}</title>",
        "<style>",
        CSS,
        "</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_h(doc.title)}</h1>",
        f'<p class="meta">{"　".join(_h(part) for part in _meta_parts(doc))}</p>',
    ]

    lines += ['<section id="main-targets">', f"<h2>{_h(PART_MAIN)}</h2>"]
    lines += _html_table(
        table_header(doc.column),
        ((r.status, (r.label, r.target, r.actual, r.deviation)) for r in doc.main),
        "main-table",
        text_columns={0},
        judged={3},
    )
    legend = "，".join(
        f'<span class="status {_status_class(status)}">{_h(text)}</span>'
        for status, text in (("off_track", "红色为滞后（红灯）"), ("at_risk", "黄色为预警（黄灯）"))
    )
    lines += [f'<p class="legend">行底色：{legend}。</p>', "</section>"]

    lines += ['<section id="projects">', f"<h2>{_h(PART_PROJECTS)}</h2>"]
    lines += [f"<p>{_h(doc.portfolio.line)}。</p>", f"<p>{_h(doc.portfolio.completed_line)}。</p>"]
    overdue, lagging = _overdue(doc), _lagging(doc)
    if overdue:
        lines.append(f"<h3>逾期未开工项目（{len(overdue)}个）</h3>")
        lines += _html_list(_h(_overdue_item(p)) + _status_span(_status_class(p.status), p.status_zh) for p in overdue)
    else:
        lines.append("<p>无逾期未开工项目。</p>")
    if lagging:
        lines.append(f"<h3>投资进度滞后项目（{len(lagging)}个）</h3>")
        lines += _html_list(_h(_lagging_item(p)) + _status_span(_status_class(p.status), p.status_zh) for p in lagging)
    else:
        lines.append("<p>无投资进度滞后项目。</p>")
    lines.append("</section>")

    lines += ['<section id="further-targets">', f"<h2>{_h(PART_FURTHER)}</h2>"]
    for section in doc.sections:
        lines.append(f"<h3>{_h(section.name)}</h3>")
        lines += _html_table(
            FURTHER_HEADER,
            ((row.status, _further_cells(row)) for row in section.rows),
            "further-table",
            text_columns={0, 1, 6},
            judged={3, 5},
        )
    if not doc.sections:
        lines.append("<p>无其他目标任务。</p>")
    lines.append("</section>")

    lines += ['<section id="off-track">', f"<h2>{_h(PART_OFF_TRACK)}</h2>", f"<p>{_h(doc.missed_sentence)}</p>"]
    if doc.off_track:
        lines += _html_list(
            _h(_off_track_item(item)) + _status_span(_off_track_class(item), item.status_zh) for item in doc.off_track
        )
    else:
        lines.append("<p>无未达到目标或滞后的事项。</p>")
    lines.append("</section>")

    lines += ['<section id="changes">', f"<h2>{_h(PART_CHANGES)}</h2>"]
    paragraphs, items = _changes_part(doc)
    lines += [f"<p>{_h(paragraph)}</p>" for paragraph in paragraphs]
    if items:
        lines += _html_list(map(_h, items))
    lines += ["</section>", "</main>", "</body>", "</html>"]
    return "\n".join(lines) + "\n"


# ---- XLSX ------------------------------------------------------------------------------------

SHEET_MAIN = "主要指标"
SHEET_FURTHER = "目标任务"
SHEET_PROJECTS = "重点项目"
SHEET_OFF_TRACK = "滞后事项"
SHEET_CHANGES = "变化"

FORMAT_ONE_DECIMAL = "0.0"
FORMAT_POINTS = "+0.0;-0.0;0.0"
FORMAT_PERCENT = "0.0%"
FORMAT_MONEY = "#,##0"

THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
HEADER_FONT = Font(name="宋体", bold=True, size=11)
BODY_FONT = Font(name="宋体", size=11)
TITLE_FONT = Font(name="宋体", bold=True, size=14)
NOTE_FONT = Font(name="宋体", size=10)
WRAP = Alignment(vertical="center", wrap_text=True)
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
MAX_WIDTH = 48


def _display_width(value: object) -> int:
    return display_width("" if value is None else str(value))


def _number(value: float | None) -> float | int | None:
    """Whole numbers as ints, so a cell holds 15000 rather than 15000.0."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _count_or_decimal(value: object) -> str:
    """完成值 mixes counts (7013人) and decimals (22.93万平方米): a format for each kind of number."""
    return "#,##0" if isinstance(value, int) else "#,##0.0#"


def _write_sheet(
    sheet: Worksheet,
    notes: Sequence[str],
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    formats: dict[int, str | Callable[[object], str]] | None = None,
    statuses: Sequence[str] | None = None,
    minimum_widths: dict[int, int] | None = None,
) -> None:
    """Notes (the first one is the sheet's title) merged across the table, then the header row,
    then the rows. `formats` maps a 0-based column to its number format (or to a function of the
    value giving it); `statuses` (one per row) tint the rows that need attention."""
    formats, minimum_widths = formats or {}, minimum_widths or {}
    span = len(header)
    for index, note in enumerate(notes, start=1):
        cell = sheet.cell(row=index, column=1, value=note)
        cell.font = TITLE_FONT if index == 1 else NOTE_FONT
        cell.alignment = CENTRE if index == 1 else WRAP
        if span > 1:
            sheet.merge_cells(start_row=index, start_column=1, end_row=index, end_column=span)
        sheet.row_dimensions[index].height = 26 if index == 1 else 18
    header_row = len(notes) + 1
    widths = [max(_display_width(name), minimum_widths.get(i, 0)) for i, name in enumerate(header)]
    for column, name in enumerate(header, start=1):
        cell = sheet.cell(row=header_row, column=column, value=name)
        cell.font, cell.fill, cell.border, cell.alignment = HEADER_FONT, HEADER_FILL, BORDER, CENTRE
    for offset, values in enumerate(rows, start=1):
        fill_colour = STATUS_FILL.get(statuses[offset - 1]) if statuses else None
        fill = PatternFill("solid", fgColor=fill_colour) if fill_colour else None
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=header_row + offset, column=column, value=value)
            cell.font, cell.border = BODY_FONT, BORDER
            cell.alignment = WRAP if isinstance(value, str) else CENTRE
            number_format = formats.get(column - 1)
            if number_format is not None and value is not None:
                cell.number_format = number_format if isinstance(number_format, str) else number_format(value)
            if fill:
                cell.fill = fill
            widths[column - 1] = max(widths[column - 1], _display_width(value))
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = min(width + 2, MAX_WIDTH)
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    sheet.print_title_rows = f"{header_row}:{header_row}"  # repeat the header on every printed page
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def _main_sheet(sheet: Worksheet, doc: RollupDocument, meta: str) -> None:
    # the report's four columns as printed, then the figures behind them as numbers, with 单位
    header = (*table_header(doc.column), "完成值", "单位", "偏差（个百分点）", "状态", "责任单位")
    rows = [
        (
            r.label,
            r.target,
            r.actual,
            r.deviation,
            _number(r.actual_value),
            r.unit,
            _number(r.deviation_points),
            r.status_zh,
            r.department_name,
        )
        for r in doc.main
    ]
    _write_sheet(
        sheet,
        (doc.title, meta),
        header,
        rows,
        formats={4: FORMAT_ONE_DECIMAL, 6: FORMAT_POINTS},
        statuses=[r.status for r in doc.main],
    )


def _further_sheet(sheet: Worksheet, doc: RollupDocument, meta: str) -> None:
    # 单位 sits next to 完成值: 39500 means nothing until you know it is 万元.
    header = ("领域", "目标任务", "全年目标", "完成", "完成值", "单位", "完成全年目标", "序时进度", "与目标±")
    header += ("状态", "责任单位")
    listed = [(section.name, row) for section in doc.sections for row in section.rows]
    rows = [
        (
            name,
            row.label,
            row.target,
            row.actual,
            _number(row.actual_value),
            row.unit,
            _fraction(row.completion),
            _fraction(row.time_progress),
            row.deviation,
            row.status_zh,
            row.department_name,
        )
        for name, row in listed
    ]
    _write_sheet(
        sheet,
        (f"{doc.title} — 其他目标任务", meta),
        header,
        rows,
        formats={4: _count_or_decimal, 6: FORMAT_PERCENT, 7: FORMAT_PERCENT},
        statuses=[row.status for _, row in listed],
        minimum_widths={6: 14, 7: 10},
    )


def _projects_sheet(sheet: Worksheet, doc: RollupDocument, meta: str) -> None:
    header = ("编号", "名称", "责任单位", "类别", "阶段", "状态", "计划开工", "计划完工")
    header += ("年度计划投资（万元）", "完成投资（万元）", "投资完成率", "序时进度", "逾期月数")
    rows = [
        (
            p.id,
            p.name,
            p.department_name,
            p.category,
            p.stage_zh,
            p.status_zh,
            p.planned_start,
            p.planned_completion,
            _number(p.planned_investment_wan),
            _number(p.investment_wan),
            _fraction(p.investment_rate),
            _fraction(p.schedule_progress),
            p.months_overdue,
        )
        for p in doc.projects
    ]
    notes = (f"{doc.title} — 重点项目", meta, f"{doc.portfolio.line}。", f"{doc.portfolio.completed_line}。")
    _write_sheet(
        sheet,
        notes,
        header,
        rows,
        formats={8: FORMAT_MONEY, 9: FORMAT_MONEY, 10: FORMAT_PERCENT, 11: FORMAT_PERCENT, 12: "0"},
        statuses=[p.status for p in doc.projects],
    )


def _off_track_sheet(sheet: Worksheet, doc: RollupDocument, meta: str) -> None:
    rows = [
        (OFF_TRACK_KIND_ZH.get(item.kind, item.kind), item.name, item.department_name, item.status_zh, item.detail_zh)
        for item in doc.off_track
    ]
    if not rows:
        rows = [("", "无未达到目标或滞后的事项", "", "", "")]
    _write_sheet(
        sheet,
        (f"{doc.title} — 未达到目标和滞后的事项", meta, doc.missed_sentence),
        ("类型", "名称", "责任单位", "状态", "情况"),
        rows,
        statuses=[STATUS_BY_TEXT.get(item.status_zh, "") for item in doc.off_track] or [""],
    )


def _changes_sheet(sheet: Worksheet, doc: RollupDocument, meta: str) -> None:
    rows = [(CHANGE_KIND_ZH.get(c.kind, c.kind), c.name, c.detail_zh) for c in doc.changes]
    if not rows:
        rows = [("", _changes_empty(doc), "")]
    compared = f"对比 {doc.compared_with}" if doc.compared_with else FIRST_REPORT
    _write_sheet(sheet, (f"{doc.title} — 与上期相比的变化", f"{meta}；{compared}"), ("类型", "名称", "说明"), rows)


def render_xlsx(doc: RollupDocument) -> bytes:
    """The rollup as a workbook: the report's wording next to the numbers behind it, as numbers."""
    workbook = Workbook()
    meta = "；".join(_when_parts(doc))
    main = workbook.active
    assert main is not None
    main.title = SHEET_MAIN
    _main_sheet(main, doc, meta)
    _further_sheet(workbook.create_sheet(SHEET_FURTHER), doc, meta)
    _projects_sheet(workbook.create_sheet(SHEET_PROJECTS), doc, meta)
    _off_track_sheet(workbook.create_sheet(SHEET_OFF_TRACK), doc, meta)
    _changes_sheet(workbook.create_sheet(SHEET_CHANGES), doc, meta)
    workbook.properties.title = doc.title
    workbook.properties.creator = "planwatch"
    known_at = doc.known_at if doc.known_at.tzinfo else doc.known_at.replace(tzinfo=UTC)
    workbook.properties.created = known_at.astimezone(UTC).replace(tzinfo=None)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RENDERERS: dict[str, tuple[Callable[[RollupDocument], bytes], str]] = {
    "md": (lambda doc: render_markdown(doc).encode(), "text/markdown; charset=utf-8"),
    "html": (lambda doc: render_html(doc).encode(), "text/html; charset=utf-8"),
    "xlsx": (render_xlsx, XLSX_MEDIA_TYPE),
}  # format → (renderer, media type)
FORMATS = tuple(RENDERERS)


def render_rollup(doc: RollupDocument, fmt: str) -> bytes:
    """The rollup in one of FORMATS."""
    return RENDERERS[fmt][0](doc)
