"""The rollup renderers against the seed report: the same table, the same project line, real numbers.

Pure: the documents are folded from the seed history in memory, no Redis."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

import docx
import html5lib
import openpyxl
import pytest
from docx.oxml.ns import qn
from openpyxl.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

from events.models import plan_published
from events.positions import StoredEvent
from projections.alerts import AlertBook, judge, tick
from projections.rollup import RollupDocument, build_rollup
from projections.state import PlanState, fold
from services.app import load_plan
from services.demo import EXAMPLES, PLAN_PUBLISHED_AT, SEED_PLAN, h1_history
from services.reports import render_docx, render_html, render_markdown, render_xlsx
from services.reports.common import changes_part
from tests import seed_report
from tests.conftest import ROOT

SEED_HEADER = "| 指标 | 全年目标 | 上半年完成 | 与目标± |"
SHEETS = ["主要指标", "目标任务", "重点项目", "滞后事项", "变化", "趋势"]


@pytest.fixture(scope="module")
def rollups() -> dict[str, RollupDocument]:
    plan = load_plan(SEED_PLAN)
    events = [plan_published(plan, 0, PLAN_PUBLISHED_AT), *h1_history(plan)]
    state = fold([StoredEvent(f"{1752000000000 + i}-0", e) for i, e in enumerate(events)], plan_id=plan.id)
    may = build_rollup(state, "2025-05", datetime(2025, 6, 16, tzinfo=UTC))
    return {
        "june": build_rollup(state, "2025-06", datetime(2025, 7, 16, tzinfo=UTC)),
        "may": may,
        "june_vs_may": build_rollup(state, "2025-06", datetime(2025, 7, 16, tzinfo=UTC), previous=may),
    }


@pytest.fixture
def june(rollups: dict[str, RollupDocument]) -> RollupDocument:
    return rollups["june"]


# ---- the document ----------------------------------------------------------------------------

# The seed's June rollup compared with May, as this version writes it to Redis (with the one
# judgement's wording and lights: GDP and 居民收入 missed two quarters running, so they read
# 预警升级（红灯）).
STORED_JUNE = ROOT / "tests" / "data" / "rollup_seed_2025-06.json"
# The same, as a version before the one judgement wrote it (no light, no note; GDP 预警（黄灯）).
STORED_BEFORE_JUDGEMENT = ROOT / "tests" / "data" / "rollup_seed_2025-06.before-judgement.json"


# fields added to the document after the stored one was written (optional: it loads without them)
ADDED = {"trends", "portfolio_trend", "sources"}


def test_the_document_is_the_one_an_earlier_version_stored(rollups: dict[str, RollupDocument]) -> None:
    stored = STORED_JUNE.read_text(encoding="utf-8")
    assert rollups["june_vs_may"].model_dump_json(exclude=ADDED) == stored
    assert (
        rollups["june"].content_hash
        == rollups["june_vs_may"].content_hash
        == RollupDocument.model_validate_json(stored).hash_content()
    )


def test_a_document_stored_before_the_one_judgement_loads_and_renders(rollups: dict[str, RollupDocument]) -> None:
    older = RollupDocument.model_validate_json(STORED_BEFORE_JUDGEMENT.read_text(encoding="utf-8"))
    gdp = older.main[0]
    assert (gdp.light, gdp.note, gdp.status_zh, gdp.judged_status) == (None, "", "预警（黄灯）", "at_risk")
    assert older.hash_content() == older.content_hash  # its hash is the one it was stored with
    assert older.content_hash != rollups["june_vs_may"].content_hash  # a new June rollup is a new version
    rendered = render_markdown(older)
    assert "- 地区生产总值（区统计局）：全年目标6.5%左右，完成5.5%，与目标-1.0个百分点【预警（黄灯）】" in rendered
    assert 'class="status-at-risk"' in render_html(older)


def test_a_stored_document_loads_and_renders_as_a_new_one(rollups: dict[str, RollupDocument]) -> None:
    loaded = RollupDocument.model_validate_json(STORED_JUNE.read_text(encoding="utf-8"))
    assert loaded == rollups["june_vs_may"].model_copy(update={key: [] for key in ADDED})
    assert render_markdown(loaded) == render_markdown(rollups["june_vs_may"])


# ---- Markdown --------------------------------------------------------------------------------


def _cells(line: str) -> tuple[str, ...]:
    """A Markdown table row's cells, undoing the renderer's escapes of `|` and `\\`."""
    inner = line.strip()[1:-1]
    parts = re.split(r"(?<!\\)\|", inner.replace("\\\\", "\0"))
    return tuple(part.strip().replace("\\|", "|").replace("\0", "\\") for part in parts)


def _table_after(markdown: str, header: str) -> list[tuple[str, ...]]:
    lines = markdown.splitlines()
    start = lines.index(header) + 2  # skip the header and the --- line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    return rows


def _part(markdown: str, heading: str) -> str:
    text = markdown[markdown.index(f"## {heading}") :]
    following = text.find("\n## ", 1)
    return text if following < 0 else text[:following]


def test_markdown_main_table_equals_the_seed_row_for_row(june: RollupDocument) -> None:
    markdown = render_markdown(june)
    assert markdown.startswith(f"# {june.title}\n")
    assert SEED_HEADER in markdown.splitlines()
    assert _table_after(markdown, SEED_HEADER) == seed_report.main_table()


def test_markdown_names_the_project_line_and_completions_as_the_seed_does(june: RollupDocument) -> None:
    projects = _part(render_markdown(june), "二、重点项目").splitlines()
    assert f"{seed_report.project_line()}。" in projects
    assert f"{seed_report.completed_line()}。" in projects
    assert any(line.startswith("- 北部片区中心水厂（区水利局）：") and "逾期3个月" in line for line in projects)


def test_markdown_off_track_part_names_gdp_and_whose_it_is(june: RollupDocument) -> None:
    off_track = _part(render_markdown(june), "四、未达到目标和滞后的事项")
    assert june.missed_sentence in off_track
    assert "- 地区生产总值（区统计局）：全年目标6.5%左右，完成5.5%，与目标-1.0个百分点" in off_track
    assert "区财政局" in off_track and "规上工业增加值" not in off_track


def test_markdown_further_targets_print_completion_and_time_progress(june: RollupDocument) -> None:
    markdown = render_markdown(june)
    header = "| 目标任务 | 全年目标 | 完成 | 完成全年目标 | 序时进度 | 与目标± | 责任单位 |"
    assert markdown.count(header) == len(june.sections)
    rows = {row[0]: row for row in _table_after(markdown[markdown.index("### （七）社会民生") :], header)}
    assert rows["空气质量优良天数"] == (
        "空气质量优良天数",
        "突破310天",
        "147天",
        "47.4%",
        "50.0%",
        "-2.6个百分点",
        "区生态环境局",
    )
    assert rows["濑溪河等考核断面水质"][3:5] == ("-", "-")


def test_markdown_of_may_heads_its_column_1_to_5(rollups: dict[str, RollupDocument]) -> None:
    markdown = render_markdown(rollups["may"])
    assert "| 指标 | 全年目标 | 1—5月完成 | 与目标± |" in markdown.splitlines()
    assert "2025年1—5月" in markdown.splitlines()[0]


def test_markdown_changes_say_first_report_or_list_what_changed(rollups: dict[str, RollupDocument]) -> None:
    first = _part(render_markdown(rollups["june"]), "五、与上期相比的变化")
    assert "（首期报告，无对比）" in first
    compared = _part(render_markdown(rollups["june_vs_may"]), "五、与上期相比的变化")
    assert "（首期报告，无对比）" not in compared and "2025-05 v1" in compared
    assert "- 【状态变化】城镇老旧小区改造由“正常推进”变为“已完成”" in compared
    nothing = rollups["june_vs_may"].model_copy(update={"changes": []})
    assert _part(render_markdown(nothing), "五、与上期相比的变化").splitlines()[-1] == "无变化"


def test_markdown_escapes_a_pipe_in_a_cell(june: RollupDocument) -> None:
    odd = june.main[0].model_copy(update={"label": "1﹒地区|生产总值"})
    markdown = render_markdown(june.model_copy(update={"main": [odd, *june.main[1:]]}))
    assert "| 1﹒地区\\|生产总值 | 6.5%左右 | 5.5% | -1.0个百分点 |" in markdown.splitlines()
    assert _table_after(markdown, SEED_HEADER)[0] == ("1﹒地区|生产总值", "6.5%左右", "5.5%", "-1.0个百分点")


# ---- HTML ------------------------------------------------------------------------------------


def _parse(html: str) -> Element:
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)


def _text(element: Element) -> str:
    return "".join(element.itertext()).strip()


def _main_table(tree: Element) -> Element:
    tables = [t for t in tree.iter("table") if "main-table" in t.get("class", "").split()]
    assert len(tables) == 1
    return tables[0]


def test_html_is_strict_html5_with_the_seed_table(june: RollupDocument) -> None:
    html = render_html(june)
    assert html.startswith("<!DOCTYPE html>")
    tree = _parse(html)  # raises on the first parse error
    assert tree.get("lang") == "zh-CN"
    assert _text(tree.find("head/title")) == june.title == _text(next(tree.iter("h1")))
    table = _main_table(tree)
    assert [_text(th) for th in table.findall("thead/tr/th")] == ["指标", "全年目标", "上半年完成", "与目标±"]
    rows = [tuple(_text(td) for td in tr.findall("td")) for tr in table.findall("tbody/tr")]
    assert rows == seed_report.main_table()


def test_html_marks_status_with_classes_and_prints_a4(june: RollupDocument) -> None:
    html = render_html(june)
    rows = {_text(tr.find("td")): tr.get("class") for tr in _main_table(_parse(html)).findall("tbody/tr")}
    assert rows["5﹒一般公共预算收入"] == "status-off-track"
    assert rows["1﹒地区生产总值"] == "status-off-track"  # at risk two quarters running: escalated, red
    assert rows["2﹒规上工业增加值"] == "status-on-track"
    assert "@media print" in html and "size: A4" in html and "SimSun" in html
    assert seed_report.project_line() in html and seed_report.completed_line() in html


def test_html_parts_come_in_the_markdown_order(rollups: dict[str, RollupDocument]) -> None:
    tree = _parse(render_html(rollups["june_vs_may"]))
    headings = [_text(h2) for h2 in tree.iter("h2")]
    assert headings == [line[3:] for line in render_markdown(rollups["june_vs_may"]).splitlines() if line[:3] == "## "]
    assert len(headings) == 5


def test_html_escapes_what_it_prints(june: RollupDocument) -> None:
    name = "地区<b>生产&总值"
    odd_row = june.main[0].model_copy(update={"label": f"1﹒{name}"})
    odd_item = june.off_track[0].model_copy(update={"name": name})
    doc = june.model_copy(update={"main": [odd_row, *june.main[1:]], "off_track": [odd_item, *june.off_track[1:]]})
    html = render_html(doc)
    assert "<b>" not in html
    assert "1﹒地区&lt;b&gt;生产&amp;总值" in html and "地区&lt;b&gt;生产&amp;总值（区统计局）" in html
    tree = _parse(html)
    assert _text(_main_table(tree).find("tbody/tr/td")) == f"1﹒{name}"


# ---- XLSX ------------------------------------------------------------------------------------


def _workbook(doc: RollupDocument) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(render_xlsx(doc)))


def _header_row(sheet: Worksheet, first: str) -> int:
    for (cell,) in sheet.iter_rows(min_col=1, max_col=1):
        if cell.value == first:
            return cell.row
    raise AssertionError(f"no header starting {first!r} on {sheet.title}")


def _records(sheet: Worksheet, first: str) -> list[dict[str, Cell]]:
    """The rows under the header whose first cell is `first`, as {header: cell}."""
    row = _header_row(sheet, first)
    header = [cell.value for cell in sheet[row]]
    return [dict(zip(header, cells, strict=True)) for cells in sheet.iter_rows(min_row=row + 1)]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_xlsx_sheets_and_main_table_text(june: RollupDocument) -> None:
    workbook = _workbook(june)
    assert workbook.sheetnames == SHEETS
    sheet = workbook["主要指标"]
    assert sheet["A1"].value == june.title and "A1:I1" in {str(r) for r in sheet.merged_cells.ranges}
    assert any(str(cell.value or "").startswith("数据截至 2025-06-30") for (cell,) in sheet.iter_rows(max_col=1))
    row = _header_row(sheet, "指标")
    header = [cell.value for cell in sheet[row]]
    figures = ["完成值", "单位", "偏差（个百分点）", "状态", "责任单位"]
    assert header == ["指标", "全年目标", "上半年完成", "与目标±", *figures]
    assert sheet[row][0].font.b and sheet.freeze_panes == f"A{row + 1}"
    text = [tuple(c.value for c in cells) for cells in sheet.iter_rows(min_row=row + 1, max_col=4)]
    assert text == seed_report.main_table()


def test_xlsx_main_figures_are_numbers_with_formats(june: RollupDocument) -> None:
    records = {r["指标"].value: r for r in _records(_workbook(june)["主要指标"], "指标")}
    gdp = records["1﹒地区生产总值"]
    assert _is_number(gdp["完成值"].value) and gdp["完成值"].value == 5.5
    assert gdp["完成值"].number_format == "0.0"
    assert _is_number(gdp["偏差（个百分点）"].value) and gdp["偏差（个百分点）"].value == -1.0
    assert gdp["偏差（个百分点）"].number_format == "+0.0;-0.0;0.0"
    assert gdp["状态"].value == "预警升级（红灯）" and gdp["责任单位"].value == "区统计局"
    assert records["9﹒粮食总产量"]["完成值"].value is None  # not reported yet: an empty cell, not "-"
    assert (gdp["单位"].value, records["9﹒粮食总产量"]["单位"].value) == ("%", "万吨")


def test_xlsx_further_targets_hold_completion_as_a_fraction(june: RollupDocument) -> None:
    records = {r["目标任务"].value: r for r in _records(_workbook(june)["目标任务"], "领域")}
    assert len(records) == sum(len(s.rows) for s in june.sections)
    jobs = records["城镇新增就业"]
    # The document carries completion rounded to one decimal (70.1), so 0.701, not 7013/10000.
    assert _is_number(jobs["完成全年目标"].value) and jobs["完成全年目标"].value == pytest.approx(0.701, abs=1e-9)
    assert jobs["完成全年目标"].number_format == "0.0%"
    assert jobs["序时进度"].value == pytest.approx(0.5, abs=1e-9) and jobs["序时进度"].number_format == "0.0%"
    assert jobs["完成值"].value == 7013 and jobs["完成"].value == "7013人"
    assert jobs["领域"].value == "（七）社会民生"
    air = records["空气质量优良天数"]
    assert air["完成全年目标"].value == pytest.approx(0.474, abs=1e-9)


def test_xlsx_projects_hold_investment_as_numbers(june: RollupDocument) -> None:
    sheet = _workbook(june)["重点项目"]
    notes = [cell.value for (cell,) in sheet.iter_rows(max_col=1, max_row=_header_row(sheet, "编号") - 1)]
    assert f"{seed_report.project_line()}。" in notes and f"{seed_report.completed_line()}。" in notes
    records = {r["编号"].value: r for r in _records(sheet, "编号")}
    assert len(records) == len(june.projects) == 112
    first = records["kp-001"]
    assert first["名称"].value == "渝乐电子" and first["阶段"].value == "建成投产"
    assert _is_number(first["年度计划投资（万元）"].value) and first["年度计划投资（万元）"].value == 15000
    assert first["年度计划投资（万元）"].number_format == "#,##0"
    assert _is_number(first["完成投资（万元）"].value) and first["完成投资（万元）"].number_format == "#,##0"
    assert first["投资完成率"].value == pytest.approx(1.0) and first["投资完成率"].number_format == "0.0%"
    assert first["逾期月数"].value is None
    overdue = [r for r in records.values() if r["逾期月数"].value is not None]
    assert {r["名称"].value for r in overdue} == {p.name for p in june.projects if p.months_overdue is not None}
    assert all(isinstance(r["逾期月数"].value, int) for r in overdue)


def test_xlsx_off_track_sheet_names_whose_it_is(june: RollupDocument) -> None:
    records = _records(_workbook(june)["滞后事项"], "类型")
    rows = [tuple(cell.value for cell in r.values()) for r in records]
    assert rows[0] == (
        "指标",
        "地区生产总值",
        "区统计局",
        "预警升级（红灯）",
        "全年目标6.5%左右，完成5.5%，与目标-1.0个百分点；升级：连续2期未达目标",
    )
    assert {row[0] for row in rows} == {"指标", "项目"} and len(rows) == len(june.off_track)


def test_xlsx_changes_sheet_lists_the_changes(rollups: dict[str, RollupDocument]) -> None:
    compared = rollups["june_vs_may"]
    assert compared.changes
    rows = [tuple(c.value for c in r.values()) for r in _records(_workbook(compared)["变化"], "类型")]
    assert rows == [
        ({"status": "状态变化", "revised": "数据修订"}[c.kind], c.name, c.detail_zh) for c in compared.changes
    ]
    nothing = compared.model_copy(update={"changes": []})
    assert [tuple(c.value for c in r.values()) for r in _records(_workbook(nothing)["变化"], "类型")] == [
        (None, "无变化", None)
    ]
    first = rollups["may"].model_copy(update={"changes": []})
    rows = [tuple(c.value for c in r.values()) for r in _records(_workbook(first)["变化"], "类型")]
    assert rows == [(None, "（首期报告，无对比）", None)]


# ---- charts ----------------------------------------------------------------------------------


def test_html_prints_a_trend_chart_per_main_indicator_with_data_and_the_projects(june: RollupDocument) -> None:
    page = render_html(june)
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)  # still strict HTML5
    charts = re.findall(r'<svg class="trend"[^>]*aria-label="([^"]+)"', page)
    with_data = [trend.label for trend in june.trends if trend.points]
    assert charts == [*with_data, "区级重点项目开工率、投资完成率"]
    assert "1﹒地区生产总值" in charts and "9﹒粮食总产量" not in charts  # no value yet: no chart
    gdp = page[page.index('aria-label="1﹒地区生产总值"') :]
    gdp = gdp[: gdp.index("</svg>")]
    assert ">一季度<" in gdp and ">二季度<" in gdp and ">5.8<" in gdp and ">5.5<" in gdp
    assert 'stroke-dasharray="4 3"' in gdp and "全年目标" in gdp  # the target, dashed for print
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched


def test_the_document_keeps_the_months_of_a_main_indicator_and_of_the_projects(june: RollupDocument) -> None:
    revenue = next(trend for trend in june.trends if trend.id == "revenue")
    assert revenue.kind == "value" and [p.value for p in revenue.points] == [6.1, 4.8, 3.9, 3.2, 2.9, 2.5]
    months = june.portfolio_trend
    assert [p.period for p in months] == [f"2025-{m:02d}" for m in range(1, 7)]
    assert (months[-1].start_rate, months[-1].investment_rate, months[-1].time_progress) == (60.7, 50.5, 50)


def test_xlsx_trends_sheet_has_native_line_charts_over_its_figures(june: RollupDocument) -> None:
    sheet = _workbook(june)["趋势"]
    charts = sheet._charts
    assert len(charts) == 1 + sum(1 for trend in june.trends if trend.points)
    assert all(type(chart).__name__ == "LineChart" for chart in charts)
    rows = [tuple(cell.value for cell in row[:4]) for row in sheet.iter_rows(min_row=5, max_row=11)]
    assert rows[0] == ("月份", "开工率", "投资完成率", "序时进度")
    assert rows[-1] == ("2025-06", 60.7, 50.5, 50)
    first = charts[0]
    assert [str(s.val.numRef.f) for s in first.series] == [
        "'趋势'!$B$6:$B$11",
        "'趋势'!$C$6:$C$11",
        "'趋势'!$D$6:$D$11",
    ]


def test_a_document_stored_before_charts_renders_without_them() -> None:
    stored = RollupDocument.model_validate_json(STORED_JUNE.read_text(encoding="utf-8"))
    assert stored.trends == [] and stored.portfolio_trend == []
    assert "<svg" not in render_html(stored)
    assert _workbook(stored).sheetnames == SHEETS[:-1]


# ---- a late report, a plan with no key projects ---------------------------------------------------


def test_a_report_written_late_tells_of_its_months_alerts_not_of_later_ones() -> None:
    plan = load_plan(SEED_PLAN)
    events = [plan_published(plan, 0, PLAN_PUBLISHED_AT), *h1_history(plan)]
    stored = [StoredEvent(f"{1752000000000 + i}-0", e) for i, e in enumerate(events)]
    book, state, notices = AlertBook(), PlanState(plan.id), []
    for entry in stored:
        notices += judge(book, state, entry)
    late = datetime(2026, 2, 1, tzinfo=UTC)  # after the deadlines of 2025's last quarter and the year
    notices += tick(book, state, int(late.timestamp() * 1000))
    assert any(n.period == "2025-Q4" for n in notices) and any(n.rule == "data_outage" for n in notices)
    document = build_rollup(state, "2025-06", late, notices)
    told = [change.detail_zh for change in document.changes]
    assert told and not [line for line in told if re.search(r"2025-(?:Q[34]|0[7-9]|1[0-2])|2025数据", line)]
    outages = [n for n in notices if n.rule == "data_outage"]
    in_time = [n for n in outages if n.at < datetime(2025, 8, 31, 16, tzinfo=UTC)]  # by 31 August, Beijing
    told_outages = [c for c in document.changes if c.kind.startswith("alert.") and c.subject == plan.id]
    assert len(told_outages) == len(in_time) < len(outages)  # the outage of January 2026 is not told
    assert any("地区生产总值" in line for line in told)  # June's own alerts are still told
    markdown = render_markdown(document)
    assert "本期报告已反映的预警变化和数据修订：" in _part(markdown, "五、与上期相比的变化")


def test_a_plan_with_no_key_projects_says_so_once_in_every_format() -> None:
    plan = load_plan(EXAMPLES / "points-2025.yaml")
    state = fold([StoredEvent("1752000000000-0", plan_published(plan, 0, PLAN_PUBLISHED_AT))], plan_id=plan.id)
    document = build_rollup(state, "2025-06", datetime(2025, 7, 16, tzinfo=UTC))
    part = _part(render_markdown(document), "二、重点项目")
    assert part.split()[2:] == ["本计划未列重点项目。"]
    html = render_html(document)
    projects = html[html.index('<section id="projects">') : html.index('<section id="further-targets">')]
    assert "本计划未列重点项目。" in projects and "<p>。</p>" not in projects and "逾期未开工" not in projects
    sheet = _workbook(document)["重点项目"]
    texts = [cell.value for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)]
    assert "本计划未列重点项目。" in texts and "。" not in texts


# ---- DOCX ------------------------------------------------------------------------------------


def _document(doc: RollupDocument) -> docx.document.Document:
    return docx.Document(io.BytesIO(render_docx(doc)))


def _fill(cell: object) -> str | None:
    shading = cell._tc.tcPr.find(qn("w:shd"))  # type: ignore[attr-defined]
    return None if shading is None else shading.get(qn("w:fill"))


def test_docx_reads_as_the_report_does(june: RollupDocument) -> None:
    document = _document(june)
    paragraphs = [(p.style.name, p.text) for p in document.paragraphs if p.text]
    assert paragraphs[0] == ("Title", june.title)
    headings = [text for style, text in paragraphs if style == "Heading 1"]
    assert headings == [
        "一、主要计划目标完成情况",
        "二、重点项目",
        "三、其他目标任务",
        "四、未达到目标和滞后的事项",
        "五、与上期相比的变化",
    ]
    texts = [text for _, text in paragraphs]
    assert seed_report.project_line() + "。" in texts and june.missed_sentence in texts
    main = document.tables[0]
    assert [c.text for c in main.rows[0].cells] == ["指标", "全年目标", "上半年完成", "与目标±"]
    assert [tuple(c.text for c in row.cells) for row in main.rows[1:]] == seed_report.main_table()
    sections = [text for style, text in paragraphs if style == "Heading 2" and text.startswith("（")]
    assert len(document.tables) == 1 + len(june.sections) == 1 + len(sections)
    assert document.core_properties.title == june.title and document.core_properties.revision == june.version


def test_docx_tints_rows_by_status_and_repeats_the_header(june: RollupDocument) -> None:
    main = _document(june).tables[0]
    header = main.rows[0]._tr.trPr
    assert header.find(qn("w:tblHeader")) is not None and header.find(qn("w:cantSplit")) is not None
    by_label = {row.cells[0].text: row for row in main.rows[1:]}
    statuses = {row.label: row.judged_status for row in june.main}
    off = next(label for label, status in statuses.items() if status == "off_track")
    fine = next(label for label, status in statuses.items() if status in ("met", "on_track"))
    assert _fill(by_label[off].cells[0]) == "FBE5D6" and _fill(by_label[fine].cells[0]) is None
    assert by_label[off].cells[3].paragraphs[0].runs[0].font.color.rgb == docx.shared.RGBColor(0xC0, 0, 0)


def test_docx_sets_chinese_typefaces_where_word_reads_them(june: RollupDocument) -> None:
    document = _document(june)
    fonts = document.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == "仿宋" and fonts.get(qn("w:eastAsiaTheme")) is None
    run = document.tables[0].rows[1].cells[0].paragraphs[0].runs[0]
    assert run._element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "宋体"


def test_docx_of_a_plan_without_projects_or_changes_says_so(rollups: dict[str, RollupDocument]) -> None:
    bare = rollups["june"].model_copy(update={"projects": [], "off_track": [], "sections": []})
    texts = [p.text for p in _document(bare).paragraphs]
    assert "无其他目标任务。" in texts and "无未达到目标或滞后的事项。" in texts
    june_vs_may = rollups["june_vs_may"]
    compared = [p.text for p in _document(june_vs_may).paragraphs]
    paragraphs, items = changes_part(june_vs_may)
    assert paragraphs and items  # May to June changed things, and part 五 says which
    assert compared[-len(paragraphs) - len(items) :] == [*paragraphs, *(f"• {item}" for item in items)]
