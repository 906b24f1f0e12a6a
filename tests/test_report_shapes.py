"""Report shapes of real plans beyond the seed (issue 14): indicators without targets (monitored,
shown with 「-」, never judged or alerted on their values). The example plans' reports are golden
files (tests/test_examples_golden.py); here each entry point and the alert rules."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from redis.asyncio import Redis

from events.alerts import AlertNotice
from events.models import plan_digest, plan_published
from events.plan import Plan
from events.planfile import parse_plan
from events.positions import StoredEvent
from projections.alerts import AlertBook, judge, tick
from projections.report import build_report
from projections.state import PlanState
from services.demo import EXAMPLES, load_example
from services.spreadsheet import parse_sheet, write_template
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import Workers, api_client, eventually
from tests.factories import AT, indicator_update, small_plan
from tests.test_api import auth, project

MONITORED = EXAMPLES / "monitored-2025.yaml"


def monitored_plan() -> Plan:
    return parse_plan(MONITORED.read_text(encoding="utf-8"), str(MONITORED))


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# ---- indicators without targets --------------------------------------------------------------


def test_an_indicator_without_target_is_stored_without_one_and_targets_keep_their_digest() -> None:
    plan = monitored_plan()
    stored = plan.model_dump(mode="json")
    rows = {row["id"]: row for row in stored["indicators"]}
    assert "target" not in rows["primary-va"] and "target" not in rows["secondary-va"]  # '-' is no target
    assert rows["gdp"]["target"]["text"] == "6%左右"
    assert Plan.model_validate(stored) == plan
    seed_like = small_plan()
    assert plan_digest(Plan.model_validate(seed_like.model_dump(mode="json"))) == plan_digest(seed_like)


def test_a_dash_means_no_target_but_a_bad_target_is_still_refused_by_its_field() -> None:
    text = MONITORED.read_text(encoding="utf-8").replace("target: '-'}", "target: '-%'}")
    with pytest.raises(ValueError, match=r"indicators\[1\]\.target"):
        parse_plan(text, "bad.yaml")


def test_a_monitored_row_is_shown_never_judged() -> None:
    plan = monitored_plan()
    log = [
        plan_published(plan, 0, AT),
        indicator_update(plan.id, "secondary-va", "2025-Q2", "-2.3", "stats"),
        indicator_update(plan.id, "gdp", "2025-Q2", "6.1", "stats"),
    ]
    state = PlanState(plan.id)
    from projections.state import fold

    fold(((f"{n + 1}-0", e) for n, e in enumerate(log)), state)
    report = build_report(state)
    rows = {row.indicator.id: row for row in report.rows()}
    secondary = rows["secondary-va"]
    assert (secondary.target_text, secondary.evaluation.actual_text, secondary.evaluation.deviation_text) == (
        "-",
        "-2.3%",
        "-",
    )
    assert secondary.evaluation.status == "monitored" and not secondary.evaluation.missed
    assert rows["tax-share"].evaluation.actual_text == "暂无数据"  # due, not reported: said so, not judged
    assert [row.indicator.id for row in report.missed] == []


class Timeline:
    def __init__(self, plan: Plan) -> None:
        self.state, self.book, self.notices, self.seq = PlanState(plan.id), AlertBook(), [], 0
        self.post(datetime(2025, 1, 20, tzinfo=UTC), plan_published(plan, 0, AT))

    def post(self, when: datetime, *events: object) -> None:
        for event in events:
            self.seq += 1
            self.notices += judge(self.book, self.state, StoredEvent(f"{ms(when)}-{self.seq}", event))  # type: ignore[arg-type]

    def idle(self, when: datetime) -> list[AlertNotice]:
        self.notices += tick(self.book, self.state, ms(when))
        return self.notices


def test_a_monitored_indicator_raises_no_value_alert_but_its_overdue_data_does() -> None:
    plan = monitored_plan()
    line = Timeline(plan)
    # far below anything: no target, nothing to be behind
    line.post(
        datetime(2025, 4, 16, 2, tzinfo=UTC), indicator_update(plan.id, "secondary-va", "2025-Q1", "-30", "stats")
    )
    notices = line.idle(datetime(2025, 8, 20, tzinfo=UTC))
    value_rules = {"indicator_behind", "relative_target"}
    assert [n.subject for n in notices if n.rule in value_rules and n.subject in ("secondary-va", "tax-share")] == []
    stale = {n.subject for n in notices if n.rule == "data_stale"}
    assert {"secondary-va", "tax-share"} <= stale  # a figure due is still owed, target or not


def test_the_template_prints_a_dash_for_the_target_and_reads_the_value_back() -> None:
    plan = monitored_plan()
    workbook = load_workbook(io.BytesIO(write_template(plan, "finance", "2025-06")))
    rows = list(workbook["填报"].iter_rows(values_only=True))
    tax = next(r for r in rows if r[1] == "tax-share")
    assert tax[4] == "-"
    value_column = list(rows[0]).index("本期累计值")
    row_number = rows.index(tax) + 1
    workbook["填报"].cell(row=row_number, column=value_column + 1).value = 81.5
    out = io.BytesIO()
    workbook.save(out)
    imported = parse_sheet(out.getvalue(), "filled.xlsx", plan, "finance")
    [event] = [e for e in imported.events if e.subject == "tax-share"]
    assert str(event.value) == "81.5"


async def test_the_api_serves_a_monitored_indicator_and_takes_its_values(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    plan, _ = await load_example(store, MONITORED)
    tokens = TokenStore(redis, keys)
    analyst, _ = await tokens.create("analyst")
    finance, _ = await tokens.create("department", "finance", plans=[plan.id])
    body = indicator_update(plan.id, "tax-share", "2025-06", "81.5", "finance").model_dump(
        mode="json", exclude={"recorded_at"}
    )
    async with api_client(redis, keys) as client:
        posted = await client.post(f"/v1/plans/{plan.id}/events", json=body, headers=auth(finance))
        assert posted.status_code in (200, 201, 202), posted.text
        await project(redis, keys, plan.id)
        answer = await client.get(f"/v1/plans/{plan.id}/indicators/tax-share", headers=auth(analyst))
    detail = answer.json()
    assert answer.status_code == 200
    assert (detail["target"], detail["actual"], detail["deviation"], detail["status"]) == (
        "-",
        "81.5%",
        "-",
        "monitored",
    )
    assert detail["status_zh"] == "监测（无目标）" and detail["series"][0]["target"] == "-"


# ---- a level and its growth rate -------------------------------------------------------------

LEVEL_GROWTH = EXAMPLES / "level-growth-2025.yaml"


def level_growth_plan() -> Plan:
    return parse_plan(LEVEL_GROWTH.read_text(encoding="utf-8"), str(LEVEL_GROWTH))


def gdp_level(plan_id: str, growth: str | None = "5.1", subject: str = "gdp") -> dict[str, object]:
    body = indicator_update(plan_id, subject, "2025-Q2", "4126000", "stats").model_dump(
        mode="json", exclude={"recorded_at"}
    )
    return body | ({"growth": growth} if growth is not None else {})


def test_a_level_needs_a_unit_and_plans_without_growth_keep_their_stored_form() -> None:
    text = LEVEL_GROWTH.read_text(encoding="utf-8").replace(
        "unit: '%', department: stats, frequency: monthly, order: 6",
        "unit: '%', with_growth: true, department: stats, frequency: monthly, order: 6",
    )
    with pytest.raises(ValueError, match=r"indicators\[5\]\.with_growth.*cannot be %"):
        parse_plan(text, "bad.yaml")
    assert "with_growth" not in small_plan().model_dump(mode="json")["indicators"][0]
    assert level_growth_plan().model_dump(mode="json")["indicators"][0]["with_growth"] is True


def test_an_event_without_growth_is_stored_as_before_and_one_with_it_keeps_it() -> None:
    from events.codec import decode_payload, encode

    plain = indicator_update("test-2025", "gdp", "2025-Q2", "5.5", "stats")
    assert b"growth" not in encode(plain)
    both = plain.model_copy(update={"growth": Decimal("5.1")})
    assert decode_payload(encode(both).decode()) == both.model_copy(update={"recorded_at": None})


async def test_the_api_takes_a_level_with_its_growth_and_refuses_either_alone(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    plan, _ = await load_example(store, LEVEL_GROWTH)
    tokens = TokenStore(redis, keys)
    analyst, _ = await tokens.create("analyst")
    stats, _ = await tokens.create("department", "stats", plans=[plan.id])
    url = f"/v1/plans/{plan.id}/events"
    async with api_client(redis, keys) as client:
        alone = await client.post(url, json=gdp_level(plan.id, growth=None), headers=auth(stats))
        stray = await client.post(
            url,
            json=indicator_update(plan.id, "cpi", "2025-06", "0.4", "stats").model_dump(
                mode="json", exclude={"recorded_at"}
            )
            | {"growth": "1"},
            headers=auth(stats),
        )
        wild = await client.post(url, json=gdp_level(plan.id, growth="1e9"), headers=auth(stats))
        posted = await client.post(url, json=gdp_level(plan.id, growth="5.3"), headers=auth(stats))
        await project(redis, keys, plan.id)
        detail = (await client.get(f"/v1/plans/{plan.id}/indicators/gdp", headers=auth(analyst))).json()
    for refused in (alone, stray, wild):
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == ["growth"], refused.text
    assert "send growth" in alone.text and "leave growth out" in stray.text
    assert posted.status_code in (200, 201, 202), posted.text
    assert (detail["actual"], detail["deviation"], detail["status"]) == (
        "412.6亿元，增长5.3%",
        "-0.7个百分点",
        "at_risk",
    )
    assert (detail["actual_value"], detail["growth"]) == (4126000, 5.3)
    assert [p["value"] for p in detail["series"]] == [5.4, 5.3]  # a rate target's trend plots the growth
    assert [(h["value"], h["growth"]) for h in detail["history"]] == [(1985000, 5.4), (4126000, 5.3)]


def test_the_sheet_takes_a_level_and_its_growth_and_names_the_growth_cell() -> None:
    plan = level_growth_plan()
    content = write_template(plan, "stats", "2025-06")
    workbook = load_workbook(io.BytesIO(content))
    sheet = workbook["填报"]
    header = [cell.value for cell in sheet[1]]
    column = {name: header.index(name) + 1 for name in ("编号", "本期累计值", "同比增长（%）")}
    rows = {sheet.cell(row=r, column=column["编号"]).value: r for r in range(2, sheet.max_row + 1)}

    def filled(**values: tuple[object, object]) -> bytes:
        for subject, (value, growth) in values.items():
            sheet.cell(row=rows[subject], column=column["本期累计值"]).value = value
            sheet.cell(row=rows[subject], column=column["同比增长（%）"]).value = growth
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()

    imported = parse_sheet(filled(**{"industry-va": (815300, -1.2), "cpi": (0.1, None)}), "ok.xlsx", plan, "stats")
    by_subject = {e.subject: e for e in imported.events}
    assert (str(by_subject["industry-va"].value), str(by_subject["industry-va"].growth)) == ("815300", "-1.2")
    assert by_subject["cpi"].growth is None
    from services.spreadsheet import SheetRejected

    with pytest.raises(SheetRejected) as refused:
        parse_sheet(filled(**{"industry-va": (815300, None), "cpi": (0.1, 2)}), "bad.xlsx", plan, "stats")
    assert {(e.row, e.column) for e in refused.value.errors} == {
        (rows["industry-va"], "同比增长（%）"),
        (rows["cpi"], "同比增长（%）"),
    }


async def test_the_entry_form_asks_a_level_and_its_growth_and_names_the_missing_growth(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    from tests.test_dashboard import csrf_of, sign_in

    plan, _ = await load_example(store, LEVEL_GROWTH)
    stats, _ = await TokenStore(redis, keys).create("department", "stats", plans=[plan.id])
    before = await store.length(plan.id)
    async with api_client(redis, keys) as http:
        await sign_in(http, stats)
        form = await http.get(f"/plans/{plan.id}/entry", params={"month": "2025-07"})
        lines = re.findall(r'<tr data-subject="([^"]+)">', form.text)
        index = {subject: i for i, subject in enumerate(lines)}
        assert f'name="r{index["industry-va"]}-growth"' in form.text
        assert f'name="r{index["cpi"]}-growth"' not in form.text  # a plain rate: no growth to give
        sent = {"csrf": csrf_of(form), "month": "2025-07", f"r{index['industry-va']}-value": "950000"}
        refused = await http.post(f"/plans/{plan.id}/entry", data=sent)
        assert refused.status_code == 422
        assert f'id="r{index["industry-va"]}-growth-error" role="alert">该指标需同时填写同比增长（%）<' in refused.text
        sent |= {"csrf": csrf_of(refused), f"r{index['industry-va']}-growth": "-0.8"}
        done = await http.post(f"/plans/{plan.id}/entry", data=sent)
        assert done.status_code == 200 and "保存 <strong>1</strong> 条" in done.text
    assert await store.length(plan.id) == before + 1


# ---- scopes of projects and the plan's precision ---------------------------------------------

SCOPES = EXAMPLES / "scopes-2025.yaml"


def test_a_project_names_only_listed_scopes_once_and_precision_is_bounded() -> None:
    text = SCOPES.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match=r"projects\[0\]\.scopes\[1\].*'国家级' is not one of portfolio\.scopes"):
        parse_plan(text.replace("scopes: [省级, 在建]", "scopes: [省级, 国家级]"), "bad.yaml")
    with pytest.raises(ValueError, match=r"projects\[0\]\.scopes\[1\].*named twice"):
        parse_plan(text.replace("scopes: [省级, 在建]", "scopes: [省级, 省级]"), "bad.yaml")
    with pytest.raises(ValueError, match=r"portfolio\.scopes\[1\]\.name.*listed twice"):
        parse_plan(text.replace("    - {name: 市级}", "    - {name: 省级}"), "bad.yaml")
    with pytest.raises(ValueError, match=r"precision\.amounts_yi"):
        parse_plan(text.replace("amounts_yi: 1", "amounts_yi: 9"), "bad.yaml")
    stored = small_plan().model_dump(mode="json")
    assert "precision" not in stored and "scopes" not in stored["projects"][0]  # plans before keep their form


def test_amounts_print_with_the_plans_precision_and_rates_above_100_as_they_are() -> None:
    from projections.formatting import fixed, money_wan

    assert (money_wan(Decimal(72500)), money_wan(Decimal(72500), 1), money_wan(Decimal(910000), 1)) == (
        "7.25亿元",
        "7.3亿元",
        "91.0亿元",
    )
    assert money_wan(Decimal(5800), 1) == "5800万元"  # below one 亿: 万元 as before
    assert (fixed(Decimal("105.7831"), 2), fixed(Decimal("105.75"), 0)) == ("105.78", "106")
    text = LEVEL_GROWTH.read_text(encoding="utf-8") + "\nprecision: {amounts_yi: 1}\n"
    plan = parse_plan(text, "level-growth-precise.yaml")
    log = [
        plan_published(plan, 0, AT),
        indicator_update(plan.id, "industry-va", "2025-06", "815300", "stats").model_copy(
            update={"growth": Decimal("-1.2")}
        ),
    ]
    from projections.state import fold

    state = fold(((f"{n + 1}-0", e) for n, e in enumerate(log)), PlanState(plan.id))
    [row] = [r for r in build_report(state).rows() if r.indicator.id == "industry-va"]
    assert row.evaluation.actual_text == "81.5亿元，下降1.2%"


async def test_scope_lines_reach_the_api_and_the_rollup_and_plans_without_scopes_keep_their_documents(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    from projections.rollup import build_rollup
    from services.projection import fold_log
    from services.reports import render_rollup

    plan, _ = await load_example(store, SCOPES)
    await project(redis, keys, plan.id)
    analyst, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys) as client:
        summary = (await client.get(f"/v1/plans/{plan.id}", headers=auth(analyst))).json()
    lines = summary["projects"]["scope_lines"]
    assert lines[:2] == [
        "省级重点项目1个，完成投资7.3亿元，投资完成率60.42%",
        "市级重点项目1个，完成投资4.8亿元，投资完成率105.78%",
    ]
    assert len(lines) == 6
    state = await fold_log(store, plan.id)
    document = build_rollup(state, "2025-06", datetime(2025, 7, 16, tzinfo=UTC))
    assert document.portfolio.scope_lines == lines
    assert "- 预备项目1个。" in render_rollup(document, "md").decode()
    assert "<p>预备项目1个。</p>" in render_rollup(document, "html").decode()
    assert render_rollup(document, "xlsx").startswith(b"PK")
    plain, _ = await load_example(store, EXAMPLES / "projects-2025.yaml")
    plain_document = build_rollup(await fold_log(store, plain.id), "2025-06", datetime(2025, 7, 16, tzinfo=UTC))
    assert "scope_lines" not in plain_document.portfolio.model_dump()


async def test_the_inbox_takes_a_level_with_its_growth_and_rejects_one_without_naming_growth(
    redis: Redis, keys: Keyspace, store: EventStore, workers: Workers
) -> None:
    import json
    import uuid

    from tests.test_inbox import rejects, settled

    plan, _ = await load_example(store, LEVEL_GROWTH)
    stats, _ = await TokenStore(redis, keys).create("department", "stats", plans=[plan.id])
    before = await store.length(plan.id)
    message = {
        "token": stats,
        "plan_id": plan.id,
        "type": "indicator.updated",
        "subject": "gdp",
        "period": "2025-Q3",
        "occurred_at": "2025-10-16T10:00:00+08:00",
        "value": "6350000",
    }
    workers.start("w-inbox")
    await redis.xadd(keys.inbox, message | {"event_id": str(uuid.uuid4()), "growth": "5.2"})
    await redis.xadd(keys.inbox, message | {"event_id": str(uuid.uuid4())})
    await eventually(lambda: settled(redis, keys), timeout=30)
    await eventually(lambda: _one(rejects(redis, keys)), timeout=10)
    [stored] = [s.event for s in await store.read(plan.id)][before:]
    assert (str(stored.value), str(stored.growth)) == ("6350000", "5.2")  # type: ignore[union-attr]
    [refused] = await rejects(redis, keys)
    assert [e["field"] for e in json.loads(refused["errors"])] == ["growth"]


async def _one(awaitable: Any) -> bool:
    return len(await awaitable) >= 1


def test_a_retraction_restores_the_level_and_the_growth_it_had_replaced() -> None:
    from events.models import EventRetracted
    from projections.retraction import restoration
    from projections.state import apply, fold

    plan = level_growth_plan()
    first = indicator_update(plan.id, "gdp", "2025-Q2", "4126000", "stats").model_copy(
        update={"growth": Decimal("5.1")}
    )
    wrong = indicator_update(plan.id, "gdp", "2025-Q2", "4162000", "stats").model_copy(
        update={"growth": Decimal("15.1")}
    )
    stored = [StoredEvent(f"{n + 1}-0", e) for n, e in enumerate([plan_published(plan, 0, AT), first, wrong])]
    state = fold(((s.position, s.event) for s in stored), PlanState(plan.id))
    restores = restoration(stored[1:], wrong)
    assert restores is not None and (restores.value, restores.growth) == (Decimal(4126000), Decimal("5.1"))
    retraction = EventRetracted(
        event_id=uuid.uuid4(),
        plan_id=plan.id,
        department="stats",
        subject="gdp",
        period="2025-Q2",
        occurred_at=AT,
        retracted_event_id=str(wrong.event_id),
        retracted_position="3-0",
        retracted_type="indicator.updated",
        reason="数据填报错误",
        requested_by="cli",
        restores=restores,
    )
    apply(state, StoredEvent("4-0", retraction))
    [row] = [r for r in build_report(state).rows() if r.indicator.id == "gdp"]
    assert row.evaluation.actual_text == "412.6亿元，增长5.1%"


def test_the_trail_of_a_monitored_row_has_no_target_and_a_growth_is_said_once() -> None:
    from projections.provenance import describe, indicator_sources
    from projections.state import fold

    plan = monitored_plan()
    value = indicator_update(plan.id, "secondary-va", "2025-Q2", "-2.3", "stats")
    state = fold([("1-0", plan_published(plan, 0, AT)), ("2-0", value)], PlanState(plan.id))
    sources = indicator_sources(state, build_report(state), "secondary-va")
    assert [(s.role, s.position) for s in sources] == [("value", "2-0")]
    assert [s.role for s in indicator_sources(state, build_report(state), "gdp")] == ["target"]
    growth_plan = level_growth_plan()
    both = indicator_update(growth_plan.id, "gdp", "2025-Q2", "4126000", "stats").model_copy(
        update={"growth": Decimal("5.1")}
    )
    assert describe(both, growth_plan) == "4126000万元，增长5.1%"


async def test_the_dashboard_shows_the_new_shapes(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    from tests.test_dashboard import sign_in

    loaded = [(await load_example(store, path))[0] for path in (MONITORED, LEVEL_GROWTH, SCOPES)]
    for plan in loaded:
        await project(redis, keys, plan.id)
    analyst, _ = await TokenStore(redis, keys).create("analyst")
    monitored, growth, scopes = (plan.id for plan in loaded)
    async with api_client(redis, keys) as http:
        await sign_in(http, analyst)
        pages = {
            "secondary": await http.get(f"/plans/{monitored}/indicators/secondary-va"),
            "overview": await http.get(f"/plans/{monitored}"),
            "gdp": await http.get(f"/plans/{growth}/indicators/gdp"),
            "projects": await http.get(f"/plans/{scopes}/projects"),
            "scopes": await http.get(f"/plans/{scopes}"),
        }
    assert {name: page.status_code for name, page in pages.items()} == dict.fromkeys(pages, 200)
    assert "监测（无目标）" in pages["secondary"].text and "监测（无目标）" in pages["overview"].text
    assert "412.6亿元，增长5.1%" in pages["gdp"].text
    for name in ("projects", "scopes"):
        assert "市级重点项目1个，完成投资4.8亿元，投资完成率105.78%。" in pages[name].text
