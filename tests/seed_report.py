"""The seed report's own figures, read from its text (docs/source/), for golden tests."""

from __future__ import annotations

import re

from tests.conftest import ROOT

REPORT = ROOT / "docs" / "source" / "rongchang-2025-h1-report.txt"


def report_text() -> str:
    return REPORT.read_text(encoding="utf-8")


def main_table() -> list[tuple[str, str, str, str]]:
    """The 10 rows of 主要计划目标完成情况, as printed: (指标, 全年目标, 上半年完成, 与目标±)."""
    text = report_text()
    body = text[text.index("与目标±") + len("与目标±") : text.index("（一）纵深推进")]
    cells = [line.strip() for line in body.splitlines() if line.strip()]
    assert len(cells) == 40, cells
    return [tuple(cells[i : i + 4]) for i in range(0, 40, 4)]  # type: ignore[misc]


def project_line() -> str:
    """112个区级重点项目开工68个，开工率60.7%，完成投资91亿元，投资完成率50.5%"""
    pattern = r"\d+个区级重点项目开工\d+个，开工率[\d.]+%，完成投资[\d.]+亿元，投资完成率[\d.]+%"
    match = re.search(pattern, report_text())
    assert match
    return match.group(0)


def completed_line() -> str:
    match = re.search(r"([\u4e00-\u9fff]+等\d+个项目建成投产)", report_text())
    assert match
    return match.group(1)


def missed_indicators() -> list[str]:
    """The main indicators part 二 says did not reach their targets, as named there."""
    text = report_text()
    sentence = text[text.index("达到年初预计目标要求，") + len("达到年初预计目标要求，") :]
    sentence = sentence[: sentence.index("没有达到")]
    return sentence.split("、")
