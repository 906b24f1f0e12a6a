"""Backup and restore of one plan: its log written out verbatim, loaded into an empty plan on any
server (embedded, standalone, Cluster), its read models rebuilt.

The export is JSON Lines:

    {"planwatch_export": 1, "plan_id": "rongchang-2025", "exported_at": "…", "head": "<last position>"}
    {"document": "rollup:2025-06:v1:<hash>", "json": "<the rollup document>"}       (before its event)
    {"position": "1751938215123-0", "type": "indicator.updated", "data": "<stored JSON>", "digest": "…"}
    …
    {"checksum": "sha256:<hex>", "events": 1234, "documents": 6}

`data` is the stream entry's field as stored, byte for byte, and `digest` its blake2b digest as the
dedup index keeps it; the checksum line covers every byte before it. A restore reads the file twice:
first it verifies everything (checksum, digests, every event decodes, positions increase, event ids
unique) and refuses a partial or tampered file before writing anything; then it writes the entries
at their ORIGINAL positions (so what was known at any instant stays the same), a page per atomic
call, into a plan that has no events. An interrupted restore of the same file resumes. The plan is
listed for the workers only once its projections are rebuilt: a live projection would tell
subscribers about every past alert again, a rebuild tells no one.

`--as PLAN` restores under another plan id: the events are written again with the new id (their
ids kept) and the rollup documents with it (their content hashes recomputed); positions are kept.
Tokens and subscriptions are the installation's, not the plan's, and are not part of an export.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import TypeAdapter, ValidationError

from events.codec import decode_payload, decode_stored, encode
from events.errors import FieldError
from events.ids import PlanId
from events.models import Event, PlanPublished, RollupPublished
from events.plan import Plan
from events.positions import position_key
from projections.rollup import RollupDocument
from services.app.errors import Conflict, Invalid, NotFound
from services.store import EventStore, PlanNotEmpty, RawEntry, Restored, digest_of

FORMAT_VERSION = 1
PAGE = 1000  # entries per atomic restore call
_POSITION = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")

Progress = Callable[[int, int], Awaitable[None] | None]


@dataclass
class ExportSummary:
    plan_id: str
    events: int = 0
    documents: int = 0
    head: str | None = None
    checksum: str = ""


class _Digesting:
    """Writes lines and keeps the SHA-256 of everything written."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.sha = out, hashlib.sha256()

    def line(self, record: dict[str, Any]) -> None:
        raw = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        self.sha.update(raw)
        self.out.write(raw)


async def export_plan(store: EventStore, plan_id: str, out: IO[bytes]) -> ExportSummary:
    """Write the plan's log (up to its last event when the export starts) and its rollup documents."""
    head = await store.head(plan_id)
    if head is None:
        raise NotFound(f"plan {plan_id!r} has no events", f"计划“{plan_id}”没有事件")
    summary = ExportSummary(plan_id, head=head)
    writer = _Digesting(out)
    writer.line({"planwatch_export": FORMAT_VERSION, "plan_id": plan_id, "exported_at": _now(), "head": head})
    async for entry in store.raw_entries(plan_id, until=head):
        if entry.type == "rollup.published":
            document = await _rollup_document(store, entry)
            if document is not None:
                writer.line({"document": document[0], "json": document[1]})
                summary.documents += 1
        writer.line({"position": entry.position, "type": entry.type, "data": entry.data, "digest": _digest(entry)})
        summary.events += 1
    summary.checksum = f"sha256:{writer.sha.hexdigest()}"
    out.write(_trailer(summary))
    return summary


def _trailer(summary: ExportSummary) -> bytes:
    record = {"checksum": summary.checksum, "events": summary.events, "documents": summary.documents}
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def _digest(entry: RawEntry) -> str:
    return digest_of(entry.data.encode())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def _rollup_document(store: EventStore, entry: RawEntry) -> tuple[str, str] | None:
    """The document a `rollup.published` entry names, if it can be read and was kept. An entry of
    that type that holds no rollup (written by hand, or damaged) is exported as it is, alone."""
    event = decode_stored(entry.data)
    if not isinstance(event, RollupPublished):
        return None
    name = _document_name(event.period, event.version, event.content_hash)
    raw = await store.redis.get(
        store.keys.rollup_document(event.plan_id, event.period, event.version, event.content_hash)
    )
    return (name, raw if isinstance(raw, str) else raw.decode()) if raw else None


def _document_name(period: str, version: int, content_hash: str) -> str:
    return f"rollup:{period}:v{version}:{content_hash}"


# --- restoring -----------------------------------------------------------------------------------


@dataclass
class RestoreSummary:
    source_plan: str
    plan_id: str
    events: int
    documents: int
    written: int  # entries new in this run (fewer than `events` when an interrupted restore resumed)
    checksum: str
    rebuilt: list[Any] = field(default_factory=list)  # services.projection.RebuildResult, one per projection


@dataclass
class _Checked:
    """What the verifying pass learnt of a file."""

    plan_id: str
    events: int
    documents: int
    checksum: str


def _bad(reason: str, reason_zh: str, line: int | None = None) -> Invalid:
    where = f"line {line}" if line is not None else "file"
    return Invalid(
        f"the export file is not usable: {where}: {reason}; nothing was restored",
        f"备份文件不可用（{'第' + str(line) + '行' if line is not None else '文件'}）：{reason_zh}，未恢复任何数据",
        [FieldError(where, reason, reason_zh)],
    )


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        yield from enumerate(handle, start=1)


def verify_export(path: Path) -> _Checked:
    """Check a whole export before anything is written; raise Invalid naming the first problem."""
    sha = hashlib.sha256()
    header: dict[str, Any] | None = None
    trailer: dict[str, Any] | None = None
    events = documents = 0
    last: tuple[int, int] | None = None
    seen_ids: set[str] = set()
    for number, raw in _lines(path):
        if trailer is not None:
            raise _bad("there are lines after the checksum line", "校验行之后还有内容", number)
        record = _record(raw, number)
        if "checksum" in record:
            trailer = record
            continue
        sha.update(raw)
        if header is None:
            header = _header(record, number)
        elif "document" in record:
            _check_document(record, number)
            documents += 1
        else:
            last = _check_entry(record, number, last, seen_ids, header["plan_id"])
            events += 1
    if header is None:
        raise _bad("the file is empty", "文件为空")
    if trailer is None:
        raise _bad("the checksum line is missing: the file is incomplete", "缺少校验行，文件不完整")
    checksum = f"sha256:{sha.hexdigest()}"
    if trailer.get("checksum") != checksum:
        raise _bad("the checksum does not match the content: the file was changed", "校验值与内容不符，文件已被修改")
    if trailer.get("events") != events or trailer.get("documents") != documents:
        raise _bad("the counts in the checksum line do not match the file", "校验行中的数量与文件不符")
    return _Checked(header["plan_id"], events, documents, checksum)


def _record(raw: bytes, number: int) -> dict[str, Any]:
    if not raw.endswith(b"\n"):
        raise _bad("the line is cut short: the file is incomplete", "该行不完整，文件不完整", number)
    try:
        record = json.loads(raw)
    except ValueError:
        raise _bad("not a JSON line", "不是有效的JSON行", number) from None
    if not isinstance(record, dict):
        raise _bad("not a JSON object", "不是JSON对象", number)
    return record


def _header(record: dict[str, Any], number: int) -> dict[str, Any]:
    if record.get("planwatch_export") != FORMAT_VERSION:
        raise _bad("not a planwatch export (version 1)", "不是planwatch备份文件（第1版）", number)
    _plan_id(record.get("plan_id"), number)
    return record


def _plan_id(value: Any, number: int | None = None) -> str:
    try:
        return TypeAdapter(PlanId).validate_python(value)
    except ValidationError:
        raise _bad(f"{value!r} is not a plan id", "计划编号无效", number) from None


def _check_document(record: dict[str, Any], number: int) -> None:
    name, text = record.get("document"), record.get("json")
    if not isinstance(name, str) or not name.startswith("rollup:") or not isinstance(text, str):
        raise _bad("a document line needs a rollup name and its JSON", "文档行需包含报告名称和内容", number)
    try:
        document = RollupDocument.model_validate_json(text)
    except ValidationError as exc:
        raise _bad(f"the rollup document does not load: {exc.errors()[0]['msg']}", "月度报告内容无效", number) from None
    if name != _document_name(document.period, document.version, document.content_hash):
        raise _bad("the document's name does not match its content", "文档名称与内容不符", number)


def _check_entry(
    record: dict[str, Any], number: int, last: tuple[int, int] | None, seen_ids: set[str], plan_id: str
) -> tuple[int, int]:
    position, etype, data = record.get("position"), record.get("type"), record.get("data")
    if not (isinstance(position, str) and isinstance(etype, str) and isinstance(data, str)):
        raise _bad("an event line needs position, type and data", "事件行需包含 position、type 和 data", number)
    if not _POSITION.match(position):
        raise _bad(f"{position!r} is not a stream position", "位置格式无效", number)
    key = position_key(position)
    if last is not None and key <= last:
        raise _bad("positions must increase", "事件位置必须递增", number)
    if record.get("digest") != digest_of(data.encode()):
        raise _bad("the event's digest does not match its data", "事件摘要与数据不符", number)
    try:
        event = decode_payload(data)
    except ValidationError as exc:
        raise _bad(f"the event does not decode: {exc.errors()[0]['msg']}", "事件无法解析", number) from None
    if event.type != etype or event.plan_id != plan_id:
        raise _bad("the event's type or plan does not match the line", "事件类型或计划与该行不符", number)
    event_id = str(event.event_id)
    if event_id in seen_ids:
        raise _bad(f"event_id {event_id} appears twice", "事件编号重复", number)
    seen_ids.add(event_id)
    return key


async def restore_plan(
    store: EventStore,
    path: Path,
    as_plan: str | None,
    rebuild: Callable[[str], Awaitable[list[Any]]],
    progress: Progress | None = None,
) -> RestoreSummary:
    """Verify the file, write it into an empty plan at its original positions, rebuild the plan's
    projections (`rebuild(plan_id)`), then list the plan for the workers."""
    checked = verify_export(path)
    target = _plan_id(as_plan) if as_plan else checked.plan_id
    written = 0
    done = 0
    renamer = _Renamer(checked.plan_id, target)
    async for page in _pages(path, renamer):
        await _store_documents(store, target, page.documents)
        try:
            written += await store.restore(target, checked.checksum, page.entries)
        except PlanNotEmpty:
            raise Conflict(
                f"plan {target!r} already has events: restore into an empty plan (or use --as)",
                f"计划“{target}”已有数据，只能恢复到空计划（或使用 --as 指定新的计划编号）",
            ) from None
        done += len(page.entries)
        if progress is not None:
            maybe = progress(done, checked.events)
            if maybe is not None:
                await maybe
    if not checked.events:
        raise _bad("the file has no events", "文件中没有事件")
    await _index_rollups(store, target)
    rebuilt = await rebuild(target)
    await store.register(target)
    await store.redis.delete(store.keys.restoring(target))
    return RestoreSummary(
        checked.plan_id, target, checked.events, checked.documents, written, checked.checksum, rebuilt
    )


@dataclass
class _Page:
    entries: list[Restored] = field(default_factory=list)
    documents: list[tuple[str, str]] = field(default_factory=list)


async def _pages(path: Path, renamer: _Renamer) -> AsyncIterator[_Page]:
    """The verified file again, a page of entries at a time (with the documents before them)."""
    page = _Page()
    for number, raw in _lines(path):
        record = json.loads(raw)
        if number == 1 or "checksum" in record:
            continue
        if "document" in record:
            page.documents.append(renamer.document(record["json"]))
            continue
        page.entries.append(renamer.entry(RawEntry(record["position"], record["type"], record["data"])))
        if len(page.entries) >= PAGE:
            yield page
            page = _Page()
    if page.entries or page.documents:
        yield page


async def _store_documents(store: EventStore, plan_id: str, documents: list[tuple[str, str]]) -> None:
    """Rollup documents before the events that point at them (as the rollup writer stores them)."""
    for text in (text for _, text in documents):
        document = RollupDocument.model_validate_json(text)
        key = store.keys.rollup_document(plan_id, document.period, document.version, document.content_hash)
        await store.redis.set(key, text)


async def _index_rollups(store: EventStore, plan_id: str) -> None:
    """The plan's rollup index (month → latest version), from the restored log."""
    latest: dict[str, int] = {}
    async for entry in store.raw_entries(plan_id, until="+"):
        if entry.type == "rollup.published":
            event = decode_payload(entry.data)
            assert isinstance(event, RollupPublished)
            latest[event.period] = max(latest.get(event.period, 0), event.version)
    if latest:
        await store.redis.hset(store.keys.rollups(plan_id), mapping=latest)  # type: ignore[arg-type]


class _Renamer:
    """Entries and documents as they are restored: verbatim under the plan's own id; under another
    id (`--as`), written again with it (event ids and positions kept, rollup hashes recomputed)."""

    def __init__(self, source: str, target: str) -> None:
        self.source, self.target = source, target
        self.hashes: dict[str, str] = {}  # a rollup document's content hash → its hash under the new id

    def entry(self, entry: RawEntry) -> Restored:
        event = decode_payload(entry.data)
        if self.source != self.target:
            event = self._renamed(event)
            entry = RawEntry(entry.position, entry.type, encode(event).decode())
        return Restored(entry, str(event.event_id), event.subject)

    def _renamed(self, event: Event) -> Event:
        changes: dict[str, Any] = {"plan_id": self.target}
        if isinstance(event, PlanPublished):
            plan = Plan.model_validate({**event.plan.model_dump(mode="json"), "id": self.target})
            changes |= {"plan": plan, "subject": self.target}
        if isinstance(event, RollupPublished):
            changes["content_hash"] = self.hashes.get(event.content_hash, event.content_hash)
        return type(event).model_validate({**event.model_dump(mode="json"), **_jsonable(changes)})

    def document(self, text: str) -> tuple[str, str]:
        if self.source == self.target:
            document = RollupDocument.model_validate_json(text)
            return _document_name(document.period, document.version, document.content_hash), text
        document = RollupDocument.model_validate_json(text)
        old = document.content_hash
        document.plan_id = self.target
        document.content_hash = document.hash_content()
        self.hashes[old] = document.content_hash
        name = _document_name(document.period, document.version, document.content_hash)
        return name, document.model_dump_json()


def _jsonable(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: v.model_dump(mode="json") if isinstance(v, Plan) else v for k, v in changes.items()}
