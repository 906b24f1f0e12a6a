"""The fill-in sheet's layout, shared by the template and the reader: column headers, the two
sheets of a workbook and the labels and properties that say whose sheet it is."""

from __future__ import annotations

KIND = "分类"
SUBJECT = "编号"
NAME = "名称"
UNIT = "单位"
TARGET = "全年目标"
PERIOD = "报告期"
VALUE = "本期累计值"
GROWTH = "同比增长（%）"  # beside the level, for an indicator reported with its growth rate (with_growth)
ASSESSMENT = "考核结论"  # 完成 / 未完成, for an indicator whose target is qualitative (judged by assessment)
STARTED = "开工日期"
INVESTMENT = "本期完成投资（万元）"
COMPLETED = "建成投产日期"
NOTE = "备注"
PLAN = "计划"
DEPARTMENT = "部门"
FILE = "文件"  # the column named in errors about the file as a whole

COLUMNS: tuple[str, ...] = (
    KIND,
    SUBJECT,
    NAME,
    UNIT,
    TARGET,
    PERIOD,
    VALUE,
    GROWTH,
    ASSESSMENT,
    STARTED,
    INVESTMENT,
    COMPLETED,
    NOTE,
)
CSV_COLUMNS: tuple[str, ...] = (PLAN, DEPARTMENT, *COLUMNS)
PROJECT_COLUMNS: tuple[str, ...] = (STARTED, INVESTMENT, COMPLETED)
INPUT_COLUMNS: tuple[str, ...] = (VALUE, *PROJECT_COLUMNS)
# Name, unit and target are for reading only: a file without them still imports; so does one
# without the growth or assessment column (a sheet downloaded before it existed, or a plan without
# such indicators).
REQUIRED_COLUMNS: tuple[str, ...] = (KIND, SUBJECT, PERIOD, *INPUT_COLUMNS)

INDICATOR_KIND = "指标"
PROJECT_KIND = "项目"
PROJECT_UNIT = "万元"
# what a clerk may write in the assessment column, by the assessment it stands for
ASSESSMENT_WORDS: dict[str, str] = {
    **dict.fromkeys(("完成", "已完成", "达到", "已达到", "达标", "是", "met"), "met"),
    **dict.fromkeys(("未完成", "没有完成", "未达到", "未达标", "否", "not_met"), "not_met"),
}
ASSESSMENT_CHOICES = ("完成", "未完成")

DATA_SHEET = "填报"
INFO_SHEET = "说明"
# Labels on the 说明 sheet, column A; the value sits next to them in column B.
INFO_PLAN, INFO_PLAN_NAME, INFO_DEPARTMENT, INFO_DEPARTMENT_NAME, INFO_PERIOD = (
    "计划编号",
    "计划名称",
    "部门编号",
    "部门名称",
    "报告期",
)
# The same three facts as workbook custom properties: invisible, so they survive edits to 说明.
PROP_PLAN, PROP_DEPARTMENT, PROP_PERIOD = "planwatch.plan", "planwatch.department", "planwatch.period"
