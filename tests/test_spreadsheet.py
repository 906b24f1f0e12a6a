"""Fill-in sheets: template → filled by a department → events; bad files are refused whole, every bad cell named."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from uuid import NAMESPACE_URL, uuid5
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from events.models import IndicatorUpdated, InvestmentCompleted, ProjectCompleted, ProjectStarted
from events.plan import Indicator, Plan
from services.app import load_plan
from services.demo import EXAMPLES, SEED_PLAN
from services.spreadsheet import RowError, SheetImport, SheetRejected, parse_sheet, sheet_plan_id, write_template
from services.spreadsheet.layout import ASSESSMENT, COLUMNS, CSV_COLUMNS, SUBJECT

SHANGHAI = ZoneInfo("Asia/Shanghai")
HITECH_INDICATORS = ["new-industrial-projects", "industrial-in-production"]
STATS_INDICATORS = ["gdp", "industry-va", "fai", "retail", "income", "private-investment"]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(SEED_PLAN)


# ---- helpers ------------------------------------------------------------------------------


def _open(content: bytes) -> Workbook:
    return load_workbook(io.BytesIO(content))


def _save(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _row_of(sheet: Worksheet, subject: str) -> int:
    column = COLUMNS.index("编号") + 1
    return next(r for r in range(2, sheet.max_row + 1) if sheet.cell(row=r, column=column).value == subject)


def _fill(sheet: Worksheet, row_subject: str, **values: object) -> int:
    """Set cells of the row for `row_subject` by short name (None empties a cell); returns the row number."""
    row = _row_of(sheet, row_subject)
    for header, value in values.items():
        sheet.cell(row=row, column=COLUMNS.index(_HEADER[header]) + 1).value = value
    return row


_HEADER = {
    "kind": "分类",
    "subject": "编号",
    "period": "报告期",
    "value": "本期累计值",
    "started": "开工日期",
    "investment": "本期完成投资（万元）",
    "completed": "建成投产日期",
    "note": "备注",
}


def _hitech_filled(plan: Plan) -> bytes:
    workbook = _open(write_template(plan, "hitech", "2025-12"))
    sheet = workbook["填报"]
    _fill(sheet, "new-industrial-projects", value=46)
    _fill(sheet, "industrial-in-production", value="23.50", note="含3个技改项目")
    _fill(sheet, "kp-003", started=date(2025, 3, 18), investment=1250.5)
    _fill(sheet, "kp-001", completed="2025-05-28")
    return _save(workbook)


def _csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _csv_bytes(rows: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def _rejected(content: bytes, filename: str, plan: Plan, department: str | None = None) -> SheetRejected:
    with pytest.raises(SheetRejected) as info:
        parse_sheet(content, filename, plan, department)
    return info.value


def _where(rejected: SheetRejected) -> set[tuple[int, str]]:
    return {(e.row, e.column) for e in rejected.errors}


# ---- template -----------------------------------------------------------------------------


def test_xlsx_template_lists_what_the_department_owns_in_plan_order(plan: Plan) -> None:
    workbook = _open(write_template(plan, "hitech", "2025-12"))  # December: its annual indicators are due
    assert workbook.sheetnames == ["填报", "说明"]
    sheet = workbook["填报"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(COLUMNS)
    projects = [p.id for p in plan.projects if p.department == "hitech"]
    assert [r[1] for r in rows[1:]] == HITECH_INDICATORS + projects
    assert [r[0] for r in rows[1:]] == ["指标"] * 2 + ["项目"] * len(projects)
    assert rows[1][2:6] == ("新开工工业项目", "个", "新开工工业项目80个", "2025")  # the period it reports
    kp001 = rows[1 + 2]
    assert kp001[1:6] == ("kp-001", "渝乐电子", "万元", "1.5亿元", "2025-12")
    assert all(value is None for r in rows[1:] for value in r[6:])  # nothing pre-filled to report
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.column_dimensions["C"].width > sheet.column_dimensions["A"].width  # names are wide


def test_xlsx_template_formats_input_cells_for_numbers_and_dates(plan: Plan) -> None:
    sheet = _open(write_template(plan, "hitech", "2025-12"))["填报"]
    row = _row_of(sheet, "kp-001")
    formats = {header: sheet.cell(row=row, column=i + 1).number_format for i, header in enumerate(COLUMNS)}
    assert formats["开工日期"] == formats["建成投产日期"] == "yyyy-mm-dd"
    assert formats["本期完成投资（万元）"] == "#,##0.00"
    assert formats["报告期"] == "@"  # text, so Excel keeps 2025-12 as typed


def test_xlsx_template_carries_plan_department_and_period(plan: Plan) -> None:
    workbook = _open(write_template(plan, "stats", "2025-Q2"))
    info = {row[0]: row[1] for row in workbook["说明"].iter_rows(values_only=True) if row and row[0]}
    assert info["计划编号"] == "rongchang-2025"
    assert info["计划名称"] == plan.name
    assert info["部门编号"] == "stats"
    assert info["部门名称"] == "区统计局"
    assert info["报告期"] == "2025-Q2"
    text = "".join(str(v) for row in workbook["说明"].iter_rows(values_only=True) for v in row if v)
    for rule in ("累计", "万元", "2025/3/15", "下降12.3%", "亿元", "请勿修改编号、报告期"):
        assert rule in text
    props = {p.name: p.value for p in workbook.custom_doc_props}
    assert props == {"planwatch.plan": "rongchang-2025", "planwatch.department": "stats", "planwatch.period": "2025-Q2"}


def test_csv_template_has_bom_metadata_columns_and_one_row_per_subject(plan: Plan) -> None:
    content = write_template(plan, "stats", "2025-Q2", "csv")
    assert content.startswith(b"\xef\xbb\xbf")
    rows = _csv_rows(content)
    assert rows[0] == list(CSV_COLUMNS)
    assert [r[3] for r in rows[1:]] == STATS_INDICATORS
    assert {(r[0], r[1], r[7]) for r in rows[1:]} == {("rongchang-2025", "stats", "2025-Q2")}
    assert rows[1][:8] == ["rongchang-2025", "stats", "指标", "gdp", "地区生产总值", "%", "6.5%左右", "2025-Q2"]


@pytest.mark.parametrize(
    ("department", "period", "fmt", "message"),
    [
        ("nobody", "2025-12", "xlsx", "not in plan"),
        ("stats", "2025-13", "xlsx", "month must be 01..12"),
        ("stats", "July", "csv", "is not one of YYYY-MM"),
        ("stats", "2024-12", "xlsx", "outside the plan year"),
        ("stats", "2025-12", "ods", "not one of xlsx, csv"),
    ],
)
def test_template_refuses_bad_requests(plan: Plan, department: str, period: str, fmt: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_template(plan, department, period, fmt)  # type: ignore[arg-type]


def test_template_refuses_a_department_that_owns_nothing(plan: Plan) -> None:
    idle = plan.model_copy(
        update={"departments": (*plan.departments, plan.departments[0].model_copy(update={"id": "idle"}))}
    )
    with pytest.raises(ValueError, match="owns no indicator due in 2025-12 and no project"):
        write_template(idle, "idle", "2025-12")


# ---- round trips --------------------------------------------------------------------------


def test_xlsx_round_trip_gives_the_reported_events(plan: Plan) -> None:
    result = parse_sheet(_hitech_filled(plan), "hitech-2025-12.xlsx", plan)
    assert isinstance(result, SheetImport)
    assert (result.plan_id, result.department, result.periods) == ("rongchang-2025", "hitech", ("2025-12", "2025"))
    assert result.rows == 2 + len([p for p in plan.projects if p.department == "hitech"])
    got = [(e.type, e.subject, e.period) for e in result.events]
    assert got == [
        ("indicator.updated", "new-industrial-projects", "2025"),  # an annual indicator reports the year
        ("indicator.updated", "industrial-in-production", "2025"),
        ("project.completed", "kp-001", "2025-05"),  # file order: kp-001's row comes first
        ("project.started", "kp-003", "2025-03"),
        ("investment.completed", "kp-003", "2025-12"),
    ]
    new, in_production, completed, started, invested = result.events
    assert all(e.department == "hitech" and e.plan_id == "rongchang-2025" for e in result.events)
    assert isinstance(new, IndicatorUpdated) and new.value == Decimal(46) and new.qualifier == "exact"
    assert isinstance(in_production, IndicatorUpdated)
    assert str(in_production.value) == "23.5" and in_production.note == "含3个技改项目"
    assert isinstance(started, ProjectStarted) and started.started_on == date(2025, 3, 18)
    assert isinstance(invested, InvestmentCompleted) and str(invested.amount_wan) == "1250.5"
    assert isinstance(completed, ProjectCompleted) and completed.completed_on == date(2025, 5, 28)
    # Times come from the periods and dates, in the plan's zone, never from the clock.
    assert new.occurred_at == datetime(2025, 12, 31, 18, 0, tzinfo=SHANGHAI)
    assert invested.occurred_at == datetime(2025, 12, 31, 18, 0, tzinfo=SHANGHAI)
    assert started.occurred_at == datetime.combine(date(2025, 3, 18), time(9), tzinfo=SHANGHAI)
    assert completed.occurred_at.utcoffset().total_seconds() == 8 * 3600


def test_event_ids_follow_the_documented_recipe(plan: Plan) -> None:
    events = {(e.type, e.subject): e for e in parse_sheet(_hitech_filled(plan), "f.xlsx", plan).events}
    base = "planwatch-import/rongchang-2025/hitech"
    assert events["indicator.updated", "new-industrial-projects"].event_id == uuid5(
        NAMESPACE_URL, f"{base}/indicator.updated/new-industrial-projects/2025/46"
    )
    assert events["project.started", "kp-003"].event_id == uuid5(
        NAMESPACE_URL, f"{base}/project.started/kp-003/2025-03/2025-03-18"
    )
    assert events["investment.completed", "kp-003"].event_id == uuid5(
        NAMESPACE_URL, f"{base}/investment.completed/kp-003/2025-12/1250.5"
    )


def test_same_file_twice_gives_identical_events(plan: Plan) -> None:
    content = _hitech_filled(plan)
    first = parse_sheet(content, "a.xlsx", plan)
    again = parse_sheet(content, "a.xlsx", plan, department="hitech")
    resaved = parse_sheet(_save(_open(content)), "b.xlsx", plan)  # opened and saved again, as Excel would
    assert first.events == again.events == resaved.events
    assert len({e.event_id for e in first.events}) == len(first.events) == 5


def test_a_changed_value_or_note_is_a_new_event(plan: Plan) -> None:
    def indicator_ids(**fill: object) -> set:
        workbook = _open(write_template(plan, "hitech", "2025-12"))
        _fill(workbook["填报"], "new-industrial-projects", **fill)
        return {e.event_id for e in parse_sheet(_save(workbook), "f.xlsx", plan).events}

    plain = indicator_ids(value=46)
    assert indicator_ids(value="46.0") == plain  # the same number spelled differently
    assert indicator_ids(value=47) != plain
    assert indicator_ids(value=46, note="初步数") != plain


def test_csv_round_trip(plan: Plan) -> None:
    rows = _csv_rows(write_template(plan, "stats", "2025-Q2", "csv"))
    value = CSV_COLUMNS.index("本期累计值")
    rows[1][value] = "5.5"
    rows[3][value] = " 12.90 "
    rows[4][CSV_COLUMNS.index("备注")] = "快报数"  # a note without a value: nothing to report
    result = parse_sheet(_csv_bytes(rows), "stats.csv", plan)
    assert result.department == "stats" and result.rows == 6 and result.periods == ("2025-Q2",)
    assert [(e.subject, e.period, str(e.value)) for e in result.events] == [
        ("gdp", "2025-Q2", "5.5"),
        ("fai", "2025-Q2", "12.9"),
    ]
    assert result.events[0].occurred_at == datetime(2025, 6, 30, 18, 0, tzinfo=SHANGHAI)
    assert parse_sheet(_csv_bytes(rows), "stats.csv", plan, department="stats").events == result.events


def test_csv_saved_by_chinese_excel_in_gbk_is_read(plan: Plan) -> None:
    rows = _csv_rows(write_template(plan, "stats", "2025-Q2", "csv"))
    rows[1][CSV_COLUMNS.index("本期累计值")] = "5.5"
    result = parse_sheet(_csv_bytes(rows, encoding="gbk"), "stats.csv", plan)
    assert [(e.subject, str(e.value)) for e in result.events] == [("gdp", "5.5")]


def test_thousands_separators_and_percent_text_are_numbers(plan: Plan) -> None:
    rows = _csv_rows(write_template(plan, "econ", "2025-12", "csv"))
    by_subject = {r[3]: r for r in rows[1:]}
    by_subject["shuangchang-procurement"][CSV_COLUMNS.index("本期累计值")] = "41,234.5"
    by_subject["industrial-investment"][CSV_COLUMNS.index("本期累计值")] = "28.7%"
    by_subject["kp-059"][CSV_COLUMNS.index("本期完成投资（万元）")] = "1,200"
    events = parse_sheet(_csv_bytes(rows), "econ.csv", plan).events
    assert {(e.subject, str(getattr(e, "value", getattr(e, "amount_wan", None)))) for e in events} == {
        ("shuangchang-procurement", "41234.5"),
        ("industrial-investment", "28.7"),
        ("kp-059", "1200"),
    }


def test_excel_percentage_cell_means_the_percentage_shown(plan: Plan) -> None:
    workbook = _open(write_template(plan, "econ", "2025-12"))
    sheet = workbook["填报"]
    row = _fill(sheet, "industrial-investment", value=0.287)
    sheet.cell(row=row, column=COLUMNS.index("本期累计值") + 1).number_format = "0.0%"
    [event] = parse_sheet(_save(workbook), "econ.xlsx", plan).events
    assert str(event.value) == "28.7"

    row = _fill(sheet, "new-above-scale", value=0.5)  # 家, not %: a percentage makes no sense
    sheet.cell(row=row, column=COLUMNS.index("本期累计值") + 1).number_format = "0%"
    assert _where(_rejected(_save(workbook), "econ.xlsx", plan)) == {(row, "本期累计值")}


def test_blank_rows_are_skipped_and_row_numbers_stay_true(plan: Plan) -> None:
    workbook = _open(write_template(plan, "stats", "2025-12"))
    sheet = workbook["填报"]
    sheet.insert_rows(3, amount=2)  # two empty rows after gdp
    sheet.append([])
    _fill(sheet, "industry-va", value=8.1)
    bad = _fill(sheet, "retail", value="n/a")
    assert bad == 7  # header, gdp, 2 blanks, industry-va, fai, retail
    assert _where(_rejected(_save(workbook), "s.xlsx", plan)) == {(7, "本期累计值")}
    _fill(sheet, "retail", value=None)
    result = parse_sheet(_save(workbook), "s.xlsx", plan)
    assert result.rows == 6
    assert [e.subject for e in result.events] == ["industry-va"]


def test_untouched_template_imports_nothing(plan: Plan) -> None:
    result = parse_sheet(write_template(plan, "hitech", "2025-12"), "t.xlsx", plan)
    assert result.events == [] and result.rows == 16
    assert result.summary() == "16行，0条数据; 16 rows, 0 events"


def test_summary_counts_events_by_kind(plan: Plan) -> None:
    result = parse_sheet(_hitech_filled(plan), "f.xlsx", plan)
    assert result.summary() == (
        "16行，5条数据（指标2条，开工1条，投资1条，建成投产1条）; "
        "16 rows, 5 events (2 indicator values, 1 start, 1 investment, 1 completion)"
    )


def test_progress_reports_every_row_up_to_the_total(plan: Plan) -> None:
    calls: list[tuple[int, int]] = []
    parse_sheet(_hitech_filled(plan), "f.xlsx", plan, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(n, 16) for n in range(1, 17)]


def test_a_large_file_is_read_whole(plan: Plan) -> None:
    many = [
        Indicator(
            id=f"count-{n:04d}",
            name=f"指标{n}",
            unit="个",
            department="stats",
            frequency="monthly",
            order=n,
            section="测试",
            target="新增10个",
        )
        for n in range(1, 3001)
    ]
    big = plan.model_copy(update={"indicators": (*plan.indicators, *many)})
    workbook = _open(write_template(big, "stats", "2025-12"))
    sheet = workbook["填报"]
    value = COLUMNS.index("本期累计值") + 1
    for row in range(2, sheet.max_row + 1):
        sheet.cell(row=row, column=value, value=row)
    calls: list[tuple[int, int]] = []
    result = parse_sheet(_save(workbook), "big.xlsx", big, progress=lambda done, total: calls.append((done, total)))
    assert len(result.events) == result.rows == 3006
    assert calls[-1] == (3006, 3006) and [c[0] for c in calls] == list(range(1, 3007))
    assert result.events[-1].subject == "count-3000" and result.events[-1].value == Decimal(3007)


# ---- rejected files -----------------------------------------------------------------------


def test_every_bad_cell_is_listed_and_nothing_is_imported(plan: Plan) -> None:
    workbook = _open(write_template(plan, "hitech", "2025-12"))
    sheet = workbook["填报"]
    good = _fill(sheet, "kp-002", investment=300)  # fine on its own, still not imported
    bad_number = _fill(sheet, "new-industrial-projects", value="abc")
    unknown = _fill(sheet, "industrial-in-production", subject="no-such-thing", value=3)
    negative = _fill(sheet, "kp-001", investment=-5)
    bad_date = _fill(sheet, "kp-003", started="03/18/2025")  # day or month first: never guessed
    no_such_day = _fill(sheet, "kp-004", completed="2025-02-30")
    too_early = _fill(sheet, "kp-005", started=date(2019, 12, 31))
    others = _fill(sheet, "kp-029", kind="指标", subject="gdp", value=5.5)  # 统计局's indicator
    rejected = _rejected(_save(workbook), "hitech.xlsx", plan)
    assert _where(rejected) == {
        (bad_number, "本期累计值"),
        (unknown, "编号"),
        (negative, "本期完成投资（万元）"),
        (bad_date, "开工日期"),
        (no_such_day, "建成投产日期"),
        (too_early, "开工日期"),
        (others, "编号"),
    }
    assert good not in rejected.bad_rows
    assert rejected.bad_rows == sorted([bad_number, unknown, negative, bad_date, no_such_day, too_early, others])
    assert str(rejected) == "hitech.xlsx: 7行有错误，未导入任何数据 (7 rows with errors; nothing imported)"
    messages = [str(e) for e in rejected.errors]
    assert (
        f"第{bad_number}行「本期累计值」'abc'：不是有效的数字，可填写如1,234.5或-12.3 "
        f"(row {bad_number}, 本期累计值: not a number; write it like 1,234.5 or -12.3)" in messages
    )
    owned = next(e for e in rejected.errors if e.row == others)
    assert "区统计局" in owned.reason_zh and "'stats'" in owned.reason
    assert all(e.reason and e.reason_zh for e in rejected.errors)


@pytest.mark.parametrize(
    ("cell", "text", "reason"),
    [
        ("本期累计值", "NaN", "not a number"),
        ("本期累计值", "inf", "not a number"),
        ("本期累计值", "1,2,3", "not a number"),
        ("本期累计值", "1.2.3", "not a number"),
        ("本期累计值", "", None),
        ("本期累计值", "-1,234.5", None),
    ],
)
def test_number_text_is_checked(plan: Plan, cell: str, text: str, reason: str | None) -> None:
    rows = _csv_rows(write_template(plan, "stats", "2025-12", "csv"))
    rows[2][CSV_COLUMNS.index(cell)] = text
    if reason is None:  # accepted: a blank cell reports nothing, a number is read as written
        subject = rows[2][CSV_COLUMNS.index(SUBJECT)]
        values = [e.value for e in parse_sheet(_csv_bytes(rows), "s.csv", plan).events if e.subject == subject]
        assert values == ([] if text == "" else [Decimal(text.replace(",", ""))])
        return
    [error] = _rejected(_csv_bytes(rows), "s.csv", plan).errors
    assert (error.row, error.column, error.value) == (3, cell, text)
    assert error.reason.split(";")[0] == reason and "write it like" in error.reason  # with a form that is read


@pytest.mark.parametrize(
    ("day", "accepted"),
    [("2020-01-01", True), ("2019-12-31", False), ("2026-12-31", True), ("2027-01-01", False), ("2025-3-18", True)],
)
def test_dates_outside_the_plausible_years_are_refused(plan: Plan, day: str, accepted: bool) -> None:
    rows = _csv_rows(write_template(plan, "edu", "2025-12", "csv"))
    rows[1][CSV_COLUMNS.index("开工日期")] = day
    if accepted:
        [event] = parse_sheet(_csv_bytes(rows), "edu.csv", plan).events
        started = date(*map(int, day.split("-")))
        assert event.started_on == started and event.period == started.strftime("%Y-%m")
    else:
        assert _where(_rejected(_csv_bytes(rows), "edu.csv", plan)) == {(2, "开工日期")}


def test_cells_that_do_not_belong_on_the_row_are_refused(plan: Plan) -> None:
    rows = _csv_rows(write_template(plan, "econ", "2025-H2", "csv"))  # its annual indicators report at H2's end
    by_subject = {r[3]: (number, r) for number, r in enumerate(rows[1:], start=2)}
    column = CSV_COLUMNS.index
    indicator_row, indicator = by_subject["new-above-scale"]
    indicator[column("开工日期")] = "2025-03-01"
    project_row, project = by_subject["kp-041"]
    project[column("本期累计值")] = "3"
    quarter_row, quarter = by_subject["kp-059"]
    quarter[column("本期完成投资（万元）")] = "100"  # investment is monthly; this file is for a half
    kind_row, kind = by_subject["smart-upgrades"]
    kind[column("分类")] = "任务"
    kind[column("本期累计值")] = "10"
    wrong_kind_row, wrong_kind = by_subject["industrial-investment"]
    wrong_kind[column("分类")] = "项目"
    wrong_kind[column("开工日期")] = "2025-03-01"
    assert _where(_rejected(_csv_bytes(rows), "econ.csv", plan)) == {
        (indicator_row, "开工日期"),
        (project_row, "本期累计值"),
        (quarter_row, "本期完成投资（万元）"),
        (kind_row, "分类"),
        (wrong_kind_row, "编号"),
    }


def test_two_rows_reporting_different_values_for_one_thing_conflict(plan: Plan) -> None:
    rows = _csv_rows(write_template(plan, "stats", "2025-12", "csv"))
    rows[1][CSV_COLUMNS.index("本期累计值")] = "5.5"
    rows.append(list(rows[1]))  # the same report twice: one event
    assert [e.subject for e in parse_sheet(_csv_bytes(rows), "s.csv", plan).events] == ["gdp"]
    rows[-1][CSV_COLUMNS.index("本期累计值")] = "5.6"
    [error] = _rejected(_csv_bytes(rows), "s.csv", plan).errors
    assert (error.row, error.column) == (len(rows), "本期累计值") and "第2行" in error.reason_zh


def test_completion_before_start_is_refused(plan: Plan) -> None:
    rows = _csv_rows(write_template(plan, "edu", "2025-12", "csv"))
    rows[1][CSV_COLUMNS.index("开工日期")] = "2025-03-01"
    rows[1][CSV_COLUMNS.index("建成投产日期")] = "2025-02-28"
    assert _where(_rejected(_csv_bytes(rows), "edu.csv", plan)) == {(2, "建成投产日期")}


def test_wrong_plan_is_refused_before_any_row(plan: Plan) -> None:
    other = plan.model_copy(update={"id": "other-2025"})
    [error] = _rejected(write_template(other, "stats", "2025-12"), "s.xlsx", plan).errors
    assert (error.row, error.column, error.value) == (0, "计划", "other-2025")
    assert "rongchang-2025" in error.reason
    [error] = _rejected(write_template(other, "stats", "2025-12", "csv"), "s.csv", plan).errors
    assert (error.row, error.column, error.value) == (0, "计划", "other-2025")


def test_edited_info_sheet_is_refused(plan: Plan) -> None:
    workbook = _open(write_template(plan, "stats", "2025-12"))
    info = workbook["说明"]
    cell = next(row[1] for row in info.iter_rows() if row[0].value == "部门编号")
    cell.value = "hitech"
    assert _where(_rejected(_save(workbook), "s.xlsx", plan)) == {(0, "说明")}


def test_info_sheet_alone_is_enough_when_properties_are_lost(plan: Plan) -> None:
    workbook = _open(write_template(plan, "stats", "2025-12"))
    workbook.custom_doc_props.props.clear()  # some tools drop custom properties on save
    _fill(workbook["填报"], "gdp", value=5.4)
    result = parse_sheet(_save(workbook), "s.xlsx", plan)
    assert result.department == "stats" and [e.subject for e in result.events] == ["gdp"]


def test_department_mismatch_is_refused(plan: Plan) -> None:
    content = _hitech_filled(plan)
    [error] = _rejected(content, "f.xlsx", plan, department="stats").errors
    assert (error.row, error.column, error.value) == (0, "部门", "hitech")
    assert "荣昌高新区管委会" in error.reason_zh
    rows = _csv_rows(write_template(plan, "stats", "2025-12", "csv"))
    [error] = _rejected(_csv_bytes(rows), "s.csv", plan, department="hitech").errors
    assert (error.row, error.column, error.value) == (0, "部门", "stats")


def test_a_row_copied_from_another_departments_csv_is_refused(plan: Plan) -> None:
    rows = _csv_rows(write_template(plan, "stats", "2025-12", "csv"))
    foreign = _csv_rows(write_template(plan, "finance", "2025-12", "csv"))[1]
    foreign[CSV_COLUMNS.index("本期累计值")] = "2.5"
    rows.append(foreign)
    assert _where(_rejected(_csv_bytes(rows), "s.csv", plan, department="stats")) == {
        (len(rows), "部门"),
        (len(rows), "编号"),
    }


def test_file_problems_are_reported_as_such(plan: Plan) -> None:
    [error] = _rejected(b"anything", "report.pdf", plan).errors
    assert (error.row, error.column) == (0, "文件")
    [error] = _rejected(b"PK\x03\x04 not really a zip", "report.xlsx", plan).errors
    assert (error.row, error.column) == (0, "文件") and "xlsx" in error.reason
    rows = _csv_rows(write_template(plan, "stats", "2025-12", "csv"))
    without_period = [[v for i, v in enumerate(r) if i != CSV_COLUMNS.index("报告期")] for r in rows]
    [error] = _rejected(_csv_bytes(without_period), "s.csv", plan).errors
    assert (error.row, error.column, error.reason_zh) == (1, "报告期", "缺少此列")
    assert "文件本身有1处问题" in str(_rejected(_csv_bytes(without_period), "s.csv", plan))


def _patch_sheet(content: bytes, patch: Callable[[str], str]) -> bytes:
    """Edit the 填报 sheet's XML: what Excel writes that openpyxl cannot (stored formula results, damage)."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, patch(data.decode()) if name == "xl/worksheets/sheet1.xml" else data)
    return out.getvalue()


def test_formula_results_stored_by_excel_are_used(plan: Plan) -> None:
    workbook = _open(write_template(plan, "stats", "2025-12"))
    _fill(workbook["填报"], "gdp", value="=5+0.5")
    # openpyxl writes the empty result as <v /> or, with lxml installed, <v></v>
    stored = re.compile(r"<f>5\+0\.5</f><v\s*/>|<f>5\+0\.5</f><v></v>")
    content = _patch_sheet(_save(workbook), lambda xml: stored.sub("<f>5+0.5</f><v>5.5</v>", xml))
    [event] = parse_sheet(content, "s.xlsx", plan).events
    assert (event.subject, str(event.value)) == ("gdp", "5.5")


def test_damaged_sheet_is_an_unreadable_file(plan: Plan) -> None:
    content = _patch_sheet(write_template(plan, "stats", "2025-12"), lambda xml: xml[: len(xml) // 2])
    [error] = _rejected(content, "s.xlsx", plan).errors
    assert (error.row, error.column, error.reason) == (0, "文件", "not a readable .xlsx file")


def test_formula_without_a_stored_result_is_refused(plan: Plan) -> None:
    workbook = _open(write_template(plan, "stats", "2025-12"))
    row = _fill(workbook["填报"], "gdp", value="=5+0.5")  # openpyxl stores no result; Excel would
    [error] = _rejected(_save(workbook), "s.xlsx", plan).errors
    assert (error.row, error.column, error.value) == (row, "本期累计值", "=5+0.5")
    assert "公式" in error.reason_zh


def test_row_error_reads_in_chinese_and_english() -> None:
    error = RowError(5, "本期累计值", "abc", "not a number", "不是有效的数字")
    assert str(error) == "第5行「本期累计值」'abc'：不是有效的数字 (row 5, 本期累计值: not a number)"
    assert (
        str(RowError(0, "计划", "x", "wrong plan", "计划不符")) == "文件「计划」'x'：计划不符 (row 0, 计划: wrong plan)"
    )
    assert error.as_dict()["row"] == 5


def test_sheet_plan_id_names_the_plan_before_parsing(plan: Plan) -> None:
    assert sheet_plan_id(write_template(plan, "stats", "2025-12"), "s.xlsx") == "rongchang-2025"
    assert sheet_plan_id(write_template(plan, "stats", "2025-12", "csv"), "s.csv") == "rongchang-2025"
    other = plan.model_copy(update={"id": "other-2025"})
    assert sheet_plan_id(write_template(other, "stats", "2025-12"), "s.XLSX") == "other-2025"
    assert sheet_plan_id(b"not a workbook", "s.xlsx") is None
    assert sheet_plan_id(b"\xef\xbb\xbf\xe5\x88\x86\xe7\xb1\xbb\n", "s.csv") is None  # no 计划 column


# ---- qualitative targets: the assessment ----------------------------------------------------


def test_a_qualitative_target_is_assessed_in_its_own_column_with_a_dropdown(plan: Plan) -> None:
    workbook = _open(write_template(plan, "eco", "2025-12"))
    sheet = workbook["填报"]
    column = COLUMNS.index(ASSESSMENT) + 1
    water, days = _row_of(sheet, "water-quality"), _row_of(sheet, "good-air-days")
    assert not sheet.cell(row=water, column=column).protection.locked  # white: to fill in
    assert sheet.cell(row=days, column=column).protection.locked  # a number's row: locked
    [rule] = [v for v in sheet.data_validations.dataValidation if v.formula1 == '"完成,未完成"']
    assert f"{get_column_letter(column)}{water}" in str(rule.sqref)
    sheet.cell(row=water, column=COLUMNS.index("本期累计值") + 1).value = 3
    sheet.cell(row=water, column=column).value = "未完成"
    result = parse_sheet(_save(workbook), "eco-2025-12.xlsx", plan)
    assert isinstance(result, SheetImport)
    [event] = [e for e in result.events if e.subject == "water-quality"]
    assert isinstance(event, IndicatorUpdated) and (event.value, event.assessment) == (Decimal(3), "not_met")
    again = _open(_save(workbook))
    again["填报"].cell(row=water, column=column).value = "完成"
    changed = parse_sheet(_save(again), "eco-2025-12.xlsx", plan)
    assert isinstance(changed, SheetImport)
    [revised] = [e for e in changed.events if e.subject == "water-quality"]
    assert isinstance(revised, IndicatorUpdated) and revised.assessment == "met"
    assert revised.event_id != event.event_id  # a changed assessment is a new report


@pytest.mark.parametrize(
    ("subject", "value", "word", "column", "reason"),
    [
        ("good-air-days", 150, "完成", "考核结论", "不是定性目标"),  # a number's target is judged on the number
        ("water-quality", 3, "基本完成", "考核结论", "「完成」或「未完成」"),
        ("water-quality", None, "完成", "本期累计值", "请同时填写本期累计值"),  # not dropped unsaid
    ],
)
def test_an_assessment_where_none_belongs_or_not_a_verdict_is_refused(
    plan: Plan, subject: str, value: object, word: str, column: str, reason: str
) -> None:
    workbook = _open(write_template(plan, "eco", "2025-12"))
    sheet = workbook["填报"]
    row = _row_of(sheet, subject)
    sheet.cell(row=row, column=COLUMNS.index("本期累计值") + 1).value = value
    sheet.cell(row=row, column=COLUMNS.index(ASSESSMENT) + 1).value = word
    rejected = _rejected(_save(workbook), "eco-2025-12.xlsx", plan)
    [error] = rejected.errors
    assert (error.row, error.column) == (row, column) and reason in error.reason_zh


def test_a_growth_rate_without_its_level_is_refused_not_dropped() -> None:
    level_growth = load_plan(EXAMPLES / "level-growth-2025.yaml")
    workbook = _open(write_template(level_growth, "stats", "2025-06"))
    sheet = workbook["填报"]
    row = _row_of(sheet, "gdp")
    sheet.cell(row=row, column=COLUMNS.index("同比增长（%）") + 1).value = 5.1
    [error] = _rejected(_save(workbook), "stats-2025-06.xlsx", level_growth).errors
    assert (error.row, error.column, error.reason_zh) == (row, "本期累计值", "请同时填写本期累计值")
