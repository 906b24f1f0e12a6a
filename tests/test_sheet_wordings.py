"""What clerks really type into the fill-in sheet — worded changes, other minus signs, amounts
with their unit, dates in the common Chinese forms — and the template's own guard rails: only
the indicators due, Excel's number and date rules, a dropdown of notes, locked ids."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from events.plan import Plan
from services.app import load_plan
from services.demo import SEED_PLAN
from services.spreadsheet import SheetRejected, parse_sheet, write_template
from services.spreadsheet.layout import COLUMNS, CSV_COLUMNS, NOTE, STARTED, SUBJECT, VALUE

DEPARTMENT_OF = {"gdp": "stats", "knowledge-loans": "sci", "hitech-firms": "sci"}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(SEED_PLAN)


def _rows(plan: Plan, department: str, period: str) -> list[list[str]]:
    text = write_template(plan, department, period, "csv").decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def _bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _with_cell(plan: Plan, subject: str, column: str, text: str, department: str, period: str = "2025-12") -> bytes:
    rows = _rows(plan, department, period)
    [row] = [r for r in rows[1:] if r[CSV_COLUMNS.index(SUBJECT)] == subject]
    row[CSV_COLUMNS.index(column)] = text
    return _bytes(rows)


@pytest.mark.parametrize(
    ("subject", "text", "read"),
    [
        ("gdp", "同比下降2.5%", "-2.5"),
        ("gdp", "下降2.5", "-2.5"),
        ("gdp", "比上年增长6%", "6"),
        ("gdp", "增长 5.5 %", "5.5"),
        ("gdp", "−3.1", "-3.1"),  # U+2212, as word processors write it
        ("gdp", "－3.1％", "-3.1"),  # full width
        ("knowledge-loans", "1.2亿元", "12000"),  # a 万元 indicator
        ("knowledge-loans", "3,500万元", "3500"),
        ("knowledge-loans", "800000元", "80"),
        ("hitech-firms", "23家", "23"),
    ],
)
def test_worded_values_are_read_with_the_sign_and_unit_they_state(
    plan: Plan, subject: str, text: str, read: str
) -> None:
    content = _with_cell(plan, subject, VALUE, text, DEPARTMENT_OF[subject])
    [event] = parse_sheet(content, "s.csv", plan).events
    assert (event.subject, event.value) == (subject, Decimal(read))


@pytest.mark.parametrize(
    ("subject", "text", "reason", "hint_zh"),
    [
        ("gdp", "下降-2.5%", "both 下降 and a sign", "重复"),
        ("gdp", "12亿元", "an amount in 亿元, but the unit is %", "不能填写亿元金额"),
        ("knowledge-loans", "增长5%", "增长 states a change", "请填写数值本身"),
        ("knowledge-loans", "5%", "a percentage, but the unit is not %", "不是%"),
        ("hitech-firms", "3亿元", "an amount in 亿元, but the unit is 家", "单位为家"),
        ("gdp", "about 5", "not a number; write it like 5.5, -12.3 or 下降12.3%", "可填写如5.5、-12.3或下降12.3%"),
        ("knowledge-loans", "一千", "not a number; write it like 1,234.5 (in 万元) or 1.2亿元", "1.2亿元"),
    ],
)
def test_wordings_that_cannot_be_read_are_refused_with_a_form_that_is(
    plan: Plan, subject: str, text: str, reason: str, hint_zh: str
) -> None:
    with pytest.raises(SheetRejected) as refused:
        parse_sheet(_with_cell(plan, subject, VALUE, text, DEPARTMENT_OF[subject]), "s.csv", plan)
    [error] = refused.value.errors
    assert (error.column, error.value) == (VALUE, text)
    assert error.reason.startswith(reason) and hint_zh in error.reason_zh


def test_an_investment_in_yi_yuan_is_stored_in_wan_yuan(plan: Plan) -> None:
    content = _with_cell(plan, "kp-017", "本期完成投资（万元）", "0.15亿元", "edu")
    [event] = parse_sheet(content, "edu.csv", plan).events
    assert (event.type, event.subject, event.amount_wan) == ("investment.completed", "kp-017", Decimal(1500))


@pytest.mark.parametrize(
    "text", ["2025-07-15", "2025-7-15", "2025/7/15", "2025.7.15", "2025年7月15日", "2025年7月15", "20250715"]
)
def test_dates_in_the_common_forms_are_read(plan: Plan, text: str) -> None:
    [event] = parse_sheet(_with_cell(plan, "kp-017", STARTED, text, "edu"), "edu.csv", plan).events
    assert (event.type, event.started_on) == ("project.started", date(2025, 7, 15))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("15/07/2025", "not a date; write it like 2025-07-15"),  # day or month first: never guessed
        ("2025/7-15", "not a date; write it like 2025-07-15"),
        ("7月15日", "not a date; write it like 2025-07-15"),
        ("2025/2/30", "no such date"),
    ],
)
def test_dates_that_cannot_be_read_are_refused(plan: Plan, text: str, reason: str) -> None:
    with pytest.raises(SheetRejected) as refused:
        parse_sheet(_with_cell(plan, "kp-017", STARTED, text, "edu"), "edu.csv", plan)
    [error] = refused.value.errors
    assert (error.column, error.value) == (STARTED, text) and error.reason.startswith(reason)


@pytest.mark.parametrize(
    ("period", "due"),
    [
        ("2025-07", {"industry-va": "2025-07", "fai": "2025-07", "retail": "2025-07", "private-investment": "2025-07"}),
        (
            "2025-06",
            {
                "gdp": "2025-Q2",
                "industry-va": "2025-06",
                "fai": "2025-06",
                "retail": "2025-06",
                "income": "2025-Q2",
                "private-investment": "2025-06",
            },
        ),
    ],
)
def test_the_template_lists_the_indicators_due_with_the_period_each_reports(
    plan: Plan, period: str, due: dict[str, str]
) -> None:
    rows = _rows(plan, "stats", period)[1:]
    listed = {r[CSV_COLUMNS.index(SUBJECT)]: r[CSV_COLUMNS.index("报告期")] for r in rows}
    assert listed == due
    annual = {i.id for i in plan.indicators if i.department == "econ" and i.frequency == "annual"}
    in_december = {
        r[CSV_COLUMNS.index(SUBJECT)]: r[CSV_COLUMNS.index("报告期")] for r in _rows(plan, "econ", "2025-12")
    }
    assert annual and all(in_december[subject] == "2025" for subject in annual)
    assert not annual & {r[CSV_COLUMNS.index(SUBJECT)] for r in _rows(plan, "econ", "2025-11")}


def test_the_template_checks_numbers_and_dates_offers_notes_and_locks_the_ids(plan: Plan) -> None:
    sheet = load_workbook(io.BytesIO(write_template(plan, "econ", "2025-12")))["填报"]
    letter = {name: chr(ord("A") + COLUMNS.index(name)) for name in COLUMNS}
    row_of = {sheet.cell(row=r, column=2).value: r for r in range(2, sheet.max_row + 1)}
    indicator = next(r for subject, r in row_of.items() if not str(subject).startswith("kp-"))
    project = row_of["kp-041"]
    rules = sheet.data_validations.dataValidation

    def rule_for(cell: str):
        [rule] = [r for r in rules if cell in r.sqref]
        return rule

    value = rule_for(f"{letter[VALUE]}{indicator}")
    assert (value.type, value.errorStyle, value.showErrorMessage) == ("decimal", "warning", True)
    started = rule_for(f"{letter[STARTED]}{project}")
    assert (started.type, started.formula1, started.formula2) == ("date", "DATE(2020,1,1)", "DATE(2026,12,31)")
    notes = rule_for(f"{letter[NOTE]}{indicator}")
    assert notes.type == "list" and "快报数" in notes.formula1 and not notes.showErrorMessage  # free text too
    assert not [r for r in rules if f"{letter[VALUE]}{project}" in r.sqref]  # no number rule on a grey cell
    assert sheet.protection.sheet and not sheet.protection.autoFilter
    assert sheet[f"{letter[SUBJECT]}{indicator}"].protection.locked
    assert not sheet[f"{letter[VALUE]}{indicator}"].protection.locked
    assert not sheet[f"{letter[STARTED]}{project}"].protection.locked


def test_a_template_filled_with_wordings_imports_whole(plan: Plan) -> None:
    workbook = load_workbook(io.BytesIO(write_template(plan, "stats", "2025-06")))
    sheet = workbook["填报"]
    row_of = {sheet.cell(row=r, column=2).value: r for r in range(2, sheet.max_row + 1)}
    value = COLUMNS.index(VALUE) + 1
    sheet.cell(row=row_of["gdp"], column=value, value="同比增长5.3%")
    sheet.cell(row=row_of["retail"], column=value, value="下降1.2%")
    sheet.cell(row=row_of["fai"], column=value, value="−0.8")
    out = io.BytesIO()
    workbook.save(out)
    events = parse_sheet(out.getvalue(), "stats.xlsx", plan).events
    assert [(e.subject, e.period, str(e.value)) for e in events] == [
        ("gdp", "2025-Q2", "5.3"),
        ("fai", "2025-06", "-0.8"),
        ("retail", "2025-06", "-1.2"),
    ]


async def test_a_year_to_date_plans_sheet_asks_for_and_is_read_as_year_to_date(redis, keys, store) -> None:
    """A plan whose departments report investment 年初至今累计: its sheet says so, and May's 6,000
    then June's 7,000 make 7,000 for the half year, not 13,000."""
    from services.app import App, publish_plan
    from services.store import TokenStore
    from tests.test_reporting_basis import example_plan

    ytd = example_plan()
    assert ytd.investment_basis == "ytd"
    info = load_workbook(io.BytesIO(write_template(ytd, "econ", "2025-05")))["说明"]
    said = " ".join(str(c.value) for row in info.iter_rows() for c in row if c.value)
    assert "累计数" in said and "当月数" not in said
    seed_info = load_workbook(io.BytesIO(write_template(load_plan(SEED_PLAN), "econ", "2025-05")))["说明"]
    assert "当月数" in " ".join(str(c.value) for row in seed_info.iter_rows() for c in row if c.value)

    await publish_plan(store, ytd)
    _, caller = await TokenStore(redis, keys).create("department", "econ", plans=[ytd.id])
    app = App(redis, keys)
    for month, amount in (("2025-05", "6000"), ("2025-06", "7000")):
        rows = _rows(ytd, "econ", month)
        [row] = [r for r in rows[1:] if r[CSV_COLUMNS.index(SUBJECT)] == "yp-001"]
        row[CSV_COLUMNS.index("本期完成投资（万元）")] = amount
        await app.sheets.import_file(caller, _bytes(rows), f"econ-{month}.csv", ytd.id)
    project = await app.reports.project(ytd.id, "yp-001", as_of=date(2025, 6, 30))
    assert project.investment_wan == 7000
