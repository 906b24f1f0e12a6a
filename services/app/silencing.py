"""What a silence or an acknowledgement must be, and who may make one: the checks behind the
alerting use cases (services.app.alerting), each refusal naming its field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from events.alerts import RULES, SEVERITIES
from events.errors import FieldError
from events.models import MATCHER_FIELDS
from events.plan import Plan
from projections.alerts import PORTFOLIO
from services.app.errors import Forbidden, Invalid
from services.app.payloads import text_problems
from services.store import TokenInfo

LONGEST = timedelta(days=366)  # a silence is for a holiday or a fix, not for ever
SHORTEST = timedelta(minutes=1)  # below that, a typing mistake (1e-9 hours)
COMMENT_MAX = 500


def invalid(field: str, reason: str, reason_zh: str) -> Invalid:
    return Invalid(reason, reason_zh, [FieldError(field, reason, reason_zh)])


def checked_matchers(plan: Plan, matchers: Any) -> dict[str, str]:
    """The matchers, each field known and each value one the plan has; every problem named."""
    if not isinstance(matchers, Mapping) or not matchers:
        raise invalid("matchers", "give at least one matcher, e.g. rule=data_stale", "至少填写一个匹配条件")
    errors = [error for name, value in matchers.items() if (error := _matcher_problem(plan, str(name), value))]
    if errors:
        raise Invalid(f"{len(errors)} bad matcher(s); nothing was stored", "匹配条件有误，未保存", errors)
    return {str(name): str(value) for name, value in matchers.items()}


def _known_values(plan: Plan, name: str) -> set[str] | None:
    if name == "plan":
        return {plan.id}
    if name == "department":
        return {d.id for d in plan.departments}
    if name == "subject":
        return {i.id for i in plan.indicators} | {p.id for p in plan.projects} | {PORTFOLIO}
    if name == "rule":
        return set(RULES)
    if name == "severity":
        return set(SEVERITIES)
    return None


def _matcher_problem(plan: Plan, name: str, value: object) -> FieldError | None:
    field = f"matchers.{name}"
    known = _known_values(plan, name)
    if known is None:
        return FieldError(field, f"unknown matcher field: use {', '.join(MATCHER_FIELDS)}", "未知的匹配字段")
    if not isinstance(value, str) or not value:
        return FieldError(field, "must be a non-empty text", "不能为空")
    if value not in known:
        shown = ", ".join(sorted(known)[:12])
        return FieldError(field, f"{value!r} is not one of this plan's values ({shown}…)", "计划中没有该值")
    return None


def checked_window(
    starts_at: datetime | None, ends_at: datetime | None, now: datetime, duration: timedelta | None = None
) -> tuple[datetime, datetime]:
    """When the silence holds: from `starts_at` (default now) to `ends_at`, or for `duration`
    (the API's duration_hours, the CLI's --for). Both ends lie within LONGEST of now (a silence
    may be backdated to record a past outage, not set for a date no one will see), and it lasts
    at most LONGEST: a year 9999 could not even be read back (year 10000 in UTC)."""
    for field, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        if moment is not None and moment.utcoffset() is None:
            raise invalid(field, "give a time zone, e.g. 2025-10-08T00:00+08:00", "请注明时区")
    if duration is not None and ends_at is not None:
        raise invalid("duration_hours", "give ends_at or duration_hours, not both", "结束时间与持续时长只能填一个")
    if ends_at is not None and ends_at <= (starts_at or now):  # the plainest mistake first
        raise invalid("ends_at", "must be after starts_at", "结束时间须晚于开始时间")
    start = _checked_start(starts_at, now)
    if duration is None:
        return start, _checked_end("ends_at", start, ends_at, now)
    return start, _checked_end("duration_hours", start, start + _checked_duration(duration), now)


def _checked_start(starts_at: datetime | None, now: datetime) -> datetime:
    if starts_at is None:
        return now
    if starts_at < now - LONGEST:
        raise invalid("starts_at", "may lie at most 366 days in the past", "开始时间最早为366天前")
    if starts_at > now + LONGEST:
        raise invalid("starts_at", "must begin within 366 days from now", "开始时间须在366天之内")
    return starts_at


def _checked_duration(duration: timedelta) -> timedelta:
    if duration < SHORTEST:
        raise invalid("duration_hours", "a silence lasts at least one minute", "静默至少1分钟")
    if duration > LONGEST:
        raise invalid("duration_hours", "a silence lasts at most 366 days (8784 hours)", "静默最长366天")
    return duration


def _checked_end(field: str, start: datetime, ends_at: datetime | None, now: datetime) -> datetime:
    """`field` names what the caller gave: ends_at itself, or duration_hours that made it."""
    if ends_at is None:
        raise invalid(field, "say when the silence ends (or how long it lasts)", "请填写静默结束时间")
    if ends_at <= now:
        raise invalid(field, "is already past: a silence must end in the future", "结束时间已过")
    if ends_at > now + LONGEST:
        raise invalid(field, "a silence must end within 366 days from now", "静默须在366天之内结束")
    if ends_at - start > LONGEST:
        raise invalid(field, "a silence lasts at most 366 days", "静默最长366天")
    return ends_at


def checked_note(field: str, text: str) -> str:
    text = text.strip()
    if len(text) > COMMENT_MAX:
        raise invalid(field, f"at most {COMMENT_MAX} characters", f"最多{COMMENT_MAX}字")
    if controls := text_problems(text, field):  # it is printed in alert lists, messages and terminals
        raise Invalid("the text holds control characters", "文本含有控制字符", controls)
    return text


def department_of(caller: TokenInfo, plan: Plan, matchers: Mapping[str, str]) -> str:
    """Who may silence what: an admin or an analyst anything in the plan; a department only its own
    alerts — matchers that pin its department, or a subject it owns. The department the event is
    recorded for (the office for an admin or an analyst)."""
    if caller.role in ("admin", "analyst"):
        return plan.office
    own = caller.department
    if caller.role == "department" and own is not None:
        if matchers.get("department") == own:
            return own
        subject = matchers.get("subject")
        if subject is not None and plan.owner_of(subject) == own and matchers.get("department") in (None, own):
            return own
    raise Forbidden(
        f"a department may silence only its own alerts: add department={own} or a subject of {own}",
        "部门只能静默本部门的预警（请加上本部门或本部门负责的对象）",
        [FieldError("matchers", f"not limited to {own}'s alerts", "未限定为本部门的预警")],
    )


def may_acknowledge(caller: TokenInfo, alert: Mapping[str, Any]) -> str:
    """An admin or an analyst acknowledges any alert, a department its own."""
    if caller.role in ("admin", "analyst"):
        return caller.role
    if caller.role == "department" and caller.department == alert.get("department"):
        return str(caller.department)
    raise Forbidden(
        f"only {alert.get('department')} (or an analyst or admin) may acknowledge this alert",
        "只有责任单位、分析人员或管理员可以认领该预警",
        [FieldError("fingerprint", f"the alert belongs to {alert.get('department')}", "不属于本部门")],
    )
