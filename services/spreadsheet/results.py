"""What reading a filled-in sheet ends in: the events to append (`SheetImport`), or the whole
file refused (`SheetRejected`) with every bad cell as a `RowError`."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from events.models import Event
from services.spreadsheet.layout import CSV_COLUMNS


@dataclass(frozen=True)
class RowError:
    """One bad cell: `row` is the spreadsheet row (header = 1, first data row = 2); 0 for the file."""

    row: int
    column: str
    value: str
    reason: str
    reason_zh: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"第{self.row}行" if self.row > 0 else "文件"
        shown = f"'{self.value}'" if self.value else ""
        return f"{where}「{self.column}」{shown}：{self.reason_zh} (row {self.row}, {self.column}: {self.reason})"


class SheetRejected(Exception):
    """The whole file is refused; `errors` lists every problem found, in row then column order."""

    def __init__(self, filename: str, errors: list[RowError]) -> None:
        self.filename = filename
        self.errors = sorted(errors, key=_error_order)
        bad_rows = len({e.row for e in self.errors if e.row >= 2})
        file_level = len([e for e in self.errors if e.row < 2])
        parts_en, parts_zh = [], []
        if file_level:
            parts_en.append(f"{file_level} problem{'s' if file_level != 1 else ''} with the file")
            parts_zh.append(f"文件本身有{file_level}处问题")
        if bad_rows:
            parts_en.append(f"{bad_rows} row{'s' if bad_rows != 1 else ''} with errors")
            parts_zh.append(f"{bad_rows}行有错误")
        # One line: callers list `errors` themselves, each in its own row of a report.
        super().__init__(f"{filename}: {'，'.join(parts_zh)}，未导入任何数据 ({', '.join(parts_en)}; nothing imported)")

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors if e.row >= 2})


class ForeignSheet(SheetRejected):
    """The file is another department's than the one it was read for: posting on another
    department's behalf, which the API answers 403 and the CLI refuses (exit 2)."""


_COLUMN_ORDER = {name: index for index, name in enumerate(CSV_COLUMNS)}


def _error_order(error: RowError) -> tuple[int, int, str]:
    return (error.row, _COLUMN_ORDER.get(error.column, len(_COLUMN_ORDER)), error.column)


class FileProblem(Exception):
    """Raised while reading a file that cannot be imported at all; `parse_sheet` refuses it."""

    def __init__(self, *errors: RowError) -> None:
        super().__init__(errors)
        self.errors = list(errors)


class ForeignFile(Exception):
    """Raised for another department's file; `parse_sheet` refuses it as a `ForeignSheet`."""

    def __init__(self, error: RowError) -> None:
        self.error = error


@dataclass(frozen=True)
class SheetImport:
    """A file that passed: the events to append, in file order, duplicates within the file removed."""

    plan_id: str
    department: str
    periods: tuple[str, ...]  # the 报告期 of the rows that had something filled in, in period order
    events: list[Event]
    rows: int  # data rows read (blank rows not counted)

    def summary(self) -> str:
        counts = Counter[str](event.type for event in self.events)
        kinds = [
            ("indicator.updated", "指标", "indicator value", "indicator values"),
            ("project.started", "开工", "start", "starts"),
            ("investment.completed", "投资", "investment", "investment"),
            ("project.completed", "建成投产", "completion", "completions"),
        ]
        zh = [f"{label}{counts[t]}条" for t, label, _, _ in kinds if counts[t]]
        en = [f"{counts[t]} {one if counts[t] == 1 else many}" for t, _, one, many in kinds if counts[t]]
        total = len(self.events)
        line_zh = f"{self.rows}行，{total}条数据" + (f"（{'，'.join(zh)}）" if zh else "")
        line_en = f"{self.rows} row{'s' if self.rows != 1 else ''}, {total} event{'s' if total != 1 else ''}"
        return f"{line_zh}; {line_en}" + (f" ({', '.join(en)})" if en else "")
