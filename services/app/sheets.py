"""Departments' spreadsheets: the fill-in template, and importing a filled one — the one import
path the API, the CLI and the dashboard's upload share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from events.errors import FieldError
from events.plan import Plan
from services.app.errors import Forbidden, Invalid, TooLarge
from services.app.ingest import Accepted, Ingest
from services.spreadsheet import ForeignSheet, SheetImport, SheetRejected, parse_sheet, sheet_plan_id, write_template
from services.store import TokenInfo

MAX_FILE = 2_000_000  # bytes: a department's sheet is tens of rows


@dataclass(frozen=True)
class Imported:
    plan_id: str
    sheet: SheetImport
    accepted: Accepted

    def body(self) -> dict[str, object]:
        return {**self.accepted.body(), "summary": self.sheet.summary()}


class Sheets:
    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest

    async def template(self, plan_id: str, department: str, period: str, fmt: Literal["xlsx", "csv"] = "xlsx") -> bytes:
        """A department's fill-in sheet for a period: its indicators and projects, Chinese headers."""
        plan = await self.ingest.plan(plan_id)
        try:
            return write_template(plan, department, period, fmt)
        except ValueError as exc:
            raise Invalid(str(exc), "模板参数有误", [FieldError("department", str(exc), "模板参数有误")]) from None

    async def import_file(
        self,
        caller: TokenInfo,
        content: bytes,
        filename: str,
        plan_id: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Imported:
        """Import a filled sheet as the caller's department (never the file's say-so): every row is
        validated, any bad row rejects the whole file with a row-by-row report, and re-importing
        the same file stores nothing new (event ids come from the file's content)."""
        if len(content) > MAX_FILE:
            raise TooLarge(f"the file exceeds {MAX_FILE} bytes", f"文件过大（上限{MAX_FILE}字节）")
        if caller.role != "department":
            # A sheet is recorded as the token's department: an admin or analyst has none.
            raise Forbidden(
                f"{caller.role} token {caller.id} cannot import a department's sheet; "
                "use a token of the department the file is for",
                "只能使用填报部门的令牌导入报表",
            )
        plan_id = plan_id or sheet_plan_id(content, filename)
        if not plan_id:
            raise Invalid(
                "the file names no plan; give the plan", "文件中未注明计划", [FieldError("plan", "missing", "缺少计划")]
            )
        plan = await self.ingest.plan(plan_id)
        sheet = _parsed(content, filename, plan, caller.department, progress)
        if not sheet.events:
            raise Invalid("the file has no filled-in values", "文件中没有填报数据")
        return Imported(plan_id, sheet, await self.ingest.submit(caller, plan_id, sheet.events))


def _parsed(
    content: bytes,
    filename: str,
    plan: Plan,
    department: str | None,
    progress: Callable[[int, int], None] | None,
) -> SheetImport:
    try:
        return parse_sheet(content, filename, plan, department=department, progress=progress)
    except ForeignSheet as exc:  # another department's file: as posting on its behalf would be
        [error] = exc.errors
        raise Forbidden(
            f"{error.reason}; nothing was imported",
            f"{error.reason_zh}，未导入任何数据",
            [FieldError(f"row 0: {error.column}", error.reason, error.reason_zh)],
        ) from None
    except SheetRejected as exc:
        raise Invalid(
            str(exc),
            f"文件有{len(exc.errors)}处错误，未导入任何数据",
            [FieldError(f"row {e.row}: {e.column}", e.reason, e.reason_zh) for e in exc.errors],
            rows=[str(e) for e in exc.errors],
        ) from None
