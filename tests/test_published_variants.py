"""`planwatch compare` on the seed report as other districts and months write theirs: the period
said otherwise, the table in other layouts and column orders, rows numbered otherwise or under
section headings, figures worded otherwise. Each variant reads the seed's rows and agrees with
planwatch's table, or is refused (or its rows named as unread) saying what is missing."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import docx
import pytest

from projections.readmodel import PlanSummary, plan_summary
from projections.reconcile import (
    UNREAD_ROW,
    PublishedReport,
    column_months,
    published_period,
    reconcile,
    same_cell,
)
from projections.report import build_report
from services.demo import load_seed
from services.projection import fold_log
from services.spreadsheet import FileProblem, read_published
from services.store import EventStore
from tests import seed_report
from tests.test_reconcile import report_plan

ROWS = seed_report.main_table()
HEADER = ("指标", "全年目标", "上半年完成", "与目标±")
PROSE = "\n（一）纵深推进成渝地区双城经济圈建设。一是推动交通互联互通。\n"


def _read(text: str, filename: str = "report.txt") -> PublishedReport:
    return read_published(text.encode(), filename)


def _cells(published: PublishedReport) -> list[tuple[str, str, str, str | None]]:
    return [(row.label, row.target, row.actual, row.deviation) for row in published.rows]


async def _summary(store: EventStore) -> PlanSummary:
    plan_id, _, _ = await load_seed(store)
    return plan_summary(build_report(await fold_log(store, plan_id)))  # as of 2025-06-30


def _seed_with(header: str) -> str:
    """The seed report with its figures' heading (上半年完成) written otherwise."""
    return seed_report.report_text().replace("\t上半年完成\n", f"\t{header}\n", 1)


# ---- the period ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "months"),
    [
        ("1—6月", 6),
        ("1-6月完成", 6),
        ("1至6月", 6),
        ("1月至6月", 6),
        ("一至六月", 6),
        ("上半年完成情况", 6),
        ("１－６月完成", 6),
        ("截至6月底完成", 6),
        ("1—9月", 9),
        ("前三季度", 9),
        ("前三季度完成", 9),
        ("一季度", 3),
        ("1—3月累计", 3),
    ],
)
def test_the_figures_column_headed_by_its_months_in_any_wording_reads(heading: str, months: int) -> None:
    published = _read(_seed_with(heading))
    assert column_months(published.column) == months, published.column
    assert _cells(published) == ROWS and not published.unread
    assert published.caption == "2025年上半年国民经济和社会发展主要计划目标完成情况"


@pytest.mark.parametrize("heading", ["上半年目标", "去年同期", "全年预计"])
def test_a_column_of_months_that_is_not_the_figures_is_passed_over(heading: str) -> None:
    text = f"指标\t全年目标\t{heading}\t上半年完成\t与目标±\n"
    text += "\n".join(f"{a}\t{b}\t9.9%\t{c}\t{d}" for a, b, c, d in ROWS)
    published = _read(text)
    assert published.column == "上半年完成" and _cells(published) == ROWS


def test_a_column_that_names_no_months_takes_them_from_the_tables_title() -> None:
    text = "2025年1—9月主要经济指标完成情况\n指标\t全年目标\t完成\t与目标±\n"
    text += "\n".join("\t".join(row) for row in ROWS)
    published = _read(text)
    assert published.column == "完成" and published.caption == "2025年1—9月主要经济指标完成情况"
    assert published_period(published) == (9, 2025, "2025年1—9月主要经济指标完成情况")


async def test_compare_judges_as_of_the_months_the_report_names_or_as_of(
    store: EventStore, cli_env: dict[str, str], tmp_path: Path
) -> None:
    await load_seed(store)
    nine = tmp_path / "nine.txt"
    nine.write_text(_seed_with("1—9月完成"), encoding="utf-8")
    judged = _compare(cli_env, nine)
    assert "截至2025-09-30" in judged.stdout and "报告列：1—9月完成" in judged.stdout
    asked = _compare(cli_env, nine, "--as-of", "2025-06-30")  # --as-of overrides the report's months
    assert asked.returncode == 0 and "截至2025-06-30" in asked.stdout, asked.stdout
    titled = tmp_path / "titled.txt"  # the column says 完成 only: the title above the table says 上半年
    titled.write_text(_seed_with("完成"), encoding="utf-8")
    result = _compare(cli_env, titled)
    assert result.returncode == 0 and "截至2025-06-30" in result.stdout, result.stdout + result.stderr


async def test_a_report_that_says_no_months_or_another_year_is_refused(
    store: EventStore, cli_env: dict[str, str], tmp_path: Path
) -> None:
    await load_seed(store)
    untitled = tmp_path / "untitled.txt"
    untitled.write_text("指标\t全年目标\t完成\t与目标±\n" + "\n".join("\t".join(r) for r in ROWS), encoding="utf-8")
    refused = _compare(cli_env, untitled)
    assert refused.returncode == 2 and "does not say which months its figures cover" in refused.stderr
    assert _compare(cli_env, untitled, "--as-of", "2025-06-30").returncode == 0
    other_year = tmp_path / "2024.txt"
    other_year.write_text(
        seed_report.report_text().replace("2025年上半年国民经济和社会发展主要", "2024年上半年国民经济和社会发展主要"),
        encoding="utf-8",
    )
    assert "the report is of 2024, the plan rongchang-2025 of 2025" in _compare(cli_env, other_year).stderr


def _compare(cli_env: dict[str, str], report: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "services", "compare", str(report), "--plan", "rongchang-2025", *options]
    return subprocess.run(command, env=cli_env, capture_output=True, text=True)


# ---- the table's layout --------------------------------------------------------------------------


def _row_a_line(gap: str, rows: list[tuple[str, ...]] = ROWS, header: tuple[str, ...] = HEADER) -> str:
    return "2025年上半年主要指标完成情况\n" + "\n".join(gap.join(row) for row in [header, *rows]) + PROSE


def _reordered() -> str:
    header = ("序号", "指标", "单位", "全年目标", "与目标±", "1—6月", "责任单位", "备注")
    rows = [(str(n), a, "%", b, d, c, "区发展改革委", "") for n, (a, b, c, d) in enumerate(ROWS, 1)]
    return "\n".join("\t".join(row) for row in [header, *rows]) + PROSE


def _cell_a_line(blank_lines: bool, headings: bool) -> str:
    """The table as the seed pastes it from Word (a cell a line, tab-indented, a blank line after the
    header and each row), or with no blank lines; with section headings, alone on their lines."""
    blocks = [["指        标", "全年目标", "上半年完成", "与目标±"]]
    for number, row in enumerate(ROWS):
        if headings and number in (0, 6):
            blocks.append(["一、经济发展" if number == 0 else "二、民生改善"])
        blocks.append(list(row))
    joiner = "\n\n" if blank_lines else "\n"
    return "2025年上半年主要指标完成情况\n" + joiner.join("\n".join(f"\t{c}" for c in b) for b in blocks) + "\n" + PROSE


LAYOUTS: dict[str, Callable[[], str]] = {
    "row a line, tabs": lambda: _row_a_line("\t"),
    "row a line, 2+ spaces": lambda: _row_a_line("    "),
    "row a line, full-width spaces": lambda: _row_a_line("\u3000\u3000"),
    "row a line, spaced header word": lambda: _row_a_line("   ", header=("指   标", *HEADER[1:])),
    "markdown": lambda: "\n".join(
        ["上半年主要指标", "| **指标** | 全年目标 | 上半年完成 | 与目标± |", "|:---|---:|---:|---:|"]
        + [f"| {' | '.join(row)} |" for row in ROWS]
    ),
    "columns reordered, extra columns": _reordered,
    "cell a line, blank lines between rows, headings": lambda: _cell_a_line(True, True),
    "cell a line, no blank lines, headings": lambda: _cell_a_line(False, True),
    "row a line, headings": lambda: _row_a_line("\t", [*ROWS[:6], ("二、民生改善",), *ROWS[6:]]),
    "one-line header headed by months": lambda: _row_a_line("\t", header=("指标", "全年目标", "1—6月", "与目标±")),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_text_layout_reads_the_seeds_rows(layout: str) -> None:
    published = _read(LAYOUTS[layout](), "report.md" if layout == "markdown" else "report.txt")
    assert _cells(published) == ROWS and not published.unread
    assert column_months(published.column) == 6


def _docx(rows: list[list[str]], merges: Callable[[docx.table.Table], None] = lambda _: None) -> bytes:
    document = docx.Document()
    document.add_paragraph("2025年上半年国民经济和社会发展主要计划目标完成情况")
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    merges(table)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_word_table_with_完成情况_over_its_months_and_deviation_reads() -> None:
    def merge(table: docx.table.Table) -> None:
        table.cell(0, 2).merge(table.cell(0, 3)).text = "完成情况"
        for column in (0, 1, 4):
            text = table.cell(0, column).text
            table.cell(0, column).merge(table.cell(1, column)).text = text

    rows = [["指标", "全年目标", "完成情况", "", "备注"], ["", "", "1—6月", "与目标±", ""]]
    rows += [[*row, ""] for row in ROWS]
    published = read_published(_docx(rows, merge), "报告.docx")
    assert column_months(published.column) == 6 and _cells(published) == ROWS


def test_a_word_table_with_its_columns_reordered_units_apart_and_a_heading_row_reads() -> None:
    rows = [["序号", "指标名称", "单位", "与目标±（个百分点）", "1-6月（%）", "全年目标", "去年同期"]]
    rows += [["", "一、经济发展", "", "", "", "", ""]]
    bare = ROWS[:6]  # their figures written bare, the units in the header
    rows += [
        [str(n), a, "%", d.removesuffix("个百分点"), c.removesuffix("%"), b, "1.0"]
        for n, (a, b, c, d) in enumerate(bare, 1)
    ]
    published = read_published(_docx(rows), "报告.docx")
    assert published.column == "1-6月" and _cells(published) == bare


# ---- row labels and figures -----------------------------------------------------------------------

LABELS = [
    "1.地区生产总值",
    "1、地区生产总值",
    "（1）地区生产总值",
    "①地区生产总值",
    "１．地区生产总值",
    "地区 生产 总值",
    "地区生产总值（%）",
    "一、地区生产总值",
    "地区生产总值",
]
FIGURES = [  # (column index, as the seed prints it, as another report words it)
    (2, "5.5%", "增长5.5％"),
    (2, "5.5%", "同比增长5.50%"),
    (3, "-1.0个百分点", "低1.0个百分点"),
    (3, "-1.0个百分点", "回落1个百分点"),
    (3, "-1.0个百分点", "比目标低1.0个百分点"),
    (3, "-1.0个百分点", "未完成"),
    (3, "-1.0个百分点", "—1.0个百分点"),
]


async def test_labels_and_figures_worded_otherwise_agree(store: EventStore) -> None:
    summary = await _summary(store)
    for label in LABELS:
        rows = [(label, *ROWS[0][1:]), *ROWS[1:]]
        result = reconcile(summary, report_plan(), _read(_row_a_line("\t", rows)))
        assert result.agrees, (label, result)
    for index, seed, said in FIGURES:
        row = list(ROWS[0])
        assert row[index] == seed
        row[index] = said
        result = reconcile(summary, report_plan(), _read(_row_a_line("\t", [tuple(row), *ROWS[1:]])))
        assert result.agrees, (said, result.rows[0])
    done = [(*row[:3], "已完成" if row[3] == "完成" else row[3]) for row in ROWS]
    done[2] = (*done[2][:3], "达到目标")  # +4.9个百分点: the target reached
    assert reconcile(summary, report_plan(), _read(_row_a_line("\t", done))).agrees


@pytest.mark.parametrize(
    ("published", "computed"),
    [
        ("高1.0个百分点", "-1.0个百分点"),
        ("未完成", "完成"),
        ("已完成", "-1.0个百分点"),
        ("下降5.5%", "5.5%"),
        ("5.5", "5.5%"),
    ],
)
def test_figures_that_say_otherwise_still_differ(published: str, computed: str) -> None:
    assert not same_cell(published, computed)


# ---- what cannot be placed ------------------------------------------------------------------------


async def test_a_row_that_cannot_be_placed_is_named_never_guessed(store: EventStore) -> None:
    summary = await _summary(store)
    for text in (seed_report.report_text(), _cell_a_line(False, False)):  # blank lines between rows, or none
        published = _read(text.replace("\t-0.8个百分点\n", "", 1))  # row 7 has a cell too few
        assert [row.label for row in published.rows] == [row[0] for row in ROWS if not row[0].startswith("7")]
        [unread] = published.unread
        assert unread.text == "7﹒全体居民人均可支配收入增速｜高于GDP增速｜4.7%" and "3格，表头4列" in unread.reason
    result = reconcile(summary, report_plan(), published)
    assert not result.agrees and result.differences == 2  # the row unread, and its indicator not in the table
    [line] = [line for line in result.lines if line.what == UNREAD_ROW]
    assert line.published is not None and line.published.startswith(f"第{unread.line}行 7﹒全体居民")
    short = _row_a_line("\t", [*ROWS[:2], ROWS[2][:3], *ROWS[3:]])  # a line of three cells
    assert [row.line for row in _read(short).unread] == [5]


def test_a_table_whose_header_lacks_a_column_is_refused_naming_it() -> None:
    text = "指标\t上半年完成\t与目标±\n" + "\n".join("\t".join((a, c, d)) for a, _, c, d in ROWS)
    with pytest.raises(FileProblem) as info:
        _read(text)
    assert any("找不到「全年目标」列" in error.reason_zh for error in info.value.errors)
    with pytest.raises(FileProblem) as info:
        read_published(_docx([["指标", "全年目标", "备注"], list(ROWS[0][:3])]), "报告.docx")
    assert any("找不到「完成」列" in error.reason_zh for error in info.value.errors)
