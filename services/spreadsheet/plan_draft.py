"""A plan file drafted from the tables a plan office already keeps: its target table (指标 ｜ 单位 ｜
全年目标 ｜ 责任单位 …) and, if it has one, its key-project list (`project_draft`), each xlsx, csv or
a Word document's table (`document`).
The indicators keep their wording as written; the departments are those the tables name; ids are
made up where the tables have none. Pure: `Table`s in, YAML text out, or every bad cell as a
`RowError`.

Columns are found by their header, in any order (`headed`). A row holding one text alone is a
section heading (`（一）工业经济`); one that says 主要…指标 is the main table. The draft is validated
as a plan file is, by the same models, so what it writes `planwatch plan check` accepts; ids it
had to make up (`ind-07`, `dept-03`) are listed for the office to rename before publishing, since
events and tokens will name them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import yaml
from pydantic import ValidationError

from events.bounds import PERCENT_FORMS
from events.errors import field_errors
from events.plan import MAIN_SECTION, Plan
from events.planfile import PlanFileError, parse_plan
from events.targets import ParsedTarget, TargetTextError, parse_target
from projections.how_judged import direction_hint
from services.spreadsheet.cells import Cell, plain
from services.spreadsheet.document import read_docx_tables
from services.spreadsheet.headed import (
    Layout,
    cell_at,
    cell_text,
    data_rows,
    find_header,
    header_text,
    heading,
    table_for,
    unresolved_formulas,
)
from services.spreadsheet.layout import FILE
from services.spreadsheet.project_draft import (
    CATEGORY,
    COMPLETION,
    INVESTMENT,
    OWNER,
    PROJECT,
    PROJECT_ID,
    PROJECT_LAYOUT,
    START,
    ProjectRow,
    project_rows,
)
from services.spreadsheet.reader import Table, read_table
from services.spreadsheet.results import FileProblem, RowError, SheetRejected

NAME, UNIT, TARGET, DEPARTMENT, FREQUENCY, SECTION, ID = (
    "指标",
    "单位",
    "全年目标",
    "责任单位",
    "报送频率",
    "类别",
    "标识",
)
INDICATOR_LAYOUT = Layout(
    headers={
        NAME: ("指标", "指标名称", "目标任务", "主要指标", "名称"),
        UNIT: ("单位", "计量单位"),
        TARGET: ("全年目标", "年度目标", "目标", "预期目标", "计划目标", "目标值", "全年预期目标"),
        DEPARTMENT: ("责任单位", "牵头单位", "责任部门", "牵头部门", "主责单位"),
        FREQUENCY: ("报送频率", "频率", "频次", "统计频率", "报送周期", "统计周期"),
        SECTION: ("类别", "分类", "板块", "领域", "部分"),
        ID: ("标识", "id", "ID", "代码", "指标代码"),
    },
    required=(NAME, TARGET, DEPARTMENT),
    endings={TARGET: ("年目标",)},
)
_NUMBERED = re.compile(r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)])")  # a heading's numbering
PROJECTS_TABLE = "项目表·"  # before a column of the key-project list in a message: which file it is in
_FREQUENCIES = {
    "monthly": ("月", "月度", "每月", "按月", "monthly"),
    "quarterly": ("季", "季度", "每季", "按季", "quarterly"),
    "annual": ("年", "年度", "每年", "按年", "全年", "annual"),
}

# Short English ids for departments and indicators offices name alike everywhere; others are
# numbered. The first keyword found in the name decides.
_DEPARTMENT_IDS = (
    ("发展改革", "fgw"), ("发改", "fgw"), ("统计", "stats"), ("财政", "finance"), ("税务", "tax"),
    ("经济信息", "econ"), ("经信", "econ"), ("工业和信息化", "econ"), ("商务", "commerce"),
    ("招商", "invest"), ("人力", "hrss"), ("科技", "sci"), ("农业农村", "agri"), ("林业", "forestry"),
    ("生态环境", "eco"), ("住房", "housing"), ("住建", "housing"), ("城市管理", "cityadmin"),
    ("水利", "water"), ("交通", "transport"), ("卫生健康", "health"), ("卫健", "health"),
    ("教育", "edu"), ("教委", "edu"), ("民政", "civil"), ("文化旅游", "culture"), ("文旅", "culture"),
    ("市场监管", "market"), ("应急", "emergency"), ("自然资源", "land"), ("规划", "land"),
    ("医疗保障", "medins"), ("医保", "medins"), ("大数据", "data"), ("政府办公", "govservice"),
    ("高新", "hitech"), ("开发区", "devzone"), ("能源", "energy"), ("供销", "coop"), ("公安", "police"),
)  # fmt: skip
_INDICATOR_IDS = (
    ("能耗", "energy-intensity"),
    ("二氧化碳", "co2-intensity"),
    ("地区生产总值", "gdp"),
    ("工业增加值", "industry-va"),
    ("固定资产投资", "fai"),
    ("社会消费品零售", "retail"),
    ("一般公共预算收入", "revenue"),
    ("进出口", "trade"),
    ("城镇居民人均可支配收入", "urban-income"),
    ("农村居民人均可支配收入", "rural-income"),
    ("人均可支配收入", "income"),
    ("调查失业率", "unemployment"),
    ("登记失业率", "registered-unemployment"),
    ("新增就业", "new-jobs"),
    ("居民消费价格", "cpi"),
    ("粮食", "grain"),
    ("城镇化率", "urbanization"),
    ("研发经费", "rd-spending"),
    ("空气质量优良", "air-quality"),
    ("PM2.5", "pm25"),
    ("森林覆盖率", "forest"),
    ("实际利用外资", "fdi"),
    ("实际使用外资", "fdi"),
    ("GDP", "gdp"),
)  # fmt: skip (the specific first: 单位地区生产总值能耗 is energy, not GDP)
_ALIASES = {"地区生产总值": ("GDP", "GDP增速")}  # what relative targets call them (高于GDP增速)


@dataclass(frozen=True)
class PlanIdentity:
    """What the tables do not say: the plan's id, name, region, year, zone, owning office and how
    its report names the key projects."""

    id: str
    year: int
    region: str
    name: str = ""  # default: {region}{year}年国民经济和社会发展计划
    office: str = "发展改革委"  # the department that owns the plan, by name (or part of it)
    timezone: str = "Asia/Shanghai"
    projects_label: str = "重点项目"  # e.g. 区级重点项目


@dataclass
class PlanDraft:
    text: str  # the plan file, YAML
    plan: Plan
    notes: list[str] = field(default_factory=list)  # what the office should look at before publishing


@dataclass
class _Row:
    number: int  # the spreadsheet row
    name: str
    unit: str
    target: str | Decimal | None
    department: str
    frequency: str
    section: str
    id: str


@dataclass
class _Drafting:
    """The plan's mapping as it is built, with the table row of each indicator and project."""

    data: dict[str, Any]
    indicator_rows: dict[int, int] = field(default_factory=dict)
    project_rows: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def draft_plan_sheet(
    content: bytes, filename: str, identity: PlanIdentity, projects: tuple[bytes, str] | None = None
) -> PlanDraft:
    """The plan file drafted from a target table's file (.xlsx, .csv or .docx) and, if given, the key-
    project list's (content, filename); SheetRejected lists every bad cell of both (a project's
    column named 项目表·…), and a file itself when it cannot be read."""
    names = filename if projects is None else f"{filename}, {projects[1]}"
    errors: list[RowError] = []
    indicators = project_table = None
    notes: list[str] = []
    try:
        indicators = office_table(content, filename, INDICATOR_LAYOUT, notes)
    except FileProblem as problem:
        errors += problem.errors
    if projects is not None:
        try:
            project_table = office_table(*projects, PROJECT_LAYOUT, notes)
        except FileProblem as problem:
            errors += [_in_projects(error) for error in problem.errors]
    if errors or indicators is None:
        raise SheetRejected(names, errors)
    try:
        draft = draft_plan(indicators, identity, filename, project_table)
    except FileProblem as problem:
        raise SheetRejected(names, problem.errors) from None
    draft.notes[:0] = notes
    return draft


DRAFT_FORMATS = (".xlsx", ".csv", ".docx")


def office_table(content: bytes, filename: str, layout: Layout, notes: list[str]) -> Table:
    """The table a file holds: a workbook's sheet, a csv, or the table of a Word document that
    has the layout's columns (noted when the document holds several)."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in (".doc", ".xls"):
        modern = suffix + "x"
        raise FileProblem(
            RowError(
                0,
                FILE,
                filename,
                f"old {suffix} files are not read; save as {modern}",
                f"不支持{suffix}格式，请另存为{modern}",
            )
        )
    if suffix not in DRAFT_FORMATS:
        raise FileProblem(
            RowError(0, FILE, filename, "the file must be .xlsx, .csv or .docx", "文件必须是.xlsx、.csv或.docx格式")
        )
    if suffix != ".docx":
        return read_table(content, filename)
    tables = read_docx_tables(content)
    index, table = table_for(tables, layout)
    if len(tables) > 1:
        notes.append(f"{filename}：文档有{len(tables)}个表格，读取的是第{index + 1}个（行号为该表格中的行）")
    return table


def draft_plan(
    table: Table, identity: PlanIdentity, source: str = "<table>", projects: Table | None = None
) -> PlanDraft:
    """The plan file for `table`'s indicators and `projects`' key projects, or FileProblem listing
    every bad cell."""
    try:
        rows, errors, notes = _indicator_rows(table)
    except FileProblem as problem:  # columns missing: the list's bad cells are still worth telling
        rows, errors, notes = [], problem.errors, []
    found: list[ProjectRow] = []
    project_errors: list[RowError] = []
    if projects is not None:
        try:
            found, project_errors, project_notes = project_rows(projects, identity.year)
        except FileProblem as problem:
            project_errors, project_notes = problem.errors, []
        notes += project_notes
    if errors or project_errors:
        if not errors:  # the targets read well: what the plan says of them is said with the list's cells
            errors = _problems(_plan_data(rows, [], identity))
        raise FileProblem(*errors, *map(_in_projects, project_errors))
    drafting = _plan_data(rows, found, identity)
    problems = _problems(drafting)
    if problems:
        raise FileProblem(*problems)
    text = _yaml(drafting, source)
    try:
        plan = parse_plan(text, source)  # as `plan check` will read it: the draft must pass
    except PlanFileError as exc:  # a rule of the whole plan (bounds), not of one row
        raise FileProblem(*(RowError(0, "计划", "", problem, "不符合计划规则") for problem in exc.problems)) from None
    notes += drafting.notes
    notes += [
        f"{i.name}（{i.id}）：{hint.removeprefix('提示：')}" for i in plan.indicators if (hint := direction_hint(i))
    ]
    return PlanDraft(text, plan, notes)


def _in_projects(error: RowError) -> RowError:
    return replace(error, column=PROJECTS_TABLE + error.column)


# ---- reading the target table -----------------------------------------------------------------


def _indicator_rows(table: Table) -> tuple[list[_Row], list[RowError], list[str]]:
    header = find_header(table, INDICATOR_LAYOUT)
    columns = header.columns
    rows: list[_Row] = []
    errors: list[RowError] = []
    section = MAIN_SECTION
    for number, cells in data_rows(table, header):
        if unresolved := unresolved_formulas(number, cells, columns):
            errors += unresolved
            continue
        name = cell_text(cells, columns, NAME)
        if not any(cell_text(cells, columns, column) for column in (TARGET, DEPARTMENT, UNIT)):
            title = heading(cells) or (name if _NUMBERED.match(name) else None)
            if title is not None:  # （一）工业经济, often merged across the row, or 一、 in the name column
                section = _section(title)
                continue
            if not name:
                continue  # a blank line, or a number with nothing else
        if not name:
            errors.append(RowError(number, NAME, "", "the indicator's name is not given", "未填写指标名称"))
            continue
        text = cell_text(cells, columns, SECTION)
        frequency, problem = _frequency(cell_text(cells, columns, FREQUENCY), number)
        row = _Row(
            number,
            name,
            cell_text(cells, columns, UNIT),
            _target(cell_at(cells, columns, TARGET)),
            cell_text(cells, columns, DEPARTMENT),
            frequency,
            _section(text) if text else section,
            cell_text(cells, columns, ID),
        )
        errors += [problem] if problem else []
        if not row.department:
            errors.append(RowError(number, DEPARTMENT, "", "who reports it is not given", "未填写责任单位"))
        rows.append(row)
    if not rows and not errors:
        errors.append(RowError(0, NAME, "", "the table lists no indicator", "表中没有指标"))
    notes = [] if FREQUENCY in columns else ["表中没有「报送频率」列：均按月度（monthly）起草，请逐项核对 frequency"]
    return rows, errors, notes


def _section(heading: str) -> str:
    """A section as the plan names it: 一、主要指标 or 主要经济指标 is the main table."""
    return MAIN_SECTION if "主要" in heading and "指标" in heading else heading


def _target(cell: Cell) -> str | Decimal | None:
    """The wording as written; a number as a number (a bare target takes the unit); a cell shown
    as a percentage (0.065 shown as 6.5%) as the percentage; empty or 「-」: none (monitored)."""
    if cell.blank:
        return None
    if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
        number = Decimal(str(cell.value))
        return f"{(number * 100).normalize():f}%" if cell.percent else number
    return plain(cell.value).strip()


def _frequency(text: str, number: int) -> tuple[str, RowError | None]:
    if not text:
        return "monthly", None
    word = header_text(text)[0].removesuffix("报").removesuffix("报送")
    for frequency, words in _FREQUENCIES.items():
        if word in words:
            return frequency, None
    return "monthly", RowError(number, FREQUENCY, text, "must be 月度, 季度 or 年度", "应为月度、季度或年度")


# ---- the plan --------------------------------------------------------------------------------


def _plan_data(rows: list[_Row], projects: list[ProjectRow], identity: PlanIdentity) -> _Drafting:
    """The plan as a plan file's mapping, with each indicator's and project's table row."""
    departments = _department_ids([row.department for row in rows] + [p.department for p in projects])
    office = next((i for name, i in departments.items() if identity.office in name), None)
    if office is None:  # the office owns the plan even when no row is its own
        office = _unique("fgw" if "发展改革" in identity.office else "office", set(departments.values()))
        departments = {identity.office: office, **departments}
    drafting = _Drafting(
        {
            "id": identity.id,
            "name": identity.name or f"{identity.region}{identity.year}年国民经济和社会发展计划",
            "region": identity.region,
            "year": identity.year,
            "timezone": identity.timezone,
            "office": office,
            **({"projects_label": identity.projects_label} if projects else {}),
            "departments": [{"id": i, "name": name} for name, i in departments.items()],
            "indicators": _indicators(rows, departments),
            "projects": _projects(projects, departments),
        }
    )
    drafting.indicator_rows = {index: row.number for index, row in enumerate(rows)}
    drafting.project_rows = {index: project.number for index, project in enumerate(projects)}
    made_up = [f"{name} → {i}" for name, i in departments.items() if re.fullmatch(r"dept-\d+", i)]
    if made_up:
        drafting.notes.append("以下责任单位的标识为编号，请改为简短英文（事件和令牌将使用它们）：" + "；".join(made_up))
    growth = [i["name"] for i in drafting.data["indicators"] if i.get("with_growth")]
    if growth:
        drafting.notes.append(f"以下指标按总量和同比增速报送、按增速考核（with_growth）：{'、'.join(growth)}")
    numbered = [i for i in drafting.data["indicators"] if re.fullmatch(r"ind-\d+", i["id"])]
    if numbered:
        drafting.notes.append(f"{len(numbered)}个指标的标识为编号（ind-NN），发布前可改为简短英文")
    return drafting


def _indicators(rows: list[_Row], departments: dict[str, str]) -> list[dict[str, Any]]:
    indicators: list[dict[str, Any]] = []
    taken: set[str] = set()
    orders: dict[str, int] = {}
    for index, row in enumerate(rows):
        subject = row.id.lower() or _unique(_known_id(row.name, _INDICATOR_IDS) or f"ind-{index + 1:02d}", taken)
        taken.add(subject)
        orders[row.section] = orders.get(row.section, 0) + 1
        parsed = _parsed(row.target)  # read once: for the unit it implies and whether it is a percentage
        unit = row.unit or _unit_of(parsed, row.target)
        indicator: dict[str, Any] = {
            "id": subject,
            "name": row.name,
            "unit": unit,
            "department": departments[row.department],
            "frequency": row.frequency,
            "order": orders[row.section],
        }
        if unit not in ("", "%") and parsed is not None and parsed.form in PERCENT_FORMS:  # 地区生产总值（亿元）增长6%
            indicator["with_growth"] = True  # reported as the level and its growth, judged on the growth
        if row.section != MAIN_SECTION:
            indicator["section"] = row.section
        if aliases := _ALIASES.get(row.name):
            indicator["aliases"] = list(aliases)
        if row.target is not None:
            indicator["target"] = f"{row.target:f}" if isinstance(row.target, Decimal) else row.target
        indicators.append(indicator)
    return indicators


def _projects(projects: list[ProjectRow], departments: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "id": project.id.lower() or f"kp-{index + 1:03d}",  # ids are lower case: A01 is a01
            "name": project.name,
            "department": departments[project.department],
            "category": project.category,
            "planned_investment_wan": f"{project.investment_wan:f}",
            "planned_start": project.start,
            "planned_completion": project.completion,
        }
        for index, project in enumerate(projects)
    ]


def _department_ids(names: list[str]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for name in dict.fromkeys(names):
        ids[name] = _unique(_known_id(name, _DEPARTMENT_IDS) or f"dept-{len(ids) + 1:02d}", set(ids.values()))
    return ids


def _known_id(name: str, known: tuple[tuple[str, str], ...]) -> str | None:
    return next((short for word, short in known if word in name), None)


def _unique(wanted: str, taken: set[str]) -> str:
    candidate, n = wanted, 2
    while candidate in taken:
        candidate, n = f"{wanted}-{n}", n + 1
    return candidate


def _unit_of(parsed: ParsedTarget | None, target: str | Decimal | None) -> str:
    """The unit a wording implies: % for a rate, a range, a comparison or 百分点; an amount's own
    unit. '' when it implies none (the plan's validation then asks for 单位)."""
    if parsed is None:
        return "%" if isinstance(target, str) and "百分点" in target else ""
    return "%" if parsed.form in PERCENT_FORMS else str(getattr(parsed, "unit", ""))


def _parsed(target: str | Decimal | None) -> ParsedTarget | None:
    """What a wording parses to (None: a number, nothing, or a wording the plan will refuse)."""
    if not isinstance(target, str):
        return None
    try:
        return parse_target(target)
    except TargetTextError:
        return None


def _problems(drafting: _Drafting) -> list[RowError]:
    """The plan's validation errors, each on its table row and column."""
    try:
        Plan.model_validate(drafting.data)
    except ValidationError as exc:
        return [_located(error.field, error.reason, error.reason_zh, drafting) for error in field_errors(exc)]
    return []


_INDICATOR_COLUMNS = {
    "target": TARGET,
    "unit": UNIT,
    "name": NAME,
    "department": DEPARTMENT,
    "frequency": FREQUENCY,
    "section": SECTION,
    "id": ID,
}
_PROJECT_COLUMNS = {
    "id": PROJECT_ID,
    "name": PROJECT,
    "department": OWNER,
    "category": CATEGORY,
    "planned_investment_wan": INVESTMENT,
    "planned_start": START,
    "planned_completion": COMPLETION,
}


def _located(path: str, reason: str, reason_zh: str, drafting: _Drafting) -> RowError:
    match = re.match(r"(indicators|projects)\[(\d+)\]\.?(\w*)", path)
    if match is None:
        return RowError(0, path, "", reason, reason_zh)
    kind, index, name = match[1], int(match[2]), match[3]
    if kind == "projects":  # a rule of the whole row: its months' order, else its name
        whole = COMPLETION if "planned_completion" in reason else PROJECT
        column = PROJECTS_TABLE + _PROJECT_COLUMNS.get(name, name or whole)
        return RowError(drafting.project_rows.get(index, 0), column, "", reason, reason_zh)
    whole = TARGET if "target" in reason else NAME  # a rule of the whole row: its target and unit, its name
    return RowError(
        drafting.indicator_rows.get(index, 0), _INDICATOR_COLUMNS.get(name, name or whole), "", reason, reason_zh
    )


# ---- the file --------------------------------------------------------------------------------


def _yaml(drafting: _Drafting, source: str) -> str:
    """The plan file as the examples are written: a mapping per line, each indicator and project
    with the table row it came from, so the office can check one against the other."""

    def flow(value: object) -> str:
        return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10**6, sort_keys=False).strip()

    data = drafting.data
    lines = [
        f"# 由 {source} 起草（planwatch plan draft）：请核对后用 planwatch plan check --targets 检查，再发布。",
        "# Drafted from the office's tables; the targets are their wording as written.",
    ]
    keys = ("id", "name", "region", "year", "timezone", "office", "projects_label")
    top = {key: data[key] for key in keys if key in data}
    lines.append(yaml.safe_dump(top, allow_unicode=True, sort_keys=False, width=10**6).rstrip())
    lines += ["", "departments:", *(f"  - {flow(d)}" for d in data["departments"]), "", "indicators:"]
    section = None
    for index, indicator in enumerate(data["indicators"]):
        if indicator.get("section", MAIN_SECTION) != section:
            section = indicator.get("section", MAIN_SECTION)
            lines.append(f"  # ---- {section}")
        lines.append(f"  - {flow(indicator)}  # 第{drafting.indicator_rows[index]}行")
    if data["projects"]:
        lines += ["", "projects:"]
        for index, project in enumerate(data["projects"]):
            lines.append(f"  - {flow(project)}  # 项目表第{drafting.project_rows[index]}行")
    return "\n".join(lines) + "\n"
