"""Report shapes of real plans beyond the seed (issue 14): indicators without targets (monitored,
shown with 「-」, never judged or alerted on their values). The example plans' reports are golden
files (tests/test_examples_golden.py); here each entry point and the alert rules."""

from __future__ import annotations

import io
from datetime import UTC, datetime

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
from tests.conftest import api_client
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
