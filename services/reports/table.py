"""The report as people read it: plain text for terminals, Markdown, JSON.

Each renders the plan's summary — the read model the API serves and Redis stores — from a
report, or from a summary read back."""

from __future__ import annotations

import json
from typing import Literal

from projections.readmodel import IndicatorSummary, PlanSummary, plan_summary, printed_cells
from projections.report import PlanReport, missed_sentence
from projections.views import report_view
from services.reports.common import markdown_text, with_texts

Format = Literal["text", "markdown", "json"]
Report = PlanReport | PlanSummary


def _summary(report: Report) -> PlanSummary:
    return report if isinstance(report, PlanSummary) else plan_summary(report)


def table_header(column: str) -> tuple[str, str, str, str]:
    """The main table's header as the report prints it; `column` names the months, e.g. 上半年完成."""
    return ("指标", "全年目标", column, "与目标±")


def _main(summary: PlanSummary) -> list[IndicatorSummary]:
    return [row for row in summary.indicators if row.main]


def _rows_by_id(summary: PlanSummary, ids: list[str]) -> list[IndicatorSummary]:
    rows = {row.id: row for row in summary.indicators}
    return [rows[i] for i in ids]


def table_rows(report: Report) -> list[tuple[str, str, str, str]]:
    """The main table as the report prints it: 指标 | 全年目标 | 上半年完成 | 与目标±. A row whose
    figure is of an earlier period than the column says which: 5.5%（上半年）."""
    summary = _summary(report)
    return [printed_cells(summary, row) for row in _main(summary)]


def _missed_sentence(summary: PlanSummary) -> str:
    main = _main(summary)
    return missed_sentence(
        [row.name for row in _rows_by_id(summary, summary.missed)],
        unreported=[row.name for row in main if row.status == "no_data" and row.actual_value is None],
        reported=any(row.actual_value is not None for row in main if row.status != "monitored"),
        judged=not main or any(row.status != "monitored" for row in main),
    )


def _as_of(summary: PlanSummary, separator: str = "，") -> str:
    """截至2025-09-30, and when rows differ: 截至2025-09-30，部分指标为上半年数据."""
    note = summary.period_note
    return f"截至{summary.as_of.isoformat()}" + (f"{separator}{note}" if note else "")


def _projects_line(summary: PlanSummary) -> str:
    """重点项目：….  …。, or nothing for a plan without key projects."""
    portfolio = summary.projects
    return f"{portfolio.line}。{portfolio.completed_line}。" if portfolio.line else ""


def _scope_lines(summary: PlanSummary) -> list[str]:
    """省级重点项目12个，完成投资7.3亿元，投资完成率65.2%。 — a line per scope the plan lists."""
    return [f"{line}。" for line in summary.projects.scope_lines]


def _missed_details(rows: list[IndicatorSummary]) -> list[str]:
    return [
        f"{row.name}：全年目标{row.target}，完成{row.actual}，与目标{row.deviation}（{row.department_name}）"
        + _judged(row)
        for row in rows
    ]


def _judged(row: IndicatorSummary) -> str:
    """The light when it is not the status's own (projections.judgement): 【预警升级（红灯）】升级：连续2期未达目标."""
    return f"【{row.status_zh}】{row.note}" if row.note else ""


def _held(summary: PlanSummary) -> list[IndicatorSummary]:
    """Rows back within their targets whose alert is not resolved yet (hysteresis: 待恢复)."""
    return [
        row for row in summary.indicators if row.severity is not None and row.status not in ("at_risk", "off_track")
    ]


def table_text(report: Report) -> str:
    summary = _summary(report)
    portfolio = summary.projects
    lines = [
        f"{summary.plan_name} — 主要计划目标完成情况（{_as_of(summary)}）",
        " | ".join(table_header(summary.column)),
        *(" | ".join(row) for row in table_rows(summary)),
        "",
        *(
            [f"重点项目：{_projects_line(summary)}", *(f"  {line}" for line in _scope_lines(summary)), ""]
            if portfolio.line
            else []
        ),
        f"未达到目标的指标：{_missed_sentence(summary)}",
        *(f"  - {line}" for line in _missed_details(_rows_by_id(summary, summary.missed))),
    ]
    if summary.further_missed:
        behind = _missed_details(_rows_by_id(summary, summary.further_missed))
        lines += ["", "滞后于序时进度的其他目标任务：", *(f"  - {line}" for line in behind)]
    if held := _held(summary):
        lines += ["", "预警未解除的指标：", *(f"  - {line}" for line in _missed_details(held))]
    if portfolio.overdue:
        names = "、".join(p.name for p in portfolio.overdue)
        lines += ["", f"逾期未开工的重点项目（{len(portfolio.overdue)}个）：{names}"]
    if portfolio.notes:
        lines += ["", "请核实：", *(f"  - {note}" for note in portfolio.notes)]
    return "\n".join(lines)


def table_markdown(report: Report) -> str:
    summary = with_texts(_summary(report), markdown_text)  # a name makes no markup, nor ends a cell
    header = table_header(summary.column)
    lines = [
        f"## {summary.plan_name}主要计划目标完成情况",
        "",
        f"截至 {summary.as_of.isoformat()}" + (f"（{summary.period_note}）" if summary.period_note else ""),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in table_rows(summary)),
        "",
        *(
            [f"**重点项目**：{_projects_line(summary)}", "", *(f"- {line}" for line in _scope_lines(summary)), ""]
            if summary.projects.line
            else []
        ),
        f"**未达到目标的指标**：{_missed_sentence(summary)}",
        "",
        *(f"- {line}" for line in _missed_details(_rows_by_id(summary, summary.missed))),
    ]
    if held := _held(summary):
        lines += ["", "**预警未解除的指标**：", "", *(f"- {line}" for line in _missed_details(held))]
    if summary.projects.notes:
        lines += ["", "**请核实**：", "", *(f"- {note}" for note in summary.projects.notes)]
    return "\n".join(lines).rstrip() + "\n"


def table_json(report: PlanReport, known_at: str | None = None) -> str:
    """The plan's summary as `planwatch table --format json` prints it."""
    return json.dumps(report_view(report, known_at), ensure_ascii=False, indent=2)


def render_table(report: PlanReport, fmt: Format, known_at: str | None = None) -> str:
    if fmt == "json":
        return table_json(report, known_at)
    if fmt == "markdown":
        return table_markdown(report)
    return table_text(report)
