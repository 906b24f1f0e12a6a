"""What the rollup's renderers (Markdown, HTML, XLSX) share: the parts' headings, the wording
of the list items, and when the report was written, in Beijing time."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from events.alerts import CHANGE_ZH
from events.errors import printable
from events.periods import Period
from projections.evaluate import STATUS_ZH
from projections.judgement import FIRING_ZH
from projections.readmodel import marked_actual, periods_note
from projections.rollup import OffTrack, RollupChange, RollupDocument, RollupProject, RollupRow

BEIJING = ZoneInfo("Asia/Shanghai")

PART_MAIN = "一、主要计划目标完成情况"
PART_PROJECTS = "二、重点项目"
PART_FURTHER = "三、其他目标任务"
PART_OFF_TRACK = "四、未达到目标和滞后的事项"
PART_CHANGES = "五、与上期相比的变化"

FURTHER_HEADER = ("目标任务", "全年目标", "完成", "完成全年目标", "序时进度", "与目标±", "责任单位")
FIRST_REPORT = "（首期报告，无对比）"
NO_CHANGES = "无变化"

CHANGE_KIND_ZH = {
    "status": "状态变化",
    **CHANGE_ZH,
    "revised": "数据修订",
    "value": "数值修订",
}

# OffTrack carries only the status's wording; read it back to pick the colour (an escalated
# subject's wording, projections.judgement, is drawn red).
STATUS_BY_TEXT = {
    **{text: status for status, text in STATUS_ZH.items()},
    **{text: "off_track" if severity != "warning" else "at_risk" for (severity, _), text in FIRING_ZH.items()},
}


def beijing_time(moment: datetime) -> str:
    """When the report was written, as the office reads clocks: 2025-07-16 08:00（北京时间）."""
    if moment.tzinfo is None:  # the log stores UTC; a naive time is taken as such
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(BEIJING):%Y-%m-%d %H:%M}（北京时间）"


def when_parts(doc: RollupDocument) -> list[str]:
    """Data date (with which rows are of earlier periods, if any), writing time and version: the
    workbook's note line; the page's adds plan and 对比."""
    note = periods_note([row.period for row in doc.main], doc.year, _months(doc))
    as_of = f"数据截至 {doc.as_of.isoformat()}" + (f"（{note}）" if note else "")
    return [as_of, f"生成于 {beijing_time(doc.known_at)}", f"第{doc.version}版"]


def _months(doc: RollupDocument) -> int:
    return Period.parse(doc.period).last_month


def main_cells(row: RollupRow, doc: RollupDocument) -> tuple[str, str, str, str]:
    """A main-table row as the report prints it; a figure of an earlier period says which."""
    return (row.label, row.target, marked_actual(row.actual, row.period, doc.year, _months(doc)), row.deviation)


def meta_parts(doc: RollupDocument) -> list[str]:
    compared = [f"对比 {doc.compared_with}"] if doc.compared_with else []
    return [doc.plan_name, *when_parts(doc), *compared]


def percent_text(value: float | None) -> str:
    """A completion or time-progress figure as the tables print it: 47.4%, or - when there is none."""
    return "-" if value is None else f"{value:.1f}%"


def further_cells(row: RollupRow) -> tuple[str, ...]:
    return (
        row.label,
        row.target,
        row.actual,
        percent_text(row.completion),
        percent_text(row.time_progress),
        row.deviation,
        row.department_name,
    )


def overdue_projects(doc: RollupDocument) -> list[RollupProject]:
    return [p for p in doc.projects if p.months_overdue is not None]


def lagging_projects(doc: RollupDocument) -> list[RollupProject]:
    # An overdue project is named once, as overdue, even if its investment also lags.
    return [p for p in doc.projects if p.lagging and p.months_overdue is None]


NO_PROJECTS = "本计划未列重点项目。"


def portfolio_sentences(doc: RollupDocument) -> tuple[list[str], list[str], list[str]]:
    """Part 二's sentences that say something, as (the portfolio's line, a line per scope, the
    completions), each ending in 。: a line left empty (nothing known to count) is left out, and
    a plan with no key projects says so once."""
    portfolio = doc.portfolio
    if not doc.projects and not portfolio.line and not portfolio.completed_line:
        return [NO_PROJECTS], [], []
    said = [f"{portfolio.line}。"] if portfolio.line else []
    completed = [f"{portfolio.completed_line}。"] if portfolio.completed_line else []
    return said, [f"{line}。" for line in portfolio.scope_lines if line], completed


def project_lists(doc: RollupDocument) -> list[tuple[str, list[tuple[RollupProject, str]], str]]:
    """Part 二's two lists — overdue starts, lagging investment — as (heading, each project with
    its line, what to say when there is none)."""
    return [
        ("逾期未开工项目", [(p, overdue_item(p)) for p in overdue_projects(doc)], "无逾期未开工项目。"),
        ("投资进度滞后项目", [(p, lagging_item(p)) for p in lagging_projects(doc)], "无投资进度滞后项目。"),
    ]


def overdue_item(project: RollupProject) -> str:
    who = f"{project.name}（{project.department_name}）"
    return f"{who}：计划{project.planned_start}开工，逾期{project.months_overdue}个月"


def lagging_item(project: RollupProject) -> str:
    return (
        f"{project.name}（{project.department_name}）：完成投资占年度计划{percent_text(project.investment_rate)}，"
        f"项目序时进度{percent_text(project.schedule_progress)}"
    )


def off_track_item(item: OffTrack) -> str:
    return f"{item.name}（{item.department_name}）：{item.detail_zh}"


def change_item(change: RollupChange) -> str:
    return f"【{CHANGE_KIND_ZH.get(change.kind, change.kind)}】{change.detail_zh}"


def changes_part(doc: RollupDocument) -> tuple[list[str], list[str]]:
    """Part 五 as (paragraphs, then list items), shared by Markdown and HTML."""
    if doc.compared_with is None:
        # A first report has no earlier rollup, but statistics revised before it are still news.
        revisions_only = all(change.kind == "revised" for change in doc.changes)
        heading = "本期报告已反映的数据修订：" if revisions_only else "本期报告已反映的预警变化和数据修订："
        paragraphs = [FIRST_REPORT, *([heading] if doc.changes else [])]
    else:
        paragraphs = [f"与 {doc.compared_with} 相比："] if doc.changes else [NO_CHANGES]
    return paragraphs, [change_item(change) for change in doc.changes]


def changes_empty(doc: RollupDocument) -> str:
    """What part 五 says when it lists nothing."""
    return FIRST_REPORT if doc.compared_with is None else NO_CHANGES


def xml_safe(doc: RollupDocument) -> RollupDocument:
    """The document with every control character shown as an escape: an XML file (a workbook, a
    Word document) cannot hold one, and the text of an event stored before such text was refused
    (a note, a reason, a plan's name) must not stop its report being written."""
    return with_texts(doc, printable)


# What Markdown reads as markup in a name or a note (a link, HTML, emphasis, a table's cell end):
# escaped with a backslash, which CommonMark allows before any ASCII punctuation. `_` is left:
# statuses (on_track) and ids are texts of the documents too, and a lone `_` makes no markup.
_MARKUP = re.compile(r"([\\`*\[\]<>|])")


def markdown_text(text: str) -> str:
    return _MARKUP.sub(r"\\\1", text)


Texts = TypeVar("Texts", bound=BaseModel)


def with_texts(model: Texts, change: Callable[[str], str]) -> Texts:
    """`model` (a document, a summary) with `change` applied to every text it holds; the model
    itself when nothing changes (most reports)."""
    data = model.model_dump(mode="json")
    changed = _changed_texts(data, change)
    return model if changed == data else type(model).model_validate(changed)


def _changed_texts(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):  # keys are ids and labels looked up by the renderers: kept
        return {key: _changed_texts(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_changed_texts(item, change) for item in value]
    return value
