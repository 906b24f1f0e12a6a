"""A published report checked against the table planwatch computes (对账). Pure.

An office that has made its report by hand checks, before it trusts planwatch, that the two agree:
the main table row for row (全年目标, the months' figure, 与目标±), the key-project sentence, the
completions sentence and the list of main indicators that missed their targets. Rows are matched
by the indicator's name, id or alias (numbering such as `1﹒` and a trailing 增速 aside); cells
agree when they read the same once widths, spaces and dashes are evened out."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date

from pydantic import BaseModel, Field

from events.plan import Indicator, Plan
from projections.readmodel import IndicatorSummary, PlanSummary, printed_cells

TARGET_COLUMN, DEVIATION_COLUMN = "全年目标", "与目标±"
# a row's numbering: 1﹒, 1．, 一、, (1), （一）
_NUMBERING = re.compile(
    r"^\s*(?:(?:\d+|[一二三四五六七八九十]+)\s*[﹒.．、:：]|[（(](?:\d+|[一二三四五六七八九十]+)[）)])\s*"
)
_DASHES = str.maketrans({"—": "-", "–": "-", "−": "-", "－": "-", "～": "~"})
# 上半年完成, 1—9月完成, 前三季度, 全年: the months a column's figures cover
_COLUMN_MONTHS = {"一季度": 3, "上半年": 6, "前三季度": 9, "全年": 12}
_MONTH_SPAN = re.compile(r"1\s*[—–\-~～至]\s*(\d{1,2})\s*月")


@dataclass(frozen=True)
class PublishedRow:
    label: str  # as printed: 1﹒地区生产总值
    target: str
    actual: str
    deviation: str | None  # None: the report's table has no 与目标± column
    line: int  # where it was read: a line of the text, a row of the table


@dataclass(frozen=True)
class PublishedReport:
    """What a published report says, as read from its file (services.spreadsheet.published)."""

    column: str  # the heading of its figures: 上半年完成
    rows: tuple[PublishedRow, ...]
    project_line: str | None = None  # the sentence holding 开工率 and 投资完成率; None: not found
    completed_line: str | None = None  # …等26个项目建成投产
    missed: tuple[str, ...] | None = None  # the names before 没有达到…目标要求


@dataclass(frozen=True)
class CellCheck:
    column: str
    published: str
    computed: str

    @property
    def agrees(self) -> bool:
        return same_text(self.published, self.computed)


@dataclass(frozen=True)
class RowCheck:
    published: PublishedRow
    indicator: str | None  # the indicator's id; None: no indicator of the plan has that name
    cells: tuple[CellCheck, ...]

    @property
    def agrees(self) -> bool:
        return self.indicator is not None and all(cell.agrees for cell in self.cells)


@dataclass(frozen=True)
class LineCheck:
    what: str  # 重点项目, 建成投产, 未达到目标的指标
    published: str | None  # None: the report has no such sentence (not checked)
    computed: str
    whole: bool = False  # the published text must be the computed one, not hold it in a longer sentence

    @property
    def agrees(self) -> bool:
        if self.published is None:
            return True
        if self.whole:
            return same_text(self.published, self.computed)
        return _even(self.computed) in _even(self.published)


@dataclass(frozen=True)
class Reconciliation:
    plan_id: str
    plan_name: str
    as_of: date  # the date planwatch's table was judged at
    column: str  # the report's heading of its figures
    rows: tuple[RowCheck, ...]
    unpublished: tuple[str, ...]  # main indicators of the plan the report's table has no row for
    lines: tuple[LineCheck, ...]

    @property
    def agrees(self) -> bool:
        rows_agree = all(row.agrees for row in self.rows) and not self.unpublished
        return rows_agree and all(line.agrees for line in self.lines)  # a sentence not found is not checked

    @property
    def rows_agreeing(self) -> int:
        return sum(row.agrees for row in self.rows)

    @property
    def differences(self) -> int:
        """Cells that differ, rows of no indicator, main indicators not in the report, sentences."""
        cells = sum(1 if row.indicator is None else sum(not cell.agrees for cell in row.cells) for row in self.rows)
        return cells + len(self.unpublished) + sum(not line.agrees for line in self.lines)


def reconcile(summary: PlanSummary, plan: Plan, published: PublishedReport) -> Reconciliation:
    """`published` checked against `summary` (the plan's table as of the same date)."""
    rows = {row.id: row for row in summary.indicators}
    checks: list[RowCheck] = []
    for printed in published.rows:
        indicator = named_indicator(plan, printed.label)
        row = rows.get(indicator.id) if indicator is not None else None
        checks.append(_row_check(summary, printed, row, published.column))
    matched = {check.indicator for check in checks}
    unpublished = tuple(row.name for row in summary.indicators if row.main and row.id not in matched)
    lines = _line_checks(summary, plan, published)
    return Reconciliation(
        summary.plan_id, summary.plan_name, summary.as_of, published.column, tuple(checks), unpublished, lines
    )


def _row_check(summary: PlanSummary, printed: PublishedRow, row: IndicatorSummary | None, column: str) -> RowCheck:
    if row is None:
        return RowCheck(printed, None, ())
    _, target, actual, deviation = printed_cells(summary, row)
    cells = (
        CellCheck(TARGET_COLUMN, printed.target, target),
        CellCheck(column, printed.actual, actual),  # as the report heads it: 上半年完成
        *([CellCheck(DEVIATION_COLUMN, printed.deviation, deviation)] if printed.deviation is not None else []),
    )
    return RowCheck(printed, row.id, cells)


def _line_checks(summary: PlanSummary, plan: Plan, published: PublishedReport) -> tuple[LineCheck, ...]:
    missed = [row.name for row in summary.indicators if row.id in summary.missed]
    said_missed = None
    if published.missed is not None:  # the report's names as the plan's, in its order: a list, not a sentence
        said_missed = "、".join(_in_table_order(summary, plan, published.missed))
    return (
        LineCheck("重点项目", published.project_line, summary.projects.line),
        LineCheck("建成投产", published.completed_line, summary.projects.completed_line),
        LineCheck("未达到目标的指标", said_missed, "、".join(missed), whole=True),
    )


def _in_table_order(summary: PlanSummary, plan: Plan, names: Sequence[str]) -> list[str]:
    """Each name as the plan's indicator it names, in the table's order; names of none last, as written."""
    position = {row.id: at for at, row in enumerate(summary.indicators)}
    named = [(named_indicator(plan, name), name) for name in names]
    known = sorted((position.get(i.id, len(position)), i.name) for i, _ in named if i is not None)
    return [name for _, name in known] + [name for i, name in named if i is None]


def named_indicator(plan: Plan, label: str) -> Indicator | None:
    """The indicator a report's row label or list item names: 1﹒地区生产总值, 一般公共预算收入增速."""
    name = _NUMBERING.sub("", unicodedata.normalize("NFKC", label)).replace(" ", "").strip()
    main = [i for i in plan.indicators if i.is_main]
    others = [i for i in plan.indicators if not i.is_main]
    return next((i for i in [*main, *others] if i.answers_to(name)), None)


def same_text(published: str, computed: str) -> bool:
    return _even(published) == _even(computed)


def _even(text: str) -> str:
    """Widths, spaces and dashes evened out: 5.5％ is 5.5%, —1.0 is -1.0."""
    return unicodedata.normalize("NFKC", text).translate(_DASHES).replace(" ", "").replace("\u3000", "").strip()


def column_months(column: str) -> int | None:
    """The months a figures' column covers (上半年完成 → 6, 1—9月完成 → 9); None when it does not say."""
    text = unicodedata.normalize("NFKC", column).replace(" ", "")
    if span := _MONTH_SPAN.search(text):
        months = int(span[1])
        return months if 1 <= months <= 12 else None
    return next((months for word, months in _COLUMN_MONTHS.items() if word in text), None)


# ---- the typed read model the API serves and `planwatch compare --format json` prints ----------


class CellReconciled(BaseModel):
    column: str = Field(description="全年目标, the report's heading of its figures (上半年完成) or 与目标±")
    published: str
    computed: str = Field(description="the cell as planwatch's table prints it")
    agrees: bool


class RowReconciled(BaseModel):
    label: str = Field(description="the report's row label: 1﹒地区生产总值")
    line: int = Field(description="where the row was read: a line of the text, a row of the table")
    indicator: str | None = Field(description="the plan's indicator it names; null: none of them")
    cells: list[CellReconciled]
    agrees: bool


class LineReconciled(BaseModel):
    what: str = Field(description="重点项目, 建成投产 or 未达到目标的指标")
    published: str | None = Field(
        description="the report's sentence (the missed list: its names as the plan's); null: not found, not checked"
    )
    computed: str
    agrees: bool


class ReconciledReport(BaseModel):
    source: str = Field(description="the report's file name")
    plan_id: str
    as_of: date = Field(description="the date planwatch's table was judged at")
    column: str = Field(description="the report's heading of its figures: 上半年完成")
    agrees: bool
    differences: int = Field(description="cells, rows and sentences that differ")
    rows: list[RowReconciled]
    unpublished: list[str] = Field(description="main indicators of the plan the report's table has no row for")
    lines: list[LineReconciled]


def reconciled(result: Reconciliation, source: str) -> ReconciledReport:
    return ReconciledReport(
        source=source,
        plan_id=result.plan_id,
        as_of=result.as_of,
        column=result.column,
        agrees=result.agrees,
        differences=result.differences,
        rows=[
            RowReconciled(
                label=row.published.label,
                line=row.published.line,
                indicator=row.indicator,
                cells=[CellReconciled(**asdict(cell), agrees=cell.agrees) for cell in row.cells],
                agrees=row.agrees,
            )
            for row in result.rows
        ],
        unpublished=list(result.unpublished),
        lines=[
            LineReconciled(what=line.what, published=line.published, computed=line.computed, agrees=line.agrees)
            for line in result.lines
        ],
    )
