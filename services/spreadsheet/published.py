"""A published report read back, to check it against planwatch's table (对账, `projections.reconcile`).

The main table (指标 ｜ 全年目标 ｜ 上半年完成, and 与目标± where it has one; columns found by their
header) comes from a Word document's table, a workbook, a csv, or the report's text as exported
(.txt, .md: a cell a line, as a report pasted from Word reads, or a row a line with its cells
split by tabs, `|`, full-width spaces or two spaces and more). Its columns in any order, beside
others passed over (单位, 备注, 责任单位, 去年同期); the figures' column headed by its months alone
(1—6月, 1至6月, 前三季度) or with 完成 (上半年完成情况); section headings between rows passed over;
a row that cannot be placed in the columns kept as unread, for compare to name.
From the text (of a .docx or a .txt) come the key-project sentence (开工率, 投资完成率), the
completions sentence (…等26个项目建成投产) and the main indicators named before 没有达到…目标.
Pure: bytes in, a `PublishedReport` out, or `FileProblem` saying why not."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from events.planfile import decode_text
from projections.reconcile import PublishedReport, PublishedRow, UnreadRow, cell_reading, column_months
from services.spreadsheet.cells import Cell, plain
from services.spreadsheet.document import read_docx
from services.spreadsheet.headed import (
    Header,
    Layout,
    data_rows,
    find_header,
    header_text,
    heading,
    table_for,
    unresolved_formulas,
)
from services.spreadsheet.layout import FILE
from services.spreadsheet.reader import Table, read_table
from services.spreadsheet.results import FileProblem, RowError

NAME, TARGET, ACTUAL, DEVIATION, UNIT, SERIAL = "指标", "全年目标", "完成", "与目标±", "单位", "序号"
EXTRA = "其他"  # a column of the report's that compare passes over: 备注, 责任单位, 去年同期, 上半年目标
_ACTUALS = ("完成", "上半年完成", "全年完成", "实际完成", "一季度完成", "前三季度完成", "完成情况")


def _column_named(name: str) -> str | None:
    """The column a header's name (spaces and widths evened out) gives: one of the layout's, EXTRA
    for one passed over, None for no column of such a table."""
    if not name:
        return None
    for column, names in PUBLISHED_LAYOUT.headers.items():
        if name in names:
            return column
    if _EARLIER.search(name) or name in _EXTRA_NAMES or name.endswith(_EXTRA_ENDINGS):
        return EXTRA  # 去年同期, 全年预计, 备注, 责任单位
    if "目标" in name and any(word in name for word in ("±", "差", "比", "较", "增减")):
        return DEVIATION  # 与年度目标比, 较目标增减
    if name.endswith(("目标", "计划")):  # 2025年目标, 年度计划; 上半年目标 (a months' target) is none of ours
        return TARGET if column_months(name) in (None, 12) else EXTRA
    if column_months(name) is not None and _MONTHS_HEAD.sub("", name) in _ACTUAL_WORDS:
        return ACTUAL  # 1—6月, 1至6月完成, 上半年完成情况, 前三季度, 一季度
    return None


_EARLIER = re.compile(r"去年|上年|同期|预计|序时")
_EXTRA_NAMES = frozenset(
    "备注 说明 排名 属性 指标属性 类别 指标类别 指标类型".split()
    + "同比 同比增长 增速 增幅 比上年增长 完成率 进度 完成进度".split()
)
_EXTRA_ENDINGS = ("单位", "部门", "科室", "备注", "说明")
_MONTHS_HEAD = re.compile(r"^.*(?:季度|半年|全年|月[底末]|月份|月)")  # what a months heading says after them
_ACTUAL_WORDS = frozenset(
    ("", "完成", "完成情况", "实际完成", "完成值", "完成数", "实绩", "累计", "累计完成", "实际", "增长", "增速")
)
PUBLISHED_LAYOUT = Layout(
    headers={
        NAME: ("指标", "指标名称", "主要指标", "名称", "项目", "主要指标名称"),
        TARGET: ("全年目标", "年度目标", "目标", "预期目标", "全年预期目标", "计划目标", "年初目标", "全年计划"),
        ACTUAL: _ACTUALS,
        DEVIATION: ("与目标±", "与目标比", "与目标差距", "比目标±", "与目标相比", "差距", "±", "目标±"),
        UNIT: ("单位", "计量单位"),
        SERIAL: ("序号",),
    },
    required=(NAME, TARGET, ACTUAL),  # a table without 与目标± is checked on the cells it has
    classify=_column_named,
)
FIGURES = (TARGET, ACTUAL, DEVIATION)
FORMATS = (".docx", ".xlsx", ".csv", ".txt", ".md")
_MAX_CELL = 40  # a table's cell is short; a longer line is the report's prose, after the table
# the sentence on the key projects' figures (112个区级重点项目开工68个，开工率60.7%，…投资完成率50.5%;
# 市级重点项目完成投资12亿元、投资进度55%): checked as holding planwatch's, whatever wording surrounds it
_PROJECT_SENTENCE = re.compile(r"[^。；;\n]*?重点项目[^。；;\n]*?(?:开工率|投资完成率|投资进度)[\d.]+%[^。；;\n]*")
_COMPLETED_SENTENCE = re.compile(r"[^，,。；;\n]*?\d+个项目建成投产")
_MISSED_SENTENCE = re.compile(r"([^，,。；;：:\n]+?)(?:没有|均未|未能|未)达到[^，,。；;\n]*?目标")
_CELL_END = re.compile(r"(?<!\\)\|")  # a Markdown row's `|`, not an escaped one
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark: a backslash before ASCII punctuation
_CONJUNCTION = re.compile(r"^(?:但|而|其中|仅|只有)")
_GAP = re.compile(r"\t|\u3000+| {2,}")  # between a text row's cells: a tab, full-width spaces, 2+ spaces
_NUMBER_ONLY = re.compile(r"^(?:\d+|[一二三四五六七八九十]+)[﹒.．、]?$|^[（(](?:\d+|[一二三四五六七八九十]+)[)）]$")
_NUMBERED = re.compile(
    r"^\s*(?:\d+\s*[﹒.．、)）]|[（(]\d+[）)]|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)])"
)
_NOTE = re.compile(r"^(?:注|说明|备注|资料来源|数据来源)\s*[:：]")
_BARE = re.compile(r"^([+\-]?\d+(?:\.\d+)?)(左右|以内|以上|以下)?$")


def read_published(content: bytes, filename: str) -> PublishedReport:
    """The report in `content`, read by its file name's suffix; FileProblem naming what is missing."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in FORMATS:
        raise FileProblem(
            RowError(
                0,
                FILE,
                filename,
                "the report must be .docx, .xlsx, .csv, .txt or .md",
                "报告文件须为.docx、.xlsx、.csv、.txt或.md格式",
            )
        )
    if suffix in (".txt", ".md"):
        text = decode_text(content)
        if text is None:
            raise FileProblem(RowError(0, FILE, "", "the file is neither UTF-8 nor GBK text", "文件编码无法识别"))
        return _report(*_text_table(text), text)
    if suffix == ".docx":
        tables, text = read_docx(content)
        column, rows = _table_rows(table_for(tables, PUBLISHED_LAYOUT)[1])
        return _report(column, rows, [], _caption(text.splitlines()), text)
    table = read_table(content, filename)
    column, rows = _table_rows(table)
    return _report(column, rows, [], _table_caption(table), None)


def _report(
    column: str, rows: list[PublishedRow], unread: list[UnreadRow], caption: str | None, text: str | None
) -> PublishedReport:
    if not rows:
        raise FileProblem(RowError(0, NAME, "", "the report's table has no rows", "报告的主要指标表没有数据行"))
    if text is None:
        return PublishedReport(column, tuple(rows), caption=caption, unread=tuple(unread))
    project = _PROJECT_SENTENCE.search(text)
    completed = _COMPLETED_SENTENCE.search(text)
    return PublishedReport(
        column,
        tuple(rows),
        project[0] if project else None,
        completed[0] if completed else None,
        _missed(text),
        caption,
        tuple(unread),
    )


def _missed(text: str) -> tuple[str, ...] | None:
    """The names before the first 没有达到…目标 (地区生产总值、一般公共预算收入增速…); None: no such sentence."""
    match = _MISSED_SENTENCE.search(text)
    if match is None:
        return None
    return tuple(name for item in match[1].split("、") if (name := _CONJUNCTION.sub("", item.strip())))


def _caption(lines: Sequence[str]) -> str | None:
    """The first short line naming months (2025年上半年…主要计划目标完成情况, 关于2025年1—9月…的报告):
    the table's title, which says the figures' months when its column does not."""
    for line in lines:
        text = line.strip()
        if text and len(text) <= 60 and "。" not in text and "，" not in text and column_months(text) is not None:
            return text
    return None


def _with_unit(cell: str, unit: str, column: str) -> str:
    """A bare number in a column or row of a stated unit, as a reader reads it: 5.5 under （%） is
    5.5%, -1.0 under （个百分点） or in a row of % in 与目标± is -1.0个百分点; any other cell as written."""
    bare = _BARE.match(cell.strip())
    unit = unit.strip()
    if bare is None or not unit:
        return cell
    if column == DEVIATION and unit in ("%", "％", "百分点", "个百分点"):
        unit = "个百分点"
    return bare[1] + unit + (bare[2] or "")


def _published_row(texts: Sequence[str], at: dict[str, int], units: dict[str, str], line: int) -> PublishedRow:
    """A row from its cells (`at`: each column's position); a bare number takes its column's unit
    (与目标±（个百分点）) or the row's 单位."""
    row_unit = texts[at[UNIT]] if UNIT in at and at[UNIT] < len(texts) else ""
    cells = {
        column: _with_unit(texts[at[column]], units.get(column) or row_unit, column) if at[column] < len(texts) else ""
        for column in (NAME, *FIGURES)
        if column in at
    }
    return PublishedRow(cells[NAME], cells[TARGET], cells[ACTUAL], cells.get(DEVIATION), line)


# ---- a table: a document's, a workbook's, a csv ------------------------------------------------


def _table_rows(table: Table) -> tuple[str, list[PublishedRow]]:
    header, column = _two_row_header(table, find_header(table, PUBLISHED_LAYOUT))
    rows, unresolved = [], []
    for number, cells in data_rows(table, header):
        if all(cell.blank for cell in cells) or heading(cells) is not None:
            continue
        unresolved += unresolved_formulas(number, cells, header.columns)  # read as empty, it would differ
        texts = [plain(cell.value).strip() for cell in cells]
        rows.append(_published_row(texts, header.columns, header.units, number))
    if unresolved:
        raise FileProblem(*unresolved)
    return column, rows


def _header_rows(table: Table) -> list[list[Cell]]:
    return [[Cell(value) for value in table.header], *(cells for _, cells in table.rows)]


def _two_row_header(table: Table, header: Header) -> tuple[Header, str]:
    """The header and the heading of its figures' column. A header of two rows: 上半年 merged over
    完成 ｜ 与目标± (found on either row), or 完成情况 over 1—6月 ｜ 与目标±: the row below names the
    columns where it names any, and the months of either head the figures."""
    rows = _header_rows(table)
    at, below = header.at + 1, header.at + 2
    if below < len(rows) and (names := _continuation(rows[below])):
        columns, units = dict(header.columns), dict(header.units)
        for index, (column, unit) in names.items():
            columns = {name: where for name, where in columns.items() if where != index and name != column}
            columns[column], units[column] = index, unit
        if all(column in columns for column in PUBLISHED_LAYOUT.required):
            header, at = Header(header.at + 1, columns, units), below
    return header, _column_heading(rows, at, header.columns[ACTUAL])


def _continuation(cells: Sequence[Cell]) -> dict[int, tuple[str, str]] | None:
    """The columns a row under a header names, by position, if every filled cell of it names one."""
    names = {index: header_text(cell.value) for index, cell in enumerate(cells) if not cell.blank}
    columns = {index: (_column_named(name), unit) for index, (name, unit) in names.items()}
    if not columns or any(column is None for column, _ in columns.values()):
        return None
    return {
        index: (column, unit)
        for index, (column, unit) in columns.items()
        if column is not None and column in PUBLISHED_LAYOUT.headers
    }


def _column_heading(rows: Sequence[Sequence[Cell]], at: int, index: int) -> str:
    """The figures' column as headed: 上半年完成; in a header of two rows, the months of the row
    above with the word below (上半年 + 完成), or the months below (完成情况 over 1—6月)."""
    column = header_text(rows[at][index].value)[0]
    above = header_text(rows[at - 1][index].value)[0] if at > 0 and index < len(rows[at - 1]) else ""
    if column_months(column) is None and above and column_months(above + column) is not None:
        return above + column
    return column


def _table_caption(table: Table) -> str | None:
    """The title above a workbook's table: its first rows' texts."""
    rows = _header_rows(table)[:HEADER_TITLE_ROWS]
    return _caption([" ".join(plain(cell.value) for cell in cells if not cell.blank) for cells in rows])


HEADER_TITLE_ROWS = 3


# ---- the report's text ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _TextHeader:
    """A table's header found in text: each column's position in a row and heading, its width
    (columns passed over too), the line its rows start after, whether blank lines part its rows."""

    at: dict[str, int]
    headings: dict[str, str]
    units: dict[str, str]
    width: int
    first: int  # index into the lines of the header's first line
    last: int  # and of its last
    one_line: bool  # the header is one line: a row a line
    blocks: bool  # blank lines between the header's lines and its rows part the rows


_Line = tuple[int, str, list[str]]  # number, raw text, cells


def _text_table(text: str) -> tuple[str, list[PublishedRow], list[UnreadRow], str | None]:
    """The table in a report's text: its header (a line naming the columns, or a run of header
    cells — 指标, 全年目标, 上半年完成, 与目标± — over lines), then its rows until the prose after it."""
    lines = [(number, line, _cells_of(line)) for number, line in enumerate(text.splitlines(), start=1)]
    header = _find_text_header(lines)
    if header is None:
        raise FileProblem(*_missing_in_text(lines))
    rows, unread = _text_rows(lines, header)
    above = [line for _, line, _ in lines[: header.first]]
    caption = _caption(above[::-1][:8]) or _caption(above[:15])  # the table's title, else the report's
    return header.headings[ACTUAL], rows, unread, caption


def _cells_of(line: str) -> list[str]:
    """A line's cells: split by `|` (a Markdown row: `\\|` is a `|` inside a cell, and every
    backslash escape is read back, as planwatch's own Markdown writes them; a separator row `|---|`
    has none), else by tabs, full-width spaces or 2+ spaces — cells empty between them kept, a
    header word spaced out (指        标) read whole."""
    if "|" in line:
        text = line.strip().removeprefix("|")
        text = text if text.endswith("\\|") else text.removesuffix("|")
        parts = _CELL_END.split(text)
        if all(set(part.strip()) <= set("-: ") for part in parts):
            return []
        return [_ESCAPED.sub(r"\1", _unbold(part.strip())) for part in parts]
    parts = [part.strip() for part in _GAP.split(line.strip())]
    return _spaced_words(parts) if any(parts) else []


def _unbold(cell: str) -> str:
    """A Markdown cell's text without the bold marks around it (**指标**); an escaped star (\\*) is
    the cell's own."""
    bold = len(cell) > 4 and cell.startswith("**") and cell.endswith("**") and not cell.endswith("\\**")
    return cell[2:-2] if bold else cell


def _spaced_words(parts: list[str]) -> list[str]:
    """Pieces that together are a header's word (指 ｜ 标, 单 ｜ 位) joined."""
    out: list[str] = []
    for part in parts:
        if out and out[-1] and part and _column_named(out[-1]) is None and _column_named(part) is None:
            if _column_named(header_text(out[-1] + part)[0]) is not None:
                out[-1] += part
                continue
        out.append(part)
    return out


def _find_text_header(lines: Sequence[_Line]) -> _TextHeader | None:
    cells = [(index, cell) for index, (_, _, line) in enumerate(lines) for cell in line if cell]
    for start, (index, _) in enumerate(cells):
        if start == 0 or cells[start - 1][0] != index:  # a line's first cell: the line as a header
            if found := _line_header(lines, index):
                return found
        if found := _header_run(lines, cells, start):
            return found
    return None


def _line_header(lines: Sequence[_Line], index: int) -> _TextHeader | None:
    """A header on one line (指标 ｜ 单位 ｜ 全年目标 ｜ 1—6月 ｜ 与目标± ｜ 备注): every cell a position of
    the rows; cells it does not know are passed over in the rows too."""
    _, raw, cells = lines[index]
    if len(cells) < len(PUBLISHED_LAYOUT.required):
        cells = raw.split() if len(raw.split()) >= len(PUBLISHED_LAYOUT.required) else cells  # 指标 全年目标 …
    named = [(header_text(cell), _column_named(header_text(cell)[0])) for cell in cells]
    at: dict[str, int] = {}
    for position, (_, column) in enumerate(named):
        if column is not None and column != EXTRA and column not in at:
            at[column] = position
    if not all(column in at for column in PUBLISHED_LAYOUT.required) or _continues(lines, index):
        return None
    headings = {column: named[position][0][0] for column, position in at.items()}
    units = {column: named[position][0][1] for column, position in at.items()}
    return _TextHeader(at, headings, units, len(cells), index, index, True, False)


def _continues(lines: Sequence[_Line], index: int) -> bool:
    """Is the next line more of the header (上半年 over 完成 ｜ 与目标±)?"""
    following = next((cells for _, _, cells in lines[index + 1 :] if any(cells)), [])
    return bool(following) and all(_column_named(header_text(cell)[0]) not in (None, NAME) for cell in following)


def _header_run(lines: Sequence[_Line], cells: Sequence[tuple[int, str]], start: int) -> _TextHeader | None:
    """The columns named by the run of header cells at `start`, over lines, if it names every
    required one. A header of two rows pasted as text (上半年 merged over 完成 ｜ 与目标±) reads 指标,
    全年目标, 上半年, 完成, 与目标±: the months cell is no column of the rows, and heads the figures'
    column (上半年完成); a months cell heads the figures itself only if a header cell follows it."""
    at: dict[str, int] = {}
    headings: dict[str, str] = {}
    units: dict[str, str] = {}
    months, width, last = "", 0, cells[start][0]
    run = cells[start:]
    for offset, (index, cell) in enumerate(run):
        name, unit = header_text(cell)
        column = _column_named(name)
        if column == ACTUAL and _months_only(name) and not months and ACTUAL not in at:
            later = [_column_named(header_text(c)[0]) for _, c in run[offset + 1 : offset + 6]]
            if ACTUAL in later or not later or later[0] in (None, NAME):
                months, last = name, index  # over the figures' column, or heading no column
                continue
        if column is None or (column in at and column != EXTRA):
            break
        if column == ACTUAL and months and column_months(name) is None:
            name = months + name
        if column != EXTRA:
            at[column], headings[column], units[column] = width, name, unit
        width, last = width + 1, index
    if not all(column in at for column in PUBLISHED_LAYOUT.required):
        return None
    first = cells[start][0]
    blocks = not any(not any(line[2]) for line in lines[first:last])  # no blank line inside the header
    return _TextHeader(at, headings, units, width, first, last, False, blocks)


def _months_only(name: str) -> bool:
    """上半年, 1-6月, 前三季度: a heading of months alone."""
    return len(name) <= 12 and column_months(name) is not None and _MONTHS_HEAD.sub("", name) == ""


def _text_rows(lines: Sequence[_Line], header: _TextHeader) -> tuple[list[PublishedRow], list[UnreadRow]]:
    """The rows under a header: a line of as many cells as the header has columns is a row; lines
    of one cell are gathered into one (a cell a line); a line of one text alone before a row is a
    section heading (一、经济发展). What cannot be placed is kept as unread; the prose ends the table."""
    rows: list[PublishedRow] = []
    unread: list[UnreadRow] = []
    pending: list[tuple[int, str]] = []

    def flush(reason: str) -> None:
        if pending:
            unread.append(_unread(pending, header.width, reason))
            pending.clear()

    for index in range(header.last + 1, len(lines)):
        number, raw, cells = lines[index]
        if not any(cells):
            if header.blocks:
                flush("格数与表头不符")
            continue
        if any(_prose(cell) for cell in cells):
            break
        while len(cells) > 1 and not cells[-1]:  # a tab after the last cell
            cells = cells[:-1]
        if len(cells) > 1:
            flush("格数与表头不符")
            fitted = _fit(raw, lines[index][2], header)
            if fitted is None:
                unread.append(_unread([(number, cell) for cell in cells], header.width, "格数与表头不符"))
            else:
                rows.append(_published_row(fitted, header.at, header.units, number))
            continue
        if not pending and _is_heading(lines, index, header):
            continue
        if pending and _new_label(pending, cells[0], header):
            flush("格数与表头不符")  # a cell too few: the next row's label stands where a figure should
        pending.append((number, cells[0]))
        if len(pending) == header.width:
            rows.append(_published_row([cell for _, cell in pending], header.at, header.units, pending[0][0]))
            pending.clear()
    flush("表格在此中断")
    return rows, unread


def _new_label(pending: Sequence[tuple[int, str]], cell: str, header: _TextHeader) -> bool:
    """Is `cell`, due in a figures' position, numbered as the row's own label is (8﹒ after 7﹒)?"""
    label = header.at[NAME]
    if len(pending) <= label or _figure(cell):
        return False
    own, new = _NUMBERED.match(pending[label][1]), _NUMBERED.match(cell)
    return own is not None and new is not None and _numbering_kind(own[0]) == _numbering_kind(new[0])


def _numbering_kind(numbering: str) -> str:
    """7﹒ and 10﹒ alike, （一） and （十二） alike."""
    return re.sub(r"\d+", "0", re.sub(r"[一二三四五六七八九十]+", "一", numbering.strip()))


def _unread(cells: Sequence[tuple[int, str]], width: int, reason: str) -> UnreadRow:
    return UnreadRow(cells[0][0], "｜".join(cell for _, cell in cells), f"{len(cells)}格，表头{width}列；{reason}")


def _fit(raw: str, cells: list[str], header: _TextHeader) -> list[str] | None:
    """A line's cells as a row of the header's width: as split; with a number alone before the
    label joined to it (1.  地区生产总值); empty cells after the last dropped; split by single spaces."""
    width = header.width
    while len(cells) > width and not cells[-1]:
        cells = cells[:-1]
    if len(cells) == width:
        return cells
    trailing = len(raw.lstrip().rstrip("\r\n ").split("\t")) - len(raw.strip().split("\t"))
    if len(cells) < width <= len(cells) + trailing:
        return [*cells, *[""] * (width - len(cells))]  # tabs after the last cell: cells left empty
    if len(cells) == width + 1 and _NUMBER_ONLY.match(cells[0]) and header.at.get(NAME) == 0:
        return [f"{cells[0]} {cells[1]}", *cells[2:]]
    single = raw.split()
    return single if len(single) == width else None


def _is_heading(lines: Sequence[_Line], index: int, header: _TextHeader) -> bool:
    """Is a line of one text, where a row would start, a heading between rows (一、经济发展)? Never
    a figure; alone in its block; before a line that is a whole row; or when the cells read as rows
    from the next one line up better than from it (a label where labels stand, a figure in 完成)."""
    cell = lines[index][2][0]
    if _figure(cell):
        return False
    following = [cells for _, _, cells in lines[index + 1 :] if any(cells)]
    if not following:
        return False
    if len(following[0]) > 1:
        return True
    if header.blocks and not any(lines[index + 1][2] if index + 1 < len(lines) else []):
        return True
    stream = [cell, *(c for cells in following[: 2 * header.width + 1] for c in cells)]
    return _fits(stream, 1, header) > _fits(stream, 0, header)


def _fits(stream: Sequence[str], offset: int, header: _TextHeader) -> int:
    score, width = 0, header.width
    for row in range(2):
        group = stream[offset + row * width : offset + (row + 1) * width]
        if len(group) < width or any(_prose(cell) for cell in group):
            break
        score += (not _figure(group[header.at[NAME]])) + _figure(group[header.at[ACTUAL]])
        score += _figure(group[header.at[DEVIATION]]) if DEVIATION in header.at else 0
    return score


def _figure(cell: str) -> bool:
    """A cell of figures (5.5%, -1.0个百分点, 完成, -), not a label (numbering aside)."""
    text = _NUMBERED.sub("", cell)
    return bool(re.search(r"\d|%|％", text)) or cell_reading(cell) in ("完成", "未完成", "-")


def _prose(cell: str) -> bool:
    return len(cell) > _MAX_CELL or "。" in cell or "，" in cell or bool(_NOTE.match(cell))


def _missing_in_text(lines: Sequence[_Line]) -> list[RowError]:
    named = {_column_named(header_text(cell)[0]) for _, _, cells in lines for cell in cells}
    missing = [column for column in PUBLISHED_LAYOUT.required if column not in named] or list(PUBLISHED_LAYOUT.required)
    return [
        RowError(
            0,
            column,
            "",
            "no table headed 指标 ｜ 全年目标 ｜ …完成 ｜ 与目标± in the text",
            f"文中找不到「{column}」列" if column in missing and column not in named else _ORDER_ZH,
        )
        for column in missing
    ]


_ORDER_ZH = "文中找不到依次排列的表头「指标 ｜ 全年目标 ｜ …完成 ｜ 与目标±」（月份如“上半年”须在“完成”之上或单独成列）"
