"""The H1 2025 event history of plans/rongchang-2025.yaml, as its departments would have posted it.

Deterministic: event ids are UUID5 of the event's meaning, dates are derived from the project
id, so running the demo twice stores nothing twice. What comes from the seed report and what is
made up:

* Indicators: the June (H1) values are the report's. January–May values are SYNTHETIC but
  plausible paths that end there. Annual-only indicators and targets the report gives no
  mid-year figure for get no value. One correction is included (固定资产投资, 1—5月: first
  reported 12.6%, corrected to 13.1% a month later) so the log shows a revised statistic.
* Projects: 68 of 112 start by 30 June — every project whose planned start month is January–
  June, except the overdue ones listed below (北部片区中心水厂, which the report says should
  start "尽早", and five synthetic ones). 26 complete — every started project planned to finish
  by June. Investment: completed projects spend their whole planned amount, the 5 urban-village
  projects the report's 6.92亿元, and the rest share what is left of 91亿元 in proportion to their
  planned investment and elapsed schedule.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_DOWN, Decimal

from events.models import Event, IndicatorUpdated, InvestmentCompleted, ProjectCompleted, ProjectStarted
from events.periods import Period
from events.plan import Plan, Project

SHANGHAI = timezone(timedelta(hours=8))
H1_END = Period.parse("2025-06")
H1_INVESTMENT_WAN = Decimal(910_000)  # 完成投资91亿元
URBAN_VILLAGES = "kp-024"
URBAN_VILLAGES_H1_WAN = Decimal(69_200)  # 5个城中村改造项目完成投资6.92亿元
OVERDUE = frozenset({"kp-025", "kp-035", "kp-039", "kp-081", "kp-105", "kp-106"})


def monthly(values: str) -> list[tuple[str, str, str]]:
    """January..June cumulative values, space-separated."""
    numbers = values.split()
    assert len(numbers) == 6
    return [(f"2025-{month:02d}", value, "exact") for month, value in enumerate(numbers, start=1)]


# Cumulative values (累计) per period. The last value of each series is the report's H1 figure.
# (value, qualifier): "at_most" publishes a bound, e.g. 城镇调查失业率 "5.5%以内".
SERIES: dict[str, list[tuple[str, str, str]]] = {
    "gdp": [("2025-Q1", "5.8", "exact"), ("2025-Q2", "5.5", "exact")],
    "industry-va": monthly("7.2 7.5 7.8 7.9 8.1 8.0"),
    "fai": monthly("10.5 11.2 12.0 12.4 12.6 12.9"),
    "retail": monthly("9.8 10.5 11.0 11.4 11.6 11.8"),
    "revenue": monthly("6.1 4.8 3.9 3.2 2.9 2.5"),
    "trade": monthly("-12.5 -18.4 -25.1 -29.7 -31.8 -33.3"),
    "income": [("2025-Q1", "5.0", "exact"), ("2025-Q2", "4.7", "exact")],
    "unemployment": [("2025-Q1", "5.5", "at_most"), ("2025-Q2", "5.5", "at_most")],
    # further targets: H1 figures from the report's part 一
    "shuangchang-procurement": [("2025-Q1", "18000", "exact"), ("2025-Q2", "39500", "exact")],  # 近4亿元
    "industrial-investment": monthly("18.2 21.5 24.0 26.3 27.9 28.7"),
    "contract-value": monthly("210000 480000 760000 1020000 1310000 1633000"),  # 163.3亿元
    "private-investment": monthly("12.4 14.8 16.9 18.1 19.2 19.8"),
    "hitech-firms": [("2025-Q1", "241", "exact"), ("2025-Q2", "249", "exact")],
    "knowledge-loans": [("2025-Q1", "2600", "exact"), ("2025-Q2", "5800", "exact")],  # 5800万元
    "old-housing": [("2025-Q1", "8.5", "exact"), ("2025-Q2", "22.93", "exact")],
    "urban-villages": [("2025-Q1", "3", "exact"), ("2025-Q2", "5", "exact")],
    "sewer-network": [("2025-Q1", "8.6", "exact"), ("2025-Q2", "19.34", "exact")],
    "rural-lights": [("2025-Q1", "2100", "exact"), ("2025-Q2", "4823", "exact")],
    "rural-roads": [("2025-Q1", "28", "exact"), ("2025-Q2", "70", "exact")],  # 开工70公里
    "new-jobs": monthly("1100 2050 3300 4500 5800 7013"),
    "good-air-days": monthly("22 44 70 96 121 147"),
}
# (indicator, period, first value, corrected value): the first report is later revised.
CORRECTIONS = [("fai", "2025-05", "12.6", "13.1")]


def _id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "planwatch-seed/" + "/".join(str(p) for p in parts))


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


def _day_in(month: Period, subject: str, salt: str) -> date:
    """A stable working-looking day (3rd–26th) of `month` for `subject`."""
    digest = hashlib.sha256(f"{subject}/{salt}".encode()).digest()
    return date(month.year, month.last_month, 3 + digest[0] % 24)


def _published(period: Period, extra_days: int = 0) -> datetime:
    """Official statistics for a period come out mid-month after it ends."""
    return _at(period.end + timedelta(days=16 + extra_days))


PLAN_PUBLISHED_AT = datetime(2025, 1, 20, 10, tzinfo=SHANGHAI)  # after the 人代会 adopted the plan


def indicator_events(plan: Plan) -> list[IndicatorUpdated]:
    events = []
    for subject, series in SERIES.items():
        indicator = plan.indicator(subject)
        if indicator is None:
            raise ValueError(f"seed history names indicator {subject!r}, which plan {plan.id} lacks")
        for period_text, value, qualifier in series:
            period = Period.parse(period_text)
            first = next((c for c in CORRECTIONS if c[:2] == (subject, period_text)), None)
            reported = [(value, 0)] if first is None else [(first[2], 0), (first[3], 30)]
            for n, (number, delay) in enumerate(reported):
                events.append(
                    IndicatorUpdated(
                        event_id=_id(plan.id, "indicator.updated", subject, period_text, n),
                        plan_id=plan.id,
                        department=indicator.department,
                        subject=subject,
                        period=period_text,
                        occurred_at=_published(period, delay),
                        value=Decimal(number),
                        qualifier=qualifier,
                        note="更正" if n else "",
                    )
                )
    return events


def _started(project: Project) -> bool:
    return Period.parse(project.planned_start) <= H1_END and project.id not in OVERDUE


def _completed(project: Project) -> bool:
    return _started(project) and Period.parse(project.planned_completion) <= H1_END


def _active_months(project: Project) -> list[Period]:
    """Months of H1 in which a started project invests: from its start to June or completion."""
    first = Period.parse(project.planned_start).last_month
    last = min(Period.parse(project.planned_completion), H1_END).last_month
    return [Period.month(H1_END.year, m) for m in range(first, last + 1)]


def h1_investment(plan: Plan) -> dict[str, Decimal]:
    """万元 each started project completed in H1; the total is exactly 91亿元."""
    started = [p for p in plan.projects if _started(p)]
    amounts = {p.id: p.planned_investment_wan for p in started if _completed(p)}
    amounts[URBAN_VILLAGES] = URBAN_VILLAGES_H1_WAN
    rest = [p for p in started if p.id not in amounts]
    weights = {p.id: p.planned_investment_wan * len(_active_months(p)) / _months_this_year(p) for p in rest}
    # Proportional shares, capped at 90% of a project's plan; what a cap cuts off goes to the others.
    remaining = H1_INVESTMENT_WAN - sum(amounts.values())
    open_ids = [p.id for p in rest]
    cap = {p.id: p.planned_investment_wan * Decimal("0.9") for p in rest}
    while open_ids:
        total_weight = sum(weights[i] for i in open_ids)
        shares = {i: remaining * weights[i] / total_weight for i in open_ids}
        capped = [i for i in open_ids if shares[i] > cap[i]]
        if not capped:
            break
        for i in capped:
            amounts[i] = (cap[i] / 10).quantize(Decimal(1), rounding=ROUND_DOWN) * 10
            remaining -= amounts[i]
            open_ids.remove(i)
    for i in open_ids:  # whole 10万元 steps, the remainder to the largest project
        amounts[i] = (shares[i] / 10).quantize(Decimal(1), rounding=ROUND_DOWN) * 10
    largest = max(rest, key=lambda p: p.planned_investment_wan)
    amounts[largest.id] += H1_INVESTMENT_WAN - sum(amounts.values())
    for project in started:
        if amounts[project.id] > project.planned_investment_wan:
            raise ValueError(f"{project.id} would invest more in H1 than its annual plan")
    return amounts


def _months_this_year(project: Project) -> int:
    start, end = Period.parse(project.planned_start), Period.parse(project.planned_completion)
    last = 12 if end.year > start.year else end.last_month
    return last - start.last_month + 1


def project_events(plan: Plan) -> list[Event]:
    events: list[Event] = []
    amounts = h1_investment(plan)
    for project in plan.projects:
        if not _started(project):
            continue
        base = {"plan_id": plan.id, "department": project.department, "subject": project.id}
        start_month = Period.parse(project.planned_start)
        started_on = _day_in(start_month, project.id, "start")
        events.append(
            ProjectStarted(
                event_id=_id(plan.id, "project.started", project.id),
                period=start_month.text,
                occurred_at=_at(started_on, 9),
                started_on=started_on,
                **base,
            )
        )
        months = _active_months(project)
        each = (amounts[project.id] / len(months) / 10).quantize(Decimal(1), rounding=ROUND_DOWN) * 10
        for index, month in enumerate(months):
            amount = each if index < len(months) - 1 else amounts[project.id] - each * (len(months) - 1)
            events.append(
                InvestmentCompleted(
                    event_id=_id(plan.id, "investment.completed", project.id, month.text),
                    period=month.text,
                    occurred_at=_at(month.end + timedelta(days=5)),
                    amount_wan=amount,
                    **base,
                )
            )
        if _completed(project):
            end_month = Period.parse(project.planned_completion)
            completed_on = max(_day_in(end_month, project.id, "complete"), started_on + timedelta(days=20))
            completed_on = min(completed_on, end_month.end)
            events.append(
                ProjectCompleted(
                    event_id=_id(plan.id, "project.completed", project.id),
                    period=end_month.text,
                    occurred_at=_at(completed_on, 16),
                    completed_on=completed_on,
                    **base,
                )
            )
    return events


def h1_history(plan: Plan) -> list[Event]:
    """Every event of the first half of 2025, in the order departments would have posted them."""
    events: list[Event] = [*indicator_events(plan), *project_events(plan)]
    events.sort(key=lambda e: (e.occurred_at, e.subject, str(e.event_id)))
    return events
