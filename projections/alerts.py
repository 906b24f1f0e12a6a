"""Alert rules and their lifecycle. Pure: the same log gives the same alert history.

An alert is identified by (plan, rule, subject) — its fingerprint — and is either firing or not.
`AlertBook` holds the firing ones. The projector calls `judge_run(book, state, run)` for every
run of events of one instant (`runs`; `judge(book, state, event)` for one) in log order, which
does three things:

    tick(book, state, now_ms)   # before the instant: overdue-data deadlines that have passed
    fold(run, state)            # the fold
    book.pending[subject] = …   # remember what each event changed

and `settle(book, state)` once an *instant* is complete — all events appended in the same
millisecond (one atomic batch) are judged together, so a batch carrying a value and its
correction never flaps — i.e. when the next event has a later timestamp, or the log has no more.
Judging happens only then, and only at transaction times taken from the log, so a rebuild gives
exactly the live history however the log is split into reads. Each state change is an
`AlertNotice`: raised, escalated (worse status, or still firing after K periods), resolved.
An indicator's and a project's severity is the one judgement's (projections.judgement: the
table's light, with escalation by periods missed and hysteresis), so the book only follows it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from events.alerts import (
    RULE_ZH,
    RULES,
    SEVERITIES,
    SEVERITY_ZH,
    Acknowledgement,
    AlertNotice,
    Severity,
    severity_rank,
)
from events.codec import Unreadable
from events.models import AlertAcknowledged, AlertSilenced, Event, SilenceExpired
from events.periods import Period, month_end, period_end
from events.plan import Indicator, Plan, Project, Thresholds
from events.positions import StoredEvent, position_key
from events.targets import RelativeTarget
from projections import formatting as fmt
from projections.evaluate import HUNDRED, Evaluation, progress_status
from projections.judgement import project_severity, severity_of
from projections.portfolio import (
    ProjectProgress,
    ProjectStanding,
    evaluate_project,
    planned_by,
    project_standing,
    reported_months,
)
from projections.readmodel import evaluation_numbers, number, one_decimal
from projections.report import PeriodMemo, data_through, evaluate_indicator, indicator_severity
from projections.silences import SilenceBook
from projections.state import Observation, PlanState, ProjectState, fold

PORTFOLIO = "portfolio"  # the subject of portfolio rules, in keys
ABOUT_ALERTS = (AlertSilenced, SilenceExpired, AlertAcknowledged)  # events people make about alerts
EventAt = tuple[str, Event | Unreadable]  # (position, event): a `StoredEvent`, or a plain pair from a replay
CLOCK_RULES = frozenset(
    {"project_not_started", "project_investment_lag", "portfolio_start_rate", "portfolio_investment_rate", "data_stale"}
)  # judged again as time passes


@dataclass(slots=True)  # not frozen: a frozen one costs 2 µs more to make, and a judgement makes several
class Finding:
    """What a rule sees for a subject: firing (with a severity) or fine."""

    rule: str
    subject: str
    severity: Severity | None  # None: nothing wrong
    subject_name: str
    department: str
    summary_zh: str
    period: str | None = None  # counts towards escalation: the data period, or the month judged
    target: str | None = None
    actual: str | None = None
    deviation: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    escalates: bool = True  # the book escalates it by periods firing; False: the severity is the one judgement's

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}"


@dataclass
class ActiveAlert:
    rule: str
    subject: str
    severity: Severity
    started_at: datetime
    periods: list[str] = field(default_factory=list)  # distinct periods seen while firing
    escalations: int = 0
    notice: AlertNotice | None = None  # the latest raised/escalated notice: what the alert says
    silence_ids: list[str] = field(default_factory=list)  # the silences matching it now
    acknowledged: Acknowledgement | None = None  # cleared when the alert changes
    inhibited_by: str | None = None  # the fingerprint of the firing alert that inhibits it
    told: bool = False  # whether a notice of it went to subscribers (else its resolution is not told)

    def status(self) -> dict[str, Any]:
        """What people said about the alert and what inhibits it: the fields a listing and a
        notice carry (events.alerts.AlertNotice), and the reminders read."""
        return {
            "silenced": bool(self.silence_ids),
            "silence_ids": list(self.silence_ids),
            "acknowledged": self.acknowledged,
            "inhibited": self.inhibited_by is not None,
            "inhibited_by": self.inhibited_by,
        }

    def listed(self) -> AlertNotice | None:
        """The alert as the firing list shows it: its latest notice, with its status now."""
        if self.notice is None:
            return None
        status = self.status()
        if all(getattr(self.notice, name) == value for name, value in status.items()):
            return self.notice
        return self.notice.model_copy(update=status)


@dataclass
class AlertBook:
    active: dict[str, ActiveAlert] = field(default_factory=dict)  # key "rule:subject"
    pending: dict[str, str] = field(default_factory=dict)  # subject → its last event in the open instant
    pending_ms: int = 0  # the open instant (ms); 0 when none
    as_of: date | None = None  # the data date last judged at
    plan_position: str = ""  # the plan judged against
    clock_ms: int = 0  # the latest transaction time seen
    silences: SilenceBook = field(default_factory=SilenceBook)  # the plan's silences not yet over


def instant_of(position: str) -> int:
    """The transaction time of a stream position (ms): the instant its event belongs to."""
    return int(position.split("-", 1)[0])


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass
class _ProjectJudgement:
    position: str  # the project's last event when it was judged
    spec: Project | None  # None: a project the plan does not list (its reports still count)
    standing: ProjectStanding | None  # where it stands on the day judged (None without a spec)
    finding: Finding | None
    reported: int | None  # the last month its investment was reported for
    due: bool = False  # its planned start month has ended by the day judged


class PortfolioTally:
    """The key projects judged on one day against one plan in force, with the portfolio's sums as
    running totals. After an event only the projects whose last event changed are judged again,
    not all of them: a log of single reports would otherwise re-judge every project per report.
    Sums of Decimals are exact, so the totals do not depend on the order projects were counted."""

    def __init__(self, state: PlanState, day: date) -> None:
        self.state, self.day, self.plan_position = state, day, state.plan_position
        self.month = _month_judged(day)  # the period its findings count towards
        self.judged: dict[str, _ProjectJudgement] = {}
        self.position = ""  # the state's position when last refreshed
        self.due = self.started_due = 0  # projects whose planned start month has ended; of them started
        self.planned = self.invested = Decimal(0)
        self.reported: Counter[int] = Counter()  # months reported for, over all projects
        self._portfolio: list[Finding] | None = None

    def fits(self, state: PlanState, day: date) -> bool:
        return self.state is state and self.day == day and self.plan_position == state.plan_position

    def refresh(self, plan: Plan, subjects: set[str] | None = None) -> None:
        """Judge again the projects whose last event changed; `subjects`: those whose events
        were folded since the last refresh, when the caller knows them (else all are looked at)."""
        if self.position == self.state.position:  # nothing folded since: a notice's wording asks again
            return
        self.position = self.state.position
        judged, projects = self.judged, self.state.projects
        if subjects is None or not judged:
            candidates: Iterable[ProjectState] = projects.values()
        else:
            candidates = [p for s in subjects if (p := projects.get(s)) is not None]
        changed = [p for p in candidates if (j := judged.get(p.id)) is None or j.position != p.last_position]
        for project in changed:
            before = judged.get(project.id)
            if before is not None:
                self._count(before, -1)
            after = self._judge(project, plan)
            self.judged[project.id] = after
            self._count(after, 1)
            self._portfolio = None

    def _judge(self, project: ProjectState, plan: Plan) -> _ProjectJudgement:
        """Where the project stands and its finding, without the project list's wording (its
        notes, the view): `view` builds that for a notice."""
        spec = project.spec
        if spec is None:  # its reports still count towards the months reported
            reported = reported_months(project, plan.year, self.day)
            return _ProjectJudgement(project.last_position, None, None, None, reported)
        standing = project_standing(project, spec, self.day, plan.year, plan.thresholds, plan.under_way(spec))
        finding = _brief_project_finding(spec, standing, self.month, plan.thresholds)
        due = planned_by(spec.planned_start, self.day)
        return _ProjectJudgement(project.last_position, spec, standing, finding, standing.reported_month, due)

    def view(self, subject: str, plan: Plan) -> ProjectProgress | None:
        """The project as the project list shows it on the day judged, for a notice's wording."""
        judged, project = self.judged.get(subject), self.state.projects.get(subject)
        if judged is None or judged.spec is None or project is None:
            return None
        spec = judged.spec
        return evaluate_project(project, spec, self.day, plan.year, plan.thresholds, plan.under_way(spec))

    def _count(self, judgement: _ProjectJudgement, sign: int) -> None:
        if judgement.reported is not None:
            self.reported[judgement.reported] += sign
            if not self.reported[judgement.reported]:
                del self.reported[judgement.reported]
        spec, standing = judgement.spec, judgement.standing
        if spec is None or standing is None:
            return
        if sign > 0:
            self.planned += spec.planned_investment_wan
            self.invested += standing.investment_wan
        else:
            self.planned -= spec.planned_investment_wan
            self.invested -= standing.investment_wan
        if judgement.due:
            self.due += sign
            self.started_due += sign * (standing.started_on is not None)

    def findings(self, plan: Plan, subjects: set[str] | None) -> list[Finding]:
        """The projects' findings (those in `subjects`, or all), then the portfolio's, without
        their wording (`_described` adds it when a notice needs it)."""
        if subjects is None:
            found = [j.finding for j in self.judged.values() if j.finding]
        else:
            found = [j.finding for s in subjects if (j := self.judged.get(s)) and j.finding]
        if subjects is None or PORTFOLIO in subjects:
            if self._portfolio is None:
                self._portfolio = _portfolio_findings(self, plan, brief=True)
            found += self._portfolio
        return found

    def portfolio(self, plan: Plan, rule: str) -> Finding:
        """The portfolio's finding under `rule`, worded."""
        return next(f for f in _portfolio_findings(self, plan) if f.rule == rule)


class Memo:
    """A caller's cache between calls (not state): the key projects judged on the latest day, the
    subjects folded since (so the tally looks at those projects only, not all of them), and the
    status of each indicator's period values (an indicator's run)."""

    __slots__ = ("_applied", "_changed", "_state", "periods", "tally")

    def __init__(self) -> None:
        self.tally: PortfolioTally | None = None
        self.periods = PeriodMemo()
        self._state: PlanState | None = None  # the state whose every change since the tally's refresh
        self._applied = -1  # … went through `folded`: its count of events applied then,
        self._changed: set[str] = set()  # … and the subjects of those events

    def folded(self, state: PlanState, applied_before: int, subjects: Iterable[str]) -> None:
        """`judge_run` applied events about `subjects` to `state`, which had `applied_before` events
        applied. Anything else that changed the state (seen by its count) makes the tally look at
        every project again."""
        if self._state is state and self._applied == applied_before:
            self._changed.update(subjects)
            self._applied = state.applied
        else:
            self._state = None

    def tally_for(self, state: PlanState, plan: Plan, day: date) -> PortfolioTally:
        if self.tally is None or not self.tally.fits(state, day):
            self.tally = PortfolioTally(state, day)
        known = self._state is state and self._applied == state.applied
        self.tally.refresh(plan, self._changed if known else None)
        self._state, self._applied, self._changed = state, state.applied, set()
        return self.tally


# --- the lifecycle --------------------------------------------------------------------------


def tick(book: AlertBook, state: PlanState, now_ms: int, memo: Memo | None = None) -> list[AlertNotice]:
    """Time passes: judge the instant still open if `now_ms` is later, then, deadline by deadline,
    raise overdue-data alerts whose deadline has come (the timer calls this too, with the
    current time). Each deadline is judged at its own time, so the history does not depend on
    when ticks happen."""
    if now_ms <= book.clock_ms:  # the same instant as the last event: nothing to judge yet
        return []
    notices: list[AlertNotice] = []
    if book.pending and now_ms > book.pending_ms:
        notices += settle(book, state, memo)
    previous, book.clock_ms = book.clock_ms, now_ms
    plan = state.plan
    if plan is None or book.as_of is None:
        return notices
    deadlines = _deadlines(plan.year, plan.timezone, plan.thresholds.alerts.stale_after_days)
    for deadline in deadlines[bisect_right(deadlines, previous) : bisect_right(deadlines, book.clock_ms)]:
        findings = {f.key: f for f in _clock_findings(state, plan, deadline, memo)}
        scope = {key for key in book.active if key.split(":", 1)[0] in CLOCK_RULES} | set(findings)
        notices += _reconcile(book, state, findings, scope, deadline, None, memo)
        notices += _outage(book, state, plan, deadline)
    refresh_status(book, plan, book.clock_ms, changed=bool(notices))
    return _requieted(book, notices)


def next_due_ms(book: AlertBook, plan: Plan | None) -> int | None:
    """When the clock alone next changes what `tick` finds, with no new event: the open instant
    (as soon as time passes it), a clock rule's next deadline, a silence beginning or ending.
    None: nothing until the next event. A projector waits until then instead of ticking
    every second (a worker follows a thousand plans)."""
    if book.pending:
        return book.pending_ms + 1
    due: list[int] = []
    if plan is not None and book.as_of is not None:
        deadlines = _deadlines(plan.year, plan.timezone, plan.thresholds.alerts.stale_after_days)
        later = bisect_right(deadlines, book.clock_ms)
        if later < len(deadlines):
            due.append(deadlines[later])
    for silence in book.silences.silences.values():
        bounds = (silence.starts_ms, silence.ends_ms, silence.expired_ms or 0)
        due += [bound for bound in bounds if bound > book.clock_ms]
    return min(due, default=None)


def judge(book: AlertBook, state: PlanState, stored: StoredEvent, memo: Memo | None = None) -> list[AlertNotice]:
    """One event, with its alert judgement: time passes to the event's transaction time (the
    instant before it is judged), the fold applies it, the book notes what it changed: a run of
    one. The projector and a rollup's replay both judge through `judge_run`, so they agree on the
    alert history."""
    return judge_run(book, state, [stored], memo)


def runs(events: Iterable[EventAt]) -> Iterator[list[EventAt]]:
    """`events` in runs of one instant (a batch appended in one call shares its instant); an
    event said about alerts is a run of its own. Judging the runs with `judge_run` gives the
    history judging the events one by one gives, however the events are split into calls."""
    run: list[EventAt] = []
    prefix, alone = "", False  # the run's "ms-" and whether it is an event said about alerts
    for entry in events:
        position, event = entry
        said = isinstance(event, ABOUT_ALERTS)
        if run and (alone or said or not position.startswith(prefix)):
            yield run
            run = []
        if not run:
            prefix, alone = position[: position.index("-") + 1], said
        run.append(entry)
    if run:
        yield run


def judge_run(book: AlertBook, state: PlanState, run: Sequence[EventAt], memo: Memo | None = None) -> list[AlertNotice]:
    """A run of `runs`: time passes to its instant (the instant before it judged, with the
    deadlines passed), the fold applies its events in one go, the book notes what they changed —
    judged once the instant is over. Judged event by event, a batch of 500 spent a sixth of its
    time on steps taken for each event."""
    instant = instant_of(run[0][0])
    notices = tick(book, state, instant, memo) if instant > book.clock_ms else []
    applied = state.applied
    fold(run, state)
    if memo is not None:
        memo.folded(state, applied, [event.subject for _, event in run])
    if isinstance(run[0][1], ABOUT_ALERTS):  # said about alerts: no subject's judgement changes
        book.clock_ms = max(book.clock_ms, instant)
        return notices + _said(book, state, StoredEvent(*run[0]), instant)
    book.pending_ms = instant  # the book notes what changed, in the instant it belongs to
    pending = book.pending
    for position, event in run:
        pending[event.subject] = position
    if instant > book.clock_ms:
        book.clock_ms = instant
    return notices


def _said(book: AlertBook, state: PlanState, stored: StoredEvent, instant: int) -> list[AlertNotice]:
    """A silence made or expired, or an alert acknowledged: the firing alerts' status changes; an
    acknowledgement is written to the alert's history (not notified)."""
    plan, event = state.plan, stored.event
    if plan is None:
        return []
    if book.silences.fold(stored):
        refresh_status(book, plan, instant)
        return []
    assert isinstance(event, AlertAcknowledged)
    alert = book.active.get(event.fingerprint.removeprefix(f"{plan.id}:"))
    if alert is None or alert.notice is None or not event.fingerprint.startswith(f"{plan.id}:"):
        return []  # resolved meanwhile: nothing to acknowledge
    alert.acknowledged = Acknowledgement(by=event.acknowledged_by, at=_at(instant), note=event.note)
    update = {"type": "alert.acknowledged", "at": _at(instant), "cause": stored.position, **alert.status()}
    return [alert.notice.model_copy(update=update)]


def _labels(plan_id: str, alert: ActiveAlert, department: str) -> dict[str, str]:
    """What a silence's matchers are compared with."""
    return {
        "plan": plan_id,
        "department": department,
        "subject": alert.subject,
        "rule": alert.rule,
        "severity": alert.severity,
    }


def _mark(
    book: AlertBook,
    plan: Plan,
    alert: ActiveAlert,
    department: str,
    now_ms: int,
    by_rule: dict[str, list[ActiveAlert]] | None = None,
) -> None:
    """Note which silences match the alert now, and which firing alert inhibits it (before a
    notice of it is written)."""
    if book.silences.silences or alert.silence_ids:
        alert.silence_ids = book.silences.matching(_labels(plan.id, alert, department), now_ms)
    alert.inhibited_by = _inhibitor(book, plan, alert, department, by_rule)


def _inhibitor(
    book: AlertBook,
    plan: Plan,
    alert: ActiveAlert,
    department: str,
    by_rule: dict[str, list[ActiveAlert]] | None = None,
) -> str | None:
    """The fingerprint of a firing alert that inhibits this one under the plan's rules, if any
    (`by_rule`: the firing alerts by rule, in the book's order, when the caller has them)."""
    for rule in plan.thresholds.alerts.inhibit:
        if alert.rule not in rule.targets:
            continue
        if "subject" in rule.equal:
            candidates = [source] if (source := book.active.get(f"{rule.source}:{alert.subject}")) else []
        elif by_rule is not None:
            candidates = by_rule.get(rule.source, [])
        else:
            candidates = [a for a in book.active.values() if a.rule == rule.source]
        for source in candidates:
            same_department = source.notice is not None and source.notice.department == department
            if source is not alert and ("department" not in rule.equal or same_department):
                return f"{plan.id}:{source.rule}:{source.subject}"
    return None


def refresh_status(book: AlertBook, plan: Plan, now_ms: int, changed: bool = True) -> None:
    """Silences begin and end with time (and with events), inhibiting alerts start and stop: note
    for each firing alert which silences match it at `now_ms` and what inhibits it, then forget
    the silences that are over. Nothing to do while the plan has no silences and no alert changed."""
    silences = bool(book.silences.silences)
    if not silences and not changed:
        return
    targets = {rule for inhibit in plan.thresholds.alerts.inhibit for rule in inhibit.targets}
    by_rule: dict[str, list[ActiveAlert]] = {}  # plan-wide inhibit rules look for their sources once
    for alert in book.active.values():
        by_rule.setdefault(alert.rule, []).append(alert)
    for alert in book.active.values():
        # one no silence matches, of a rule nothing inhibits, stays as it is: not looked at
        if alert.silence_ids or alert.inhibited_by or silences or alert.rule in targets:
            if alert.notice is not None:
                _mark(book, plan, alert, alert.notice.department, now_ms, by_rule)
    book.silences.prune(now_ms)


def _requieted(book: AlertBook, notices: list[AlertNotice]) -> list[AlertNotice]:
    """An inhibitor raised in the same judgement as the alerts it inhibits (an outage and the
    overdue-data alerts that make it) comes after them: their notices, not yet written, take the
    status the judgement ends with, so they are not told either."""
    requieted = []
    for notice in notices:
        alert = book.active.get(f"{notice.rule}:{notice.subject}")
        if alert is not None and alert.notice is notice and notice.inhibited_by != alert.inhibited_by:
            notice = alert.notice = notice.model_copy(update=alert.status())
            if notice.type == "alert.raised":
                alert.told = notice.notifies
        requieted.append(notice)
    return requieted


def skip(book: AlertBook, now_ms: int) -> None:
    """Let time pass to `now_ms` unjudged: the open instant's changes and the deadlines up to then
    are not judged. The projector's way past a rule that fails (its dead letters say so); the
    subjects are judged again at their next change."""
    book.pending, book.pending_ms = {}, 0
    book.clock_ms = max(book.clock_ms, now_ms)


def settle(book: AlertBook, state: PlanState, memo: Memo | None = None) -> list[AlertNotice]:
    """Judge what the open instant changed; return the alerts' state changes."""
    if not book.pending:
        return []
    pending, now_ms = book.pending, book.pending_ms
    last = max(pending.values(), key=position_key) if len(pending) > 1 else next(iter(pending.values()))
    causes = {**pending, "": last}  # a subject's own latest event, else the instant's last one
    book.pending, book.pending_ms = {}, 0
    plan = state.plan
    if plan is None:
        return []
    as_of = data_through(state)
    everything = book.plan_position != state.plan_position or book.as_of != as_of
    book.plan_position, book.as_of = state.plan_position, as_of
    subjects = None if everything else _subjects_judged(plan, pending)
    # judged and reconciled over the same subjects: an alert in scope without a finding resolves
    findings = {f.key: f for f in _findings(state, plan, as_of, now_ms, subjects, memo)}
    if subjects is None:  # the outage is judged from the overdue-data alerts, after them (_outage)
        scope = {key for key in book.active if not key.startswith("data_outage:")} | set(findings)
    else:  # every finding is about one of `subjects`; the firing alerts are looked up, not scanned
        active = book.active
        scope = set(findings)
        scope.update(key for subject in subjects for key in _keys_of(subject) if key in active)
    notices = _reconcile(book, state, findings, scope, now_ms, causes, memo)
    if any(n.rule == "data_stale" for n in notices):
        notices += _outage(book, state, plan, now_ms)
    refresh_status(book, plan, now_ms, changed=bool(notices))
    return _requieted(book, notices)


def _subjects_judged(plan: Plan, pending: dict[str, str]) -> set[str]:
    """The subjects an instant's events were about, the indicators whose relative target compares
    against one of them, and the portfolio when a project changed."""
    subjects = set(pending)
    for subject in pending:
        if referencing := plan.referencing(subject):
            subjects.update(referencing)
    if any(map(plan.project, subjects)):
        subjects.add(PORTFOLIO)
    return subjects


@lru_cache(maxsize=1024)  # a plan's subjects (some 150) stay; about 1 KB each
def _keys_of(subject: str) -> tuple[str, ...]:
    """Every alert key a subject can have ("rule:subject"): a judgement looks up its firing
    alerts by them instead of scanning the book."""
    return tuple(f"{rule}:{subject}" for rule in RULES)


def _reconcile(
    book: AlertBook,
    state: PlanState,
    findings: dict[str, Finding],
    scope: set[str],
    now_ms: int,
    causes: dict[str, str] | None,
    memo: Memo | None = None,
) -> list[AlertNotice]:
    plan = state.plan
    assert plan is not None
    every = plan.thresholds.alerts.escalate_after_periods
    notices = []
    for key in _in_order(scope, plan):
        finding = findings.get(key)
        alert = book.active.get(key)
        firing = finding is not None and finding.severity is not None
        if firing and alert is None:
            assert finding is not None and finding.severity is not None
            alert = ActiveAlert(finding.rule, finding.subject, finding.severity, _at(now_ms), [finding.period or ""])
            book.active[key] = alert
            described = _described(finding, state, plan, now_ms, memo)
            _mark(book, plan, alert, described.department, now_ms)
            alert.notice = _notice("alert.raised", plan, alert, described, now_ms, _cause(causes, alert))
            notices.append(alert.notice)
        elif firing and alert is not None:
            assert finding is not None and finding.severity is not None
            if finding.period and finding.period not in alert.periods:
                alert.periods.append(finding.period)
            rank = max(severity_rank(alert.severity), severity_rank(finding.severity))
            if finding.escalates and len(alert.periods) >= every * (alert.escalations + 1):  # K periods on
                alert.escalations += 1
                rank += 1
            rank = min(rank, len(SEVERITIES) - 1)
            if rank > severity_rank(alert.severity):
                alert.severity = SEVERITIES[rank]
                alert.acknowledged = None  # the alert changed: whoever knew must look again
                described = _described(finding, state, plan, now_ms, memo)
                _mark(book, plan, alert, described.department, now_ms)
                alert.notice = _notice("alert.escalated", plan, alert, described, now_ms, _cause(causes, alert))
                notices.append(alert.notice)
        elif alert is not None:
            del book.active[key]
            if finding is not None and finding.summary_zh:
                resolved = finding
            else:
                resolved = _finding_for(state, plan, alert.rule, alert.subject, now_ms, memo)
            alert.acknowledged = None
            if alert.told:  # one never told keeps the status that kept it quiet
                _mark(book, plan, alert, resolved.department, now_ms)
            notices.append(_notice("alert.resolved", plan, alert, resolved, now_ms, _cause(causes, alert)))
    return notices


def _in_order(scope: set[str], plan: Plan) -> Iterable[str]:
    """The keys in the order they are reconciled: inhibiting rules' first (an alert raised with
    its inhibitor in the same judgement is marked inhibited), then by key, so notices come in
    the same order however the scope was gathered."""
    if len(scope) < 2:
        return scope
    sources = {rule.source for rule in plan.thresholds.alerts.inhibit}
    return sorted(scope, key=lambda k: (k.split(":", 1)[0] not in sources, k))


def _described(finding: Finding, state: PlanState, plan: Plan, now_ms: int, memo: Memo | None) -> Finding:
    """The finding with its wording: judging goes without it (most judgements change nothing)."""
    return finding if finding.summary_zh else _finding_for(state, plan, finding.rule, finding.subject, now_ms, memo)


def _cause(causes: dict[str, str] | None, alert: ActiveAlert) -> str | None:
    """The event behind a change: the subject's own latest in the instant, else the instant's last."""
    if causes is None:  # the clock, not an event
        return None
    return causes.get(alert.subject, causes[""])


def _notice(kind: str, plan: Plan, alert: ActiveAlert, finding: Finding, now_ms: int, cause: str | None) -> AlertNotice:
    firing = kind != "alert.resolved"
    summary = finding.summary_zh if firing else f"已恢复：{finding.summary_zh}"
    notice = _new_notice(kind, plan, alert, finding, now_ms, cause, firing, summary)
    alert.told = alert.told or notice.notifies
    return notice


def _new_notice(
    kind: str,
    plan: Plan,
    alert: ActiveAlert,
    finding: Finding,
    now_ms: int,
    cause: str | None,
    firing: bool,
    summary: str,
) -> AlertNotice:
    return AlertNotice(
        type=kind,
        fingerprint=f"{plan.id}:{alert.rule}:{alert.subject}",
        plan_id=plan.id,
        plan_name=plan.name,
        rule=alert.rule,
        rule_zh=RULE_ZH[alert.rule],
        subject=alert.subject,
        subject_name=finding.subject_name,
        department=finding.department,
        department_name=plan.department_name(finding.department),
        severity=alert.severity,
        severity_zh=SEVERITY_ZH[alert.severity],
        state="firing" if firing else "resolved",
        started_at=alert.started_at,
        at=_at(now_ms),
        period=finding.period,
        target=finding.target,
        actual=finding.actual,
        deviation=finding.deviation,
        summary_zh=summary,
        cause=cause,
        values={**finding.values, "periods_firing": len(alert.periods), "escalations": alert.escalations},
        **alert.status(),
    )


# --- the rules ----------------------------------------------------------------------------


def _findings(
    state: PlanState, plan: Plan, as_of: date, now_ms: int, subjects: set[str] | None, memo: Memo | None
) -> list[Finding]:
    found: list[Finding] = []
    indicators = plan.indicators if subjects is None else [i for s in subjects if (i := plan.indicator(s))]
    for indicator in indicators:  # the order is the caller's to choose: findings are looked up by key
        found.append(_brief_indicator_finding(state, indicator, as_of, memo))
    if subjects is None or PORTFOLIO in subjects:  # settle adds it when a project changed
        found += _project_findings(state, plan, now_ms, memo, subjects)
    found += _stale_findings(state, plan, now_ms, subjects)
    return found


def _clock_findings(state: PlanState, plan: Plan, now_ms: int, memo: Memo | None) -> list[Finding]:
    """The rules that change as time passes, without any event."""
    return [*_project_findings(state, plan, now_ms, memo), *_stale_findings(state, plan, now_ms)]


def judging_date(state: PlanState, plan: Plan, now_ms: int) -> date:
    """Projects are judged as of the last day that has ended by the clock, and not past the data:
    a project planned for June is overdue once June is over, not when June's first report arrives."""
    return min(data_through(state), local_date(plan.timezone, now_ms) - timedelta(days=1))


def local_date(timezone: str, ms: int) -> date:
    """The date in `timezone` at the instant `ms`. Judging asks at every instant, and a zone's
    conversion costs several µs: the date of a whole quarter-hour is worked out once."""
    return _quarter_hour_date(timezone, ms // 900_000) or _at(ms).astimezone(ZoneInfo(timezone)).date()


@lru_cache(maxsize=256)
def _quarter_hour_date(timezone: str, quarter: int) -> date | None:
    """The date in `timezone` all through the UTC quarter-hour `quarter` (from the epoch); None
    if a day begins, or the zone's offset changes, within it."""
    zone = ZoneInfo(timezone)
    first, last = _at(quarter * 900_000).astimezone(zone), _at(quarter * 900_000 + 899_999).astimezone(zone)
    return first.date() if first.date() == last.date() and first.utcoffset() == last.utcoffset() else None


def _project_findings(
    state: PlanState, plan: Plan, now_ms: int, memo: Memo | None, subjects: set[str] | None = None
) -> list[Finding]:
    day = judging_date(state, plan, now_ms)
    return (memo if memo is not None else Memo()).tally_for(state, plan, day).findings(plan, subjects)


def _finding_for(state: PlanState, plan: Plan, rule: str, subject: str, now_ms: int, memo: Memo | None) -> Finding:
    """How a subject looks now, in words, for a notice: judged as `settle` and `tick` judge it."""
    if rule in ("indicator_behind", "relative_target") and (indicator := plan.indicator(subject)):
        return _indicator_finding(state, indicator, data_through(state), memo.periods if memo is not None else None)
    if rule.startswith(("project_", "portfolio_")):
        tally = (memo if memo is not None else Memo()).tally_for(state, plan, judging_date(state, plan, now_ms))
        if subject == PORTFOLIO:
            return tally.portfolio(plan, rule)
        view = tally.view(subject, plan)
        if view is not None:
            if rule == "project_not_started" and not view.overdue:
                return _start_finding(view, tally.day)
            return _project_finding(view, tally.day, plan.thresholds)
    return _fine(plan, rule, subject)


def _start_finding(view: ProjectProgress, as_of: date) -> Finding:
    """A project no longer overdue to start: started, or its planned start month is not over."""
    actual = f"{view.started_on.isoformat()}开工" if view.started_on else "未到计划开工期"
    return Finding(
        "project_not_started",
        view.id,
        None,
        view.name,
        view.department,
        f"{view.name}计划{view.planned_start}开工，" + (f"已于{actual}" if view.started_on else f"尚{actual}"),
        period=_month_judged(as_of),
        target=f"{view.planned_start}开工",
        actual=actual,
        values={"status": view.status, "stage": view.stage, "as_of": as_of.isoformat()},
    )


def _fine(plan: Plan, rule: str, subject: str) -> Finding:
    indicator = plan.indicator(subject)
    name = indicator.name if indicator else subject
    return Finding(rule, subject, None, name, plan.owner_of(subject) or plan.office, f"{name}数据已报送")


def _severity(status: str) -> Severity | None:
    return severity_of(status)


def period_label(period: str) -> str:
    """How reports name a cumulative period: 1—6月, 一季度, 上半年, 全年."""
    parsed = Period.parse(period)
    if parsed.kind == "month":
        return "1月" if parsed.last_month == 1 else f"1—{parsed.last_month}月"
    return {3: "一季度", 6: "上半年", 9: "前三季度", 12: "全年"}.get(parsed.last_month, period)


def _indicator_rule(state: PlanState, indicator: Indicator, as_of: date) -> str:
    relative = isinstance(state.indicator(indicator.id).target_at(as_of) or indicator.target, RelativeTarget)
    return "relative_target" if relative else "indicator_behind"


def _brief_indicator_finding(state: PlanState, indicator: Indicator, as_of: date, memo: Memo | None) -> Finding:
    """The indicator's judgement without the wording (`_described` adds it when a notice needs
    it): most judgements change nothing, and the status of a period's value is reused until it
    changes (projections.report.PeriodMemo)."""
    periods = memo.periods if memo is not None else PeriodMemo()
    severity, period = indicator_severity(state, indicator, as_of, periods)
    rule = _indicator_rule(state, indicator, as_of)
    return Finding(rule, indicator.id, severity, indicator.name, indicator.department, "", period, escalates=False)


def _indicator_finding(
    state: PlanState, indicator: Indicator, as_of: date, periods: PeriodMemo | None = None
) -> Finding:
    """The indicator's judgement, worded; `periods`: the statuses the brief judgement kept (the run
    is read from them, not judged again)."""
    row = evaluate_indicator(state, indicator, as_of, periods)
    evaluation: Evaluation = row.evaluation
    judgement = row.judgement  # the severity the table's light shows (escalation, hysteresis)
    rule = _indicator_rule(state, indicator, as_of)
    severity = judgement.severity
    when = period_label(evaluation.period) if evaluation.period else ""
    summary = f"{indicator.name}{when}完成{evaluation.actual_text}，全年目标{row.target_text}"
    if evaluation.completion is not None and evaluation.time_progress is not None:
        summary += (
            f"，完成全年目标的{fmt.percent(evaluation.completion)}，序时进度{fmt.percent(evaluation.time_progress)}"
        )
    if evaluation.reference_value is not None:
        summary += f"（对比指标{fmt.percent(evaluation.reference_value)}）"
    deviation = _deviation(evaluation.deviation_text)
    summary += f"，与目标{deviation}（{row.department_name}）" if deviation else f"（{row.department_name}）"
    if judgement.note:
        summary += f"；{judgement.note}"
    judged = {"light": judgement.light, "escalated": judgement.escalated, "periods_missed": judgement.periods_missed}
    return Finding(
        rule=rule,
        subject=indicator.id,
        severity=severity,
        subject_name=indicator.name,
        department=indicator.department,
        summary_zh=summary,
        period=evaluation.period,
        target=row.target_text,
        actual=evaluation.actual_text,
        deviation=deviation,
        values={"status": evaluation.status, **evaluation_numbers(evaluation), **judged, "as_of": as_of.isoformat()},
        escalates=False,
    )


def _overdue(months: int | None) -> str:
    """逾期N个月, or 逾期 alone within the first month (never 逾期0个月)."""
    return f"逾期{months}个月" if months and months >= 1 else "逾期"


def _deviation(text: str | None) -> str | None:
    """The deviation as the report prints it, or None when there is no number to print (the
    report's 「-」): a message never reads 与目标-."""
    return text if text and text.strip() not in ("-", "—", "－") else None


def _month_judged(day: date) -> str:
    """The last month that has ended by `day`: the period an alert on projects counts towards."""
    if day != month_end(day.year, day.month):
        day = day.replace(day=1) - timedelta(days=1)
    return f"{day.year:04d}-{day.month:02d}"


def _brief_project_finding(spec: Project, standing: ProjectStanding, month: str, thresholds: Thresholds) -> Finding:
    """The project's judgement (projections.judgement: the project list's light) without the
    wording (`_described` adds it when a notice needs it): `_project_finding`'s rule and severity."""
    firing = standing.overdue or standing.lagging
    severity = project_severity(standing.status, standing.months_overdue, thresholds) if firing else None
    rule = "project_not_started" if standing.overdue else "project_investment_lag"
    return Finding(rule, spec.id, severity, spec.name, spec.department, "", month, escalates=False)


def _project_finding(view: ProjectProgress, as_of: date, thresholds: Thresholds) -> Finding:
    """The project's judgement (projections.judgement: the project list's light), worded."""
    month = _month_judged(as_of)
    judgement = view.judged
    severity = judgement.severity if view.overdue or view.lagging else None
    values = {
        "status": view.status,
        "stage": view.stage,
        "light": judgement.light,
        "escalated": judgement.escalated,
        "as_of": as_of.isoformat(),
    }
    if view.overdue:
        return Finding(
            "project_not_started",
            view.id,
            severity,
            view.name,
            view.department,
            f"{view.name}计划{view.planned_start}开工，截至{as_of.isoformat()}{_overdue(view.months_overdue)}未开工",
            period=month,
            target=f"{view.planned_start}开工",
            actual="未开工",
            deviation=_overdue(view.months_overdue),
            values={**values, "months_overdue": view.months_overdue},
            escalates=False,
        )
    rate = fmt.round1(view.investment_rate) if view.investment_rate is not None else None
    schedule = fmt.round1(view.schedule_progress) if view.schedule_progress is not None else None
    gap = rate - schedule if rate is not None and schedule is not None else None
    summary = f"{view.name}完成投资{fmt.money_wan(view.investment_wan)}"
    if rate is not None:
        summary += f"，占年度计划的{rate}%"
    if schedule is not None:  # none until its first investment report
        summary += f"，项目序时进度{schedule}%"
    if gap is not None:
        summary += f"，{fmt.points(gap)}"
    return Finding(
        "project_investment_lag",
        view.id,
        severity,
        view.name,
        view.department,
        summary,
        period=month,
        target=f"年度计划投资{fmt.money_wan(view.planned_investment_wan)}",
        actual=f"完成投资{fmt.money_wan(view.investment_wan)}",
        deviation=fmt.points(gap) if gap is not None else None,
        values={**values, "investment_rate": number(rate), "schedule_progress": number(schedule)},
        escalates=False,
    )


def _portfolio_rates(tally: PortfolioTally, plan: Plan) -> tuple[Decimal, Severity | None, Decimal, Decimal, str]:
    """The portfolio's start rate and its severity, its investment rate, the time progress it is
    held against and its status."""
    rules = plan.thresholds.alerts
    due, started_due, planned, invested = tally.due, tally.started_due, tally.planned, tally.invested
    ratio = Decimal(started_due) * HUNDRED / due if due else HUNDRED
    start_severity: Severity | None = (
        "critical" if ratio < rules.start_rate_off_track else "warning" if ratio < rules.start_rate_at_risk else None
    )
    rate = invested * HUNDRED / planned if planned else HUNDRED
    # against the time progress of the latest month investment was reported for
    progress = Decimal(max(tally.reported)) * HUNDRED / 12 if tally.reported else Decimal(0)
    invest_status = "on_track" if rate >= HUNDRED else progress_status(rate, progress, plan.thresholds)
    return ratio, start_severity, rate, progress, invest_status


def _portfolio_findings(tally: PortfolioTally, plan: Plan, brief: bool = False) -> list[Finding]:
    """The portfolio's findings; `brief` leaves out the wording (`_described` adds it when a
    notice needs it)."""
    rules = plan.thresholds.alerts
    as_of, month = tally.day, tally.month
    office, label = plan.office, plan.projects_label
    due, started_due, invested = tally.due, tally.started_due, tally.invested
    ratio, start_severity, rate, progress, invest_status = _portfolio_rates(tally, plan)
    if brief:
        return [
            Finding("portfolio_start_rate", PORTFOLIO, start_severity, f"{label}开工", office, "", month),
            Finding(
                "portfolio_investment_rate", PORTFOLIO, _severity(invest_status), f"{label}投资", office, "", month
            ),
        ]
    return [
        Finding(
            "portfolio_start_rate",
            PORTFOLIO,
            start_severity,
            f"{label}开工",
            office,
            f"截至{as_of.isoformat()}应开工{label}{due}个，已开工{started_due}个，按计划开工率{fmt.percent(ratio)}",
            period=month,
            target=f"按计划开工率不低于{rules.start_rate_at_risk}%",
            actual=fmt.percent(ratio),
            deviation=fmt.points(ratio - rules.start_rate_at_risk),
            values={"due": due, "started": started_due, "ratio": one_decimal(ratio)},
        ),
        Finding(
            "portfolio_investment_rate",
            PORTFOLIO,
            _severity(invest_status),
            f"{label}投资",
            office,
            f"{label}完成投资{fmt.money_wan(invested)}，投资完成率{fmt.percent(rate)}，序时进度{fmt.percent(progress)}",
            period=month,
            target=f"序时进度{fmt.percent(progress)}",
            actual=fmt.percent(rate),
            deviation=fmt.points(rate - progress),
            values={"investment_wan": number(invested), "rate": one_decimal(rate)},
        ),
    ]


# --- overdue data -----------------------------------------------------------------------------


def _outage(book: AlertBook, state: PlanState, plan: Plan, now_ms: int) -> list[AlertNotice]:
    """A plan-level data outage: at least `alerts.outage_share` % of the plan's indicators have an
    overdue-data alert at once. Judged whenever overdue-data alerts change (from the book)."""
    stale = sum(1 for key in book.active if key.startswith("data_stale:"))
    total = len(plan.indicators)
    share = Decimal(stale) * HUNDRED / total if total else Decimal(0)
    rules = plan.thresholds.alerts
    firing = stale >= rules.outage_min_indicators and share >= rules.outage_share
    name = f"{plan.name}数据报送"
    finding = Finding(
        "data_outage",
        plan.id,  # the plan is the subject
        "critical" if firing else None,
        name,
        plan.office,
        f"{total}项指标中{stale}项数据逾期未报送（{fmt.percent(share)}），请各责任单位尽快报送",
        target=f"逾期未报送的指标少于{fmt.percent(plan.thresholds.alerts.outage_share)}",
        actual=f"{stale}项逾期（{fmt.percent(share)}）",
        values={"stale": stale, "indicators": total, "share": one_decimal(share)},
    )
    key = f"data_outage:{plan.id}"
    return _reconcile(book, state, {key: finding}, {key}, now_ms, None)


_FIRST_MONTHS = {"monthly": range(1, 13), "quarterly": range(3, 13, 3), "annual": range(12, 13)}


@lru_cache(maxsize=4096)
def _deadline(year: int, month: int, timezone: str, stale_after_days: int) -> int:
    """When the value for the period ending in `month` is overdue: its end + N days, at midnight
    in the plan's time zone (ms)."""
    day = month_end(year, month) + timedelta(days=stale_after_days + 1)
    return int(datetime.combine(day, time(), tzinfo=ZoneInfo(timezone)).timestamp() * 1000)


@lru_cache(maxsize=64)
def _deadlines(year: int, timezone: str, stale_after_days: int) -> list[int]:
    """When clock rules must be judged again: each period's overdue-data deadline, and the start of
    every month of the plan year and the next (projects become overdue when a month ends)."""
    zone = ZoneInfo(timezone)
    month_starts = {int(datetime(year + (m // 12), m % 12 + 1, 1, tzinfo=zone).timestamp() * 1000) for m in range(13)}
    stale = {_deadline(year, m, timezone, stale_after_days) for months in _FIRST_MONTHS.values() for m in months}
    return sorted(month_starts | stale)


@lru_cache(maxsize=256)
def _due_schedule(year: int, frequency: str, timezone: str, stale_after_days: int) -> tuple[list[int], list[int]]:
    """The overdue deadlines of an indicator's periods, in order, and the month each period ends."""
    months = list(_FIRST_MONTHS[frequency])
    return [_deadline(year, m, timezone, stale_after_days) for m in months], months


def _stale_findings(state: PlanState, plan: Plan, now_ms: int, subjects: set[str] | None = None) -> list[Finding]:
    found = []
    days = plan.thresholds.alerts.stale_after_days
    indicators = plan.indicators if subjects is None else [i for s in subjects if (i := plan.indicator(s))]
    for indicator in indicators:
        deadlines, months = _due_schedule(plan.year, indicator.frequency, plan.timezone, days)
        due = bisect_right(deadlines, now_ms)
        if not due:
            continue
        month = months[due - 1]  # the latest period that should be in by now
        due_end = month_end(plan.year, month)
        if _reported_through(state.indicator(indicator.id).observations, plan.year, due_end):
            continue
        period = _period_text(indicator.frequency, plan.year, month)
        deadline = _at(deadlines[due - 1]).astimezone(ZoneInfo(plan.timezone)).date()
        found.append(
            Finding(
                "data_stale",
                indicator.id,
                "warning",
                indicator.name,
                indicator.department,
                f"{indicator.name}{period}数据逾期未报送（应于{deadline.isoformat()}前报送，"
                f"{plan.department_name(indicator.department)}）",
                period=period,
                target=f"{period}数据",
                actual="未报送",
                deviation=f"逾期（截止{deadline.isoformat()}）",
                values={"due": deadline.isoformat(), "frequency": indicator.frequency},
            )
        )
    return found


def _reported_through(observations: dict[str, Observation], year: int, end: date) -> bool:
    """Is a value of `year` in for a period ending on `end` or later?"""
    for text in observations:
        ends = period_end(text)  # one cached lookup; a period lies within its end's year
        if ends.year == year and ends >= end:
            return True
    return False


def _period_text(frequency: str, year: int, month: int) -> str:
    if frequency == "monthly":
        return f"{year:04d}-{month:02d}"
    if frequency == "quarterly":
        return f"{year:04d}-Q{month // 3}"
    return f"{year:04d}"
