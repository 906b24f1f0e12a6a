"""The monthly rollup as an XLSX workbook: the report's wording next to the numbers behind it,
as numbers, one sheet per part. Pure: a `RollupDocument` in, bytes out."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from projections.formatting import display_width
from projections.rollup import RollupDocument, RollupTrend
from services.reports.common import (
    CHANGE_KIND_ZH,
    FIRST_REPORT,
    STATUS_BY_TEXT,
    beijing_time,
    changes_empty,
    main_cells,
    portfolio_sentences,
    when_parts,
    xml_safe,
)
from services.reports.table import table_header

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

SHEET_MAIN = "主要指标"
SHEET_FURTHER = "目标任务"
SHEET_PROJECTS = "重点项目"
SHEET_OFF_TRACK = "滞后事项"
SHEET_CHANGES = "变化"
SHEET_TRENDS = "趋势"
SHEET_SOURCES = "数据来源"
CHART_ROWS = 16  # rows a chart of 7.5 cm covers: each block of the 趋势 sheet takes at least this many

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

OFF_TRACK_KIND_ZH = {"indicator": "指标", "project": "项目"}
# The same colours as spreadsheet fills (light, so black text stays legible when printed).
STATUS_FILL = {"off_track": "F8CBAD", "at_risk": "FFE699", "met": "C6E0B4"}


def _display_width(value: object) -> int:
    return display_width("" if value is None else str(value))


def _number(value: float | None) -> float | int | None:
    """Whole numbers as ints, so a cell holds 15000 rather than 15000.0."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _fraction(value: float | None) -> float | None:
    """A percentage as the fraction a spreadsheet's `0.0%` format expects, without float noise."""
    return None if value is None else float(Decimal(str(value)) / 100)


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
            *main_cells(r, doc),
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
        statuses=[r.judged_status for r in doc.main],
    )


def _further_sheet(sheet: Worksheet, doc: RollupDocument, meta: str) -> None:
    # 单位 sits next to 完成值: 39500 means nothing until you know it is 万元.
    header = (
        "领域",
        "目标任务",
        "全年目标",
        "完成",
        "完成值",
        "单位",
        "完成全年目标",
        "序时进度",
        "与目标±",
        "状态",
        "责任单位",
    )
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
        statuses=[row.judged_status for _, row in listed],
        minimum_widths={6: 14, 7: 10},
    )


def _projects_sheet(sheet: Worksheet, doc: RollupDocument, meta: str) -> None:
    header = (
        "编号",
        "名称",
        "责任单位",
        "类别",
        "阶段",
        "状态",
        "计划开工",
        "计划完工",
        "年度计划投资（万元）",
        "完成投资（万元）",
        "投资完成率",
        "序时进度",
        "逾期月数",
    )
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
    said, scopes, completed = portfolio_sentences(doc)
    notes = (f"{doc.title} — 重点项目", meta, *said, *scopes, *completed)
    _write_sheet(
        sheet,
        notes,
        header,
        rows,
        formats={8: FORMAT_MONEY, 9: FORMAT_MONEY, 10: FORMAT_PERCENT, 11: FORMAT_PERCENT, 12: "0"},
        statuses=[p.judged_status for p in doc.projects],
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
        rows = [("", changes_empty(doc), "")]
    compared = f"对比 {doc.compared_with}" if doc.compared_with else FIRST_REPORT
    _write_sheet(sheet, (f"{doc.title} — 与上期相比的变化", f"{meta}；{compared}"), ("类型", "名称", "说明"), rows)


def _trend_block(
    sheet: Worksheet, row: int, title: str, header: Sequence[str], rows: Sequence[Sequence[object]], unit: str
) -> int:
    """A block of the 趋势 sheet: the figures (periods down, series across) and a native line
    chart of them beside; the second series on is dashed (the target, 序时进度). Returns the row
    after the block."""
    sheet.cell(row=row, column=1, value=title).font = HEADER_FONT
    for column, name in enumerate(header, start=1):
        cell = sheet.cell(row=row + 1, column=column, value=name)
        cell.font, cell.fill, cell.border, cell.alignment = HEADER_FONT, HEADER_FILL, BORDER, CENTRE
    for offset, values in enumerate(rows, start=2):
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=row + offset, column=column, value=value)
            cell.font, cell.border = BODY_FONT, BORDER
            if column > 1 and value is not None:
                cell.number_format = "0.0"
    last = row + len(rows) + 1
    chart = LineChart()
    chart.title = title
    chart.y_axis.title = unit
    chart.height, chart.width = 7.5, 15
    chart.add_data(
        Reference(sheet, min_col=2, max_col=len(header), min_row=row + 1, max_row=last), titles_from_data=True
    )
    chart.set_categories(Reference(sheet, min_col=1, min_row=row + 2, max_row=last))
    for series in chart.series[1:]:
        series.graphicalProperties.line.dashStyle = "dash"
    sheet.add_chart(chart, f"{get_column_letter(len(header) + 2)}{row}")
    return row + max(len(rows) + 3, CHART_ROWS)


TrendTable = tuple[tuple[str, ...], list[tuple[object, ...]], str]  # header, rows, unit


def _trend_rows(trend: RollupTrend) -> TrendTable:
    """A trend's header, rows and unit: completion against 序时进度 for a cumulative task; the value
    against the target (or the referenced indicator) otherwise."""
    points = trend.points
    if trend.kind == "progress":
        return ("报告期", "完成全年目标", "序时进度"), [(p.period, p.completion, p.time_progress) for p in points], "%"
    if any(p.reference_value is not None for p in points):
        guide, values = "对比指标", [p.reference_value for p in points]
    else:
        guide, values = "全年目标", [p.target_value for p in points]
    header: tuple[str, ...] = ("报告期", "完成", guide) if any(v is not None for v in values) else ("报告期", "完成")
    rows: list[tuple[object, ...]] = [
        (p.period, p.value, v)[: len(header)] for p, v in zip(points, values, strict=True)
    ]
    return header, rows, trend.unit


def _trends_sheet(sheet: Worksheet, doc: RollupDocument, meta: str) -> None:
    sheet.cell(row=1, column=1, value=f"{doc.title} — 趋势").font = TITLE_FONT
    sheet.cell(row=2, column=1, value=meta).font = NOTE_FONT
    row = 4
    tables: list[tuple[str, TrendTable]] = []
    if doc.portfolio_trend:
        rows: list[tuple[object, ...]] = [
            (p.period, p.start_rate, p.investment_rate, p.time_progress) for p in doc.portfolio_trend
        ]
        tables.append(
            (f"{doc.portfolio.label}开工率、投资完成率", (("月份", "开工率", "投资完成率", "序时进度"), rows, "%"))
        )
    tables += [(trend.label, _trend_rows(trend)) for trend in doc.trends if trend.points]
    for title, (header, rows, unit) in tables:
        row = _trend_block(sheet, row, title, header, rows, unit)
    sheet.column_dimensions["A"].width = 12
    for column in "BCD":
        sheet.column_dimensions[column].width = 12


def _sources_sheet(sheet: Worksheet, doc: RollupDocument, meta: str) -> None:
    """Every figure's events: what each gave, what it said, for which period, who sent it, when
    planwatch stored it and its id — `planwatch why` for the whole report."""
    names = {row.id: row.name for row in [*doc.main, *(r for s in doc.sections for r in s.rows)]}
    names |= {project.id: project.name for project in doc.projects}
    rows = [
        (
            source.row,
            names.get(source.row, source.row),
            source.role_zh
            if source.subject == source.row
            else f"{source.role_zh}（{names.get(source.subject, source.subject)}）",
            source.what,
            source.period or "",
            source.department_name or "",
            beijing_time(source.recorded_at),
            source.event_id or "（无法读取）",
            source.position,
        )
        for source in doc.sources
    ]
    _write_sheet(
        sheet,
        (f"{doc.title} — 数据来源", f"{meta}；每个数字所依据的报送事件（planwatch why 可逐项查询）"),
        ("编号", "名称", "数据项", "内容", "报告期", "报送单位", "入库时间", "事件编号", "日志位置"),
        rows,
    )


def render_xlsx(doc: RollupDocument) -> bytes:
    """The rollup as a workbook: the report's wording next to the numbers behind it, as numbers."""
    doc = xml_safe(doc)
    workbook = Workbook()
    meta = "；".join(when_parts(doc))
    main = workbook.active
    assert main is not None
    main.title = SHEET_MAIN
    _main_sheet(main, doc, meta)
    _further_sheet(workbook.create_sheet(SHEET_FURTHER), doc, meta)
    _projects_sheet(workbook.create_sheet(SHEET_PROJECTS), doc, meta)
    _off_track_sheet(workbook.create_sheet(SHEET_OFF_TRACK), doc, meta)
    _changes_sheet(workbook.create_sheet(SHEET_CHANGES), doc, meta)
    if doc.trends or doc.portfolio_trend:  # documents stored before trends were kept have none
        _trends_sheet(workbook.create_sheet(SHEET_TRENDS), doc, meta)
    if doc.sources:  # documents stored before provenance was kept have none
        _sources_sheet(workbook.create_sheet(SHEET_SOURCES), doc, meta)
    workbook.properties.title = doc.title
    workbook.properties.creator = "planwatch"
    known_at = doc.known_at if doc.known_at.tzinfo else doc.known_at.replace(tzinfo=UTC)
    workbook.properties.created = known_at.astimezone(UTC).replace(tzinfo=None)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
