"""Spreadsheets and documents made to mislead or to exhaust: an unreadable file imported without a
plan says why; hidden sheets are never read; merged cells are read as the eye reads them (or
refused where one value cannot be several rows'); a formula without a result is never drafted as
''; small files that unpack into millions of cells or elements are refused in well under a second."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from events.models import IndicatorUpdated
from events.plan import Plan
from services.app import load_plan
from services.app.errors import Invalid
from services.app.sheets import _named_plan
from services.demo import SEED_PLAN
from services.spreadsheet import (
    PlanIdentity,
    SheetRejected,
    draft_plan_sheet,
    file_plan_id,
    parse_sheet,
    sheet_plan_id,
    write_template,
)
from services.spreadsheet.document import read_docx
from services.spreadsheet.layout import COLUMNS, PERIOD, SUBJECT, VALUE
from services.spreadsheet.package import MAX_ELEMENTS
from services.spreadsheet.published import read_published
from services.spreadsheet.reader import MAX_ROWS, read_table
from services.spreadsheet.results import FileProblem

IDENTITY = PlanIdentity(id="demo-2025", year=2025, region="示例区")
TARGETS: list[list[object]] = [
    ["指标", "单位", "全年目标", "责任单位"],
    ["地区生产总值", "%", "增长6.5%左右", "区统计局"],
    ["一般公共预算收入", "%", "增长5%", "区财政局"],
    ["城镇调查失业率", "%", "5.5%以内", "区人力社保局"],
]
QUICK = 2.0  # seconds: a hostile file is refused before it is unpacked or parsed whole


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(SEED_PLAN)


def _save(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _column(name: str) -> int:
    return COLUMNS.index(name) + 1


def _stats_sheet(plan: Plan) -> Workbook:
    """The stats department's July sheet, each indicator's value filled with 6.5."""
    workbook = load_workbook(io.BytesIO(write_template(plan, "stats", "2025-07")))
    sheet = workbook["填报"]
    for row in range(2, sheet.max_row + 1):
        if sheet.cell(row, _column(SUBJECT)).value:
            sheet.cell(row, _column(VALUE)).value = 6.5
    return workbook


def _targets(rows: list[list[object]] = TARGETS) -> Workbook:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    return workbook


def _values(imported_events: Sequence[object]) -> set[Decimal]:
    return {event.value for event in imported_events if isinstance(event, IndicatorUpdated)}


@contextmanager
def _quick() -> Iterator[None]:
    started = time.perf_counter()
    yield
    assert time.perf_counter() - started < QUICK


def _reasons(problem: FileProblem | SheetRejected) -> str:
    return " | ".join(f"{e.column} {e.value} {e.reason} {e.reason_zh}" for e in problem.errors)


# ---- 5: an unreadable file imported without --plan says why ------------------------------


@pytest.mark.parametrize(
    ("content", "filename", "said"),
    [
        (b"\x00\x01 random bytes", "t.xlsx", "not a readable .xlsx file"),
        (b"", "t.csv", "the file is empty"),
        (b"\xd0\xcf\x11\xe0", "t.xls", "old .xls files are not supported"),
    ],
)
def test_an_unreadable_file_without_a_plan_is_refused_for_what_is_wrong_with_it(
    content: bytes, filename: str, said: str
) -> None:
    with pytest.raises(SheetRejected) as refused:
        file_plan_id(content, filename)
    assert said in _reasons(refused.value)
    with pytest.raises(Invalid) as invalid:  # the import use case (API, dashboard) says it too
        _named_plan(content, filename)
    assert any(said in e.reason for e in invalid.value.errors) and "names no plan" not in invalid.value.message
    assert sheet_plan_id(content, filename) is None  # its callers read the file again and say why then


def test_a_sheet_whose_info_sheet_was_edited_says_so_without_a_plan(plan: Plan) -> None:
    workbook = _stats_sheet(plan)
    workbook["说明"]["B3"] = "other-2025"
    with pytest.raises(SheetRejected) as refused:
        file_plan_id(_save(workbook), "t.xlsx")
    assert "说明" in _reasons(refused.value)
    assert file_plan_id(_save(_stats_sheet(plan)), "t.xlsx") == plan.id  # a good file still names its plan


# ---- 6: hidden sheets are never read ------------------------------------------------------


def test_a_hidden_fill_in_sheet_is_passed_over_for_the_visible_one(plan: Plan) -> None:
    workbook = _stats_sheet(plan)
    hidden = workbook["填报"]
    shown = workbook.copy_worksheet(hidden)
    shown.title = "Sheet1"
    for row in range(2, hidden.max_row + 1):
        if hidden.cell(row, _column(SUBJECT)).value:
            hidden.cell(row, _column(VALUE)).value = 1.1
            shown.cell(row, _column(VALUE)).value = 9.9
    hidden.sheet_state = "hidden"
    workbook.active = workbook.sheetnames.index("Sheet1")
    assert _values(parse_sheet(_save(workbook), "t.xlsx", plan).events) == {Decimal("9.9")}


def test_a_workbook_whose_only_data_sheet_is_hidden_is_refused_naming_it(plan: Plan) -> None:
    workbook = _stats_sheet(plan)
    workbook["填报"].sheet_state = "hidden"
    with pytest.raises(SheetRejected) as refused:
        parse_sheet(_save(workbook), "t.xlsx", plan)
    assert "填报" in _reasons(refused.value) and "hidden" in _reasons(refused.value)


def test_a_draft_reads_the_visible_table_not_a_hidden_first_sheet() -> None:
    workbook = _targets()
    old = workbook.create_sheet("旧表", 0)
    for row in [TARGETS[0], ["旧指标", "%", "99%左右", "区统计局"]]:
        old.append(row)
    old.sheet_state = "hidden"
    draft = draft_plan_sheet(_save(workbook), "t.xlsx", IDENTITY)
    assert [i.name for i in draft.plan.indicators] == ["地区生产总值", "一般公共预算收入", "城镇调查失业率"]


# ---- 7: merged cells ----------------------------------------------------------------------


def test_an_import_refuses_one_value_merged_over_several_rows_naming_the_range(plan: Plan) -> None:
    workbook = _stats_sheet(plan)
    letter = "ABCDEFGHIJKLMNOP"[_column(VALUE) - 1]
    workbook["填报"].merge_cells(f"{letter}2:{letter}5")
    workbook["填报"][f"{letter}2"] = 6.5
    with pytest.raises(SheetRejected) as refused:
        parse_sheet(_save(workbook), "t.xlsx", plan)
    [error] = refused.value.errors
    assert (error.row, error.column, error.value) == (2, VALUE, f"{letter}2:{letter}5")


def test_an_import_reads_a_period_merged_down_into_every_row(plan: Plan) -> None:
    workbook = _stats_sheet(plan)
    sheet = workbook["填报"]
    rows = [r for r in range(2, sheet.max_row + 1) if sheet.cell(r, _column(SUBJECT)).value][:3]
    letter = "ABCDEFGHIJKLMNOP"[_column(PERIOD) - 1]
    sheet.merge_cells(f"{letter}{rows[0]}:{letter}{rows[-1]}")
    sheet[f"{letter}{rows[0]}"] = "2025-06"  # not the sheet's own month: each merged row is June's
    imported = parse_sheet(_save(workbook), "t.xlsx", plan)
    assert imported.periods == ("2025-06", "2025-07")
    june = [e for e in imported.events if isinstance(e, IndicatorUpdated) and e.period == "2025-06"]
    assert len(june) == len(rows)


def test_a_draft_reads_a_department_merged_down_into_every_row_and_a_heading_merged_across() -> None:
    rows: list[list[object]] = [
        *TARGETS[:2],
        ["（二）民生", None, None, None],
        *TARGETS[2:],
        ["居民消费价格涨幅", "%", "3%左右", None],
    ]
    workbook = _targets(rows)
    sheet = workbook.active
    sheet.merge_cells("A3:D3")  # the heading across the row
    sheet.merge_cells("D5:D6")  # one 责任单位 for two indicators
    indicators = draft_plan_sheet(_save(workbook), "t.xlsx", IDENTITY).plan.indicators
    by_name = {i.name: i for i in indicators}
    assert by_name["居民消费价格涨幅"].department == by_name["城镇调查失业率"].department == "hrss"
    assert by_name["城镇调查失业率"].section == "（二）民生"


# ---- 8: a formula without a stored result is not a target of '' --------------------------


@pytest.mark.parametrize("formula", ["=6.5/100", '="增长8%"'])
def test_a_draft_refuses_a_target_that_is_a_formula_without_a_result(formula: str) -> None:
    workbook = _targets()
    workbook.active["C3"] = formula
    with pytest.raises(SheetRejected) as refused:
        draft_plan_sheet(_save(workbook), "t.xlsx", IDENTITY)
    [error] = refused.value.errors
    assert (error.row, error.column, error.value) == (3, "全年目标", formula)
    assert "公式没有计算结果" in error.reason_zh


def test_a_report_whose_figure_is_a_formula_without_a_result_is_refused_not_read_as_empty() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in (["指标", "全年目标", "上半年完成", "与目标±"], ["1﹒地区生产总值", "6.5%左右", "=5.5/100", ""]):
        sheet.append(row)
    with pytest.raises(FileProblem) as refused:
        read_published(_save(workbook), "报告.xlsx")
    [error] = refused.value.errors
    assert (error.row, error.column) == (2, "完成") and "公式没有计算结果" in error.reason_zh


# ---- 9: small files that would take minutes and gigabytes ---------------------------------


def test_a_value_far_to_the_right_is_refused_at_once_not_padded_into_millions_of_cells(plan: Plan) -> None:
    workbook = _stats_sheet(plan)
    sheet = workbook["填报"]
    for row in range(sheet.max_row + 1, sheet.max_row + 3001):
        sheet.cell(row, 16384).value = "x"  # column XFD
    content = _save(workbook)
    with _quick(), pytest.raises(SheetRejected) as refused:
        parse_sheet(content, "t.xlsx", plan)
    assert "XFD" in _reasons(refused.value) and "64" in _reasons(refused.value)
    with _quick(), pytest.raises(FileProblem):  # compare and draft read tables the same way
        read_table(content, "t.xlsx")


def _repacked(content: bytes, part: str, inserted: bytes, before: bytes) -> bytes:
    """`content` with `inserted` put into `part` just before `before`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            data = source.read(member.filename)
            if member.filename == part:
                at = data.index(before)
                data = data[:at] + inserted + data[at:]
            target.writestr(member.filename, data)
    return out.getvalue()


def test_a_sheet_of_a_million_empty_rows_is_refused_before_it_is_parsed(plan: Plan) -> None:
    content = _repacked(
        _save(_stats_sheet(plan)), "xl/worksheets/sheet1.xml", b"<row/>" * (MAX_ELEMENTS + 1), b"</sheetData>"
    )
    with _quick(), pytest.raises(FileProblem) as refused:
        read_table(content, "t.xlsx")
    assert "elements" in _reasons(refused.value)


def test_a_word_document_of_millions_of_empty_paragraphs_is_refused_before_it_is_parsed() -> None:
    from docx import Document

    document = Document()
    table = document.add_table(rows=len(TARGETS), cols=4)
    for r, row in enumerate(TARGETS):
        for c, text in enumerate(row):
            table.cell(r, c).text = str(text)
    out = io.BytesIO()
    document.save(out)
    assert len(read_docx(out.getvalue())[0]) == 1
    content = _repacked(out.getvalue(), "word/document.xml", b"<w:p/>" * (MAX_ELEMENTS + 1), b"</w:body>")
    assert len(content) < 200_000  # small as sent; ~6 MB unpacked, well under the 64 MB cap
    with _quick(), pytest.raises(FileProblem) as refused:
        read_docx(content)
    assert "elements" in _reasons(refused.value)


def test_data_below_the_row_bound_is_refused_while_reading(plan: Plan) -> None:
    workbook = _stats_sheet(plan)
    workbook["填报"].cell(MAX_ROWS + 2, _column(VALUE)).value = 1
    with pytest.raises(FileProblem) as refused:
        read_table(_save(workbook), "t.xlsx")
    assert f"more than {MAX_ROWS} data rows" in _reasons(refused.value)
    workbook["填报"].cell(MAX_ROWS + 2, _column(VALUE)).value = None
    workbook["填报"].cell(MAX_ROWS + 1, _column(VALUE)).value = 1  # the last row allowed
    assert len(read_table(_save(workbook), "t.xlsx").rows) == MAX_ROWS
