"""The read model: each JSON shape the read side serves is its model, read back unchanged, with a
schema that names every field — what the API's response models publish.

Pure: the seed history is folded in memory, no Redis."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import BaseModel

from events.models import IndicatorUpdated, InvestmentCompleted, TargetRevised, plan_published
from events.positions import StoredEvent
from projections.readmodel import IndicatorDetail, PlanSummary, ProjectDetail, ProjectSummary
from projections.report import PlanReport, ReportBuilder, build_report
from projections.state import PlanState, apply, fold
from projections.views import (
    indicator_detail_view,
    project_detail_view,
    project_summary_view,
    report_view,
    summary_json,
)
from services.app import load_plan
from services.demo import PLAN_PUBLISHED_AT, SEED_PLAN, example_plans, h1_history, read_example
from services.reports import table_markdown, table_rows, table_text

FIRST_POSITION = 1752000000000
STATUSES = ["met", "on_track", "at_risk", "off_track", "not_due", "no_data", "monitored"]


def _stored(events: list) -> list[StoredEvent]:
    return [StoredEvent(f"{FIRST_POSITION + i}-0", e) for i, e in enumerate(events)]


@pytest.fixture(scope="module")
def seed() -> PlanState:
    """The seed history, then a revised GDP target and a corrected GDP figure."""
    plan = load_plan(SEED_PLAN)
    gdp = plan.indicator("gdp")
    assert gdp is not None
    common = {"plan_id": plan.id, "department": gdp.department, "subject": "gdp", "occurred_at": PLAN_PUBLISHED_AT}
    later = [
        TargetRevised(event_id=uuid.UUID(int=1), period="2025-04", target="6%左右", reason="区人大调整", **common),
        IndicatorUpdated(event_id=uuid.UUID(int=2), period="2025-Q2", value=Decimal("5.6"), **common),
    ]
    return fold(_stored([plan_published(plan, 0, PLAN_PUBLISHED_AT), *h1_history(plan), *later]), plan_id=plan.id)


@pytest.fixture(scope="module", params=[date(2025, 3, 31), None], ids=["march", "data-through"])
def report(seed: PlanState, request: pytest.FixtureRequest) -> PlanReport:
    return build_report(seed, request.param)


def _shapes(state: PlanState, report: PlanReport) -> list[tuple[type[BaseModel], dict]]:
    """Every JSON shape of the report, with the model that describes it."""
    rows = report.rows()
    projects = report.portfolio.projects
    return [
        (PlanSummary, report_view(report, "2025-07-16T08:00:00+08:00")),
        (PlanSummary, report_view(report)),
        *((IndicatorDetail, indicator_detail_view(row, state.indicator(row.indicator.id))) for row in rows),
        *((ProjectSummary, project_summary_view(project)) for project in projects),
        *((ProjectDetail, project_detail_view(project, state.projects[project.id])) for project in projects),
    ]


def test_each_shape_reads_back_into_its_model_byte_for_byte(seed: PlanState, report: PlanReport) -> None:
    shapes = _shapes(seed, report)
    gdp = next(view for model, view in shapes if model is IndicatorDetail and view["id"] == "gdp")
    assert gdp["history"][-1]["revision"] == 2 and gdp["target_changes"][0]["target"] == "6%左右"
    for model, view in shapes:
        text = json.dumps(view, ensure_ascii=False)
        assert json.dumps(model.model_validate_json(text).model_dump(mode="json"), ensure_ascii=False) == text


def _properties(schema: dict, name: str) -> dict:
    definition = schema if schema.get("title") == name else schema["$defs"][name]
    assert set(definition["required"]) == set(definition["properties"])  # every field is always there
    return definition["properties"]


def test_the_schemas_name_every_field_of_the_json(seed: PlanState, report: PlanReport) -> None:
    summary = report_view(report)
    schema = PlanSummary.model_json_schema(mode="serialization")
    assert list(_properties(schema, "PlanSummary")) == list(summary)
    assert list(_properties(schema, "PortfolioSummary")) == list(summary["projects"])
    row = _properties(schema, "IndicatorSummary")
    assert list(row) == list(summary["indicators"][0])
    assert row["status"]["enum"] == STATUSES
    assert {"type": "integer"} in row["actual_value"]["anyOf"] and {"type": "number"} in row["actual_value"]["anyOf"]

    detail = IndicatorDetail.model_json_schema(mode="serialization")
    gdp = indicator_detail_view(report.rows()[0], seed.indicator("gdp"))
    assert list(_properties(detail, "IndicatorDetail")) == list(gdp)
    assert list(_properties(detail, "PeriodValue")) == list(gdp["history"][0])

    project = ProjectDetail.model_json_schema(mode="serialization")
    first = report.portfolio.projects[0]
    properties = _properties(project, "ProjectDetail")
    assert list(properties) == list(project_detail_view(first, seed.projects[first.id]))
    assert properties["stage"]["enum"] == ["not_started", "started", "completed"]


def test_whole_numbers_print_as_integers(seed: PlanState) -> None:
    text = json.dumps(report_view(build_report(seed, date(2025, 6, 30))), ensure_ascii=False)
    assert '"investment_wan": 910000, "planned_investment_wan": 1802000, "investment_rate": 50.5' in text
    assert '"start_rate": 60.7' in text and '"time_progress": 50,' in text


def test_the_tables_print_the_same_from_a_stored_summary(report: PlanReport) -> None:
    stored = PlanSummary.model_validate_json(json.dumps(report_view(report), ensure_ascii=False))
    assert table_text(stored) == table_text(report)
    assert table_markdown(stored) == table_markdown(report)
    assert table_rows(stored) == table_rows(report)


def test_a_live_builder_re_renders_only_what_changed_and_agrees_with_a_fresh_build() -> None:
    plan = load_plan(SEED_PLAN)
    state = fold(_stored([plan_published(plan, 0, PLAN_PUBLISHED_AT), *h1_history(plan)]), plan_id=plan.id)
    builder = ReportBuilder()
    before = builder.build(state)
    report_view(before)
    common = {"plan_id": plan.id, "occurred_at": PLAN_PUBLISHED_AT}
    gdp = IndicatorUpdated(
        event_id=uuid.UUID(int=3), department="stats", subject="gdp", period="2025-Q2", value=Decimal("5.9"), **common
    )
    apply(state, StoredEvent(f"{FIRST_POSITION + 10**6}-0", gdp))
    after = builder.build(state)
    rows = {row.indicator.id: row for row in after.rows()}
    assert rows["fai"].memo and after.portfolio is before.portfolio  # rendered before, reused
    assert not rows["gdp"].memo and not rows["income"].memo  # income is judged against GDP
    assert report_view(after) == report_view(build_report(state))

    project = plan.projects[0]
    investment = InvestmentCompleted(
        event_id=uuid.UUID(int=4),
        department=project.department,
        subject=project.id,
        period="2025-06",
        amount_wan=Decimal("123.4"),
        **common,
    )
    apply(state, StoredEvent(f"{FIRST_POSITION + 10**6 + 1}-0", investment))
    again = builder.build(state)
    assert again.portfolio is not after.portfolio and not again.portfolio.memo
    assert report_view(again) == report_view(build_report(state)) != report_view(after)


def _logs() -> list[list]:
    """The seed's log and every example plan's, as stored events."""
    plan = load_plan(SEED_PLAN)
    logs = [[plan_published(plan, 0, PLAN_PUBLISHED_AT), *h1_history(plan)]]
    for plan_file in example_plans():
        example, history = read_example(plan_file)
        logs.append([plan_published(example, 0, datetime(example.year, 1, 20, tzinfo=UTC)), *history])
    return logs


@pytest.mark.parametrize("log", _logs(), ids=lambda log: log[0].plan_id)
def test_the_summary_built_from_its_rows_is_the_summary_serialised_whole(log: list) -> None:
    """The projector writes `summary_json` (each row's JSON kept while the row is unchanged); it must
    be `json.dumps(report_view(...))` byte for byte after every event, rows changed or not."""
    state, builder = PlanState(log[0].plan_id), ReportBuilder()
    for stored in _stored(log):
        apply(state, stored)
        if state.plan is None:
            continue
        report = builder.build(state)
        assert summary_json(report) == json.dumps(report_view(report), ensure_ascii=False)
    assert list(json.loads(summary_json(report))) == list(PlanSummary.model_fields)
