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
first it verifies everything (checksum, digests, every event decodes, a plan.published among them,
positions are stream ids XADD takes and increase, event ids unique) and refuses a partial or
tampered file before writing anything; then it writes the entries at their ORIGINAL positions (so
what was known at any instant stays the same), a page per atomic call, into a plan that has no
events. An interrupted restore of the same file resumes; one whose write the server refused takes
back what it wrote (the plan id is free again). The plan is listed for the workers only once its
projections are rebuilt: a live projection would tell subscribers about every past alert again, a
rebuild tells no one.

`--as PLAN` restores under another plan id: the events are written again with the new id (their
ids kept) and the rollup documents with it (their content hashes recomputed); positions are kept.
Tokens and subscriptions are the installation's, not the plan's, and are not part of an export.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import TypeAdapter, ValidationError
from redis.exceptions import RedisError, ResponseError

from events.codec import decode_payload, decode_stored, encode
from events.errors import FieldError
from events.ids import PlanId
from events.models import Event, PlanPublished, RollupPublished
from events.plan import Plan
from projections.rollup import RollupDocument
from services.app.errors import Conflict, Invalid, NotFound, StoreDamaged, Unavailable
from services.app.files import open_regular, said
from services.store import EventStore, PlanNotEmpty, RawEntry, Restored, digest_of

FORMAT_VERSION = 1
PAGE = 1000  # entries per atomic restore call
# bytes of one line of an export, its newline included. The largest are a plan.published event (a
# plan: the API takes 2 MB of JSON, which the line's string escapes) and a rollup document (141 KB for
# the seed plan's 33 KB): both far below this, which is what an xlsx may unpack to
# (services/spreadsheet MAX_UNPACKED), the most planwatch holds of one part of a file
MAX_LINE = 64 * 1024 * 1024
_POSITION = re.compile(r"(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,19})")  # as Redis writes stream ids
_MAX_PART = 2**64 - 1  # each part of a stream id is a 64-bit unsigned number
_AFTER_2100_MS = 4_133_980_800_000  # 2101-01-01T00:00Z: no date planwatch takes is later (docs/input-bounds.md)

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
        log_key = store.keys.events(plan_id)
        found = str(await store.redis.type(log_key))  # the client reads replies as text
        if found not in ("none", "stream"):  # read as empty, but it is the log damaged: say so
            raise StoreDamaged.of(log_key, found, "stream", ("the plan cannot be exported", "无法导出该计划"))
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
    """The file's lines, numbered, each read up to MAX_LINE bytes: a path that is not a regular file
    (/dev/zero, a pipe) is refused before a byte is read, a line longer than that at the bound."""
    try:
        with open_regular(path) as handle:
            for number in itertools.count(1):
                raw = handle.readline(MAX_LINE + 1)
                if not raw:
                    return
                if len(raw) > MAX_LINE:
                    raise _bad(f"the line is longer than {MAX_LINE:,} bytes", f"该行超过{MAX_LINE:,}字节", number)
                yield number, raw
    except OSError as exc:
        raise _bad(said(exc, path), f"{path}：{getattr(exc, 'reason_zh', '文件无法读取')}") from None


def verify_export(path: Path) -> _Checked:
    """Check a whole export before anything is written; raise Invalid naming the first problem."""
    verifier = _Verifier()
    for number, raw in _lines(path):
        verifier.line(number, raw)
    return verifier.result()


@dataclass
class _Verifier:
    """The verifying pass, a line at a time."""

    sha: Any = field(default_factory=hashlib.sha256)
    header: dict[str, Any] | None = None
    trailer: dict[str, Any] | None = None
    events: int = 0
    documents: int = 0
    published: bool = False  # a restored plan without a plan.published event could not be read
    last: tuple[int, int] | None = None
    seen_ids: set[str] = field(default_factory=set)

    def line(self, number: int, raw: bytes) -> None:
        if self.trailer is not None:
            raise _bad("there are lines after the checksum line", "校验行之后还有内容", number)
        record = _record(raw, number)
        if "checksum" in record:
            self.trailer = record
            return
        self.sha.update(raw)
        if self.header is None:
            self.header = _header(record, number)
        elif "document" in record:
            _check_document(record, number)
            self.documents += 1
        else:
            self.last, event = _check_entry(record, number, self.last, self.seen_ids, self.header["plan_id"])
            self.published |= isinstance(event, PlanPublished)
            self.events += 1

    def result(self) -> _Checked:
        if self.header is None:
            raise _bad("the file is empty", "文件为空")
        if self.trailer is None:
            raise _bad("the checksum line is missing: the file is incomplete", "缺少校验行，文件不完整")
        checksum = f"sha256:{self.sha.hexdigest()}"
        if self.trailer.get("checksum") != checksum:
            raise _bad(
                "the checksum does not match the content: the file was changed", "校验值与内容不符，文件已被修改"
            )
        if not (
            _is_count(self.trailer.get("events"), self.events)
            and _is_count(self.trailer.get("documents"), self.documents)
        ):
            raise _bad("the counts in the checksum line do not match the file", "校验行中的数量与文件不符")
        if not self.events:
            raise _bad("the file has no events", "文件中没有事件")
        if not self.published:
            raise _bad(
                "the file has no plan.published event: the plan could not be read",
                "文件中没有计划发布事件（plan.published），恢复后无法读取计划",
            )
        return _Checked(self.header["plan_id"], self.events, self.documents, checksum)


def _is_count(value: Any, count: int) -> bool:
    return type(value) is int and value == count  # not True for 1, nor 1.0


def _record(raw: bytes, number: int) -> dict[str, Any]:
    if not raw.endswith(b"\n"):
        raise _bad("the line is cut short: the file is incomplete", "该行不完整，文件不完整", number)
    try:
        record = json.loads(raw)
    except ValueError:
        raise _bad("not a JSON line", "不是有效的JSON行", number) from None
    except RecursionError:  # [[[[… a hundred thousand deep: no export line nests more than a few levels
        raise _bad("not a JSON line (nested too deeply)", "不是有效的JSON行（嵌套过深）", number) from None
    if not isinstance(record, dict):
        raise _bad("not a JSON object", "不是JSON对象", number)
    for name, value in record.items():  # "\ud800" decodes to a lone surrogate, which UTF-8 cannot hold
        if isinstance(value, str) and not _is_text(value):
            raise _bad(f"{name!r} holds a lone surrogate: not text", f"“{name}”含有孤立代理字符，不是有效文本", number)
    return record


def _is_text(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _header(record: dict[str, Any], number: int) -> dict[str, Any]:
    if not _is_count(record.get("planwatch_export"), FORMAT_VERSION):  # `true` == 1 in Python
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
) -> tuple[tuple[int, int], Event]:
    position, etype, data = record.get("position"), record.get("type"), record.get("data")
    if not (isinstance(position, str) and isinstance(etype, str) and isinstance(data, str)):
        raise _bad("an event line needs position, type and data", "事件行需包含 position、type 和 data", number)
    key = _position(position, number)
    if last is not None and key <= last:
        raise _bad("positions must increase", "事件位置必须递增", number)
    if record.get("digest") != digest_of(data.encode()):
        raise _bad("the event's digest does not match its data", "事件摘要与数据不符", number)
    event = _event(data, number)
    if event.type != etype or event.plan_id != plan_id:
        raise _bad("the event's type or plan does not match the line", "事件类型或计划与该行不符", number)
    event_id = str(event.event_id)
    if event_id in seen_ids:
        raise _bad(f"event_id {event_id} appears twice", "事件编号重复", number)
    seen_ids.add(event_id)
    return key, event


def _position(position: str, number: int) -> tuple[int, int]:
    """A stream id XADD takes as it is written: `ms-seq` without leading zeros, each part within
    Redis' 64-bit unsigned range, above 0-0 — checked here, or XADD would fail halfway."""
    match = _POSITION.fullmatch(position)
    key = (int(match[1]), int(match[2])) if match else (0, 0)
    if key == (0, 0) or max(key) > _MAX_PART:
        raise _bad(
            f"{position[:50]!r} is not a stream position (ms-seq above 0-0, each part at most 2^64-1)",
            "位置格式无效（应为大于0-0的 毫秒-序号，每部分不超过2^64-1）",
            number,
        )
    if key[0] >= _AFTER_2100_MS:  # a rebuild reads the ms as an instant: year 287396 is none
        raise _bad(f"{position[:50]!r} is after the year 2100", "位置对应的时间晚于2100年", number)
    return key


def _event(data: str, number: int) -> Event:
    try:
        return decode_payload(data)
    except ValidationError as exc:
        raise _bad(f"the event does not decode: {exc.errors()[0]['msg']}", "事件无法解析", number) from None
    except RecursionError:  # the upcasting path parses `data` with json.loads
        raise _bad(
            "the event's data is not JSON (nested too deeply)", "事件数据不是有效的JSON（嵌套过深）", number
        ) from None
    except ValueError as exc:  # what an upcaster may raise of data it cannot read
        raise _bad(f"the event does not decode: {exc}", "事件无法解析", number) from None


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
    await _claim(store, target, checked.checksum)
    written = await _write_or_take_back(store, path, checked, target, progress)
    rebuilt = await rebuild(target)  # fails? the log stays whole: the same file run again rebuilds
    await store.register(target)
    await store.redis.delete(store.keys.restoring(target))
    return RestoreSummary(
        checked.plan_id, target, checked.events, checked.documents, written, checked.checksum, rebuilt
    )


async def _claim(store: EventStore, target: str, checksum: str) -> None:
    """Mark the plan as this file's (a page of no entries: only the check), before anything is
    written: not even a rollup document goes into a plan that has events."""
    try:
        await store.restore(target, checksum, [])
    except PlanNotEmpty:
        raise _not_empty(target) from None
    except ResponseError as exc:  # out of memory, a read-only replica: nothing was written
        raise _refused(exc, taken_back=True) from None


def _not_empty(target: str) -> Conflict:
    return Conflict(
        f"plan {target!r} already has events: restore into an empty plan (or use --as)",
        f"计划“{target}”已有数据，只能恢复到空计划（或使用 --as 指定新的计划编号）",
    )


async def _write_or_take_back(
    store: EventStore, path: Path, checked: _Checked, target: str, progress: Progress | None
) -> int:
    """Write the documents and events; if that fails (the server refuses a write), take back what
    the file put there, so that the plan id is free again — for this file or another one."""
    stored: list[str] = []  # the rollup documents' keys written
    try:
        written = await _write(store, path, checked, target, progress, stored)
        await _index_rollups(store, target)
        return written
    except Exception as exc:  # not an interruption (Ctrl-C, a kill): that keeps what was written, to resume
        taken_back = await _take_back(store, target, checked.checksum, [*stored, store.keys.rollups(target)])
        if isinstance(exc, ResponseError):
            raise _refused(exc, taken_back) from None
        raise


async def _write(
    store: EventStore, path: Path, checked: _Checked, target: str, progress: Progress | None, stored: list[str]
) -> int:
    written = done = 0
    async for page in _pages(path, _Renamer(checked.plan_id, target)):
        stored.extend(await _store_documents(store, target, page.documents))
        try:
            written += await store.restore(target, checked.checksum, page.entries)
        except PlanNotEmpty:
            raise _not_empty(target) from None
        done += len(page.entries)
        if progress is not None:
            maybe = progress(done, checked.events)
            if maybe is not None:
                await maybe
    return written


async def _take_back(store: EventStore, target: str, checksum: str, also: list[str]) -> bool:
    """Delete what a restore of this file wrote (only while the plan is still marked as its)."""
    try:
        return await store.discard_restore(target, checksum, also)
    except RedisError:  # the server is gone too: what was written stays, and the same file resumes it
        return False


def _refused(exc: ResponseError, taken_back: bool) -> Unavailable:
    then, then_zh = (
        ("what it had written was taken back", "已写入的内容已撤回")
        if taken_back
        else ("run the same file again to resume", "可再次运行同一文件以继续恢复")
    )
    return Unavailable(
        f"the server refused a write during the restore ({str(exc)[:200]}): {then}",
        f"恢复过程中服务器拒绝写入（{str(exc)[:200]}）：{then_zh}",
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


async def _store_documents(store: EventStore, plan_id: str, documents: list[tuple[str, str]]) -> list[str]:
    """Rollup documents before the events that point at them (as the rollup writer stores them);
    returns their keys."""
    keys = []
    for text in (text for _, text in documents):
        document = RollupDocument.model_validate_json(text)
        key = store.keys.rollup_document(plan_id, document.period, document.version, document.content_hash)
        await store.redis.set(key, text)
        keys.append(key)
    return keys


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
