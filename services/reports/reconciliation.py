"""A published report checked against planwatch's table (对账), as text for the office and as JSON."""

from __future__ import annotations

from projections.reconcile import LineCheck, Reconciliation, RowCheck, reconciled


def reconciliation_text(result: Reconciliation, source: str) -> str:
    rows = result.rows
    lines = [
        f"对账：{source} 与 planwatch（{result.plan_name}，截至{result.as_of.isoformat()}，报告列：{result.column}）",
        f"主要指标表：{len(rows)}行中{result.rows_agreeing}行一致",
        *(f"  ✗ {line}" for row in rows if not row.agrees for line in _row_lines(row)),
    ]
    if result.unpublished:
        lines.append(f"  ✗ 计划中的主要指标，报告表中没有：{'、'.join(result.unpublished)}")
    lines += [_line_text(line) for line in result.lines]
    lines.append("结论：一致" if result.agrees else f"结论：{result.differences}处不一致")
    return "\n".join(lines)


def _row_lines(row: RowCheck) -> list[str]:
    where = f"{row.published.label}（第{row.published.line}行）"
    if row.indicator is None:
        return [f"{where}：计划中没有此指标"]
    return [
        f"{where} {cell.column}：报告 {cell.published or '（空）'}，planwatch {cell.computed}"
        for cell in row.cells
        if not cell.agrees
    ]


def _line_text(line: LineCheck) -> str:
    if line.published is None:
        return f"{line.what}：报告中未找到，未核对（planwatch：{line.computed or '无'}）"
    if line.agrees:
        return f"{line.what}：一致（{line.computed or '无'}）"
    return f"{line.what}：✗ 报告 {line.published}；planwatch {line.computed or '无'}"


def reconciliation_json(result: Reconciliation, source: str) -> str:
    return reconciled(result, source).model_dump_json(indent=2)
