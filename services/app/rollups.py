"""Writing a month's rollup: the one way a rollup is produced (scheduler, CLI, API).

The rollup of a month is the plan's state as of the month's last day, as known when it is
written (`queries.judge_now`: from the alerts projection's latest state and alert book, the events
recorded since judged, the alert history it wrote for the rest — what a replay of the whole log
would give, without replaying it). It is stored as a document keyed by its content hash, recorded in the log as a
`rollup.published` event (version, content hash), then listed in the plan's rollup index and
announced to subscribers who asked for rollups. Versions come from the log: a scheduled run
writes a month once; a run by hand after late data writes version n + 1 if anything changed,
saying what against version n.

Crash safety: the log is the truth. The document is written before its event (an event never
points at nothing); the index and the announcement are written together after it, and any run
that finds the log ahead of the index finishes that step. Two writers of the same version race
on the append's expected version: one wins, the other stores nothing and says so.
"""

from __future__ import annotations

import builtins
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from events.alerts import ROLLUP_RULE, AlertNotice
from events.errors import FieldError
from events.models import RollupPublished
from events.periods import Period
from projections.evaluate import MISSED
from projections.provenance import SourceEvent
from projections.report import build_report
from projections.rollup import RollupDocument, RollupRow, build_rollup
from projections.state import PlanState
from services.app.errors import Conflict, Invalid, NotFound
from services.app.reports import traced
from services.observability import metrics
from services.projection import judge_now
from services.reports import FILE_FORMATS, FORMATS, RENDERERS, render_rollup
from services.store import EventIdReused, EventStore, Keyspace, VersionConflict, stored_int

Outcome = Literal["published", "unchanged", "exists"]

log = logging.getLogger("planwatch.rollups")


@dataclass(frozen=True)
class RollupResult:
    plan_id: str
    period: str
    version: int
    # published: a new version; unchanged: same content as the latest; exists: scheduled, already there
    outcome: Outcome
    document: RollupDocument | None


def subject_of(period: str) -> str:
    return f"rollup-{period}"


class OutsidePlanYear(ValueError):
    """A month of another year than the plan's: its rollup would judge none of the plan's periods."""

    def __init__(self, period: str, year: int) -> None:
        super().__init__(f"{period} is not a month of the plan year {year}: give {year}-01 to {year}-12")
        self.year = year


class RollupConflict(Conflict):
    """Another rollup of the same month was written at the same moment; nothing was stored."""


async def _published(store: EventStore, plan_id: str, period: str) -> list[RollupPublished]:
    """The month's rollup versions as the log records them, oldest first."""
    events = [s.event for s in await store.subject_events(plan_id, subject_of(period))]
    return [e for e in events if isinstance(e, RollupPublished)]


async def load_document(
    redis: Redis, keys: Keyspace, plan_id: str, period: str, version: int | None = None
) -> RollupDocument | None:
    """A stored rollup document (the latest version if none is given), or None."""
    published = await _published(EventStore(redis, keys), plan_id, period)
    chosen = [e for e in published if version is None or e.version == version]
    return await _document(redis, keys, chosen[-1]) if chosen else None


async def _document(redis: Redis, keys: Keyspace, event: RollupPublished) -> RollupDocument | None:
    """The document a `rollup.published` event points at; None if it is gone or cannot be read
    (damaged: passed over, with a warning; writing the month again gives a new version)."""
    raw = await redis.get(keys.rollup_document(event.plan_id, event.period, event.version, event.content_hash))
    if not raw:
        return None
    try:
        return RollupDocument.model_validate_json(raw)
    except ValueError as exc:  # a ValidationError is one
        log.warning(
            "plan %s: rollup %s v%d cannot be read, passed over: %.200s",
            event.plan_id,
            event.period,
            event.version,
            exc,
        )
        return None


def _missed(document: RollupDocument) -> list[RollupRow]:
    """The main table's rows behind their target."""
    return [row for row in document.main if row.status in MISSED]


async def produce_rollup(
    redis: Redis, keys: Keyspace, plan_id: str, period: str, *, scheduled: bool = False
) -> RollupResult:
    """Write the rollup of `period` as known now (Redis' clock: the transaction time stream ids
    come from, so "as known at" means the same thing here and in time-travel queries).
    Scheduled: only if the month has none yet."""
    month = Period.parse(period)
    if month.kind != "month":
        raise ValueError(f"a rollup is for a month (YYYY-MM), not {period!r}")
    store = EventStore(redis, keys)
    published = await _published(store, plan_id, period)
    if published:
        await _finish(redis, keys, published[-1])  # a run that crashed after its append
    if scheduled and published:
        return RollupResult(plan_id, period, published[-1].version, "exists", None)
    # a re-run compares with this month's latest version; the first of the month (or a re-run
    # whose latest version cannot be read) with last month's report
    latest = await _document(redis, keys, published[-1]) if published else None
    previous = latest
    if latest is None:
        before = f"{month.year}-{month.last_month - 1:02d}" if month.last_month > 1 else None
        previous = await load_document(redis, keys, plan_id, before) if before else None
    since = previous.known_at if previous else None
    # the state as known now, and the alert changes since then, from the alerts' latest snapshot
    judged = await judge_now(redis, keys, plan_id, since)
    state, notices, now = judged.state, judged.notices, judged.known_at
    if state.plan is None:
        raise LookupError(f"plan {plan_id!r} has not been published")
    if month.year != state.plan.year:  # before anything is stored (the scheduler asks only these)
        raise OutsidePlanYear(period, state.plan.year)
    version = len(published) + 1
    document = build_rollup(state, period, now, notices, previous, version)
    document.sources = await rollup_sources(store, state, month.end)
    if latest is not None and published[-1].content_hash == document.content_hash:
        return RollupResult(plan_id, period, published[-1].version, "unchanged", previous)
    await redis.set(keys.rollup_document(plan_id, period, version, document.content_hash), document.model_dump_json())
    event = RollupPublished(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"planwatch/rollup/{plan_id}/{period}/{version}"),
        plan_id=plan_id,
        department=state.plan.office,
        subject=subject_of(period),
        period=period,
        occurred_at=now,
        version=version,
        content_hash=document.content_hash,
        as_of=month.end,
        known_at=now,
        missed=[row.id for row in _missed(document)],
    )
    try:
        await store.append([event], expected_version={event.subject: len(published)})
    except (VersionConflict, EventIdReused):
        raise RollupConflict(
            f"another rollup of {plan_id} {period} was written at the same moment; nothing stored, run again",
            "同一月份的报告正在同时生成，未保存，请重试",
        ) from None
    await _finish(redis, keys, event, document)
    metrics.ROLLUPS_WRITTEN.labels(plan_id).inc()
    return RollupResult(plan_id, period, version, "published", document)


async def rollup_sources(store: EventStore, state: PlanState, as_of: date) -> list[SourceEvent]:
    """The events behind every row the rollup prints, in the report's order, read in one round trip."""
    plan = state.plan
    assert plan is not None
    report = build_report(state, as_of)
    subjects = [row.indicator.id for row in report.rows()] + [p.id for p in report.portfolio.projects]
    by_subject = await traced(store, plan, state, report, subjects)
    return [source for subject in subjects for source in by_subject[subject]]


async def _finish(redis: Redis, keys: Keyspace, event: RollupPublished, document: RollupDocument | None = None) -> None:
    """List the version in the plan's rollup index and announce it, both at once and once: a
    concurrent finisher makes the WATCH fail, and then it is already done."""
    index = keys.rollups(event.plan_id)
    async with redis.pipeline(transaction=True) as pipe:
        try:
            await pipe.watch(index)
            if (stored_int(await pipe.hget(index, event.period)) or 0) >= event.version:
                return
            document = document or await _document(redis, keys, event)
            pipe.multi()
            pipe.hset(index, event.period, event.version)
            if document is not None:
                _announce(pipe, keys, document)
            await pipe.execute()
        except WatchError:
            return
    if document is not None:  # the fan-out reads the outboxes announced (a lost one: its sweep)
        await redis.publish(keys.outbox_written.of(event.plan_id), event.period)


def _announce(pipe: Pipeline, keys: Keyspace, document: RollupDocument) -> None:
    """Tell subscribers who asked for rollups, through the same outbox as alerts."""
    missed = [row.name for row in _missed(document)]
    off_track = len(document.off_track)
    notice = AlertNotice(
        type="rollup.published",
        fingerprint=f"{document.plan_id}:{ROLLUP_RULE}:{document.period}",
        plan_id=document.plan_id,
        plan_name=document.plan_name,
        rule=ROLLUP_RULE,
        rule_zh="月度执行报告",
        subject=subject_of(document.period),
        subject_name=document.title,
        department="",
        department_name="",
        severity="warning",
        severity_zh="月度报告",
        state="resolved",
        started_at=document.known_at,
        at=document.known_at,
        period=document.period,
        actual=f"第{document.version}版",
        deviation="、".join(missed) or None,
        summary_zh=f"{document.portfolio.line}。{document.missed_sentence}滞后事项{off_track}项。",
        values={"version": document.version, "content_hash": document.content_hash},
    )
    pipe.xadd(
        keys.outbox(document.plan_id),
        {"fingerprint": notice.fingerprint, "type": notice.type, "notice": notice.model_dump_json()},
        maxlen=100_000,
        approximate=True,
    )


class RollupListing(BaseModel):
    """One month's latest rollup, as listed."""

    period: str = Field(description="the month, e.g. 2025-06")
    version: int
    title: str
    known_at: str = Field(description="when it was written: the instant its figures are as known at")
    content_hash: str
    missed: list[str] = Field(description="main indicators behind their target")
    formats: dict[str, str] = Field(description="format → address of the rendered document")


async def list_rollups(redis: Redis, keys: Keyspace, plan_id: str) -> list[RollupListing]:
    """Every month with a rollup: the latest version, its hash and when it was written."""
    found = []
    for period, listed in sorted((await redis.hgetall(keys.rollups(plan_id))).items()):  # the index
        month, version = str(period), stored_int(listed)
        if version is None:
            log.warning("plan %s: the rollup index names %r for %s, not a version; passed over", plan_id, listed, month)
            continue
        document = await load_document(redis, keys, plan_id, month, version)
        if document is None:
            continue
        found.append(
            RollupListing(
                period=month,
                version=document.version,
                title=document.title,
                known_at=document.known_at.isoformat(),
                content_hash=document.content_hash,
                missed=[row.id for row in _missed(document)],
                formats={fmt: f"/v1/plans/{plan_id}/rollups/{month}.{fmt}" for fmt in FORMATS},
            )
        )
    return found


class RollupVersion(BaseModel):
    """One version of a month's rollup, as the log records it."""

    plan_id: str
    period: str
    version: int
    known_at: str = Field(description="when it was written: the instant its figures are as known at")
    content_hash: str
    missed: list[str] = Field(description="main indicators behind their target")


async def rollup_versions(redis: Redis, keys: Keyspace, plan_id: str) -> dict[str, list[RollupVersion]]:
    """Every month with a rollup → its versions, oldest first (from the log, one subject each)."""
    store = EventStore(redis, keys)
    months = sorted(str(period) for period in await redis.hkeys(keys.rollups(plan_id)))
    return {
        month: [
            RollupVersion(
                plan_id=plan_id,
                period=month,
                version=event.version,
                known_at=event.known_at.isoformat(),
                content_hash=event.content_hash,
                missed=list(event.missed),
            )
            for event in await _published(store, plan_id, month)
        ]
        for month in months
    }


@dataclass(frozen=True)
class RenderedRollup:
    content: bytes
    media_type: str
    filename: str  # e.g. rongchang-2025-2025-06-v2.xlsx
    attachment: bool  # a workbook or a Word document: saved, not shown in the browser


class Rollups:
    """The monthly rollups: write one now, list them, fetch one rendered."""

    def __init__(self, redis: Redis, keys: Keyspace) -> None:
        self.redis, self.keys = redis, keys

    async def produce(self, plan_id: str, period: str, *, scheduled: bool = False) -> RollupResult:
        try:
            return await produce_rollup(self.redis, self.keys, plan_id, period, scheduled=scheduled)
        except LookupError as exc:
            raise NotFound(str(exc), f"计划“{plan_id}”尚未发布") from None
        except OutsidePlanYear as exc:
            reason_zh = f"报告期须为计划年度{exc.year}年的月份"
            raise Invalid(str(exc), reason_zh, [FieldError("period", str(exc), reason_zh)]) from None
        except ValueError as exc:  # not a month
            raise Invalid(str(exc), "报告期须为月份（YYYY-MM）", [FieldError("period", str(exc), "须为月份")]) from None

    async def list(self, plan_id: str) -> list[RollupListing]:
        return await list_rollups(self.redis, self.keys, plan_id)

    async def versions(self, plan_id: str) -> dict[str, builtins.list[RollupVersion]]:
        """Every month's versions, oldest first (the list shows only the latest of each)."""
        return await rollup_versions(self.redis, self.keys, plan_id)

    async def rendered(self, plan_id: str, name: str, version: int | None = None) -> RenderedRollup:
        """A rollup by its file name (`2025-06.md`, `.html`, `.xlsx` or `.docx`; latest version by default)."""
        match = re.fullmatch(rf"(\d{{4}}-\d{{2}})\.({'|'.join(FORMATS)})", name)
        if not match:
            asked = ", ".join(f".{fmt}" for fmt in FORMATS)
            raise NotFound(f"no rollup {name!r}: ask for 2025-06 with one of {asked}", "报告地址有误")
        period, fmt = match.groups()
        document = await load_document(self.redis, self.keys, plan_id, period, version)
        if document is None:
            raise NotFound(
                f"plan {plan_id} has no rollup for {period}" + (f" v{version}" if version else ""), "该月报告不存在"
            )
        return RenderedRollup(
            render_rollup(document, fmt),
            RENDERERS[fmt][1],
            f"{plan_id}-{period}-v{document.version}.{fmt}",
            attachment=fmt in FILE_FORMATS,
        )
