"""The report as people read it: plain text for terminals, Markdown, JSON."""

from __future__ import annotations

import json
from typing import Literal

from projections.report import IndicatorRow, PlanReport, missed_sentence
from projections.views import report_view

Format = Literal["text", "markdown", "json"]


def table_header(column: str) -> tuple[str, str, str, str]:
    """The main table's header as the report prints it; `column` names the months, e.g. 上半年完成."""
    return ("指标", "全年目标", column, "与目标±")


def table_rows(report: PlanReport) -> list[tuple[str, str, str, str]]:
    """The main table as the report prints it: 指标 | 全年目标 | 上半年完成 | 与目标±."""
    return [
        (row.label, row.target_text, row.evaluation.actual_text, row.evaluation.deviation_text) for row in report.main
    ]


def _missed_details(rows: list[IndicatorRow]) -> list[str]:
    return [
        f"{row.indicator.name}：全年目标{row.target_text}，完成{row.evaluation.actual_text}，"
        f"与目标{row.evaluation.deviation_text}（{row.department_name}）"
        for row in rows
    ]


def table_text(report: PlanReport) -> str:
    header = table_header(report.column)
    lines = [
        f"{report.plan_name} — 主要计划目标完成情况（截至{report.as_of.isoformat()}）",
        " | ".join(header),
        *(" | ".join(row) for row in table_rows(report)),
        "",
        f"重点项目：{report.portfolio.line()}。{report.portfolio.completed_line()}。",
        "",
        f"未达到目标的指标：{missed_sentence(report.missed)}",
        *(f"  - {line}" for line in _missed_details(report.missed)),
    ]
    if report.further_missed:
        behind = _missed_details(report.further_missed)
        lines += ["", "滞后于序时进度的其他目标任务：", *(f"  - {line}" for line in behind)]
    overdue = report.portfolio.overdue
    if overdue:
        lines += ["", f"逾期未开工的重点项目（{len(overdue)}个）：" + "、".join(p.name for p in overdue)]
    return "\n".join(lines)


def table_markdown(report: PlanReport) -> str:
    header = table_header(report.column)
    lines = [
        f"## {report.plan_name}主要计划目标完成情况",
        "",
        f"截至 {report.as_of.isoformat()}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in table_rows(report)),
        "",
        f"**重点项目**：{report.portfolio.line()}。{report.portfolio.completed_line()}。",
        "",
        f"**未达到目标的指标**：{missed_sentence(report.missed)}",
        "",
        *(f"- {line}" for line in _missed_details(report.missed)),
    ]
    return "\n".join(lines).rstrip() + "\n"


def table_json(report: PlanReport, known_at: str | None = None) -> str:
    return json.dumps(report_view(report, known_at), ensure_ascii=False, indent=2)


def render_table(report: PlanReport, fmt: Format, known_at: str | None = None) -> str:
    if fmt == "json":
        return table_json(report, known_at)
    if fmt == "markdown":
        return table_markdown(report)
    return table_text(report)
