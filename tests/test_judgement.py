"""One judgement (projections/judgement.py): a subject's light, its alert's severity and the wording,
the same in the table, the alert list, the notices and the rollup; escalation by data periods
missed running; hysteresis (`thresholds.alerts.resolve_margin`, `resolve_after_periods`)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from events.alerts import SEVERITY_ZH
from events.models import plan_published
from events.plan import Plan
from events.planfile import PlanFileError, parse_plan
from events.targets import parse_target
from projections.evaluate import evaluate
from projections.judgement import HELD_NOTE, SEVERITY_LIGHT, Run, judge, run_ending, run_of
from projections.state import Observation
from services.app import App, publish_plan
from services.projection import ALERTS, rebuild
from services.store import EventStore, Keyspace
from tests.conftest import planwatch
from tests.factories import AT, indicator_update, small_plan
from tests.test_alert_judgement import _LIVE, catch_up
from tests.test_alerts import Timeline

PLAN = "test-2025"
GDP = f"{PLAN}:indicator_behind:gdp"
DEFAULT_RULES = small_plan(PLAN).thresholds.alerts


def plan_with(**alerts: object) -> Plan:
    data = small_plan(PLAN).model_dump(mode="json")
    data["thresholds"]["alerts"].update(alerts)
    return Plan.model_validate(data)


# --- the judgement, pure ------------------------------------------------------------------------


def test_a_status_alone_has_its_own_light_and_wording() -> None:
    assert (judge("on_track").light, judge("on_track").severity, judge("on_track").status_zh) == (
        "green",
        None,
        "正常推进",
    )
    at_risk = judge("at_risk")
    assert (at_risk.light, at_risk.severity, at_risk.status_zh, at_risk.note) == (
        "yellow",
        "warning",
        "预警（黄灯）",
        "",
    )
    assert (judge("off_track").light, judge("off_track").severity) == ("red", "critical")
    assert (judge("no_data").light, judge("not_due").light) == ("grey", "grey")


def test_two_periods_missed_running_escalate_to_red_and_say_why() -> None:
    first = judge("at_risk", run_of([("at_risk", "at_risk")], 2), 2)
    assert (first.light, first.severity, first.escalated) == ("yellow", "warning", False)
    second = judge("at_risk", run_of([("at_risk", "at_risk")] * 2, 2), 2)
    assert (second.light, second.severity, second.status_zh) == ("red", "critical", "预警升级（红灯）")
    assert second.escalated and second.periods_missed == 2 and second.note == "升级：连续2期未达目标"
    assert SEVERITY_LIGHT[second.severity] == second.light  # the alert's colour is the light
    # a period back within the target by the margin ends the run: the next miss starts again
    again = run_of([("at_risk", "at_risk"), ("on_track", "on_track"), ("at_risk", "at_risk")], 2)
    assert again == Run(1, "at_risk") and judge("at_risk", again, 2).severity == "warning"


def test_off_track_escalates_to_emergency_and_never_beyond_and_the_run_keeps_its_worst() -> None:
    six = judge("off_track", run_of([("off_track", "off_track")] * 6, 2), 2)
    assert (six.severity, six.status_zh, six.light) == ("emergency", "升级督办（红灯）", "red")
    assert SEVERITY_ZH[six.severity] == "升级督办"
    better = run_of([("off_track", "off_track"), ("at_risk", "at_risk")], 3)  # better, still missed
    assert better.worst == "off_track" and judge("at_risk", better, 3).severity == "critical"
    assert judge("at_risk", better, None).severity == "critical"  # no escalation asked: still the worst


def test_a_value_back_by_less_than_the_margin_holds_the_alert_for_the_periods_asked() -> None:
    missed, close = ("at_risk", "at_risk"), ("on_track", "at_risk")  # back, but not by the margin
    held = run_of([missed, close], 2)
    assert held.firing and held.held
    judged = judge("on_track", held, 2)
    assert (judged.light, judged.severity, judged.note) == ("yellow", "warning", HELD_NOTE)
    assert not run_of([missed, close, close], 2).firing  # two periods back: resolved
    assert not run_of([missed, close], 1).firing  # resolve_after_periods 1: at the first period back
    assert not run_of([missed, ("on_track", "on_track")], 2).firing  # back by the margin: at once


_STATUSES = st.sampled_from(["met", "on_track", "at_risk", "off_track", "no_data"])


@given(periods=st.lists(st.tuples(_STATUSES, _STATUSES), max_size=14), resolve_after=st.integers(0, 4))
def test_a_run_read_back_from_the_latest_period_is_the_run_read_forward(
    periods: list[tuple[str, str]], resolve_after: int
) -> None:
    assert run_ending(reversed(periods), resolve_after) == run_of(periods, resolve_after)  # type: ignore[arg-type]


def test_a_run_read_back_stops_at_the_period_that_ended_the_one_before() -> None:
    read: list[tuple[str, str]] = []

    def latest_first(periods: list[tuple[str, str]]):
        for pair in reversed(periods):
            read.append(pair)
            yield pair

    missed, close, fine = ("at_risk", "at_risk"), ("on_track", "at_risk"), ("on_track", "on_track")
    year = [missed] * 6 + [fine] + [("off_track", "off_track"), close, missed]  # ten months, a run of three
    run = run_ending(latest_first(year), 2)
    assert (run.missed, run.worst, run.held) == (2, "off_track", False)
    assert len(read) == 4  # the run (held through one period back), then June, which ended the earlier run
    read.clear()
    assert not run_ending(latest_first([missed, fine]), 2).firing and len(read) == 1  # the latest ended it


def test_evaluate_judges_a_value_a_margin_worse_without_changing_what_it_prints() -> None:
    def judged(target: str, value: str, margin: str, unit: str = "%"):
        observations = {"2025-06": Observation(period="2025-06", value=Decimal(value), position="1-0")}
        return evaluate(parse_target(target), observations, date(2025, 6, 30), unit=unit, margin=Decimal(margin))

    assert judged("6.5%左右", "6.5", "0").status == "on_track"
    close = judged("6.5%左右", "6.5", "0.1")
    assert close.status == "at_risk" and close.deviation_text == "完成" and close.deviation == 0
    assert judged("6.5%左右", "6.6", "0.1").status == "on_track"
    assert judged("5.5%以内", "5.45", "0.1").status == "at_risk"  # lower is better: 0.05 to spare
    assert judged("5.5%以内", "5.4", "0.1").status == "on_track"


# --- the alert lifecycle: a value flapping around its target --------------------------------------


def flapping(plan: Plan) -> list[tuple[str, str]]:
    """GDP (6.5%左右, quarterly) reported 6.4, 6.5, 6.4, 6.5 — around its target, quarter after quarter."""
    line = Timeline()
    line.post(datetime(2025, 1, 20, tzinfo=UTC), plan_published(plan, 0, AT))
    values = [("Q1", "6.4"), ("Q2", "6.5"), ("Q3", "6.4"), ("Q4", "6.5")]
    for month, (quarter, value) in zip((4, 7, 10, 12), values, strict=True):
        line.post(datetime(2025, month, 16, 2, tzinfo=UTC), indicator_update(PLAN, "gdp", f"2025-{quarter}", value))
        line.post(datetime(2025, month, 16, 3, tzinfo=UTC), indicator_update(PLAN, "new-projects", "2025-01", "1"))
    return [(n.type, n.severity) for n in line.notices if n.rule == "indicator_behind" and n.subject == "gdp"]


def test_a_value_flapping_around_its_target_raises_one_alert_not_several() -> None:
    assert flapping(small_plan(PLAN)) == [("alert.raised", "warning"), ("alert.escalated", "critical")]
    # without hysteresis the same log raises and resolves it twice: the setting is what holds it
    no_hysteresis = plan_with(resolve_margin="0", resolve_after_periods=1)
    assert [kind for kind, _ in flapping(no_hysteresis)] == [
        "alert.raised",
        "alert.resolved",
        "alert.raised",
        "alert.resolved",
    ]


async def test_live_equals_rebuild_on_a_flapping_log(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    await publish_plan(store, small_plan(PLAN))
    for quarter, value in [("Q1", "6.4"), ("Q2", "6.5"), ("Q3", "6.4"), ("Q4", "6.6")]:
        await store.append([indicator_update(PLAN, "gdp", f"2025-{quarter}", value)])
        await catch_up(redis, keys)
    app = App(redis, keys)
    live = await app.alerting.history(PLAN, 200)
    gdp = [(n["type"], n["severity"]) for n in live if n["fingerprint"] == GDP]
    assert gdp == [("alert.raised", "warning"), ("alert.escalated", "critical"), ("alert.resolved", "critical")]
    await rebuild(redis, keys, PLAN, projection=ALERTS)
    _LIVE.pop(keys.prefix, None)
    assert await app.alerting.history(PLAN, 200) == live


# --- the table and the alert list agree -----------------------------------------------------------


async def test_the_table_and_the_alert_list_agree_on_an_escalated_subject(
    redis: Redis, keys: Keyspace, store: EventStore, cli_env: dict[str, str]
) -> None:
    await publish_plan(store, small_plan(PLAN))
    await store.append([indicator_update(PLAN, "gdp", "2025-Q1", "5.8")])
    await catch_up(redis, keys)
    await store.append([indicator_update(PLAN, "gdp", "2025-Q2", "5.5")])  # behind a second quarter running
    await catch_up(redis, keys)

    table = planwatch(cli_env, "table", "--plan", PLAN, "--format", "json")
    assert table.returncode == 0, table.stderr
    [row] = [r for r in json.loads(table.stdout)["indicators"] if r["id"] == "gdp"]
    assert (row["status"], row["light"], row["severity"], row["escalated"]) == ("at_risk", "red", "critical", True)
    assert (row["status_zh"], row["note"]) == ("预警升级（红灯）", "升级：连续2期未达目标")

    [alert] = [a for a in await App(redis, keys).alerting.firing(PLAN) or [] if a["fingerprint"] == GDP]
    assert alert["severity"] == row["severity"] and SEVERITY_LIGHT[alert["severity"]] == row["light"]
    assert alert["type"] == "alert.escalated" and alert["summary_zh"].endswith("；升级：连续2期未达目标")
    listed = planwatch(cli_env, "alerts", "--plan", PLAN)
    assert "【红色预警】地区生产总值上半年完成5.5%" in listed.stdout, listed.stdout

    text = planwatch(cli_env, "table", "--plan", PLAN).stdout
    assert (
        "地区生产总值：全年目标6.5%左右，完成5.5%，与目标-1.0个百分点（区统计局）【预警升级（红灯）】升级：连续2期未达目标"
        in text
    )
    markdown = planwatch(cli_env, "table", "--plan", PLAN, "--format", "markdown").stdout
    assert "【预警升级（红灯）】升级：连续2期未达目标" in markdown


# --- the settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "reason"),
    [
        ("resolve_margin", -0.1, "greater than or equal to 0"),
        ("resolve_margin", "much", "decimal"),
        ("resolve_after_periods", 0, "greater than or equal to 1"),
        ("resolve_after_periods", 13, "less than or equal to 12"),
    ],
)
def test_bad_hysteresis_settings_are_refused_naming_the_field(setting: str, value: object, reason: str) -> None:
    data = small_plan(PLAN).model_dump(mode="json")
    data["thresholds"]["alerts"][setting] = value
    with pytest.raises(PlanFileError) as refused:
        parse_plan(yaml.safe_dump(data, allow_unicode=True), "plan.yaml")
    [problem] = refused.value.problems
    assert f"thresholds.alerts.{setting}" in problem and reason in problem.lower(), problem


def test_the_hysteresis_settings_are_read_and_left_out_of_the_stored_form_at_their_defaults() -> None:
    assert (DEFAULT_RULES.resolve_margin, DEFAULT_RULES.resolve_after_periods) == (Decimal("0.1"), 2)
    stored = small_plan(PLAN).model_dump(mode="json")["thresholds"]["alerts"]
    assert "resolve_margin" not in stored and "resolve_after_periods" not in stored
    chosen = plan_with(resolve_margin="0.5", resolve_after_periods=3).thresholds.alerts
    assert (chosen.resolve_margin, chosen.resolve_after_periods) == (Decimal("0.5"), 3)
    assert chosen.model_dump(mode="json")["resolve_after_periods"] == 3


async def test_the_alert_list_and_the_table_agree_on_which_projects_are_overdue_to_start(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    """A 续建 project (a kind already under way) is never overdue to start: the project list says so,
    and so do the alerts (they judged projects without the plan's kinds before)."""
    from projections.report import build_report
    from services.demo import EXAMPLES, load_example
    from services.projection import fold_log
    from tests.test_alerts import catch_up as caught_up
    from tests.test_alerts import live

    plan, _ = await load_example(store, EXAMPLES / "projects-2025.yaml")
    await caught_up(await live(redis, keys, plan.id))
    firing = await App(redis, keys).alerting.firing(plan.id) or []
    alerted = {a["subject"]: a for a in firing if a["rule"] == "project_not_started"}
    report = build_report(await fold_log(store, plan.id))
    overdue = {p.id: p for p in report.portfolio.projects if p.overdue}
    assert set(alerted) == set(overdue) and "cp-01" not in alerted
    for subject, alert in alerted.items():
        assert alert["severity"] == overdue[subject].judged.severity
