"""One judgement: a judged subject's traffic light, its alert's severity and the Chinese wording of
that status, from one place. Pure.

The table (text, Markdown, JSON), the dashboard, the alert list, the notices and robot messages
and the monthly rollup all take them from here, so they cannot disagree: an indicator whose alert
escalated to 红色预警 reads 红灯 in the table, with the reason (升级：连续2期未达目标).

* The value's own status (met / on_track / at_risk / off_track / not_due / no_data) is judged by
  `projections.evaluate`; `STATUS_ZH` words it, `LIGHT` colours it.
* A *run* is the subject's consecutive data periods missed, up to the period judged — each
  period's value judged as of that period's end (`indicator_run` in projections.report). It
  starts at a missed period and lasts while periods are missed, or while a period back within
  the target is not yet past the threshold by the plan's `resolve_margin` and fewer than
  `resolve_after_periods` periods have been back (hysteresis: a value oscillating around the
  threshold keeps one alert; the run is `held`, 待恢复).
* The severity of a run is the worst status in it (at risk: warning, off track: critical), one
  level higher for every `escalate_after_periods` periods missed (Sanya: missed two periods
  running → red), at most emergency (升级督办). The light is the severity's colour.

Data periods, not clock time: a run is a function of the values alone, so the table as of any
date, the alerts projection, a rebuild and a rollup's replay agree, however the values arrived.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from events.alerts import SEVERITIES, Severity
from events.plan import Thresholds
from projections.evaluate import MISSED, STATUS_ZH, Status

Light = Literal["red", "yellow", "green", "grey"]

LIGHT: dict[str, Light] = {  # a status's own light
    "off_track": "red",
    "at_risk": "yellow",
    "met": "green",
    "on_track": "green",
    "not_due": "grey",
    "no_data": "grey",
    "monitored": "grey",  # an indicator without a target: shown, never judged
}
LIGHT_ZH: dict[str, str] = {"red": "红灯", "yellow": "黄灯", "green": "绿灯", "grey": "—"}
SEVERITY_LIGHT: dict[str, Light] = {"warning": "yellow", "critical": "red", "emergency": "red"}
BASE_SEVERITY: dict[str, Severity] = {"at_risk": "warning", "off_track": "critical"}

# How the table words a firing subject, by severity; `escalated` when escalation raised it
FIRING_ZH: dict[tuple[Severity, bool], str] = {
    ("warning", False): STATUS_ZH["at_risk"],  # 预警（黄灯）
    ("critical", False): STATUS_ZH["off_track"],  # 滞后（红灯）
    ("critical", True): "预警升级（红灯）",
    ("emergency", True): "升级督办（红灯）",
    ("emergency", False): "升级督办（红灯）",
}
JUDGEMENT_ZH: tuple[str, ...] = tuple(dict.fromkeys([*STATUS_ZH.values(), *FIRING_ZH.values()]))
HELD_NOTE = "待恢复：已回到目标以内，但未超过回差，预警暂不解除"


@dataclass(frozen=True)
class Run:
    """A subject's consecutive missed periods up to the period judged (none: not firing)."""

    missed: int = 0  # periods missed in the run
    worst: Status | None = None  # the worst status among them
    held: bool = False  # the period judged is back within the target, not yet far or long enough

    @property
    def firing(self) -> bool:
        return self.missed > 0


NO_RUN = Run()


def run_of(periods: Iterable[tuple[Status, Status]], resolve_after_periods: int) -> Run:
    """The run at the last of `periods`, in period order, each as (its status, its status judged
    `resolve_margin` worse). A missed period starts or extends the run; a period back within the
    target ends it if it is back by the margin, or if it is the `resolve_after_periods`-th back
    running; else the run is held (still firing). The definition: readers use `run_ending`."""
    firing, missed, worst, back = False, 0, None, 0
    for status, strict in periods:
        if status in MISSED:
            if not firing:
                missed, worst = 0, None
            firing, missed, back = True, missed + 1, 0
            worst = status if worst is None or status == "off_track" else worst
        elif firing:
            back += 1
            firing = strict in MISSED and back < resolve_after_periods
    return Run(missed, worst, back > 0) if firing else NO_RUN


def run_ending(latest_first: Iterable[tuple[Status, Status]], resolve_after_periods: int) -> Run:
    """`run_of` the same periods, given latest first and read only as far back as the run goes:
    its periods and the gaps it held through, then the period that ended what came before it.
    The alerts judge an indicator's run after every report, and a run is short beside a year of
    periods (each period read is its value judged, unless judged before)."""
    worst: Status | None = None
    missed, back, held = 0, 0, False  # back: periods read since the last missed one
    for status, strict in latest_first:
        if status in MISSED:
            if not missed:
                held = back > 0  # the latest periods are back within the target, the run held
            missed, back = missed + 1, 0
            worst = "off_track" if "off_track" in (status, worst) else status  # the earliest, unless off track
            continue
        back += 1
        if strict not in MISSED or back >= resolve_after_periods:  # this period ended a run
            break
    return Run(missed, worst, held) if missed else NO_RUN


@dataclass(frozen=True)
class Judgement:
    """What every reader shows of a subject: the value's status, the light, the alert's severity
    (None: no alert), the wording, and why the light is not the status's own."""

    status: Status
    light: Light
    severity: Severity | None
    status_zh: str
    escalated: bool = False
    periods_missed: int = 0
    note: str = ""  # 升级：连续2期未达目标 / 待恢复：…; empty when the light is the status's own

    @property
    def light_zh(self) -> str:
        return LIGHT_ZH[self.light]


def judge(status: Status, run: Run | None = None, escalate_after_periods: int | None = None) -> Judgement:
    """The judgement of a subject whose value has `status`, in `run` (None: the status alone, as
    if this were the run's first period); `escalate_after_periods` None: no escalation."""
    if run is None:
        run = Run(1, status) if status in MISSED else NO_RUN
    graded = run_severity(run, escalate_after_periods)
    if graded is None:
        return Judgement(status, LIGHT[status], None, STATUS_ZH[status])
    severity, escalated = graded
    notes = [f"升级：连续{run.missed}期未达目标"] if escalated else []
    if run.held:
        notes.append(HELD_NOTE)
    return Judgement(
        status,
        SEVERITY_LIGHT[severity],
        severity,
        FIRING_ZH[(severity, escalated)],
        escalated,
        run.missed,
        "；".join(notes),
    )


def run_severity(run: Run, escalate_after_periods: int | None = None) -> tuple[Severity, bool] | None:
    """The severity of a run and whether escalation raised it; None when it is not firing. The
    alerts judge every change by it alone, without the wording `judge` adds."""
    if not run.firing or run.worst is None:
        return None
    steps = run.missed // escalate_after_periods if escalate_after_periods else 0
    base = BASE_SEVERITY[run.worst]
    rank = min(SEVERITIES.index(base) + steps, len(SEVERITIES) - 1)
    return SEVERITIES[rank], rank > SEVERITIES.index(base)


def severity_of(status: str) -> Severity | None:
    """A status's own severity, before any run or escalation (projects and the portfolio)."""
    return BASE_SEVERITY.get(status)


def project_judgement(status: Status, months_overdue: int | None, rules: Thresholds) -> Judgement:
    """A key project's judgement. Not started after its planned month: the run is the months it has
    been at risk or worse (from `projects.at_risk_after_months`), escalated as an indicator's
    periods are; investment lagging its schedule: the status's own light (the progress bands
    grade it already; judged on the latest report, it has no run of months to count)."""
    run = _project_run(status, months_overdue, rules)
    if run is not None:
        return judge(status, run, rules.alerts.escalate_after_periods)
    return judge(status)


def project_severity(status: Status, months_overdue: int | None, rules: Thresholds) -> Severity | None:
    """`project_judgement(…).severity` without the wording: the alerts judge a project at every
    report of it, and word only what they tell."""
    run = _project_run(status, months_overdue, rules)
    if run is None:
        return severity_of(status)
    graded = run_severity(run, rules.alerts.escalate_after_periods)
    return graded[0] if graded else None


def _project_run(status: Status, months_overdue: int | None, rules: Thresholds) -> Run | None:
    if months_overdue is not None and status in MISSED:
        return Run(max(months_overdue - rules.projects.at_risk_after_months + 1, 1), status)
    return None
