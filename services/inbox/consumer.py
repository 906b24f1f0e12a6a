"""The departments' inbox: a Redis stream their systems XADD to with plain fields.

    redis-cli XADD pw:inbox '*' token pwt_… event_id 0b6e…-uuid plan_id rongchang-2025 \\
        type indicator.updated subject gdp period 2025-06 occurred_at 2025-07-15T10:00:00+08:00 value 5.5

Fields are the event's own (see `InboxMessage`); nested values (`target` of target.revised,
`project` of project.registered) are JSON text; alternatively a single `json` field carries the
whole event. A FastStream consumer group (`ingest`) validates and authorises each message
exactly like the HTTP API (`App.ingest.submit`), appends it, then acks and deletes it from
the inbox in one MULTI (it carries a token). A refused message goes to `pw:inbox:rejects` with the reason
and its fields (token redacted to its id). A consumer that dies between read and ack leaves
the message pending; a reclaimer on the same group claims it after `reclaim_idle_ms` and
processes it again — harmless, since `event_id` makes the append idempotent — and gives up
(to the rejects stream) after `max_deliveries`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from faststream import FastStream
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.redis import RedisBroker, RedisStreamMessage, StreamSub
from faststream.specification import AsyncAPI
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from events.errors import FieldError
from services.app import Accepted, App, AppError, Invalid, intake, strict_json
from services.observability import metrics, plan_context, redact
from services.store import Keyspace, TokenStore

log = logging.getLogger("planwatch.inbox")

GROUP = "ingest"
NESTED = ("target", "project")  # fields whose value is JSON text


class InboxMessage(BaseModel):
    """One inbox entry. Every field is a plain string, as `redis-cli XADD` writes it."""

    model_config = ConfigDict(extra="allow")

    token: str | None = Field(None, description="the department's API token, pwt_…")
    event_id: str | None = Field(None, description="a UUID chosen by the sender; a retry is stored once")
    plan_id: str | None = Field(None, description="e.g. rongchang-2025")
    type: str | None = Field(
        None,
        description="indicator.updated | project.started | investment.completed | project.completed | "
        "target.revised | project.registered",
    )
    subject: str | None = Field(None, description="indicator or project id, e.g. gdp, kp-001")
    period: str | None = Field(None, description="2025-06, 2025-Q2, 2025-H1 or 2025")
    occurred_at: str | None = Field(None, description="ISO 8601 with zone, e.g. 2025-07-15T10:00:00+08:00")
    value: str | None = Field(None, description="indicator.updated: cumulative value, e.g. 5.5")
    qualifier: str | None = Field(None, description="indicator.updated: exact | at_most | at_least")
    assessment: str | None = Field(None, description="indicator.updated, qualitative targets: met | not_met")
    note: str | None = None
    started_on: str | None = Field(None, description="project.started: YYYY-MM-DD")
    amount_wan: str | None = Field(None, description="investment.completed: 万元 completed in the period")
    completed_on: str | None = Field(None, description="project.completed: YYYY-MM-DD")
    target: str | None = Field(
        None, description='target.revised: the new target, as the report words it (6%左右) or as JSON {"form": …}'
    )
    reason: str | None = Field(None, description="target.revised: why, e.g. the 人大 decision")
    project: str | None = Field(None, description="project.registered: the project as JSON {id, name, department, …}")
    json_event: str | None = Field(None, alias="json", description="instead of the fields above: the event as JSON")


class Inbox:
    """The inbox consumer: call `attach(broker)` when building the app, `open(...)` at startup."""

    def __init__(self, keys: Keyspace, consumer: str, *, reclaim_idle_ms: int = 30_000, max_deliveries: int = 5):
        self.keys, self.consumer = keys, consumer
        self.reclaim_idle_ms, self.max_deliveries = reclaim_idle_ms, max_deliveries
        self.app: App | None = None

    async def open(self, redis: Redis) -> None:
        """Before the subscribers start: the application, and the consumer group created at the start
        of the stream (FastStream would create it at `$`, missing what was sent before)."""
        self.app = App(redis, self.keys)
        try:
            await redis.xgroup_create(self.keys.inbox, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @property
    def _app(self) -> App:
        assert self.app is not None, "Inbox.open() was not called"
        return self.app

    def attach(self, broker: RedisBroker) -> None:
        inbox = self

        @broker.subscriber(
            stream=StreamSub(self.keys.inbox, group=GROUP, consumer=self.consumer, polling_interval=100),
            parser=entry_only,
            decoder=entry_fields,
            ack_policy=AckPolicy.MANUAL,
            title="inbox",
            description="Departments' progress events; validated and authorised like POST /v1/plans/{plan}/events.",
        )
        async def receive(body: InboxMessage, msg: RedisStreamMessage) -> None:
            await inbox.handle(body, msg)

        @broker.subscriber(
            stream=StreamSub(
                self.keys.inbox, group=GROUP, consumer=f"{self.consumer}-reclaimer", min_idle_time=self.reclaim_idle_ms
            ),
            parser=entry_only,
            decoder=entry_fields,
            ack_policy=AckPolicy.MANUAL,
            title="inbox-reclaimer",
            description="Claims inbox messages left pending by a consumer that died, and processes them again.",
        )
        async def reclaim(body: InboxMessage, msg: RedisStreamMessage) -> None:
            deliveries = await msg.get_delivery_count()
            if deliveries > inbox.max_deliveries:
                await inbox.reject(
                    msg,
                    body,
                    Invalid(
                        f"could not be processed in {deliveries - 1} deliveries",
                        f"多次处理失败（{deliveries - 1}次）",
                    ),
                )
                return
            await inbox.handle(body, msg)

    async def handle(self, body: InboxMessage, msg: RedisStreamMessage) -> None:
        """Append the message's event, or reject it; then ack. A failure to reach Redis raises,
        leaving the message pending for the reclaimer."""
        with plan_context(body.plan_id):
            try:
                with intake("inbox"):
                    _refuse_bytes(msg)
                    accepted = await self._submit(body)
            except AppError as exc:
                await self.reject(msg, body, exc, counted=True)
                return
            log.info("inbox %s: %s %s stored=%s", _inbox_id(msg), body.type, body.subject, accepted.stored)
            await self._done(msg)

    async def _submit(self, body: InboxMessage) -> Accepted:
        ingest = self._app.ingest
        caller = await ingest.authenticate(body.token or "")
        payload = to_payload(body)
        plan_id = payload.get("plan_id")
        if not isinstance(plan_id, str) or not plan_id:
            raise Invalid(
                "plan_id is missing", "缺少计划编号", [FieldError("plan_id", "Field required", "缺少必填字段")]
            )
        return await ingest.submit(caller, plan_id, [payload])

    async def reject(self, msg: RedisStreamMessage, body: InboxMessage, exc: AppError, counted: bool = False) -> None:
        """Set the message aside in the rejects stream with the reason (counted in the metrics unless
        `intake` did already), then ack it."""
        if not counted:
            metrics.EVENTS_REFUSED.labels("inbox", exc.code).inc()
        original = body.model_dump(by_alias=True, exclude_none=True)
        if "token" in original:
            original["token"] = f"pwt_{TokenStore.id_of(original['token']) or '?'}_(redacted)"
        # a token sent in another field (or echoed by a reason quoting the input) is kept by its id only
        await self._app.redis.xadd(
            self.keys.inbox_rejects,
            {
                "inbox_id": _inbox_id(msg),
                "error": exc.code,
                "message": redact(exc.message),
                "message_zh": redact(exc.message_zh),
                "errors": redact(json.dumps([e.as_dict() for e in exc.errors], ensure_ascii=False)),
                "fields": redact(json.dumps(original, ensure_ascii=False)),
            },
            maxlen=100_000,
            approximate=True,
        )
        log.warning("inbox %s rejected: %s", _inbox_id(msg), redact(exc.message))
        await self._done(msg)

    async def _done(self, msg: RedisStreamMessage) -> None:
        """Ack and delete in one MULTI: a crash between the two would leave an acknowledged entry in
        the inbox that nobody reads again (and it carries a token: keep it no longer)."""
        entry = _inbox_id(msg)
        async with self._app.redis.pipeline(transaction=True) as tx:
            tx.xack(self.keys.inbox, GROUP, entry)
            tx.xdel(self.keys.inbox, entry)
            await tx.execute()


async def entry_only(
    message: Mapping[str, Any], original: Callable[[Mapping[str, Any]], Awaitable[StreamMessage[Any]]]
) -> StreamMessage[Any]:
    """FastStream's message for the entry, made as for an entry without fields. Its own parsing
    reads a `__data__` field as its envelope and writes the other fields as JSON; it fails on
    bytes that are not UTF-8, or on an envelope of another shape, before any handler runs — for
    the reclaimer too, so such an entry stayed pending for ever. The handler reads the fields as
    they were written (`entry_fields`) and rejects with a reason what they do not make."""
    parsed = await original({**message, "data": {}})
    parsed.raw_message = message
    return parsed


def entry_fields(msg: RedisStreamMessage) -> dict[str, str]:
    """The entry's fields exactly as XADD wrote them, every one a string — so an InboxMessage can
    always be made of them. FastStream's own decoding takes a `__data__` field for its envelope,
    and a body it cannot turn into an InboxMessage fails before the handler: the entry would stay
    pending for ever instead of being rejected with a reason."""
    return {_text(name): _text(value) for name, value in msg.raw_message["data"].items()}


def _refuse_bytes(msg: RedisStreamMessage) -> None:
    """Refuse an entry with a field (name or value) that is not UTF-8 text, naming it: read with
    replacement characters it would be stored as something the sender never wrote."""
    fields = msg.raw_message["data"].items()
    bad = [_text(name) for name, value in fields if not (_is_text(name) and _is_text(value))]
    if bad:
        errors = [FieldError(name, "is not UTF-8 text", "不是UTF-8编码的文本") for name in bad]
        raise Invalid(f"{', '.join(bad)}: not UTF-8 text", "字段不是UTF-8编码的文本", errors)


def _is_text(part: bytes | str) -> bool:
    if isinstance(part, bytes):
        try:
            part.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _inbox_id(msg: RedisStreamMessage) -> str:
    ids = msg.raw_message.get("message_ids") or [b"?"]
    first = ids[0]
    return first.decode() if isinstance(first, bytes) else str(first)


def to_payload(body: InboxMessage) -> dict[str, Any]:
    """The event as a dict, from the `json` field or from the plain fields."""
    fields = body.model_dump(by_alias=True, exclude_none=True)
    fields.pop("token", None)
    if "json" in fields:
        event = strict_json(fields["json"], field="json")
        if not isinstance(event, dict):
            raise Invalid(
                "the json field must hold an object",
                "json 字段必须是对象",
                [FieldError("json", "must be a JSON object", "必须是JSON对象")],
            )
        return event
    for name in NESTED:
        if name in fields:
            try:
                fields[name] = json.loads(fields[name])
            except json.JSONDecodeError:
                if name == "project":
                    raise Invalid(
                        "project must be JSON",
                        "project 字段必须是JSON",
                        [FieldError("project", "must be a JSON object", "必须是JSON对象")],
                    ) from None
                # a target may be written as the report's wording, e.g. 6%左右
    return fields


def asyncapi_document(keys: Keyspace) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the inbox (built without connecting to Redis)."""
    broker = RedisBroker("redis://redis:6379/0")
    Inbox(keys, consumer="worker").attach(broker)
    app = FastStream(
        broker,
        specification=AsyncAPI(
            title="planwatch inbox",
            version="0.1.0",
            description="Departments XADD progress events to the inbox stream with plain fields, token included. "
            "Refused messages go to the rejects stream with the reason.",
        ),
    )
    return app.schema.to_specification().to_jsonable()
