"""What a message about alert notices says, in Chinese, before any vendor's markup: the title,
the labelled facts of one notice, the lines of a summary, a monthly report's notice. Pure: the
channels turn a `Message` into WeCom markdown, DingTalk markdown or Feishu text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from events.alerts import ROLLUP_RULE, SEVERITY_ZH, AlertNotice, severity_rank
from projections.formatting import ZONE_NAMES_ZH

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")  # a message whose subscription names no zone (the installation's)

Tone = Literal["alert", "ok", "muted", "strong"]
DigestKind = Literal["reminder", "firing"]  # a reminder of what still fires; what fires now, once
Fact = tuple[str, str, Tone | None]  # label, value, how to show the value (None: plain)

# What went wrong, short enough for a title: "地区生产总值" + "未达目标".
_PROBLEM_ZH: dict[str, str] = {
    "indicator_behind": "未达目标",
    "relative_target": "未达相对目标",
    "project_not_started": "逾期未开工",
    "project_investment_lag": "投资滞后",
    "portfolio_start_rate": "滞后",  # subject names read 重点项目开工 / 重点项目投资
    "portfolio_investment_rate": "滞后",
    "data_stale": "数据逾期未报送",
    "data_outage": "大面积逾期",  # subject name reads …计划数据报送
}

_CHANGE_ZH = {
    "alert.raised": "新增",
    "alert.escalated": "升级",
    "alert.resolved": "恢复",
    "rollup.published": "月度报告",
}


@dataclass(frozen=True)
class Item:
    """One line of a summary message."""

    tag: str
    tone: Tone
    subject: str
    rest: str


@dataclass(frozen=True)
class Message:
    """What a message says, before any channel's markup."""

    title: str
    tone: Tone
    plan: str
    fields: list[Fact]
    sentence: str | None
    items: list[Item]
    unlisted: int  # changes the summary stands for but the caller did not pass
    link: str | None


def message(
    notices: list[AlertNotice], summary_of: int | None, link: str | None, zone: ZoneInfo = DEFAULT_ZONE
) -> Message:
    """The message about `notices`: one notice (or monthly report) on its own, or a summary of
    `summary_of` changes listing these. Its times are in `zone` (the plan's), labelled."""
    if len(notices) == 1 and summary_of in (None, 1):
        if notices[0].type == "rollup.published":
            return _rollup_message(notices[0], link, zone)
        return _single_message(notices[0], link, zone)
    return _summary_message(notices, summary_of or len(notices), link)


def omitted(count: int) -> str:
    """The line standing for the summary lines a message had no room for."""
    return f"…（其余{count}条略）"


def _one_line(text: str) -> str:
    # Values go into line-based layouts; a stray newline would break a field or a list item.
    return " ".join(text.splitlines())


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """An instant as the plan's people read it, labelled with its zone: 2025-07-16 10:00（北京时间）."""
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}（{zone_label(zone)}）"


def _tag(notice: AlertNotice) -> str:
    if notice.type == "rollup.published":
        return "【月度报告】"
    if notice.type == "alert.resolved":
        return "【已恢复】"
    if notice.type == "alert.escalated" and notice.severity != "emergency":
        return f"【升级为{notice.severity_zh}】"
    return f"【{notice.severity_zh}】"  # emergency reads 【升级督办】 already


def _problem(notice: AlertNotice) -> str:
    problem = _PROBLEM_ZH.get(notice.rule, f"：{notice.rule_zh}")
    return f"{problem}预警已解除" if notice.type == "alert.resolved" else problem


def _tone(notice: AlertNotice) -> Tone:
    return "ok" if notice.type == "alert.resolved" else "alert"


def _subject_label(notice: AlertNotice) -> str:
    if notice.rule.startswith("project_"):
        return "项目"
    return "事项" if notice.rule == "data_outage" else "指标"  # the plan's reporting, not an indicator


def _fact_labels(notice: AlertNotice) -> tuple[str, str, str]:
    """Labels for target, actual and deviation. Indicators have annual targets and a gap to them
    (全年目标 / 完成 / 与目标±); project rules word their facts themselves ("2025-03开工",
    "未开工", "逾期3个月", "完成投资…"), so neutral labels keep them from reading twice; overdue
    data has no target and no gap, only the figures owed ("2025-12数据"), that none came
    ("未报送") and the deadline ("逾期（截止2026-01-21）")."""
    if notice.rule.startswith(("project_", "portfolio_")):
        return "目标", "进展", "偏差"
    if notice.rule == "data_stale":
        return "应报数据", "报送情况", "报送期限"
    if notice.rule == "data_outage":
        return "要求", "逾期情况", "偏差"
    return "全年目标", "完成", "与目标±"


def _short_facts(notice: AlertNotice) -> list[str] | None:
    """A summary or digest line's facts where labels would read twice, or None (labelled facts).
    Overdue data: 2025-12数据，逾期（截止2026-01-21）; an outage: 37项逾期（100.0%）."""
    if notice.rule == "data_stale":
        return [fact for fact in (notice.target, notice.deviation) if fact]
    if notice.rule == "data_outage":
        return [notice.actual] if notice.actual else []
    return None


def _importance(notice: AlertNotice) -> tuple[int, int, int, float]:
    """Sort key, most important first: firing before resolved, severer first, escalations first, newest first."""
    return (
        notice.type == "alert.resolved",
        -severity_rank(notice.severity),
        notice.type != "alert.escalated",
        -notice.at.timestamp(),
    )


def _single_message(notice: AlertNotice, link: str | None, zone: ZoneInfo) -> Message:
    fields: list[Fact] = [
        ("计划", notice.plan_name, "muted"),
        (_subject_label(notice), notice.subject_name, "strong"),
    ]
    target_label, actual_label, deviation_label = _fact_labels(notice)
    if notice.target:
        fields.append((target_label, notice.target, None))
    if notice.actual:
        done = f"{notice.actual}（{notice.period}）" if notice.period else notice.actual
        fields.append((actual_label, done, None))
    elif notice.period:
        fields.append(("统计期", notice.period, None))
    if notice.deviation:
        fields.append((deviation_label, notice.deviation, _tone(notice)))
    fields.append(("责任单位", notice.department_name, None))
    fields.append(("开始时间", local_time(notice.started_at, zone), "muted"))
    if notice.type == "alert.escalated":
        fields.append(("升级时间", local_time(notice.at, zone), "muted"))
    elif notice.type == "alert.resolved":
        fields.append(("恢复时间", local_time(notice.at, zone), "muted"))
    return _one_notice(f"{_tag(notice)}{notice.subject_name}{_problem(notice)}", _tone(notice), notice, fields, link)


def _rollup_message(notice: AlertNotice, link: str | None, zone: ZoneInfo) -> Message:
    """A monthly report was published: what it covers, what missed, where to read it."""
    fields: list[Fact] = [
        ("计划", notice.plan_name, "muted"),
        ("报告期", notice.period or "", None),
        ("版本", notice.actual or "", None),
    ]
    if notice.deviation:
        fields.append(("未达目标", notice.deviation, "alert"))
    fields.append(("生成时间", local_time(notice.at, zone), "muted"))
    return _one_notice(f"【月度报告】{notice.subject_name}", "ok", notice, fields, link)


def _one_notice(title: str, tone: Tone, notice: AlertNotice, fields: list[Fact], link: str | None) -> Message:
    """A message about one notice: its fields, then its summary sentence."""
    return Message(
        title=_one_line(title),
        tone=tone,
        plan=notice.plan_name,
        fields=[(label, _one_line(value), style) for label, value, style in fields],
        sentence=_one_line(notice.summary_zh),
        items=[],
        unlisted=0,
        link=link,
    )


def _line_facts(notice: AlertNotice, with_target: bool) -> list[str]:
    """A notice's figures on one line of a summary or digest: its own short wording (overdue data,
    an outage), else the actual, the target (if asked) and the deviation, each labelled."""
    facts = _short_facts(notice)
    if facts is not None:
        return facts
    _, actual_label, deviation_label = _fact_labels(notice)
    target = notice.target if with_target else ""
    shown = [(actual_label, notice.actual), ("目标", target), (deviation_label.rstrip("±"), notice.deviation)]
    return [f"{label}{value}" for label, value in shown if value]


def _summary_item(notice: AlertNotice) -> Item:
    if notice.rule == ROLLUP_RULE:  # a report published: its version and what it says missed
        missed = f"，未达目标：{notice.deviation}" if notice.deviation else ""
        rest = f"：{notice.actual or '已发布'}{missed}"
        return Item(tag=_tag(notice), tone="ok", subject=_one_line(notice.subject_name), rest=_one_line(rest))
    facts = _line_facts(notice, with_target=True)
    rest = _problem(notice) + (f"：{'，'.join(facts)}" if facts else "") + _department(notice.department_name)
    return Item(tag=_tag(notice), tone=_tone(notice), subject=_one_line(notice.subject_name), rest=_one_line(rest))


def _department(name: str) -> str:
    return f"（{name}）" if name else ""


def _summary_message(notices: list[AlertNotice], total: int, link: str | None) -> Message:
    counts = {kind: sum(n.type == kind for n in notices) for kind in _CHANGE_ZH}
    breakdown = "，".join(f"{_CHANGE_ZH[kind]}{count}条" for kind, count in counts.items() if count)
    if total == len(notices):
        title = f"计划执行预警汇总：{breakdown}（共{total}条变化）"
    else:  # the caller listed only the most important changes
        title = f"计划执行预警汇总：共{total}条变化（重点：{breakdown}）"
    plans = "、".join(dict.fromkeys(n.plan_name for n in notices))
    return Message(
        title=title,
        tone="alert" if counts["alert.resolved"] < len(notices) else "ok",
        plan=_one_line(plans),
        fields=[],
        sentence=None,
        items=[_summary_item(n) for n in sorted(notices, key=_importance)],
        unlisted=total - len(notices),
        link=link,
    )


# --- digests: the alerts firing now, as one message (reminders, and a new subscriber's first look)

DIGEST_LISTS = 10  # a digest names the most severe alerts (the longest firing first), counts the rest
_DIGEST_TITLE = {"reminder": "【预警提醒】仍有{count}条预警未解除", "firing": "【当前预警】{count}条预警正在生效"}


_ZONE_NAMES_ZH = {**ZONE_NAMES_ZH, "Asia/Harbin": "北京时间", "PRC": "北京时间"}


def zone_label(zone: ZoneInfo) -> str:
    """How a zone is named beside a time, as the reports and the dashboard name it: 北京时间,
    乌鲁木齐时间, else its name (Europe/Berlin)."""
    return _ZONE_NAMES_ZH.get(zone.key, zone.key)


def severity_counts(notices: list[AlertNotice]) -> str:
    """升级督办1条，红色预警2条，黄色预警3条 (the severities there are)."""
    counts = ((SEVERITY_ZH[s], sum(n.severity == s for n in notices)) for s in ("emergency", "critical", "warning"))
    return "，".join(f"{label}{count}条" for label, count in counts if count)


def digest_message(
    notices: list[AlertNotice], kind: DigestKind, *, now: datetime, zone: ZoneInfo, link: str | None
) -> Message:
    """The alerts firing now as one message: how many by severity, then the most important lines
    (the DIGEST_LISTS most severe, longest firing first), each with since when it fires, times in
    `zone`, labelled."""
    ordered = sorted(notices, key=lambda n: (-severity_rank(n.severity), n.started_at, n.subject))
    shown = ordered[:DIGEST_LISTS]
    fields: list[Fact] = [
        ("预警", severity_counts(notices), "alert"),
        ("截至", local_time(now, zone), "muted"),
    ]
    return Message(
        title=_DIGEST_TITLE[kind].format(count=len(notices)),
        tone="alert",
        plan=_one_line("、".join(dict.fromkeys(n.plan_name for n in shown))),
        fields=fields,
        sentence=None,
        items=[_digest_item(n, now, zone) for n in shown],
        unlisted=len(notices) - len(shown),
        link=link,
    )


def _digest_item(notice: AlertNotice, now: datetime, zone: ZoneInfo) -> Item:
    facts = _line_facts(notice, with_target=False)
    today, began = now.astimezone(zone).date(), notice.started_at.astimezone(zone).date()
    days = (today - began).days
    # 07-16 within the year; an alert firing since an earlier year says which (2025-12-08)
    day = f"{began:%m-%d}" if began.year == today.year else f"{began:%Y-%m-%d}"
    since = f"自{day}起" + (f"，已持续{days}天" if days > 0 else "")
    rest = _PROBLEM_ZH.get(notice.rule, f"：{notice.rule_zh}") + (f"：{'，'.join(facts)}" if facts else "")
    rest += f"（{notice.department_name}，{since}）" if notice.department_name else f"（{since}）"
    tag = f"【{SEVERITY_ZH.get(notice.severity, notice.severity_zh)}】"
    return Item(tag=tag, tone="alert", subject=_one_line(notice.subject_name), rest=_one_line(rest))
