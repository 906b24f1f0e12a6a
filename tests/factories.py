"""Events of every type, for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from events.models import (
    AlertAcknowledged,
    AlertSilenced,
    Event,
    EventRetracted,
    IndicatorUpdated,
    InvestmentCompleted,
    PlanPublished,
    ProjectCompleted,
    ProjectRegistered,
    ProjectStarted,
    RollupPublished,
    SilenceExpired,
    TargetRevised,
)
from events.plan import Plan

SHANGHAI = timezone(timedelta(hours=8))
AT = datetime(2025, 7, 10, 9, 30, 15, 123456, tzinfo=SHANGHAI)


def small_plan(plan_id: str = "test-2025") -> Plan:
    return Plan.model_validate(
        {
            "id": plan_id,
            "name": "测试区2025年国民经济和社会发展计划",
            "region": "测试区",
            "year": 2025,
            "office": "fgw",
            "departments": [
                {"id": "fgw", "name": "区发展改革委"},
                {"id": "stats", "name": "区统计局"},
                {"id": "econ", "name": "区经济信息委"},
            ],
            "indicators": [
                {
                    "id": "gdp",
                    "name": "地区生产总值",
                    "unit": "%",
                    "department": "stats",
                    "frequency": "quarterly",
                    "order": 1,
                    "aliases": ["GDP"],
                    "target": "6.5%左右",
                },
                {
                    "id": "income",
                    "name": "全体居民人均可支配收入增速",
                    "unit": "%",
                    "department": "stats",
                    "frequency": "quarterly",
                    "order": 2,
                    "target": "高于GDP增速",
                },
                {
                    "id": "new-projects",
                    "name": "新开工工业项目",
                    "unit": "个",
                    "department": "econ",
                    "frequency": "monthly",
                    "order": 1,
                    "section": "工业",
                    "target": "新开工工业项目80个",
                },
            ],
            "projects": [
                {
                    "id": "kp-001",
                    "name": "渝乐电子",
                    "department": "econ",
                    "category": "工业",
                    "planned_investment_wan": "12000",
                    "planned_start": "2025-02",
                    "planned_completion": "2025-06",
                },
            ],
        }
    )


def eid() -> uuid.UUID:
    return uuid.uuid4()


def silence_of(
    plan_id: str, starts_at: datetime, ends_at: datetime, silence_id: str = "00000000000b", **changes: object
) -> AlertSilenced:
    """The plan office's silence of the overdue-data alerts, as the log holds it."""
    fields: dict[str, object] = {
        "event_id": eid(),
        "plan_id": plan_id,
        "occurred_at": datetime(2025, 3, 1, tzinfo=UTC),
        "department": "fgw",
        "subject": plan_id,
        "period": "2025",
        "silence_id": silence_id,
        "matchers": {"rule": "data_stale"},
        "starts_at": starts_at,
        "ends_at": ends_at,
        "created_by": "0123456789ab",
    }
    return AlertSilenced.model_validate({**fields, **changes})


def one_of_each(plan_id: str = "test-2025") -> list[Event]:
    base = {"plan_id": plan_id, "occurred_at": AT}
    return [
        PlanPublished(
            event_id=eid(), department="fgw", subject=plan_id, period="2025", plan=small_plan(plan_id), **base
        ),
        TargetRevised(
            event_id=eid(),
            department="fgw",
            subject="gdp",
            period="2025",
            target="6%左右",
            reason="区人大常委会调整（测试）",
            **base,
        ),
        IndicatorUpdated(
            event_id=eid(),
            department="stats",
            subject="gdp",
            period="2025-Q2",
            value=Decimal("5.50"),
            note="上半年数据，季度核算",
            **base,
        ),
        ProjectRegistered(
            event_id=eid(),
            department="fgw",
            subject="kp-900",
            period="2025-07",
            project={
                "id": "kp-900",
                "name": "荣昌猪稳产保供基地",
                "department": "econ",
                "category": "农业",
                "planned_investment_wan": "3500.5",
                "planned_start": "2025-08",
                "planned_completion": "2026-06",
            },
            **base,
        ),
        ProjectStarted(
            event_id=eid(), department="econ", subject="kp-001", period="2025-03", started_on=date(2025, 3, 18), **base
        ),
        InvestmentCompleted(
            event_id=eid(),
            department="econ",
            subject="kp-001",
            period="2025-03",
            amount_wan=Decimal("1234.5678"),
            **base,
        ),
        ProjectCompleted(
            event_id=eid(),
            department="econ",
            subject="kp-001",
            period="2025-06",
            completed_on=date(2025, 6, 28),
            **base,
        ),
        RollupPublished(
            event_id=eid(),
            department="fgw",
            subject="rollup-2025-06",
            period="2025-06",
            version=1,
            content_hash="0" * 64,
            as_of=date(2025, 6, 30),
            known_at=AT,
            missed=["gdp"],
            **base,
        ),
        EventRetracted(  # about income: the other events' subjects keep their own index as before
            event_id=eid(),
            department="stats",
            subject="income",
            period="2025-Q2",
            retracted_event_id=eid(),
            retracted_position="1751938215123-0",
            retracted_type="indicator.updated",
            reason="数据填报错误（测试）",
            requested_by="0123456789ab",
            restores={"position": "1751938215000-0", "value": "5.3", "qualifier": "exact", "revision": 1},
            **base,
        ),
        AlertSilenced(
            event_id=eid(),
            department="fgw",
            subject=plan_id,
            period="2025",
            silence_id="00000000000a",
            matchers={"rule": "data_stale", "department": "stats"},
            starts_at=AT,
            ends_at=AT + timedelta(days=7),
            created_by="0123456789ab",
            comment="国庆假期，统计局已知悉（测试）",
            **base,
        ),
        SilenceExpired(
            event_id=eid(),
            department="fgw",
            subject=plan_id,
            period="2025",
            silence_id="00000000000a",
            expired_by="cli",
            **base,
        ),
        AlertAcknowledged(
            event_id=eid(),
            department="stats",
            subject=plan_id,
            period="2025",
            fingerprint=f"{plan_id}:indicator_behind:gdp",
            acknowledged_by="0123456789ab",
            note="已联系统计局，月底前补报（测试）",
            **base,
        ),
    ]


def indicator_update(
    plan_id: str,
    subject: str,
    period: str,
    value: str,
    department: str = "stats",
    event_id: uuid.UUID | None = None,
) -> IndicatorUpdated:
    """A department reports an indicator's value for a period."""
    return IndicatorUpdated(
        event_id=event_id or eid(),
        plan_id=plan_id,
        department=department,
        subject=subject,
        period=period,
        occurred_at=AT,
        value=Decimal(value),
    )


def investment(plan_id: str, period: str, amount: str | int, subject: str = "kp-001") -> InvestmentCompleted:
    """A department reports a project's investment for a month (万元)."""
    return InvestmentCompleted(
        event_id=eid(),
        plan_id=plan_id,
        department="econ",
        subject=subject,
        period=period,
        occurred_at=AT,
        amount_wan=Decimal(amount),
    )


def gdp_update(
    plan_id: str, value: str, period: str = "2025-06", event_id: uuid.UUID | None = None
) -> IndicatorUpdated:
    return indicator_update(plan_id, "gdp", period, value, event_id=event_id)


def event_body(**changes: object) -> dict[str, object]:
    """A department's `indicator.updated` for gdp as a client posts it (JSON), with `changes`."""
    body: dict[str, object] = {
        "event_id": str(uuid.uuid4()),
        "type": "indicator.updated",
        "subject": "gdp",
        "period": "2025-Q2",
        "occurred_at": "2025-07-15T10:00:00+08:00",
        "value": "5.5",
    }
    return {**body, **changes}
