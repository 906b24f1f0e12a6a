"""`planwatch plan draft`: the plan office's target table (xlsx or csv) drafted into a plan file
that `plan check` accepts, or every bad cell named with its row and column, nothing written."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from events.models import plan_published
from events.planfile import parse_plan
from events.targets import RateTarget
from services.spreadsheet import PlanIdentity, SheetRejected, draft_plan_sheet
from services.store import Keyspace, TokenStore
from tests.conftest import ROOT, api_client, planwatch
from tests.test_api import auth

IDENTITY = PlanIdentity(id="demo-2025", year=2025, region="示例区")


def _xlsx(rows: list[list[object]], percent_cells: tuple[str, ...] = ()) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for coordinate in percent_cells:
        sheet[coordinate].number_format = "0.0%"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


OFFICE_TABLE = [
    ["示例区2025年主要目标任务分解表"],  # a title above the header
    [],
    ["序号", "指标名称", "计量单位", "全年目标（%）", "牵头单位", "报送周期"],
    ["一、主要指标"],  # a heading in the first cell only: the main table
    [1, "地区生产总值", "%", "6.5%左右", "区统计局", "季度"],
    [2, "规模以上工业增加值", "%", 0.08, "区统计局", "月报"],  # a cell shown as a percentage
    [3, "全社会固定资产投资", "%", 8, "区统计局", "月度"],  # a bare number takes the unit
    [4, "全体居民人均可支配收入", "%", "高于GDP增速", "区统计局", "季度"],
    [5, "城镇调查失业率", None, "5.5%以内", "区人力社保局", "季度"],  # the unit from the wording
    [6, "单位地区生产总值能耗", "%", "完成市下达任务", "区发展改革委", "年度"],
    ["（一）工业经济和招商引资"],
    [7, "新签约市外项目合同额", "亿元", "300亿元以上", "区招商投资促进局", "月度"],
    [8, "外贸出口备案企业", "家", None, "区商务委", "年度"],  # no target: monitored only
]


def test_an_office_table_drafts_a_plan_file_that_plan_check_reads() -> None:
    draft = draft_plan_sheet(_xlsx(OFFICE_TABLE, percent_cells=("D6",)), "分解表.xlsx", IDENTITY)
    plan = parse_plan(draft.text, "draft.yaml")  # the text, not the object, is what the office keeps
    assert (plan.id, plan.year, plan.name) == ("demo-2025", 2025, "示例区2025年国民经济和社会发展计划")
    assert [i.id for i in plan.indicators if i.is_main] == [
        "gdp",
        "industry-va",
        "fai",
        "income",
        "unemployment",
        "energy-intensity",  # 单位地区生产总值能耗 is energy, not GDP
    ]
    gdp, industry, fai = plan.indicator("gdp"), plan.indicator("industry-va"), plan.indicator("fai")
    assert gdp is not None and industry is not None and fai is not None
    assert (gdp.frequency, gdp.target_text, gdp.aliases) == ("quarterly", "6.5%左右", ("GDP", "GDP增速"))
    assert industry.target == RateTarget(text="8%", value=Decimal(8)) and industry.frequency == "monthly"
    assert fai.target is not None and fai.target.text == "8" and fai.target_text == "8"
    assert plan.resolve_reference("GDP增速") == "gdp"  # 高于GDP增速 finds its indicator
    unemployment = plan.indicator("unemployment")
    assert unemployment is not None and unemployment.unit == "%"
    further = [i for i in plan.indicators if not i.is_main]
    assert [(i.section, i.order, i.unit) for i in further] == [
        ("（一）工业经济和招商引资", 1, "万元"),
        ("（一）工业经济和招商引资", 2, "家"),
    ]
    assert further[1].target is None  # monitored
    assert plan.department_name(plan.office) == "区发展改革委" and plan.office == "fgw"
    assert {d.id for d in plan.departments} == {"stats", "hrss", "fgw", "invest", "commerce"}
    assert "  - {id: gdp," in draft.text and "target: 6.5%左右}  # 第5行" in draft.text  # the row it came from
    assert not any("报送频率" in note for note in draft.notes)  # the table gave it


def test_a_table_without_frequencies_or_known_names_says_what_to_check() -> None:
    table = "指标,单位,全年目标,责任单位\n招商引资到位资金,亿元,100亿元,区投资促进中心\n"
    table += "城镇新增就业,人,1万人以上,区就业服务中心\n"
    draft = draft_plan_sheet(table.encode("gb18030"), "表.csv", IDENTITY)  # as Chinese Excel saves CSV
    plan = parse_plan(draft.text, "draft.yaml")
    assert [i.id for i in plan.indicators] == ["ind-01", "new-jobs"]
    assert [d.id for d in plan.departments] == ["fgw", "dept-01", "dept-02"]  # the office added, owning the plan
    assert all(i.frequency == "monthly" for i in plan.indicators)
    notes = "\n".join(draft.notes)
    assert "报送频率" in notes and "dept-01" in notes and "ind-NN" in notes


@pytest.mark.parametrize(
    ("row", "column", "says"),
    [
        (["地区生产总值", "%", "大约六个点", "区统计局", "季度"], "全年目标", "大约六个点"),
        (["地区生产总值", "%", "6%", "区统计局", "半年"], "报送频率", "月度、季度或年度"),
        (["地区生产总值", "%", "6%", None, "季度"], "责任单位", "未填写责任单位"),
        (["新增就业", "人", "新增就业1万亩", "区人力社保局", "年度"], "全年目标", ""),  # units disagree
        (["城镇化率", None, "提高1个百分点", "区统计局", "年度"], "全年目标", "baseline"),
        (["农业增加值", None, "完成市下达任务", "区农业农村委", "年度"], "单位", ""),  # no figure, no unit
        (
            ["新增托位", None, None, None, "年度"],
            "责任单位",
            "未填写责任单位",
        ),  # a row left unfilled is not passed over
    ],
)
def test_a_bad_cell_is_named_by_row_and_column(row: list[object], column: str, says: str) -> None:
    header = ["指标", "单位", "全年目标", "责任单位", "报送频率"]
    fine = ["规上工业增加值", "%", "8%", "区统计局", "月度"]
    with pytest.raises(SheetRejected) as info:
        draft_plan_sheet(_xlsx([header, fine, row]), "表.xlsx", IDENTITY)
    [error] = info.value.errors
    assert (error.row, error.column) == (3, column) and says in str(error)


def test_a_table_without_the_columns_it_needs_is_refused_naming_them() -> None:
    with pytest.raises(SheetRejected) as info:
        draft_plan_sheet("说明,数值\n地区生产总值,6\n".encode(), "表.csv", IDENTITY)
    missing = {error.column for error in info.value.errors}
    assert missing == {"指标", "全年目标", "责任单位"}
    assert any("指标名称" in str(error) for error in info.value.errors)  # the headers it would take
    with pytest.raises(SheetRejected) as info:
        draft_plan_sheet("指标,全年目标\n地区生产总值,6%\n".encode(), "表.csv", IDENTITY)
    assert [error.column for error in info.value.errors] == ["责任单位"]


def test_the_cli_writes_the_draft_and_plan_check_accepts_it(tmp_path: Path) -> None:
    table = tmp_path / "分解表.xlsx"
    table.write_bytes(_xlsx(OFFICE_TABLE))
    plan_file = tmp_path / "demo-2025.yaml"
    env = dict(__import__("os").environ)
    args = ("--id", "demo-2025", "--year", "2025", "--region", "示例区")
    drafted = planwatch(env, "plan", "draft", str(table), *args, "-o", str(plan_file))
    assert drafted.returncode == 0, drafted.stderr
    assert f"wrote {plan_file}: plan demo-2025" in drafted.stderr and "请核对" not in drafted.stdout
    checked = planwatch(env, "plan", "check", "--targets", str(plan_file))
    said = " ".join(checked.stdout.split())  # the console wraps long lines
    assert checked.returncode == 0 and "6 main indicators, 2 further targets" in said, checked.stderr
    assert "地区生产总值（gdp） ｜ 6.5%左右" in checked.stdout
    again = planwatch(env, "plan", "draft", str(table), *args, "-o", str(plan_file))
    assert again.returncode == 1 and "does not overwrite" in again.stderr


def test_the_cli_refuses_a_bad_table_writing_nothing(tmp_path: Path) -> None:
    table = tmp_path / "表.csv"
    table.write_text("指标,单位,全年目标,责任单位\n地区生产总值,%,大约六个点,区统计局\n,,,\n", encoding="utf-8")
    plan_file = tmp_path / "out.yaml"
    env = dict(__import__("os").environ)
    refused = planwatch(
        env,
        "plan",
        "draft",
        str(table),
        "--id",
        "demo-2025",
        "--year",
        "2025",
        "--region",
        "示例区",
        "-o",
        str(plan_file),
    )
    assert refused.returncode == 1 and not plan_file.exists()
    assert "no plan drafted" in refused.stderr and "第2行「全年目标」" in refused.stderr


def test_an_id_the_table_gives_is_checked_at_its_cell() -> None:
    table = "指标,单位,全年目标,责任单位,标识\n地区生产总值,%,6%,区统计局,GDP Growth\n"
    with pytest.raises(SheetRejected) as info:
        draft_plan_sheet(table.encode(), "表.csv", IDENTITY)
    [error] = info.value.errors
    assert (error.row, error.column) == (2, "标识")


_CELL = st.one_of(
    st.none(),
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12),  # what a worksheet can hold
    st.sampled_from(["6%", "增长8%以上", "-", "月度", "季", "区统计局", "亿元", "%", "（一）", "高于GDP增速", "0"]),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_CELL, min_size=0, max_size=6), min_size=0, max_size=6))
def test_whatever_a_table_holds_the_draft_is_a_valid_plan_or_a_list_of_bad_cells(rows: list[list[object]]) -> None:
    header = ["指标", "单位", "全年目标", "责任单位", "报送频率"]
    try:
        draft = draft_plan_sheet(_xlsx([header, *rows]), "表.xlsx", IDENTITY)
    except SheetRejected as refused:
        assert refused.errors and all(error.reason and error.reason_zh for error in refused.errors)
        return
    assert parse_plan(draft.text, "draft.yaml") == draft.plan


PROJECT_LIST = [
    ["示例区2025年区级重点项目计划表"],
    ["编号", "项目名称", "责任单位", "2025年计划投资（亿元）", "计划开工时间", "计划竣工时间"],
    ["一、工业项目（2个）"],  # a heading: the category of the rows under it
    ["A01", "电子电路产业园", "高新区管委会", 1.5, "2025年3月", "2026年底"],
    [None, "智能制造基地", "区经济信息委", "8000万元", datetime(2025, 5, 1), "2025-12"],
    ["二、社会民生项目（1个）"],
    [None, "区人民医院迁建", "区卫生健康委", 2, "2024.06", "2025年"],  # under way since 2024
]


def test_a_key_project_list_drafts_the_plans_projects() -> None:
    draft = draft_plan_sheet(
        _xlsx(OFFICE_TABLE), "分解表.xlsx", IDENTITY, projects=(_xlsx(PROJECT_LIST), "项目表.xlsx")
    )
    plan = parse_plan(draft.text, "draft.yaml")
    assert [
        (p.id, p.category, p.planned_investment_wan, p.planned_start, p.planned_completion) for p in plan.projects
    ] == [
        ("a01", "工业项目", Decimal(15000), "2025-03", "2026-12"),
        ("kp-002", "工业项目", Decimal(8000), "2025-05", "2025-12"),
        ("kp-003", "社会民生项目", Decimal(20000), "2024-06", "2025-12"),
    ]
    assert [plan.department_name(p.department) for p in plan.projects] == [
        "高新区管委会",
        "区经济信息委",
        "区卫生健康委",
    ]
    assert plan.projects_label == "重点项目" and "项目表第4行" in draft.text


@pytest.mark.parametrize(
    ("row", "column", "says"),
    [
        (["医院", "区卫生健康委", 2, "2025年", "2025-12"], "项目表·计划开工", "月份"),  # a start needs its month
        (["医院", "区卫生健康委", 2, 2025.1, "2025-12"], "项目表·计划开工", "数字无法表示月份"),  # 2025.10 lost its 0
        (["医院", "区卫生健康委", 2, "2025-13", "2025-12"], "项目表·计划开工", "没有13月"),
        (["医院", "区卫生健康委", None, "2025-03", "2025-12"], "项目表·年度计划投资", "请填0"),
        (["医院", "区卫生健康委", "两亿", "2025-03", "2025-12"], "项目表·年度计划投资", "不是有效的数字"),
        (["医院", "区卫生健康委", 2, "2025-06", "2025-03"], "项目表·计划竣工", "planned_completion"),
        (["医院", None, 2, "2025-03", "2025-12"], "项目表·责任单位", "未填写责任单位"),
        ([None, "区卫生健康委", 2, "2025-03", "2025-12"], "项目表·项目名称", "未填写项目名称"),  # not passed over
    ],
)
def test_a_bad_project_cell_is_named_in_the_project_list(row: list[object], column: str, says: str) -> None:
    header = ["项目名称", "责任单位", "年度计划投资（亿元）", "计划开工时间", "计划竣工时间"]
    fine = ["产业园", "区经济信息委", 1, "2025-02", "2025-11"]
    with pytest.raises(SheetRejected) as info:
        draft_plan_sheet(
            _xlsx(OFFICE_TABLE), "分解表.xlsx", IDENTITY, projects=(_xlsx([header, fine, row]), "项目.xlsx")
        )
    [error] = info.value.errors
    assert (error.row, error.column) == (3, column) and says in str(error)
    assert info.value.filename == "分解表.xlsx, 项目.xlsx"


def test_both_tables_bad_cells_are_listed_together() -> None:
    targets = [["指标", "单位", "全年目标", "责任单位"], ["地区生产总值", "%", "大约六个点", "区统计局"]]
    projects = [["项目名称", "责任单位", "年度计划投资"], ["医院", "区卫生健康委", 1]]  # no months
    with pytest.raises(SheetRejected) as info:
        draft_plan_sheet(_xlsx(targets), "表.xlsx", IDENTITY, projects=(_xlsx(projects), "项目.xlsx"))
    assert {(error.row, error.column) for error in info.value.errors} == {
        (2, "全年目标"),
        (1, "项目表·计划开工"),
        (1, "项目表·计划竣工"),
    }
    with pytest.raises(SheetRejected) as info:  # a target table without its columns
        draft_plan_sheet(_xlsx([["说明"]]), "表.xlsx", IDENTITY, projects=(_xlsx(projects), "项目.xlsx"))
    assert {error.column for error in info.value.errors} == {
        "指标",
        "全年目标",
        "责任单位",
        "项目表·计划开工",
        "项目表·计划竣工",
    }


def test_the_cli_drafts_targets_and_projects_together(tmp_path: Path) -> None:
    table, listed = tmp_path / "分解表.xlsx", tmp_path / "项目表.xlsx"
    table.write_bytes(_xlsx(OFFICE_TABLE))
    listed.write_bytes(_xlsx(PROJECT_LIST))
    env = dict(__import__("os").environ)
    args = ("--id", "demo-2025", "--year", "2025", "--region", "示例区", "--projects-label", "区级重点项目")
    drafted = planwatch(env, "plan", "draft", str(table), "--projects", str(listed), *args)
    assert drafted.returncode == 0, drafted.stderr
    assert "3 key projects" in drafted.stderr and "projects_label: 区级重点项目" in drafted.stdout
    assert parse_plan(drafted.stdout, "stdout").projects[0].name == "电子电路产业园"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(st.one_of(_CELL, st.sampled_from(["2025-03", "2026年底", "3月", 202504])), max_size=5), max_size=5
    )
)
def test_whatever_a_project_list_holds_the_draft_is_valid_or_names_bad_cells(rows: list[list[object]]) -> None:
    header = ["项目名称", "责任单位", "年度计划投资", "计划开工时间", "计划竣工时间"]
    listed = (_xlsx([header, *rows]), "项目.xlsx")
    try:
        draft = draft_plan_sheet(_xlsx(OFFICE_TABLE), "分解表.xlsx", IDENTITY, projects=listed)
    except SheetRejected as refused:
        assert refused.errors and all(error.column.startswith("项目表·") for error in refused.errors)
        return
    assert parse_plan(draft.text, "draft.yaml") == draft.plan


async def test_the_api_drafts_for_admins_and_names_bad_cells(redis: Redis, keys: Keyspace) -> None:
    tokens = TokenStore(redis, keys)
    admin, _ = await tokens.create("admin")
    analyst, _ = await tokens.create("analyst")
    form = {"year": "2025", "region": "示例区"}
    files = {"table": ("分解表.xlsx", _xlsx(OFFICE_TABLE)), "projects": ("项目表.xlsx", _xlsx(PROJECT_LIST))}
    async with api_client(redis, keys) as http:
        drafted = await http.post("/v1/plans/demo-2025/draft", data=form, files=files, headers=auth(admin))
        assert drafted.status_code == 200, drafted.text
        body = drafted.json()
        assert (body["main_indicators"], body["further_targets"], body["key_projects"]) == (6, 2, 3)
        assert parse_plan(body["text"], "api").id == "demo-2025" and body["notes"]
        refused = await http.post("/v1/plans/demo-2025/draft", data=form, files=files, headers=auth(analyst))
        assert refused.status_code == 403
        bad = {"table": ("表.csv", "指标,单位,全年目标,责任单位\n地区生产总值,%,大约六个点,区统计局\n".encode())}
        rejected = await http.post("/v1/plans/demo-2025/draft", data=form, files=bad, headers=auth(admin))
        assert rejected.status_code == 422 and rejected.json()["rows"][0].startswith("第2行「全年目标」")
        no_year = await http.post(
            "/v1/plans/demo-2025/draft", data={"region": "示例区"}, files=files, headers=auth(admin)
        )
        assert no_year.status_code == 422 and "year" in no_year.text
        bad_id = await http.post("/v1/plans/Demo_2025/draft", data=form, files=files, headers=auth(admin))
        assert bad_id.status_code == 422 and "id" in bad_id.json()["errors"][0]["field"]
    assert not [key async for key in redis.scan_iter(match=f"{keys.prefix}*demo-2025*")]  # a draft stores nothing


def test_the_example_office_tables_draft_a_plan_that_publishes(tmp_path: Path) -> None:
    """plans/examples/office-tables/: the walkthrough the README gives, from the tables to a plan."""
    tables = ROOT / "plans" / "examples" / "office-tables"
    identity = PlanIdentity(id="example-office-2025", year=2025, region="示例区", projects_label="区级重点项目")
    draft = draft_plan_sheet(
        (tables / "targets.csv").read_bytes(),
        "targets.csv",
        identity,
        ((tables / "projects.csv").read_bytes(), "projects.csv"),
    )
    plan = parse_plan(draft.text, "draft.yaml")
    assert sum(1 for i in plan.indicators if i.is_main) == 10 and len(plan.indicators) == 14
    assert [p.planned_investment_wan for p in plan.projects] == [15000, 12000, 6800, 9500, 20000]
    assert plan_published(plan, 0, datetime(2025, 1, 20, tzinfo=UTC)).plan == plan  # within the plan rules


def test_a_level_with_a_growth_target_is_drafted_as_reported_with_its_growth() -> None:
    table = (
        "指标,单位,全年目标,责任单位\n地区生产总值,亿元,增长6%左右,区统计局\n粮食总产量,万吨,29万吨左右,区农业农村委\n"
    )
    draft = draft_plan_sheet(table.encode(), "表.csv", IDENTITY)
    gdp, grain = parse_plan(draft.text, "draft.yaml").indicators
    assert (gdp.with_growth, gdp.judged_on_growth(gdp.target), grain.with_growth) == (True, True, False)
    assert any("with_growth" in note and "地区生产总值" in note for note in draft.notes)


def _docx(tables: list[list[list[object]]], merged_down: tuple[int, int, int, int] | None = None) -> bytes:
    """A Word document holding `tables`, a title paragraph before each; a row with one value in its
    first cell is merged across the row, as offices write headings; `merged_down`: (table,
    column, first row, last row) of a cell merged down a column."""
    import docx

    document = docx.Document()
    for number, rows in enumerate(tables):
        document.add_paragraph(f"附表{number + 1}")
        width = max(len(row) for row in rows)
        table = document.add_table(rows=len(rows), cols=width)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    table.cell(r, c).text = str(value)
            if len(row) == 1:
                table.cell(r, 0).merge(table.cell(r, width - 1))
    if merged_down is not None:
        at, column, first, last = merged_down
        word_table = document.tables[at]
        text = word_table.cell(first, column).text
        merged = word_table.cell(first, column).merge(word_table.cell(last, column))
        merged.text = text  # merging joins the cells' texts; the office's cell says it once
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


WORD_TARGETS = [
    ["序号", "指标名称", "单位", "2025年目标", "责任单位"],
    ["一、主要指标"],
    [1, "地区生产总值", "%", "6.5%左右", "区统计局"],
    [2, "规模以上工业增加值", "%", "8%", None],  # 区统计局, merged down from the row above
    [3, "城镇调查失业率", "%", "5.5%以内", "区人力社保局"],
    ["二、其他指标"],
    [4, "新签约市外项目合同额", "亿元", "300亿元以上", "区招商投资促进局"],
]
WORD_PROJECTS = [
    ["项目名称", "责任单位", "年度计划投资（亿元）", "计划开工", "计划竣工"],
    ["工业项目"],
    ["电子电路产业园", "高新区管委会", "1.5", "2025年3月", "2026年底"],
]


def test_a_word_documents_tables_draft_a_plan_with_merged_cells_read_as_an_office_means_them() -> None:
    notes = [["填表说明", "各单位按季度报送"]]  # a table of another kind comes first
    document = _docx([notes, WORD_TARGETS, WORD_PROJECTS], merged_down=(1, 4, 2, 3))
    draft = draft_plan_sheet(document, "计划附表.docx", IDENTITY, projects=(document, "计划附表.docx"))
    plan = parse_plan(draft.text, "draft.yaml")
    assert [(i.name, i.section, plan.department_name(i.department)) for i in plan.indicators] == [
        ("地区生产总值", "主要指标", "区统计局"),
        ("规模以上工业增加值", "主要指标", "区统计局"),  # the merged 责任单位 reaches every row it spans
        ("城镇调查失业率", "主要指标", "区人力社保局"),
        ("新签约市外项目合同额", "二、其他指标", "区招商投资促进局"),
    ]
    assert [(p.name, p.category, p.planned_investment_wan) for p in plan.projects] == [
        ("电子电路产业园", "工业项目", Decimal(15000))
    ]
    assert draft.notes[:2] == [
        "计划附表.docx：文档有3个表格，读取的是第2个（行号为该表格中的行）",
        "计划附表.docx：文档有3个表格，读取的是第3个（行号为该表格中的行）",
    ]


@pytest.mark.parametrize(
    ("content", "filename", "says"),
    [
        (b"not a zip", "计划.docx", "文件已损坏或不是docx文件"),
        (_docx([[["指标名称", "全年目标"], ["地区生产总值", "6.5%左右"]]]), "计划.docx", "找不到「责任单位」列"),
        (b"\xd0\xcf\x11\xe0", "计划.doc", "请另存为.docx"),
        (b"%PDF-1.7", "计划.pdf", ".xlsx、.csv或.docx"),
    ],
)
def test_a_document_that_cannot_be_drafted_from_is_refused_saying_why(content: bytes, filename: str, says: str) -> None:
    with pytest.raises(SheetRejected) as info:
        draft_plan_sheet(content, filename, IDENTITY)
    assert any(says in str(error) for error in info.value.errors), info.value.errors


def test_a_word_document_without_a_table_is_refused() -> None:
    import docx

    document, out = docx.Document(), io.BytesIO()
    document.add_paragraph("2025年主要目标")
    document.save(out)
    with pytest.raises(SheetRejected) as info:
        draft_plan_sheet(out.getvalue(), "计划.docx", IDENTITY)
    assert "文档中没有表格" in str(info.value.errors[0])


def test_a_bad_cell_of_a_word_table_is_named_by_its_row_in_that_table() -> None:
    rows = [row[:] for row in WORD_TARGETS]
    rows[4][3] = "大约六个点"
    with pytest.raises(SheetRejected) as info:
        draft_plan_sheet(_docx([rows], merged_down=(0, 4, 2, 3)), "计划.docx", IDENTITY)
    [error] = info.value.errors
    assert (error.row, error.column) == (5, "全年目标")


def test_the_cli_drafts_from_a_word_document(tmp_path: Path) -> None:
    document = tmp_path / "计划附表.docx"
    document.write_bytes(_docx([WORD_TARGETS, WORD_PROJECTS], merged_down=(0, 4, 2, 3)))
    env = dict(__import__("os").environ)
    args = ("--id", "demo-2025", "--year", "2025", "--region", "示例区")
    drafted = planwatch(env, "plan", "draft", str(document), "--projects", str(document), *args)
    assert drafted.returncode == 0, drafted.stderr
    plan = parse_plan(drafted.stdout, "stdout")
    assert [i.name for i in plan.indicators][:2] == ["地区生产总值", "规模以上工业增加值"]
    assert "读取的是第2个" in drafted.stderr and plan.projects[0].name == "电子电路产业园"


def test_a_word_document_that_unpacks_into_too_much_is_refused_before_it_is_unpacked() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b" " * (65 * 1024 * 1024))
    assert len(out.getvalue()) < 1024 * 1024
    with pytest.raises(SheetRejected) as info:
        draft_plan_sheet(out.getvalue(), "计划.docx", IDENTITY)
    assert "文档解压后过大" in str(info.value.errors[0])
