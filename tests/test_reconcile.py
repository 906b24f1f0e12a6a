"""`planwatch compare`: a report the office published, checked against planwatch's table (对账).
The seed report, read from its own text, agrees with the table planwatch computes from the demo's
events row for row; a report that says otherwise is told where, cell by cell."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import docx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from events.planfile import parse_plan
from projections.readmodel import plan_summary
from projections.reconcile import PublishedReport, PublishedRow, column_months, named_indicator, reconcile
from projections.report import build_report
from services.demo import SEED_PLAN, load_seed
from services.projection import fold_log
from services.spreadsheet import FileProblem, read_published
from services.store import EventStore, Keyspace, TokenStore
from tests import seed_report
from tests.conftest import api_client
from tests.test_api import auth

SEED_TEXT = seed_report.REPORT.read_bytes()


def _compare(cli_env: dict[str, str], report: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "services", "compare", str(report), "--plan", "rongchang-2025", *options]
    return subprocess.run(command, env=cli_env, capture_output=True, text=True)


def test_the_seed_reports_table_and_sentences_are_read_from_its_text() -> None:
    published = read_published(SEED_TEXT, "report.txt")
    assert published.column == "上半年完成"
    assert [(r.label, r.target, r.actual, r.deviation) for r in published.rows] == seed_report.main_table()
    assert published.project_line is not None and seed_report.project_line() in published.project_line
    assert published.completed_line == seed_report.completed_line()
    assert published.missed == tuple(seed_report.missed_indicators())


async def test_the_seed_report_agrees_with_planwatch_row_for_row(store: EventStore, cli_env: dict[str, str]) -> None:
    await load_seed(store)
    result = _compare(cli_env, seed_report.REPORT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "主要指标表：10行中10行一致" in result.stdout and "结论：一致" in result.stdout
    assert "截至2025-06-30" in result.stdout  # the months its column names: 上半年完成
    assert "重点项目：一致（112个区级重点项目开工68个" in result.stdout
    assert (
        "未达到目标的指标：一致（地区生产总值、一般公共预算收入、进出口总额、全体居民人均可支配收入增速）"
        in result.stdout
    )


async def test_a_report_that_differs_is_told_where_and_the_command_fails(
    store: EventStore, cli_env: dict[str, str], tmp_path: Path
) -> None:
    await load_seed(store)
    text = seed_report.report_text()
    text = text.replace("-1.0个百分点", "-0.9个百分点", 1).replace("开工68个", "开工69个", 1)
    text = text.replace("10﹒万元GDP能耗", "10﹒万元GDP电耗", 1)  # a row no indicator of the plan names
    report = tmp_path / "report.txt"
    report.write_text(text, encoding="utf-8")
    result = _compare(cli_env, report)
    assert result.returncode == 1
    assert "✗ 1﹒地区生产总值（第21行） 与目标±：报告 -0.9个百分点，planwatch -1.0个百分点" in result.stdout
    assert "✗ 10﹒万元GDP电耗（第66行）：计划中没有此指标" in result.stdout
    assert "计划中的主要指标，报告表中没有：万元GDP能耗" in result.stdout
    assert "重点项目：✗ 报告 重点项目建设有序推进，112个区级重点项目开工69个" in result.stdout
    assert "结论：4处不一致" in result.stdout
    as_json = json.loads(_compare(cli_env, report, "--format", "json").stdout)
    assert as_json["agrees"] is False and as_json["differences"] == 4
    assert [row["indicator"] for row in as_json["rows"]][:2] == ["gdp", "industry-va"]


def _word_report(rows: list[list[str]], prose: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(prose)
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def test_a_word_report_is_checked_from_its_table_and_paragraphs(store: EventStore) -> None:
    plan_id, _, _ = await load_seed(store)
    report = build_report(await fold_log(store, plan_id))
    rows = [["指标", "单位", "全年目标", "1—6月完成", "与目标±"]]
    rows += [[label, "%", target, actual, deviation] for label, target, actual, deviation in seed_report.main_table()]
    prose = "全区" + seed_report.project_line() + "。" + seed_report.completed_line() + "。"
    published = read_published(_word_report(rows, prose), "报告.docx")
    assert column_months(published.column) == 6 and published.missed is None  # no sentence: not checked
    result = reconcile(plan_summary(report), report_plan(), published)
    assert result.agrees and result.rows_agreeing == 10
    assert [line.published is not None for line in result.lines] == [True, True, False]


def report_plan():  # the seed plan, as the reconciliation names its indicators
    return parse_plan(SEED_PLAN.read_text(encoding="utf-8"), str(SEED_PLAN))


async def test_a_missed_list_must_name_the_same_indicators_not_only_some(store: EventStore) -> None:
    plan_id, _, _ = await load_seed(store)
    summary = plan_summary(build_report(await fold_log(store, plan_id)))
    rows = tuple(PublishedRow(*row, line=n) for n, row in enumerate(seed_report.main_table(), start=2))
    fewer = PublishedReport("上半年完成", rows, missed=("进出口总额增速", "地区生产总值"))
    [*_, missed] = reconcile(summary, report_plan(), fewer).lines
    assert not missed.agrees and missed.published == "地区生产总值、进出口总额"
    reordered = PublishedReport(
        "上半年完成", rows, missed=("全体居民人均可支配收入增速", "进出口总额", "一般公共预算收入增速", "地区生产总值")
    )
    assert reconcile(summary, report_plan(), reordered).agrees  # the same four, in another order


@pytest.mark.parametrize(
    ("content", "filename", "says"),
    [
        ("总体来看，上半年经济运行稳中向好。".encode(), "report.txt", "文中找不到「指标」列"),
        (b"%PDF-1.7", "report.pdf", ".docx、.xlsx、.csv、.txt或.md"),
        (b"not a zip", "report.docx", "文件已损坏或不是docx文件"),
        (
            "指标\t上半年完成\t与目标±\n地区生产总值\t5.5%\t-1.0个百分点\n".encode(),
            "report.txt",
            "找不到「全年目标」列",
        ),
    ],
)
def test_a_report_whose_table_cannot_be_found_is_refused_saying_why(content: bytes, filename: str, says: str) -> None:
    with pytest.raises(FileProblem) as info:
        read_published(content, filename)
    assert any(says in str(error) for error in info.value.errors), info.value.errors


def test_a_markdown_table_planwatch_printed_reads_back() -> None:
    text = "\n".join(
        [
            "| 指标 | 全年目标 | 1—9月完成 | 与目标± |",
            "|---|---|---|---|",
            "| 1﹒地区生产总值 | 6.5%左右 | 5.8% | -0.7个百分点 |",
            "",
            "重点项目：……",
        ]
    )
    published = read_published(text.encode(), "table.md")
    assert column_months(published.column) == 9
    assert [(r.label, r.deviation, r.line) for r in published.rows] == [("1﹒地区生产总值", "-0.7个百分点", 3)]


@pytest.mark.parametrize(
    ("column", "months"),
    [
        ("上半年完成", 6),
        ("1—9月完成", 9),
        ("1-5月", 5),
        ("前三季度完成", 9),
        ("一季度", 3),
        ("全年完成", 12),
        ("完成", None),
    ],
)
def test_the_months_a_column_covers(column: str, months: int | None) -> None:
    assert column_months(column) == months


async def test_the_api_compares_an_uploaded_report(store: EventStore, redis: Redis, keys: Keyspace) -> None:
    await load_seed(store)
    token, _ = await TokenStore(redis, keys).create("department", "stats")
    async with api_client(redis, keys) as client:
        files = {"report": ("report.txt", SEED_TEXT, "text/plain")}
        answer = await client.post("/v1/plans/rongchang-2025/compare", files=files, headers=auth(token))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["agrees"] and body["as_of"] == "2025-06-30" and len(body["rows"]) == 10
        unreadable = {"report": ("report.txt", "没有表格的一段话。".encode(), "text/plain")}
        refused = await client.post("/v1/plans/rongchang-2025/compare", files=unreadable, headers=auth(token))
        assert refused.status_code == 422 and "文中找不到「指标」列" in refused.text


async def test_the_dashboard_reconciles_an_uploaded_report(
    store: EventStore, redis: Redis, keys: Keyspace, tmp_path: Path
) -> None:
    from tests.test_dashboard import csrf_of, sign_in

    await load_seed(store)
    analyst, _ = await TokenStore(redis, keys).create("analyst")
    changed = seed_report.report_text().replace("+4.9个百分点", "+5.0个百分点", 1).encode()
    async with api_client(redis, keys) as http:
        await sign_in(http, analyst)
        form = await http.get("/plans/rongchang-2025/reconcile")
        assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
        csrf = csrf_of(form)
        url = "/plans/rongchang-2025/reconcile"
        forged = await http.post(url, data={"csrf": "forged"}, files={"report": ("r.txt", SEED_TEXT)})
        assert forged.status_code == 403
        agreed = await http.post(url, data={"csrf": csrf}, files={"report": ("r.txt", SEED_TEXT)})
        assert agreed.status_code == 200 and '<h2 id="reconcile-verdict">一致</h2>' in agreed.text
        assert "10行中10行一致" in agreed.text
        differs = await http.post(url, data={"csrf": csrf}, files={"report": ("r.txt", changed)})
        assert "有1处不一致" in differs.text and "+5.0个百分点" in differs.text
        nothing = await http.post(url, data={"csrf": csrf})
        assert nothing.status_code == 422 and "请选择已发布的报告文件" in nothing.text
        unreadable = await http.post(url, data={"csrf": csrf}, files={"report": ("r.pdf", b"%PDF")})
        assert unreadable.status_code == 422 and "无法读取报告的主要指标表" in unreadable.text


_TABLE_WORDS = st.sampled_from(
    ["指标", "全年目标", "上半年完成", "与目标±", "单位", "1﹒地区生产总值", "6.5%左右", "-", "，。"]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(_TABLE_WORDS | st.text(max_size=8), max_size=6), max_size=12), st.sampled_from(["\t", "\n", "|"])
)
def test_whatever_a_report_text_holds_it_reads_or_is_refused_saying_why(lines: list[list[str]], joiner: str) -> None:
    text = "\n".join(joiner.join(cells) for cells in lines)
    try:
        published = read_published(text.encode(), "report.txt")
    except FileProblem as problem:
        assert problem.errors and all(error.reason_zh for error in problem.errors)
        return
    assert published.rows and all(row.line >= 1 for row in published.rows)


def test_a_text_table_with_a_unit_column_and_a_row_a_line_reads() -> None:
    text = "表1 主要指标\n序号\t指标\t单位\t全年目标\t1—3月完成\t与目标±\n"
    text += "1\t地区生产总值\t%\t6.5%左右\t5.2%\t-1.3个百分点\n"
    published = read_published(text.encode("gbk"), "report.txt")  # GBK, as Windows saves text
    assert [(r.label, r.target, r.actual, r.deviation, r.line) for r in published.rows] == [
        ("地区生产总值", "6.5%左右", "5.2%", "-1.3个百分点", 3)
    ]
    assert column_months(published.column) == 3


async def test_a_table_without_its_deviation_column_is_checked_on_the_cells_it_has(store: EventStore) -> None:
    plan_id, _, _ = await load_seed(store)
    summary = plan_summary(build_report(await fold_log(store, plan_id)))
    text = "指标\t全年目标\t上半年完成\n1﹒地区生产总值\t6.5%左右\t5.5%\n2﹒规上工业增加值\t8.0%\t7.9%\n"
    published = read_published(text.encode(), "report.txt")
    assert [row.deviation for row in published.rows] == [None, None]
    result = reconcile(summary, report_plan(), published)
    assert [cell.column for cell in result.rows[0].cells] == ["全年目标", "上半年完成"]
    assert [row.agrees for row in result.rows] == [True, False]  # 7.9% is not planwatch's 8.0%


def test_a_word_tables_two_row_header_gives_its_months_to_the_figures_column() -> None:
    document = docx.Document()
    table = document.add_table(rows=3, cols=4)
    for c, text in enumerate(["指标", "全年目标", "上半年", ""]):
        table.cell(0, c).text = text
    for c, text in enumerate(["", "", "完成", "与目标±"]):
        table.cell(1, c).text = text
    table.cell(0, 2).merge(table.cell(0, 3)).text = "上半年"
    for column in (0, 1):  # 指标 and 全年目标 span both rows
        text = table.cell(0, column).text
        table.cell(0, column).merge(table.cell(1, column)).text = text
    for c, text in enumerate(["1﹒地区生产总值", "6.5%左右", "5.5%", "-1.0个百分点"]):
        table.cell(2, c).text = text
    out = io.BytesIO()
    document.save(out)
    published = read_published(out.getvalue(), "报告.docx")
    assert published.column == "上半年完成" and column_months(published.column) == 6
    assert [(r.label, r.deviation) for r in published.rows] == [("1﹒地区生产总值", "-1.0个百分点")]


@pytest.mark.parametrize(
    "header",
    [
        "指标\n全年目标\n上半年\n完成\n与目标±\n",  # a cell a line, as pasted from Word
        "指标\t全年目标\t上半年\n完成\t与目标±\n",  # a row a line
        "指标\t全年目标\t1-6月\n完成\t与目标±\n",
    ],
)
def test_a_text_tables_two_row_header_gives_its_months_to_the_figures_column(header: str) -> None:
    text = header + "1﹒地区生产总值\n6.5%左右\n5.5%\n-1.0个百分点\n2﹒规上工业增加值\n8.0%\n8.0%\n完成\n"
    published = read_published(text.encode(), "report.txt")
    assert column_months(published.column) == 6 and published.column.endswith("完成")
    assert [(r.label, r.target, r.actual, r.deviation) for r in published.rows] == [
        ("1﹒地区生产总值", "6.5%左右", "5.5%", "-1.0个百分点"),
        ("2﹒规上工业增加值", "8.0%", "8.0%", "完成"),
    ]


def test_a_months_cell_that_heads_no_figures_column_is_no_header() -> None:
    text = "上半年\n指标\n全年目标\n完成\n1﹒地区生产总值\n6.5%左右\n5.5%\n"
    published = read_published(text.encode(), "report.txt")  # the months before 指标 head the figures
    assert [(r.label, r.actual) for r in published.rows] == [("1﹒地区生产总值", "5.5%")]
    with pytest.raises(FileProblem):
        read_published("指标\n全年目标\n上半年\n1﹒地区生产总值\n6.5%左右\n5.5%\n".encode(), "report.txt")


async def test_compare_asks_what_was_known_at_an_instant(store: EventStore, cli_env: dict[str, str]) -> None:
    await load_seed(store)
    before = _compare(cli_env, seed_report.REPORT, "--known-at", "2000-01-01T00:00")
    assert before.returncode == 2 and "has not been published as known at 2000-01-01T00:00:00+08:00" in before.stderr
    bad = _compare(cli_env, seed_report.REPORT, "--as-of", "June")
    assert bad.returncode == 2 and "'June' is not a date like 2025-06-30" in bad.stderr


@pytest.mark.parametrize(
    "label", ["1﹒地区生产总值", "1．地区生产总值", "（一）地区生产总值", "(1) 地区生产总值", "GDP", "gdp"]
)
def test_a_rows_numbering_and_the_names_an_indicator_goes_by_find_it(label: str) -> None:
    indicator = named_indicator(report_plan(), label)
    assert indicator is not None and indicator.id == "gdp"
