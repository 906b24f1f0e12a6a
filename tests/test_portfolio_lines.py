"""Key-project sentences worded by the plan (events.plan.PortfolioLines): kinds of projects with
their own start-rate denominators, 竣工率 and 建成投产, the rate's label, and figures left out
rather than invented. The seed's sentence is unchanged (tests/test_seed_golden.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from events.models import plan_published
from events.plan import PortfolioLines, ProjectType
from events.planfile import PlanFileError, parse_plan
from events.positions import StoredEvent
from projections.portfolio import ProjectProgress, projects_in_plan_order, worded_line
from projections.state import PlanState, apply
from services.app import load_plan
from services.demo import EXAMPLES, SEED_PLAN
from tests.factories import investment

JUNE = date(2025, 6, 30)
BASE = ProjectProgress(
    id="p",
    name="项目",
    department="fgw",
    category="工业",
    synthetic=True,
    planned_start="2025-03",
    planned_completion="2025-12",
    planned_investment_wan=Decimal(10000),
    started_on=None,
    completed_on=None,
    investment_wan=Decimal(0),
    investment_rate=None,
    schedule_progress=None,
    months_overdue=None,
    reported_month=None,
    status="on_track",
)


def project(kind: str, start: str = "2025-03", started: bool = False, done: bool = False, wan: int = 0):
    return replace(
        BASE,
        project_type=kind,
        planned_start=start,
        started_on=date(2025, 3, 9) if started else None,
        completed_on=date(2025, 5, 9) if done else None,
        investment_wan=Decimal(wan),
    )


def test_the_start_rate_is_over_the_new_projects_due_and_a_continuing_one_is_never_started() -> None:
    projects = [
        project("新开工", started=True, wan=4000),
        project("新开工", start="2025-05"),
        project("新开工", start="2025-10"),  # not due by June: outside a `due` denominator
        project("续建", wan=6000, done=True),
    ]
    wording = PortfolioLines(
        types=(
            ProjectType(name="新开工", starts=True, start_rate_of="due"),
            ProjectType(name="续建", figures=("count", "investment", "completed", "completion_rate")),
        )
    )
    assert worded_line("区级重点项目", wording, projects, JUNE) == (
        "4个区级重点项目开工1个，开工率50.0%，完成投资1亿元，投资完成率25.0%。其中，"
        "新开工项目3个，开工1个，开工率50.0%，完成投资4000万元，投资完成率13.3%；"
        "续建项目1个，完成投资6000万元，建成投产1个，竣工率100.0%"
    )


def test_unknown_figures_are_left_out_never_invented() -> None:
    wording = PortfolioLines(rate_label="投资进度", figures=("investment", "investment_rate"))
    line = worded_line("市级重点项目", wording, [project("x", wan=4500), project("x")])
    assert line == "市级重点项目完成投资4500万元、投资进度22.5%"
    # a start rate over no project due to start is no figure at all
    nothing_due = PortfolioLines(types=(ProjectType(name="新开工", starts=True, start_rate_of="due"),))
    assert "开工率" not in worded_line("重点项目", nothing_due, [project("新开工", start="2025-10")], JUNE)


def test_the_rate_may_be_worded_as_a_share_of_the_years_plan() -> None:
    wording = PortfolioLines(rate_label="完成年度计划的", figures=("count", "investment", "investment_rate"))
    assert worded_line("县级重点项目", wording, [project("x", wan=5050)]) == (
        "1个县级重点项目完成投资5050万元，完成年度计划的50.5%"
    )


PLAN = (EXAMPLES / "projects-2025.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        (
            "project_type: 前期,",
            "project_type: 预备,",
            "projects[7].project_type",
            "'预备' is not one of portfolio.types",
        ),
        (
            "    - {name: 前期, figures: [count]}",
            "    - {name: 前期, figures: [count]}\n    - {name: 续建}",
            "portfolio.types[3].name",
            "project type '续建' is listed twice",
        ),
        ("figures: [count]}", "figures: [count, speed]}", "portfolio.types[2].figures[1]", "count"),
    ],
)
def test_project_kinds_the_plan_does_not_define_are_refused_naming_the_field(
    old: str, new: str, where: str, message: str
) -> None:
    with pytest.raises(PlanFileError) as info:
        parse_plan(PLAN.replace(old, new), "plan.yaml")
    [problem] = info.value.problems
    assert f": {where}:" in problem and message in problem


def test_a_project_kind_needs_the_plans_list_of_kinds() -> None:
    seed = SEED_PLAN.read_text(encoding="utf-8")
    text = seed.replace(
        "category: 工业, planned_investment_wan", "category: 工业, project_type: 新开工, planned_investment_wan", 1
    )
    with pytest.raises(PlanFileError) as info:
        parse_plan(text, "plan.yaml")
    assert "is not one of portfolio.types (none listed)" in info.value.problems[0]


def test_the_seed_plan_stores_none_of_the_new_fields() -> None:
    # a plan written before them keeps its digest, and the id of its plan.published event
    stored = load_plan(SEED_PLAN).model_dump_json()
    assert '"portfolio"' not in stored and '"project_type"' not in stored


def test_projects_come_in_the_plans_order_then_those_it_does_not_list_by_id() -> None:
    plan = load_plan(SEED_PLAN)
    state = PlanState(plan.id)
    apply(state, StoredEvent("1-0", plan_published(plan, 0, datetime(2025, 1, 1, tzinfo=UTC), None)))
    reported = ["kp-zz", plan.projects[5].id, "kp-aa", plan.projects[2].id]  # two the plan does not list
    for n, subject in enumerate(reported, 2):
        apply(state, StoredEvent(f"{n}-0", investment(plan.id, "2025-03", 100, subject)))
    order = [project.id for project in projects_in_plan_order(state)]
    listed = [spec.id for spec in plan.projects]
    assert order[: len(listed)] == listed  # every project of the plan has a state from its publication
    assert order[len(listed) :] == ["kp-aa", "kp-zz"]
