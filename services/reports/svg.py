"""Trend charts as inline SVG for the printable rollup: no script, no external file, legible in
black and white (the target and 序时进度 lines are dashed, each point carries its value) and in
colour (a point takes its status's colour). Pure: numbers in, markup out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from projections.rollup import RollupTrend
from projections.series import PortfolioPoint

WIDTH, HEIGHT = 320, 180
LEFT, RIGHT, TOP, BOTTOM = 42, 20, 30, 28
STATUS_COLOUR = {"off_track": "#c00000", "at_risk": "#b26b00", "met": "#2e7d32", "on_track": "#2e7d32"}
INK, GUIDE, GRID = "#1f4e8c", "#555555", "#d9d9d9"


@dataclass(frozen=True)
class Line:
    name: str
    values: Sequence[float | None]
    dashed: bool = False
    colour: str = INK
    colours: Sequence[str] | None = None  # one per point (status), else `colour`
    labelled: bool = True  # print each point's value


def short_period(period: str) -> str:
    """An axis label: 2025-06 → 6月, 2025-Q2 → 二季度, 2025-H1 → 上半年, 2025 → 全年."""
    tail = period[5:]
    if not tail:
        return "全年"
    if tail.startswith("Q"):
        return "一二三四"[int(tail[1]) - 1] + "季度"
    if tail.startswith("H"):
        return "上半年" if tail == "H1" else "下半年"
    return f"{int(tail)}月"


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def _scale(lines: Sequence[Line], floor_zero: bool) -> tuple[float, float]:
    values = [v for line in lines for v in line.values if v is not None]
    low, high = min(values, default=0.0), max(values, default=1.0)
    if floor_zero:
        low = min(low, 0.0)
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    pad = (high - low) * 0.12
    return low - (0 if floor_zero and low == 0 else pad), high + pad


def line_chart(title: str, periods: Sequence[str], lines: Sequence[Line], unit: str, floor_zero: bool = False) -> str:
    """A small line chart: one x position per period, a y axis in `unit`, a legend under the title."""
    low, high = _scale(lines, floor_zero)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(periods) - 1, 1)

    def x(index: int) -> float:
        return LEFT + (index * step if len(periods) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h - (value - low) / (high - low) * plot_h

    parts = [
        f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="13" font-size="11" font-weight="bold">{escape(title)}</text>',
    ]
    legend_x = LEFT
    for line in lines:
        dash = ' stroke-dasharray="4 3"' if line.dashed else ""
        stroke = f'stroke="{line.colour}" stroke-width="2"{dash}'
        parts.append(f'<line x1="{legend_x}" y1="22" x2="{legend_x + 14}" y2="22" {stroke}/>')
        parts.append(f'<text x="{legend_x + 17}" y="25" font-size="8">{escape(line.name)}</text>')
        legend_x += 24 + 8 * len(line.name)
    for tick in range(3):
        value = low + (high - low) * tick / 2
        parts.append(
            f'<line x1="{LEFT}" y1="{y(value):.1f}" x2="{WIDTH - RIGHT}" y2="{y(value):.1f}" stroke="{GRID}"/>'
        )
        parts.append(
            f'<text x="{LEFT - 4}" y="{y(value) + 3:.1f}" font-size="8" text-anchor="end">{_number(value)}</text>'
        )
    parts.append(f'<text x="4" y="{TOP - 2}" font-size="8">{escape(unit)}</text>')
    for index, period in enumerate(periods):
        parts.append(
            f'<text x="{x(index):.1f}" y="{HEIGHT - 10}" font-size="8" text-anchor="middle">{escape(period)}</text>'
        )
    for line in lines:
        parts += _line(line, x, y)
    parts.append("</svg>")
    return "".join(parts)


def _line(line: Line, x: Callable[[int], float], y: Callable[[float], float]) -> list[str]:
    points = [(index, value) for index, value in enumerate(line.values) if value is not None]
    if not points:
        return []
    path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
    dash = ' stroke-dasharray="4 3"' if line.dashed else ""
    width = 1.2 if line.dashed else 2
    parts = [f'<polyline points="{path}" fill="none" stroke="{line.colour}" stroke-width="{width}"{dash}/>']
    if line.dashed:
        return parts
    for index, value in points:
        colour = line.colours[index] if line.colours else line.colour
        parts.append(f'<circle cx="{x(index):.1f}" cy="{y(value):.1f}" r="3" fill="{colour}"/>')
        if line.labelled:
            where = f'x="{x(index):.1f}" y="{y(value) - 6:.1f}"'
            parts.append(f'<text {where} font-size="8" text-anchor="middle">{_number(value)}</text>')
    return parts


def trend_chart(trend: RollupTrend) -> str:
    """A main indicator: its value against the target (or the referenced indicator); a cumulative
    task: its completion against 序时进度."""
    periods = [short_period(p.period) for p in trend.points]
    colours = [STATUS_COLOUR.get(p.status, GUIDE) for p in trend.points]
    if trend.kind == "progress":
        lines = [
            Line("完成全年目标", [p.completion for p in trend.points], colours=colours),
            Line("序时进度", [p.time_progress for p in trend.points], dashed=True, colour=GUIDE),
        ]
        return line_chart(trend.label, periods, lines, "%", floor_zero=True)
    lines = [Line("完成", [float(p.value) for p in trend.points], colours=colours)]
    reference = [p.reference_value for p in trend.points]
    target = [p.target_value for p in trend.points]
    if any(v is not None for v in reference):
        lines.append(Line("对比指标", reference, dashed=True, colour=GUIDE))
    elif any(v is not None for v in target):
        lines.append(Line("全年目标", target, dashed=True, colour=GUIDE))
    elif any(p.target_low is not None for p in trend.points):
        lines.append(Line("目标下限", [p.target_low for p in trend.points], dashed=True, colour=GUIDE))
        lines.append(Line("目标上限", [p.target_high for p in trend.points], dashed=True, colour=GUIDE))
    return line_chart(trend.label, periods, lines, trend.unit)


def portfolio_chart(points: Sequence[PortfolioPoint], label: str) -> str:
    periods = [short_period(p.period) for p in points]
    lines = [
        Line("开工率", [float(p.start_rate) for p in points]),
        Line("投资完成率", [float(p.investment_rate) for p in points], colour="#c55a11"),
        Line("序时进度", [float(p.time_progress) for p in points], dashed=True, colour=GUIDE),
    ]
    return line_chart(f"{label}开工率、投资完成率", periods, lines, "%", floor_zero=True)
