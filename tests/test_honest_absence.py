"""Honest absence: no data is 暂无数据 and never met; a plan without figures is not "on target";
an empty portfolio prints nothing invented; a row of an earlier period says so, and so does the
heading."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from events.models import IndicatorUpdated, plan_published
from events.plan import Plan
from events.planfile import parse_plan
from projections.report import build_report
from projections.state import PlanState, fold
from services.reports import table_text
from services.reports.table import table_markdown
from tests.conftest import ROOT
from tests.factories import AT, small_plan

EXAMPLE = ROOT / "plans" / "examples" / "absent-data-2025.yaml"


def example_plan() -> Plan:
    return parse_plan(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE))


def value(plan: Plan, subject: str, period: str, number: str) -> IndicatorUpdated:
    indicator = plan.indicator(subject)
    assert indicator is not None
    return IndicatorUpdated(
        event_id=uuid.uuid4(),
        plan_id=plan.id,
        department=indicator.department,
        subject=subject,
        period=period,
        occurred_at=AT,
        value=Decimal(number),
    )


def state_of(plan: Plan, *events: IndicatorUpdated) -> PlanState:
    log = [plan_published(plan, 0, AT), *events]
    return fold(((f"{n + 1}-0", event) for n, event in enumerate(log)), PlanState(plan.id))


GOLDEN = """\
示例镇2025年国民经济和社会发展计划（合成示例） — 主要计划目标完成情况（截至2025-09-30，部分指标为上半年数据）
指标 | 全年目标 | 1—9月完成 | 与目标±
1﹒地区生产总值 | 6%左右 | 5.5%（上半年） | -0.5个百分点
2﹒规模以上工业增加值 | 7% | 7.4% | +0.4个百分点
3﹒社会消费品零售总额 | 5%以上 | 5.2% | +0.2个百分点
4﹒一般公共预算收入 | 3% | 暂无数据 | -

未达到目标的指标：地区生产总值没有达到年初预计目标要求；一般公共预算收入暂无数据。
  - 地区生产总值：全年目标6%左右，完成5.5%，与目标-0.5个百分点（镇统计站）"""


def test_golden_report_with_rows_of_other_periods_and_no_data() -> None:
    plan = example_plan()
    state = state_of(
        plan,
        value(plan, "gdp", "2025-Q2", "5.5"),
        value(plan, "industry-va", "2025-09", "7.4"),
        value(plan, "retail", "2025-08", "5.0"),
        value(plan, "retail", "2025-09", "5.2"),
    )
    report = build_report(state)
    assert report.as_of == date(2025, 9, 30)
    assert table_text(report) == GOLDEN
    assert "截至 2025-09-30（部分指标为上半年数据）" in table_markdown(report)
    revenue = next(row for row in report.main if row.indicator.id == "revenue")
    assert revenue.evaluation.status == "no_data" and not revenue.evaluation.missed


def test_a_plan_with_no_figures_is_never_on_target() -> None:
    plan = example_plan()
    report = build_report(state_of(plan), date(2025, 6, 30))
    text = table_text(report)
    assert "主要指标均达到年初预计目标要求" not in text
    assert "主要指标暂无数据，尚不能判断是否达到年初预计目标要求。" in text
    assert {row.evaluation.actual_text for row in report.main} == {"暂无数据"}
    assert not report.missed  # and not met either: nothing is judged


def test_all_reported_and_on_target_keeps_the_reports_sentence() -> None:
    plan = example_plan()
    figures = [("gdp", "2025-Q3", "6.1"), ("industry-va", "2025-09", "7.4")]
    figures += [("retail", "2025-09", "5.2"), ("revenue", "2025-09", "3.5")]
    text = table_text(build_report(state_of(plan, *(value(plan, *f) for f in figures))))
    assert "未达到目标的指标：主要指标均达到年初预计目标要求。" in text
    assert "部分指标" not in text and "（上半年）" not in text


def test_reported_rows_on_target_and_one_missing_says_which() -> None:
    plan = example_plan()
    figures = [("gdp", "2025-Q3", "6.1"), ("industry-va", "2025-09", "7.4"), ("retail", "2025-09", "5.2")]
    text = table_text(build_report(state_of(plan, *(value(plan, *f) for f in figures))))
    assert "已报送的主要指标均达到年初预计目标要求；一般公共预算收入暂无数据。" in text


def test_an_empty_portfolio_prints_nothing_invented() -> None:
    plan = small_plan().model_copy(update={"projects": ()})
    text = table_text(build_report(state_of(plan, value(plan, "gdp", "2025-Q2", "6.6")), date(2025, 6, 30)))
    assert "重点项目" not in text and "0个" not in text and "开工率" not in text
    markdown = table_markdown(build_report(state_of(plan), date(2025, 6, 30)))
    assert "重点项目" not in markdown and "开工率" not in markdown


def test_the_rollup_marks_rows_of_earlier_periods_in_every_format() -> None:
    """The monthly rollup prints the table's marks too: 5.5%（上半年） in a 1—9月 column, and its
    heading says some rows are of earlier periods — in Markdown, HTML and the workbook."""
    import io
    from datetime import UTC, datetime

    from openpyxl import load_workbook

    from projections.rollup import build_rollup
    from services.reports import render_html, render_markdown, render_xlsx

    plan = example_plan()
    state = state_of(plan, value(plan, "gdp", "2025-Q2", "5.5"), value(plan, "industry-va", "2025-09", "7.4"))
    document = build_rollup(state, "2025-09", datetime(2025, 10, 10, tzinfo=UTC))
    markdown = render_markdown(document)
    assert "| 1﹒地区生产总值 | 6%左右 | 5.5%（上半年） | -0.5个百分点 |" in markdown
    assert "| 2﹒规模以上工业增加值 | 7% | 7.4% |" in markdown
    assert "数据截至 2025-09-30（部分指标为上半年数据）" in markdown
    html = render_html(document)
    assert "5.5%（上半年）" in html and "部分指标为上半年数据" in html
    sheet = load_workbook(io.BytesIO(render_xlsx(document)))["主要指标"]
    cells = [c.value for row in sheet.iter_rows() for c in row]
    assert "5.5%（上半年）" in cells and "7.4%" in cells
    assert any("部分指标为上半年数据" in str(c) for c in cells)
    june = build_rollup(state, "2025-06", datetime(2025, 7, 10, tzinfo=UTC))
    assert "（上半年）" not in render_markdown(june) and "部分指标" not in render_markdown(june)
