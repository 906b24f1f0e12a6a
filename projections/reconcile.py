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
UNREAD_ROW = "表中无法读取的行"
# a row's numbering: 1﹒, 1．, 1、, 1), 一、, (1), （一）, 第一, "1 " (read once widths are evened out)
_NUMBERING = re.compile(
    r"^\s*(?:(?:\d+|[一二三四五六七八九十]+)\s*[﹒.．、:：)）]|[（(](?:\d+|[一二三四五六七八九十]+)[）)]|\d+\s+"
    r"|第[一二三四五六七八九十\d]+[项条个]?[、.:：]?)\s*"
)
_CIRCLED = re.compile(r"^\s*[\u2460-\u24ff\u2776-\u2793]")  # ①, ⑴, ⒈: NFKC would leave a bare 1
_FOOTNOTE = re.compile(r"(?:[*＊※]+|\[\d+\])$")
_BRACKETED = re.compile(r"[（(][^（()）]{0,12}[)）]$")  # 地区生产总值（亿元）, 城镇调查失业率(%)
_DASHES = str.maketrans({"—": "-", "–": "-", "−": "-", "－": "-", "～": "~"})
# 上半年完成, 1—9月完成, 前三季度, 全年: the months a column's figures cover
_COLUMN_MONTHS = {"一季度": 3, "上半年": 6, "前三季度": 9, "全年": 12}
_MONTH_NUMBERS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_MONTH_NUMBERS |= {"十一": 11, "十二": 12}
_MONTH = r"(\d{1,2}|十[一二]?|[一二三四五六七八九])"
# 1—6月, 1-6月, 1至6月, 1月至6月, 一至六月, 1～9月份; 截至6月底
_MONTH_SPAN = re.compile(r"(?:1|一)\s*月?\s*[—–\-~～至到]\s*" + _MONTH + r"\s*月")
_MONTH_UNTIL = re.compile(r"截[至止]\s*" + _MONTH + r"\s*月[底末]")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")


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
    caption: str | None = None  # the table's title saying its months (2025年上半年…完成情况), if any
    unread: tuple[UnreadRow, ...] = ()  # rows of the table that could not be placed in its columns


@dataclass(frozen=True)
class UnreadRow:
    """A row of the report's table the reader could not place in its columns (a cell too few, a
    line split otherwise than the header): never guessed, compare names it."""

    line: int
    text: str  # its cells as read, joined by ｜
    reason: str  # in Chinese, as compare prints it


@dataclass(frozen=True)
class CellCheck:
    column: str
    published: str
    computed: str

    @property
    def agrees(self) -> bool:
        return same_cell(self.published, self.computed)


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
        *(  # a row not read is a difference, never passed over
            LineCheck(UNREAD_ROW, f"第{row.line}行 {row.text}（{row.reason}）", "", whole=True)
            for row in published.unread
        ),
    )


def _in_table_order(summary: PlanSummary, plan: Plan, names: Sequence[str]) -> list[str]:
    """Each name as the plan's indicator it names, in the table's order; names of none last, as written."""
    position = {row.id: at for at, row in enumerate(summary.indicators)}
    named = [(named_indicator(plan, name), name) for name in names]
    known = sorted((position.get(i.id, len(position)), i.name) for i, _ in named if i is not None)
    return [name for _, name in known] + [name for i, name in named if i is None]


def named_indicator(plan: Plan, label: str) -> Indicator | None:
    """The indicator a report's row label or list item names: 1﹒地区生产总值, （1）地区生产总值,
    ①地区生产总值, 一般公共预算收入增速, 地区生产总值（亿元）, 地区生产总值*."""
    text = unicodedata.normalize("NFKC", _CIRCLED.sub("", label))
    name = _FOOTNOTE.sub("", _NUMBERING.sub("", text).replace(" ", "").strip())
    main = [i for i in plan.indicators if i.is_main]
    others = [i for i in plan.indicators if not i.is_main]
    for candidate in dict.fromkeys([name, _BRACKETED.sub("", name)]):
        if found := next((i for i in [*main, *others] if i.answers_to(candidate)), None):
            return found
    return None


def same_text(published: str, computed: str) -> bool:
    return _even(published) == _even(computed)


def same_cell(published: str, computed: str) -> bool:
    """Do two cells say the same, as a reader of the report would judge? Beyond `same_text`: 增长5.5%
    is 5.5%, 下降2% is -2%, 1.0 is 1; 低1.0个百分点 / 回落1个百分点 are -1.0个百分点; 已完成 / 达到目标 are
    完成, and agree with a deviation at or above the target; 未完成 agrees with one below it."""
    if same_text(published, computed):
        return True
    said, ours = cell_reading(published), cell_reading(computed)
    if said == ours:
        return True
    if said == DONE:
        return ours == DONE or _sign(ours) in (0, 1)
    if said == NOT_DONE:
        return _sign(ours) == -1
    return ours == DONE and _sign(said) == 0 and said.endswith("个百分点")


DONE, NOT_DONE, NO_FIGURE = "完成", "未完成", "-"
_DONE_WORDS = frozenset(
    "完成 已完成 完成目标 达到目标 已达到目标 达到 已达到 达标 已达标".split()
    + "实现目标 已实现 超额完成 达到预期 达到预期目标".split()
)
_NOT_DONE_WORDS = frozenset("未完成 未达到 未达到目标 未达标 没有完成 没有达到 未实现".split())
_FIGURE = re.compile(
    r"^(?P<word>同比增长|同比下降|增长|下降|减少|增加|回落|提高|低于目标|高于目标|比目标低|比目标高|低于|高于"
    r"|低|高|超出|超过|超|落后|差|慢|快|少|多)?(?P<sign>[+\-]?)(?P<number>\d+(?:\.\d+)?)(?P<rest>.*)$"
)
_NEGATIVE = frozenset("同比下降 下降 减少 回落 低于目标 比目标低 低于 低 落后 差 慢 少".split())
_UNITS = re.compile(r"^(?:个)?百分点")


def cell_reading(text: str) -> str:
    """A cell as read: 增长5.50% → 5.5%, 低1个百分点 → -1个百分点, 已完成 → 完成, —— → -."""
    even = _even(text).removeprefix("比目标").removeprefix("较目标").removeprefix("与目标相比")
    if even in _DONE_WORDS:
        return DONE
    if even in _NOT_DONE_WORDS:
        return NOT_DONE
    if even and set(even) <= set("-/\\"):
        return NO_FIGURE
    figure = _FIGURE.match(even)
    if figure is None or (figure["word"] and figure["sign"]):
        return even
    number = figure["number"].rstrip("0").rstrip(".") if "." in figure["number"] else figure["number"]
    negative = figure["sign"] == "-" or figure["word"] in _NEGATIVE
    sign = "-" if negative and number.strip("0.") else ""
    return sign + number + _UNITS.sub("个百分点", figure["rest"])


def _sign(reading: str) -> int | None:
    """-1, 0 or 1 for a reading that is a number of percentage points; None for any other."""
    figure = re.fullmatch(r"(-?)(\d+(?:\.\d+)?)个百分点", reading)
    if figure is None:
        return None
    return 0 if not figure[2].strip("0.") else (-1 if figure[1] else 1)


def _even(text: str) -> str:
    """Widths, spaces and dashes evened out: 5.5％ is 5.5%, —1.0 is -1.0."""
    return unicodedata.normalize("NFKC", text).translate(_DASHES).replace(" ", "").replace("\u3000", "").strip()


def column_months(column: str) -> int | None:
    """The months a figures' column covers (上半年完成 → 6, 1—9月完成 → 9, 1至6月 → 6, 一至六月 → 6,
    截至6月底 → 6); None when it does not say."""
    text = unicodedata.normalize("NFKC", column).replace(" ", "").replace("\u3000", "")
    if span := _MONTH_SPAN.search(text) or _MONTH_UNTIL.search(text):
        months = int(span[1]) if span[1].isdigit() else _MONTH_NUMBERS[span[1]]
        return months if 1 <= months <= 12 else None
    return next((months for word, months in _COLUMN_MONTHS.items() if word in text), None)


def published_period(published: PublishedReport) -> tuple[int | None, int | None, str | None]:
    """(months, year, the heading or title that says them) of a report's figures: its column's
    heading (上半年完成) first, else the table's title (2025年上半年…主要计划目标完成情况); a year only
    from the title."""
    caption = published.caption
    year = int(found[1]) if caption and (found := _YEAR.search(unicodedata.normalize("NFKC", caption))) else None
    if (months := column_months(published.column)) is not None:
        return months, year, published.column
    if caption and (months := column_months(caption)) is not None:
        return months, year, caption
    return None, year, None


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
