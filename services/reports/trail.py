"""`planwatch why`: the events behind one row, as a person reads them."""

from __future__ import annotations

from projections.formatting import local_time
from projections.provenance import Provenance

_PRINTED_ZH = {
    "target": "全年目标",
    "actual": "实际",
    "deviation": "与目标",
    "planned_investment": "年度计划投资",
    "investment": "完成投资",
    "investment_rate": "投资完成率",
    "started_on": "开工",
    "completed_on": "建成投产",
}


def render_trail(trail: Provenance, zone: str) -> str:
    """The row's printed numbers, then one line per event behind them: what it gave, what it said,
    for which period, who sent it, when planwatch stored it (in the plan's zone), its id."""
    printed = " · ".join(f"{_PRINTED_ZH.get(name, name)} {text}" for name, text in trail.printed.items())
    lines = [f"{trail.subject_name}（{trail.subject}）截至{trail.as_of.isoformat()}", f"  {printed}", "  数据来源："]
    for source in trail.sources:
        revision = f"，第{source.revision}次报送" if source.revision and source.revision > 1 else ""
        who = f"{source.department_name}（{source.department}）" if source.department else "-"
        period = f"，{source.period}" if source.period else ""
        stored = local_time(source.recorded_at, zone)
        event = source.event_id or "（无法读取）"
        role = source.role_zh if source.subject == source.row else f"{source.role_zh}（{source.subject}）"
        said = f"{role}：{source.what}{period}{revision}"
        lines.append(f"  - {said}；{who}；入库 {stored}；事件 {event}（{source.position}）")
    if not trail.sources:
        lines.append("  （暂无事件）")
    return "\n".join(lines)
