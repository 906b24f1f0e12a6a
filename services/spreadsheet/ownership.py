"""Whose file it is: a filled-in file must be for the plan it is imported into, and from one of
its departments — the uploader's own, when the uploader's department is known."""

from __future__ import annotations

from events.plan import Plan
from services.spreadsheet.layout import DEPARTMENT, INFO_SHEET, PLAN
from services.spreadsheet.reader import Table
from services.spreadsheet.results import FileProblem, ForeignFile, RowError


def file_owner(table: Table, columns: dict[str, int], plan: Plan, department: str | None) -> str:
    """The department the file reports for; raises `FileProblem` when the file is for another plan
    or says no department of it, and `ForeignFile` when it is not `department`'s."""
    file_plan, file_department = _csv_claims(table, columns, department) if table.csv_layout else _xlsx_claims(table)
    if file_plan is not None and file_plan != plan.id:
        raise FileProblem(
            RowError(
                0,
                PLAN,
                file_plan,
                f"the file is for plan {file_plan!r}, not {plan.id!r}",
                f"文件属于其他计划，不是{plan.name}",
            )
        )
    owner = department or file_department
    if owner is None:
        raise FileProblem(
            RowError(0, DEPARTMENT, "", "the file does not say which department it is from", "找不到部门编号")
        )
    if owner not in {d.id for d in plan.departments}:
        raise FileProblem(
            RowError(0, DEPARTMENT, owner, f"department {owner!r} is not in plan {plan.id}", "计划中没有这个部门")
        )
    if department is not None and file_department is not None and file_department != department:
        raise ForeignFile(
            RowError(
                0,
                DEPARTMENT,
                file_department,
                f"the file belongs to department {file_department!r}, but you report for {department!r}",
                f"这是{plan.department_name(file_department)}的文件，不能以{plan.department_name(department)}身份上传",
            )
        )
    return owner


def _csv_claims(table: Table, columns: dict[str, int], department: str | None) -> tuple[str | None, str | None]:
    """The plan and department of a csv, from the columns every row repeats them in (None when the
    rows disagree: each stray row is then reported on its own)."""
    plans = table.distinct(columns[PLAN])
    departments = table.distinct(columns[DEPARTMENT])
    if not plans:
        raise FileProblem(RowError(0, PLAN, "", "no plan id in the 计划 column", "「计划」列为空"))
    if len(departments) > 1 and department is None:
        raise FileProblem(
            RowError(
                0,
                DEPARTMENT,
                ", ".join(departments),
                "the file mixes several departments",
                "文件中包含多个部门，请每个部门单独上传",
            )
        )
    return (plans[0] if len(plans) == 1 else None), (departments[0] if len(departments) == 1 else None)


def _xlsx_claims(table: Table) -> tuple[str, str | None]:
    """The plan and department a workbook was made for (its properties or 说明 sheet)."""
    file_plan = table.meta.get("plan")
    if file_plan is None:
        raise FileProblem(
            RowError(
                0,
                PLAN,
                "",
                f"the workbook does not say which plan it is for (no {INFO_SHEET} sheet)",
                f"找不到计划编号（缺少「{INFO_SHEET}」工作表），请使用系统下载的模板",
            )
        )
    return file_plan, table.meta.get("department")
