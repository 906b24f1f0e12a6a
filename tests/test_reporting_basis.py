"""Reporting basis: investment reported per period or year to date (累计), and ranges like
2025-01..2025-09 — the fold counts a year-to-date figure once, whatever mix of reports came in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from events.models import InvestmentCompleted, plan_published
from events.periods import Period, month_end
from events.plan import Plan
from events.planfile import parse_plan
from projections.portfolio import evaluate_project
from projections.report import build_report
from projections.state import PlanState, fold
from services.app import publish_plan
from services.projection import fold_log
from services.reports import table_text
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import ROOT, api_client
from tests.factories import AT, small_plan

EXAMPLE = ROOT / "plans" / "examples" / "ytd-investment-2025.yaml"


def example_plan() -> Plan:
    return parse_plan(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE))


def report_of(plan_id: str, period: str, amount: Decimal, basis: str | None, subject: str) -> InvestmentCompleted:
    return InvestmentCompleted(
        event_id=uuid.uuid4(),
        plan_id=plan_id,
        department="econ",
        subject=subject,
        period=period,
        occurred_at=AT,
        amount_wan=amount,
        basis=basis,  # type: ignore[arg-type]
    )


def invested_by_month(plan: Plan, reports: list[InvestmentCompleted], subject: str) -> list[Decimal]:
    """The project's investment as of each month's end, from a fold of the plan and `reports`."""
    log = [plan_published(plan, 0, AT), *reports]
    state = fold(((f"{n + 1}-0", event) for n, event in enumerate(log)), PlanState(plan.id))
    project, spec = state.projects[subject], plan.project(subject)
    assert spec is not None
    return [
        evaluate_project(project, spec, month_end(2025, month), 2025, plan.thresholds).investment_wan
        for month in range(1, 13)
    ]


amounts = st.lists(
    st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(monthly=amounts, switch=st.integers(min_value=0, max_value=12), quarters=st.booleans())
def test_a_year_to_date_series_and_the_per_period_series_give_the_same_totals(
    monthly: list[Decimal], switch: int, quarters: bool
) -> None:
    """The same months sent as period amounts, as year-to-date figures (as ranges, or as periods
    with basis ytd on quarter ends), or year to date up to a month and per month after it: the
    project's investment as of every month's end is the same."""
    plan, subject = example_plan(), "yp-001"
    running = [sum(monthly[: n + 1], Decimal(0)) for n in range(len(monthly))]
    months = range(1, len(monthly) + 1)
    per_period = [report_of(plan.id, f"2025-{m:02d}", monthly[m - 1], "period", subject) for m in months]
    ytd = [report_of(plan.id, f"2025-01..2025-{m:02d}", running[m - 1], None, subject) for m in months]
    mixed = [
        report_of(plan.id, f"2025-01..{m:02d}", running[m - 1], "ytd", subject)
        if m <= switch
        else report_of(plan.id, f"2025-{m:02d}", monthly[m - 1], "period", subject)
        for m in months
    ]
    expected = invested_by_month(plan, per_period, subject)
    assert invested_by_month(plan, ytd, subject) == expected
    assert invested_by_month(plan, mixed, subject) == expected
    if quarters:  # only the quarter ends, as year-to-date periods: equal at each quarter's end
        ytd_quarters = [
            report_of(plan.id, f"2025-Q{m // 3}", running[m - 1], "ytd", subject) for m in months if m % 3 == 0
        ]
        by_quarters = invested_by_month(plan, ytd_quarters, subject)
        assert all(by_quarters[m - 1] == expected[m - 1] for m in months if m % 3 == 0)


def test_summing_year_to_date_figures_would_have_double_counted() -> None:
    """The issue's case: 1—5月 6,000万元 then 1—6月 7,000万元 is 7,000万元, not 1.3亿元."""
    plan = example_plan()
    reports = [
        report_of(plan.id, "2025-05", Decimal(6000), "ytd", "yp-001"),
        report_of(plan.id, "2025-06", Decimal(7000), "ytd", "yp-001"),
    ]
    assert invested_by_month(plan, reports, "yp-001")[5] == 7000
    as_periods = [r.model_copy(update={"basis": "period"}) for r in reports]
    assert invested_by_month(plan, as_periods, "yp-001")[5] == 13000  # what planwatch printed before


def test_ranges_are_parsed_as_year_to_date_periods() -> None:
    assert Period.parse("2025-01..2025-09") == Period(2025, 9, 9, "ytd", "2025-01..2025-09")
    assert Period.parse("2025-Q1..Q3").end == date(2025, 9, 30)
    assert Period.parse("2025-Q1..2025-Q2").last_month == 6
    for wrong, reason in (
        ("2025-04..2025-09", "starts in January"),
        ("2025-01..2026-03", "ends in the year it starts"),
        ("2025-01..13", "month must be 01..12"),
    ):
        with pytest.raises(ValueError, match=reason):
            Period.parse(wrong)


# ---- through the API ---------------------------------------------------------------------------


@pytest.fixture
async def client(redis: Redis, keys: Keyspace, store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    await publish_plan(store, example_plan())
    await publish_plan(store, small_plan("test-2025"))
    token, _ = await TokenStore(redis, keys).create("department", "econ")
    async with api_client(redis, keys, token) as http:
        yield http


def body(subject: str, period: str, amount: int | str, **extra: object) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "investment.completed",
        "subject": subject,
        "period": period,
        "occurred_at": "2025-07-10T09:00:00+08:00",
        "amount_wan": str(amount),
        **extra,
    }


async def test_the_plans_basis_is_stored_with_each_report(client: httpx.AsyncClient, store: EventStore) -> None:
    ytd_plan = await client.post(
        "/v1/plans/ytd-example-2025/events", json=[body("yp-001", "2025-05", 6000), body("yp-001", "2025-06", 7000)]
    )
    period_plan = await client.post(
        "/v1/plans/test-2025/events", json=[body("kp-001", "2025-05", 600), body("kp-001", "2025-01..2025-06", 900)]
    )
    assert ytd_plan.status_code == period_plan.status_code == 201, (ytd_plan.text, period_plan.text)
    stored = {(e.plan_id, e.period): e for plan in ("ytd-example-2025", "test-2025") for _, e in await store.read(plan)}
    assert stored["ytd-example-2025", "2025-06"].basis == "ytd"  # the plan's basis
    assert stored["test-2025", "2025-05"].basis is None  # a period amount, stored as before the basis existed
    assert stored["test-2025", "2025-01..2025-06"].basis == "ytd"  # a range is year to date
    report = build_report(await fold_log(store, "ytd-example-2025"), date(2025, 6, 30))
    assert report.portfolio.investment_wan == 7000


@pytest.mark.parametrize(
    ("sent", "field", "reason"),
    [
        ({"period": "2025-01..2025-06", "basis": "period"}, "basis", "basis must be ytd"),
        ({"period": "2025-04..2025-06"}, "period", "starts in January"),
        ({"period": "2025-01..2026-03"}, "period", "ends in the year it starts"),
        ({"period": "2025-01..2025-13"}, "period", "month must be 01..12"),
        ({"period": "2025-06..2025-01"}, "period", "starts in January"),
        ({"basis": "cumulative"}, "basis", "'period' or 'ytd'"),
    ],
)
async def test_a_wrong_range_or_basis_is_422_naming_the_field(
    client: httpx.AsyncClient, store: EventStore, sent: dict[str, str], field: str, reason: str
) -> None:
    response = await client.post("/v1/plans/ytd-example-2025/events", json={**body("yp-001", "2025-06", 1), **sent})
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field] and reason in errors[0]["reason"], errors
    assert errors[0]["reason_zh"].strip()
    assert [e for _, e in await store.read("ytd-example-2025") if e.type == "investment.completed"] == []


async def test_a_range_is_for_investment_only(redis: Redis, keys: Keyspace, client: httpx.AsyncClient) -> None:
    stats, _ = await TokenStore(redis, keys).create("department", "stats")
    gdp = {k: v for k, v in body("gdp", "2025-01..2025-06", 0).items() if k != "amount_wan"}
    gdp |= {"type": "indicator.updated", "value": "6.2"}
    response = await client.post(
        "/v1/plans/ytd-example-2025/events", json=gdp, headers={"Authorization": f"Bearer {stats}"}
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "period" and "send the last period: 2025-06" in error["reason"]


GOLDEN = """\
示例县2025年国民经济和社会发展计划（合成示例） — 主要计划目标完成情况（截至2025-06-30）
指标 | 全年目标 | 上半年完成 | 与目标±
1﹒地区生产总值 | 6%左右 | 6.2% | +0.2个百分点

重点项目：3个县级重点项目开工3个，开工率100.0%，完成投资1.18亿元，投资完成率53.6%。暂无项目建成投产。

未达到目标的指标：主要指标均达到年初预计目标要求。

请核实：
  - 示例污水处理厂（合成）1—6月累计完成投资1300万元，低于1—5月累计的1500万元，请核实
  - 示例物流中心（合成）完成投资3500万元，为年度计划投资2000万元的175.0%，超过1.5倍，请核实报送口径"""


async def test_golden_report_of_the_year_to_date_example(
    client: httpx.AsyncClient, redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    """The example plan's report: each project's latest 累计 counted once, and the notes to check."""
    started = [
        {k: v for k, v in body(p, "2025-03", 0).items() if k != "amount_wan"}
        | {"type": "project.started", "started_on": "2025-03-05"}
        for p in ("yp-001", "yp-002", "yp-003")
    ]
    reports = [
        body("yp-001", "2025-03", 2000),
        body("yp-001", "2025-Q2", 7000),  # the plan's basis: 1—6月
        body("yp-002", "2025-01..2025-05", 1500),
        body("yp-002", "2025-01..2025-06", 1300),  # fell: kept, and noted
        body("yp-003", "2025-01..2025-06", 3500),  # above 1.5 × 2000
    ]
    response = await client.post("/v1/plans/ytd-example-2025/events", json=started + reports)
    assert response.status_code == 201, response.text
    stats, _ = await TokenStore(redis, keys).create("department", "stats")
    gdp = {k: v for k, v in body("gdp", "2025-Q2", 0).items() if k != "amount_wan"}
    gdp |= {"type": "indicator.updated", "value": "6.2"}
    answer = await client.post(
        "/v1/plans/ytd-example-2025/events", json=gdp, headers={"Authorization": f"Bearer {stats}"}
    )
    assert answer.status_code == 201, answer.text
    state = await fold_log(store, "ytd-example-2025")
    assert table_text(build_report(state)) == GOLDEN


async def test_retracting_the_latest_year_to_date_figure_brings_back_the_one_it_replaced(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    first, second = body("yp-001", "2025-Q2", 7000), body("yp-001", "2025-01..2025-06", 7500)
    later = body("yp-001", "2025-01..2025-05", 6000)
    assert (await client.post("/v1/plans/ytd-example-2025/events", json=[first, second, later])).status_code == 201
    as_of = date(2025, 6, 30)
    assert build_report(await fold_log(store, "ytd-example-2025"), as_of).portfolio.investment_wan == 7500
    retracted = await client.post(
        f"/v1/plans/ytd-example-2025/events/{second['event_id']}/retraction", json={"reason": "数据填报错误（测试）"}
    )
    assert retracted.status_code == 201, retracted.text
    assert retracted.json()["restores"]["amount_wan"] in (7000, "7000")
    assert build_report(await fold_log(store, "ytd-example-2025"), as_of).portfolio.investment_wan == 7000


def test_a_plan_that_sets_no_basis_keeps_its_stored_form() -> None:
    """The new plan fields at their defaults are left out of a plan's JSON: a plan published before
    them has the same digest (its plan.published id) and stored bytes."""
    dumped = small_plan().model_dump_json()
    assert "investment_basis" not in dumped and "excess_factor" not in dumped
    assert '"investment_basis":"ytd"' in example_plan().model_dump_json()
