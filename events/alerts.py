"""Alert notices: what planwatch says when a target goes off-track, escalates or recovers (and,
with the same envelope, when a monthly rollup is published).

Alerts are derived from the event log (projections/alerts.py), never posted by anyone. A notice
is written for each state change of an alert — `alert.raised`, `alert.escalated`,
`alert.resolved` — to the plan's alert history, and (by the live projector only) to the
notification outbox that subscribers' channels are fed from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

NoticeType = Literal["alert.raised", "alert.escalated", "alert.resolved", "alert.acknowledged", "rollup.published"]
Severity = Literal["warning", "critical", "emergency"]
SEVERITIES: tuple[Severity, ...] = ("warning", "critical", "emergency")
SEVERITY_ZH: dict[str, str] = {"warning": "黄色预警", "critical": "红色预警", "emergency": "升级督办"}
# what happened to an alert, as the rollup, the reports and the CLI's history say it
CHANGE_ZH: dict[str, str] = {"alert.raised": "新增预警", "alert.escalated": "预警升级", "alert.resolved": "预警解除"}

RULE_ZH: dict[str, str] = {
    "indicator_behind": "指标未达序时进度或目标",
    "relative_target": "相对目标未达到",
    "project_not_started": "重点项目逾期未开工",
    "project_investment_lag": "重点项目投资滞后",
    "portfolio_start_rate": "重点项目开工率滞后",
    "portfolio_investment_rate": "重点项目投资完成率滞后",
    "data_stale": "数据逾期未报送",
    "data_outage": "数据大面积逾期未报送",
}
ROLLUP_RULE = "rollup"  # the "rule" of a rollup.published notice: a report to read, not an alert
RULES: tuple[str, ...] = tuple(RULE_ZH)


def status_labels(notice: dict[str, Any]) -> list[str]:
    """The marks a listing puts on an alert (a notice as JSON): 已静默, 已抑制, 已认领."""
    labels = []
    if notice.get("silenced"):
        labels.append("已静默")
    if notice.get("inhibited"):
        labels.append("已抑制")
    if notice.get("acknowledged"):
        labels.append("已认领")
    return labels


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


class Acknowledgement(BaseModel):
    """Who acknowledged a firing alert (认领/已知悉), when, and what they said. Cleared when the alert
    changes (escalates or resolves)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: str = Field(description="the id of the token that acknowledged it, or cli")
    at: AwareDatetime = Field(description="when (the transaction time of the acknowledgement)")
    note: str = Field(default="", description="what they said, e.g. 已联系统计局，月底前补报")


class AlertNotice(BaseModel):
    """One state change of one alert, with everything a person needs to act on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: NoticeType
    fingerprint: str = Field(description="stable id of the alert: plan, rule and subject")
    plan_id: str
    plan_name: str
    rule: str = Field(description="one of RULES")
    rule_zh: str
    subject: str = Field(description="indicator or project id; the plan id for portfolio rules")
    subject_name: str
    department: str
    department_name: str
    severity: Severity
    severity_zh: str
    state: Literal["firing", "resolved"]
    started_at: AwareDatetime = Field(description="when the alert began firing")
    at: AwareDatetime = Field(description="when this change happened (transaction time of its cause)")
    period: str | None = Field(default=None, description="the reporting period judged, e.g. 2025-06")
    target: str | None = Field(default=None, description="the target as the report words it")
    actual: str | None = Field(default=None, description="the actual value as the report prints it")
    deviation: str | None = Field(default=None, description="与目标±, e.g. -1.0个百分点")
    summary_zh: str = Field(description="one Chinese sentence: what, target, actual, deviation, department")
    cause: str | None = Field(default=None, description="stream position of the event that caused the change")
    values: dict[str, Any] = Field(default_factory=dict, description="the numbers behind the judgement")
    # what people said about the alert (silences, acknowledgement) and what the plan's inhibition
    # rules say: a silenced or inhibited alert is recorded and listed, never notified
    silenced: bool = Field(default=False, description="a silence of the plan matches the alert (已静默)")
    silence_ids: list[str] = Field(default_factory=list, description="the silences that match it")
    acknowledged: Acknowledgement | None = Field(default=None, description="认领/已知悉: by, at, note; None if not")
    inhibited: bool = Field(default=False, description="another firing alert inhibits it (已抑制)")
    inhibited_by: str | None = Field(default=None, description="the fingerprint of the alert that inhibits it")

    @property
    def notifies(self) -> bool:
        """Whether subscribers hear of it: not when silenced or inhibited, and an acknowledgement
        is only recorded in the alert's history."""
        return not (self.silenced or self.inhibited) and self.type != "alert.acknowledged"

    @property
    def notice_id(self) -> str:
        """Idempotency key of this notice: the same change always has the same id."""
        return f"{self.fingerprint}:{self.type}:{self.at.isoformat()}"


def example_notice(**changes: Any) -> AlertNotice:
    """A realistic notice (the seed report's GDP), for documentation and channel tests."""
    at = datetime.fromisoformat("2025-07-16T10:00:00+08:00")
    base: dict[str, Any] = {
        "type": "alert.raised",
        "fingerprint": "rongchang-2025:indicator_behind:gdp",
        "plan_id": "rongchang-2025",
        "plan_name": "荣昌区2025年国民经济和社会发展计划",
        "rule": "indicator_behind",
        "rule_zh": RULE_ZH["indicator_behind"],
        "subject": "gdp",
        "subject_name": "地区生产总值",
        "department": "stats",
        "department_name": "区统计局",
        "severity": "warning",
        "severity_zh": SEVERITY_ZH["warning"],
        "state": "firing",
        "started_at": at,
        "at": at,
        "period": "2025-Q2",
        "target": "6.5%左右",
        "actual": "5.5%",
        "deviation": "-1.0个百分点",
        "summary_zh": "地区生产总值上半年完成5.5%，全年目标6.5%左右，与目标-1.0个百分点（区统计局）",
        "cause": "1752631200000-0",
        "values": {"status": "at_risk", "actual_value": 5.5, "deviation_points": -1.0},
    }
    return AlertNotice(**{**base, **changes})
