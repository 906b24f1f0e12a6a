"""A plan file drafted from the target table a plan office already keeps (指标 ｜ 单位 ｜ 全年目标 ｜
责任单位 …, xlsx or csv): the indicators with their wording as written, the departments named in
it, ids made up where the table has none. Pure: a `Table` in, YAML text out, or every bad cell as
a `RowError`.

Columns are found by their header, in any order, on the first row that names the indicator
column (a title row above it is skipped). A row with a name and nothing else is a section
heading (`（一）工业经济`): the rows under it belong to that section, the first section read as
the main table when the table has no section column. The draft is validated as a plan file is,
by the same models, so what it writes `planwatch plan check` accepts; ids it had to make up
(`ind-07`, `dept-03`) are listed for the office to rename before publishing, since events and
tokens will name them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml
from pydantic import ValidationError

from events.errors import field_errors
from events.plan import MAIN_SECTION, Plan
from events.planfile import PlanFileError, parse_plan
from events.targets import TargetTextError, parse_target
from projections.how_judged import direction_hint
from services.spreadsheet.cells import Cell, plain
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
# Header texts as offices write them (compared without spaces and brackets' width)
_HEADERS: dict[str, tuple[str, ...]] = {
    NAME: ("指标", "指标名称", "目标任务", "主要指标", "名称", "项目"),
    UNIT: ("单位", "计量单位"),
    TARGET: ("全年目标", "年度目标", "目标", "预期目标", "计划目标", "目标值", "全年预期目标"),
    DEPARTMENT: ("责任单位", "牵头单位", "责任部门", "牵头部门", "主责单位", "责任单位（部门）"),
    FREQUENCY: ("报送频率", "频率", "频次", "统计频率", "报送周期", "统计周期"),
    SECTION: ("类别", "分类", "板块", "领域", "部分"),
    ID: ("标识", "id", "ID", "代码", "指标代码"),
}
_FREQUENCIES = {
    "monthly": ("月", "月度", "每月", "按月", "monthly"),
    "quarterly": ("季", "季度", "每季", "按季", "quarterly"),
    "annual": ("年", "年度", "每年", "按年", "全年", "annual"),
}
HEADER_ROWS_SEARCHED = 10  # a title, a date line, a blank line may stand above the header

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
    """What the table does not say: the plan's id, name, region, year, zone and owning office."""

    id: str
    year: int
    region: str
    name: str = ""  # default: {region}{year}年国民经济和社会发展计划
    office: str = "发展改革委"  # the department that owns the plan, by name (or part of it)
    timezone: str = "Asia/Shanghai"


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


def draft_plan_sheet(content: bytes, filename: str, identity: PlanIdentity) -> PlanDraft:
    """The plan file drafted from a target table's file (.xlsx or .csv); SheetRejected lists every
    bad cell, and the file itself when it cannot be read."""
    try:
        return draft_plan(read_table(content, filename), identity, filename)
    except FileProblem as problem:
        raise SheetRejected(filename, problem.errors) from None


def draft_plan(table: Table, identity: PlanIdentity, source: str = "<table>") -> PlanDraft:
    """The plan file for `table`'s indicators, or FileProblem listing every bad cell."""
    header_at, columns = _header(table)
    rows, errors = _rows(table, header_at, columns)
    if errors:
        raise FileProblem(*errors)
    if not rows:
        raise FileProblem(RowError(0, NAME, "", "the table lists no indicator", "表中没有指标"))
    notes: list[str] = []
    if FREQUENCY not in columns:
        notes.append("表中没有「报送频率」列：均按月度（monthly）起草，请逐项核对 frequency")
    data, row_of = _plan_data(rows, identity, notes)
    problems = _problems(data, row_of)
    if problems:
        raise FileProblem(*problems)
    text = _yaml(data, source, row_of)
    try:
        plan = parse_plan(text, source)  # as `plan check` will read it: the draft must pass
    except PlanFileError as exc:  # a rule of the whole plan (bounds), not of one row
        raise FileProblem(*(RowError(0, "计划", "", problem, "不符合计划规则") for problem in exc.problems)) from None
    notes += [
        f"{i.name}（{i.id}）：{hint.removeprefix('提示：')}" for i in plan.indicators if (hint := direction_hint(i))
    ]
    return PlanDraft(text, plan, notes)


# ---- reading the table ------------------------------------------------------------------------


def _normal(value: object) -> str:
    text = unicodedata.normalize("NFKC", plain(value)).replace(" ", "").replace("\n", "")
    return re.sub(r"[(（][^)）]*[)）]$", "", text) or text  # 全年目标（%）: the unit in brackets is not the name


def _header(table: Table) -> tuple[int, dict[str, int]]:
    """(index into the table's rows, where -1 is its first row; column name → index)."""
    candidates = [(-1, [Cell(value) for value in table.header]), *table.rows[:HEADER_ROWS_SEARCHED]]
    for at, (_, cells) in enumerate(candidates):
        columns = _columns(cells)
        if NAME in columns and (TARGET in columns or DEPARTMENT in columns):
            missing = [name for name in (TARGET, DEPARTMENT) if name not in columns]
            if missing:
                raise FileProblem(*(_missing_column(name) for name in missing))
            return at - 1, columns
    raise FileProblem(_missing_column(NAME), _missing_column(TARGET), _missing_column(DEPARTMENT))


def _missing_column(name: str) -> RowError:
    known = "、".join(_HEADERS[name])
    return RowError(
        1, name, "", f"no column headed {name} (or one of: {known})", f"找不到「{name}」列（列名可为：{known}）"
    )


def _columns(cells: Sequence[Cell]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        text = _normal(cell.value)
        for column, names in _HEADERS.items():
            if column not in columns and (text in names or (column == TARGET and text.endswith("年目标"))):
                columns[column] = index
    return columns


def _rows(table: Table, header_at: int, columns: dict[str, int]) -> tuple[list[_Row], list[RowError]]:
    rows: list[_Row] = []
    errors: list[RowError] = []
    section = MAIN_SECTION
    for number, cells in table.rows[header_at + 1 :]:

        def text(column: str, cells: list[Cell] = cells) -> str:
            index = columns.get(column)
            return plain(cells[index].value).strip() if index is not None and index < len(cells) else ""

        name = text(NAME)
        if not any(text(column) for column in (TARGET, DEPARTMENT, UNIT)):
            filled = [plain(cell.value).strip() for cell in cells if not cell.blank]
            if len(filled) == 1:  # a heading, often merged across the row: （一）工业经济
                section = _section(filled[0])
            continue  # else a blank line, or a number with nothing else
        if not name:
            errors.append(RowError(number, NAME, "", "the indicator's name is not given", "未填写指标名称"))
            continue
        row = _Row(number, name, text(UNIT), _target(cells, columns), text(DEPARTMENT), "", "", text(ID))
        row.section = _section(text(SECTION)) if text(SECTION) else section
        row.frequency, problem = _frequency(text(FREQUENCY), number)
        errors += [problem] if problem else []
        if not row.department:
            errors.append(RowError(number, DEPARTMENT, "", "who reports it is not given", "未填写责任单位"))
        rows.append(row)
    return rows, errors


def _section(heading: str) -> str:
    """A section as the plan names it: 一、主要指标 or 主要经济指标 is the main table."""
    return MAIN_SECTION if "主要" in heading and "指标" in heading else heading


def _target(cells: list[Cell], columns: dict[str, int]) -> str | Decimal | None:
    """The wording as written; a number as a number (a bare target takes the unit); a cell shown
    as a percentage (0.065 shown as 6.5%) as the percentage; empty or 「-」: none (monitored)."""
    index = columns[TARGET]
    cell = cells[index] if index < len(cells) else Cell()
    if cell.blank:
        return None
    if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
        number = Decimal(str(cell.value))
        return f"{(number * 100).normalize():f}%" if cell.percent else number
    return plain(cell.value).strip()


def _frequency(text: str, number: int) -> tuple[str, RowError | None]:
    if not text:
        return "monthly", None
    word = _normal(text).removesuffix("报").removesuffix("报送")
    for frequency, words in _FREQUENCIES.items():
        if word in words:
            return frequency, None
    known = "月度、季度或年度"
    return "monthly", RowError(number, FREQUENCY, text, "must be 月度, 季度 or 年度", f"应为{known}")


# ---- the plan --------------------------------------------------------------------------------


def _plan_data(rows: list[_Row], identity: PlanIdentity, notes: list[str]) -> tuple[dict[str, Any], dict[int, int]]:
    """The plan as a plan file's mapping, and each indicator's table row (by its index)."""
    departments = _department_ids([row.department for row in rows], identity.office)
    office = next((i for name, i in departments.items() if identity.office in name), None)
    if office is None:  # the office owns the plan even when no row is its own
        office = _unique("fgw" if "发展改革" in identity.office else "office", set(departments.values()))
        departments = {identity.office: office, **departments}
    indicators: list[dict[str, Any]] = []
    row_of: dict[int, int] = {}
    taken: set[str] = set()
    orders: dict[str, int] = {}
    for index, row in enumerate(rows):
        subject = row.id or _unique(_known_id(row.name, _INDICATOR_IDS) or f"ind-{index + 1:02d}", taken)
        taken.add(subject)
        orders[row.section] = orders.get(row.section, 0) + 1
        indicator: dict[str, Any] = {
            "id": subject,
            "name": row.name,
            "unit": row.unit or _unit_of(row.target),
            "department": departments[row.department],
            "frequency": row.frequency,
            "order": orders[row.section],
        }
        if row.section != MAIN_SECTION:
            indicator["section"] = row.section
        if aliases := _ALIASES.get(row.name):
            indicator["aliases"] = list(aliases)
        if row.target is not None:
            indicator["target"] = row.target
        indicators.append(indicator)
        row_of[index] = row.number
    made_up = [f"{name} → {i}" for name, i in departments.items() if re.fullmatch(r"dept-\d+", i)]
    if made_up:
        notes.append("以下责任单位的标识为编号，请改为简短英文（事件和令牌将使用它们）：" + "；".join(made_up))
    numbered = [f"{i['name']} → {i['id']}" for i in indicators if re.fullmatch(r"ind-\d+", i["id"])]
    if numbered:
        notes.append(f"{len(numbered)}个指标的标识为编号（ind-NN），发布前可改为简短英文")
    data = {
        "id": identity.id,
        "name": identity.name or f"{identity.region}{identity.year}年国民经济和社会发展计划",
        "region": identity.region,
        "year": identity.year,
        "timezone": identity.timezone,
        "office": office,
        "departments": [{"id": i, "name": name} for name, i in departments.items()],
        "indicators": indicators,
    }
    return data, row_of


def _department_ids(names: list[str], office: str) -> dict[str, str]:
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


def _unit_of(target: str | Decimal | None) -> str:
    """The unit a wording implies: % for a rate, a range, a comparison or 百分点; an amount's own
    unit. '' when it implies none (the plan's validation then asks for 单位)."""
    if not isinstance(target, str):
        return ""
    try:
        parsed = parse_target(target)
    except TargetTextError:
        return "%" if "百分点" in target else ""
    if parsed.form in ("rate", "range", "relative"):
        return "%"
    return str(getattr(parsed, "unit", ""))


def _problems(data: dict[str, Any], row_of: dict[int, int]) -> list[RowError]:
    """The plan's validation errors, each on its table row and column."""
    try:
        Plan.model_validate(data)
    except ValidationError as exc:
        return [_located(error.field, error.reason, error.reason_zh, row_of) for error in field_errors(exc)]
    return []


_COLUMN_OF = {
    "target": TARGET,
    "unit": UNIT,
    "name": NAME,
    "department": DEPARTMENT,
    "frequency": FREQUENCY,
    "section": SECTION,
    "id": ID,
}


def _located(path: str, reason: str, reason_zh: str, row_of: dict[int, int]) -> RowError:
    match = re.match(r"indicators\[(\d+)\]\.?(\w*)", path)
    if match is None:
        return RowError(0, path, "", reason, reason_zh)
    whole = TARGET if "target" in reason else NAME  # a rule of the whole row: its target and unit, its name
    row, column = row_of.get(int(match[1]), 0), _COLUMN_OF.get(match[2], match[2] or whole)
    return RowError(row, column, "", reason, reason_zh)


# ---- the file --------------------------------------------------------------------------------


def _yaml(data: dict[str, Any], source: str, row_of: dict[int, int]) -> str:
    """The plan file as the examples are written: a mapping per line, each indicator with the
    table row it came from, so the office can check one against the other."""

    def flow(value: object) -> str:
        return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10**6, sort_keys=False).strip()

    lines = [
        f"# 由 {source} 起草（planwatch plan draft）：请核对后用 planwatch plan check --targets 检查，再发布。",
        "# Drafted from the office's target table; the targets are its wording as written.",
    ]
    top = {key: data[key] for key in ("id", "name", "region", "year", "timezone", "office")}
    lines.append(yaml.safe_dump(top, allow_unicode=True, sort_keys=False, width=10**6).rstrip())
    lines += ["", "departments:", *(f"  - {flow(d)}" for d in data["departments"]), "", "indicators:"]
    section = None
    for index, indicator in enumerate(data["indicators"]):
        if indicator.get("section", MAIN_SECTION) != section:
            section = indicator.get("section", MAIN_SECTION)
            lines.append(f"  # ---- {section}")
        lines += [f"  # 第{row_of[index]}行", f"  - {flow(_stored(indicator))}"]
    return "\n".join(lines) + "\n"


def _stored(indicator: dict[str, Any]) -> dict[str, Any]:
    """Decimals as YAML numbers would lose their digits (6.50): a bare target is quoted text."""
    target = indicator.get("target")
    return {**indicator, "target": f"{target:f}"} if isinstance(target, Decimal) else indicator
