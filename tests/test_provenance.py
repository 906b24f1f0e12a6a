"""Provenance: every number the table prints can be traced to the events behind it — by
`App.reports.provenance`, `planwatch why` (a subprocess) and the API (the real ASGI app) — and the
events it names exist and do change the number when corrected or retracted."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from redis.asyncio import Redis

from events.models import EventRetracted, InvestmentCompleted
from projections.provenance import Provenance
from services.app import App, publish_plan
from services.demo import load_seed
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import api_client, planwatch
from tests.factories import AT, gdp_update
from tests.test_reporting_basis import example_plan

SEED = "rongchang-2025"


async def test_every_printed_indicator_number_names_events_that_exist(store: EventStore, redis: Redis, keys: Keyspace):
    await load_seed(store)
    app = App(redis, keys)
    report = await app.reports.table(SEED)
    traced = 0
    for row in report.rows():
        trail = await app.reports.provenance(SEED, row.indicator.id)
        assert trail.printed["actual"] == row.evaluation.actual_text
        roles = [s.role for s in trail.sources]
        assert roles.count("target") == 1  # the plan or the revision in force
        if row.evaluation.period is None:
            assert "value" not in roles  # nothing reported: nothing to trace
            continue
        [value] = [s for s in trail.sources if s.role == "value"]
        stored = await store.event_at(SEED, value.position)
        assert stored is not None and str(stored.event.event_id) == value.event_id
        assert stored.event.type == "indicator.updated" and stored.event.subject == row.indicator.id
        assert stored.event.period == row.evaluation.period == value.period
        assert value.department == stored.event.department and value.department_name
        traced += 1
    assert traced >= 20  # the seed's table is mostly reported


async def test_a_correction_moves_the_trail_and_retracting_it_restores_the_number(
    store: EventStore, redis: Redis, keys: Keyspace
):
    await load_seed(store)
    app = App(redis, keys)
    before = await app.reports.provenance(SEED, "gdp")
    [first] = [s for s in before.sources if s.role == "value"]
    correction = gdp_update(SEED, "5.7", first.period or "")
    await store.append([correction])
    after = await app.reports.provenance(SEED, "gdp")
    [value] = [s for s in after.sources if s.role == "value"]
    assert (value.event_id, value.revision, after.printed["actual"]) == (str(correction.event_id), 2, "5.7%")
    assert value.recorded_at > first.recorded_at
    # retracting the event the trail names changes the printed number back
    stored = await store.stored_event(SEED, str(correction.event_id))
    assert stored is not None and stored.position == value.position
    await store.append(
        [
            EventRetracted(
                event_id=uuid.uuid4(),
                plan_id=SEED,
                department="stats",
                subject="gdp",
                period=value.period or "",
                occurred_at=AT,
                retracted_event_id=correction.event_id,
                retracted_position=stored.position,
                retracted_type="indicator.updated",
                reason="测试撤回",
                requested_by="0123456789ab",
                restores={"position": first.position, "value": "5.5", "qualifier": "exact", "revision": 1},
            )
        ]
    )
    restored = await app.reports.provenance(SEED, "gdp")
    assert restored.printed["actual"] == before.printed["actual"] == "5.5%"
    assert [s.position for s in restored.sources if s.role == "value"] == [first.position]


async def test_as_known_at_traces_what_was_known_then(store: EventStore, redis: Redis, keys: Keyspace):
    await load_seed(store)
    app = App(redis, keys)
    await asyncio.sleep(0.01)
    then = datetime.now(UTC)
    await asyncio.sleep(0.01)  # the correction is stored in a later millisecond than `then`
    await store.append([gdp_update(SEED, "5.9", "2025-Q2")])
    now, earlier = await app.reports.provenance(SEED, "gdp"), await app.reports.provenance(SEED, "gdp", known_at=then)
    assert (now.printed["actual"], earlier.printed["actual"]) == ("5.9%", "5.5%")
    assert all(s.recorded_at <= then for s in earlier.sources)


async def test_a_projects_total_traces_exactly_the_reports_it_counts(store: EventStore, redis: Redis, keys: Keyspace):
    """Year to date: the latest 累计 and the period amounts after it — never an earlier 累计 the
    later one already holds. The amounts named add up to the total printed."""
    plan = example_plan()
    await publish_plan(store, plan)

    def report(period: str, amount: int, basis: str | None = None) -> InvestmentCompleted:
        return InvestmentCompleted(
            event_id=uuid.uuid4(),
            plan_id=plan.id,
            department="econ",
            subject="yp-001",
            period=period,
            occurred_at=AT,
            amount_wan=Decimal(amount),
            basis=basis,  # type: ignore[arg-type]
        )

    may, june, july = (
        report("2025-01..2025-05", 6000),
        report("2025-01..2025-06", 7000),
        report("2025-07", 500, "period"),
    )
    await store.append([may, june, july])
    trail = await App(redis, keys).reports.provenance(plan.id, "yp-001")
    investments = [s for s in trail.sources if s.role == "investment"]
    assert [s.event_id for s in investments] == [str(june.event_id), str(july.event_id)]
    assert trail.printed["investment"] == "7500万元"
    assert [s.role for s in trail.sources] == ["plan", "investment", "investment"]  # not started: no start to trace


async def test_planwatch_why_prints_the_trail_and_its_json(store: EventStore, cli_env: dict[str, str]):
    await load_seed(store)
    text = planwatch(cli_env, "why", "--plan", SEED, "--cell", "gdp")
    assert text.returncode == 0, text.stderr
    assert "地区生产总值（gdp）截至2025-06-30" in text.stdout and "实际值：5.5%" in text.stdout
    assert "区统计局（stats）" in text.stdout and "北京时间" in text.stdout
    as_json = planwatch(cli_env, "why", "--plan", SEED, "--project", "kp-001", "-f", "json")
    assert as_json.returncode == 0, as_json.stderr
    trail = Provenance.model_validate(json.loads(as_json.stdout))
    assert trail.kind == "project" and {"plan", "started", "investment", "completed"} <= {s.role for s in trail.sources}
    neither = planwatch(cli_env, "why", "--plan", SEED)
    assert neither.returncode == 2 and "--cell" in neither.stderr
    unknown = planwatch(cli_env, "why", "--plan", SEED, "--cell", "no-such")
    assert unknown.returncode != 0 and "no indicator or project 'no-such'" in unknown.stderr + unknown.stdout


async def test_the_api_serves_the_trail(store: EventStore, redis: Redis, keys: Keyspace):
    await load_seed(store)
    token, _ = await TokenStore(redis, keys).create("analyst", None, "why", plans=[SEED])
    async with api_client(redis, keys, token) as http:
        answer = await http.get(f"/v1/plans/{SEED}/provenance/retail", params={"as_of": "2025-03-31"})
        assert answer.status_code == 200, answer.text
        trail = Provenance.model_validate(answer.json())
        assert trail.as_of.isoformat() == "2025-03-31"
        assert {s.period for s in trail.sources if s.role == "value"} <= {"2025-03", "2025-Q1"}
        missing = await http.get(f"/v1/plans/{SEED}/provenance/no-such")
        assert missing.status_code == 404


async def test_the_rollup_workbook_has_a_sheet_of_sources(store: EventStore, redis: Redis, keys: Keyspace):
    import io

    from openpyxl import load_workbook

    await load_seed(store)
    app = App(redis, keys)
    produced = await app.rollups.produce(SEED, "2025-06")
    assert produced.document is not None
    workbook = load_workbook(io.BytesIO((await app.rollups.rendered(SEED, "2025-06.xlsx")).content))
    sheet = workbook["数据来源"]
    rows = [r for r in sheet.iter_rows(values_only=True) if r[0]]
    header = rows.index(("编号", "名称", "数据项", "内容", "报告期", "报送单位", "入库时间", "事件编号", "日志位置"))
    listed = rows[header + 1 :]
    gdp = (await app.reports.provenance(SEED, "gdp", known_at=produced.document.known_at)).sources
    assert [tuple(r[7:9]) for r in listed if r[0] == "gdp"] == [(s.event_id, s.position) for s in gdp]
    stored = await store.events_at(SEED, [r[8] for r in listed])
    assert len(stored) == len({r[8] for r in listed})  # every position named is an event of the log
    assert {r[0] for r in listed} >= {"gdp", "kp-001"} and all("北京时间" in r[6] for r in listed)


async def test_every_traced_value_changes_its_row_when_corrected(store: EventStore, redis: Redis, keys: Keyspace):
    """For every row of the seed's report, the value event its trail names is the one that makes
    the number: a correction of exactly that report (same subject and period; doubled, so the
    printed precision cannot hide it) changes what the
    row prints, and the trail then names the correction. So does one more investment report of a
    period a project's total counts."""
    await load_seed(store)
    app = App(redis, keys)
    report = await app.reports.table(SEED)
    before = {row.indicator.id: await app.reports.provenance(SEED, row.indicator.id) for row in report.rows()}
    corrections = {}
    for subject, trail in before.items():
        for source in trail.sources:
            if source.role == "value":
                stored = await store.event_at(SEED, source.position)
                assert stored is not None
                event = stored.event
                corrections[subject] = event.model_copy(
                    update={"event_id": uuid.uuid4(), "value": event.value * 2 + 1, "recorded_at": None}
                )
    assert len(corrections) >= 20
    await store.append(list(corrections.values()))
    for subject, correction in corrections.items():
        after = await app.reports.provenance(SEED, subject)
        assert after.printed["actual"] != before[subject].printed["actual"], subject
        assert [s.event_id for s in after.sources if s.role == "value"] == [str(correction.event_id)]

    projects = [p.id for p in report.portfolio.projects]
    trails = {p: await app.reports.provenance(SEED, p) for p in projects}
    extra = {}
    for project, trail in trails.items():
        counted = [s for s in trail.sources if s.role == "investment"]
        if counted:
            stored = await store.event_at(SEED, counted[-1].position)
            assert stored is not None
            event = stored.event
            extra[project] = event.model_copy(
                update={"event_id": uuid.uuid4(), "amount_wan": event.amount_wan + 5000, "recorded_at": None}
            )
    assert len(extra) >= 10
    await store.append(list(extra.values()))
    for project, correction in extra.items():
        after = await app.reports.provenance(SEED, project)
        assert after.printed["investment"] != trails[project].printed["investment"], project
        assert str(correction.event_id) in [s.event_id for s in after.sources if s.role == "investment"]
