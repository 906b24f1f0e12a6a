"""The departments' inbox: a Redis stream their systems XADD to with plain fields.

    redis-cli XADD pw:inbox '*' token pwt_… event_id 0b6e…-uuid plan_id rongchang-2025 \\
        type indicator.updated subject gdp period 2025-06 occurred_at 2025-07-15T10:00:00+08:00 value 5.5

Fields are the event's own (see `InboxMessage`); nested values (`target` of target.revised,
`project` of project.registered) are JSON text, read as strictly as an HTTP body; alternatively
a single `json` field carries the whole event, alone (with the token). A field given twice is
refused, naming it: the broker's connection reads XREADGROUP's and XAUTOCLAIM's replies with the
inbox's parsers (services/inbox/entries.py), since redis-py's dict keeps the last value. A
FastStream consumer group (`ingest`) validates and authorises each message exactly like the
HTTP API (`App.ingest.submit`) — every problem named at once, those of the fields every event
has too when the type is missing —, appends it, then acks and deletes it from the inbox in one
MULTI (it carries a token). A refused message goes to `pw:inbox:rejects` with the reason and its
fields (the token redacted to its id; what the reasons echo of the input cut to an excerpt of
`ECHO` characters). A consumer that dies between read and ack leaves the message pending; a
reclaimer on the same group claims it after `reclaim_idle_ms` and processes it again —
harmless, since `event_id` makes the append idempotent — and gives up (to the rejects stream)
after `max_deliveries`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, get_args

from faststream import FastStream
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.redis import RedisBroker, RedisStreamMessage, StreamSub
from faststream.specification import AsyncAPI
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from events.errors import FieldError, excerpt, field_errors
from events.models import EVENT_TYPES, Event, EventBase, event_adapter
from services.app import Accepted, App, AppError, Invalid, Unauthorized, intake, strict_json
from services.inbox.entries import RepeatedFields, install_entry_callbacks
from services.observability import metrics, plan_context, redact
from services.store import Keyspace, TokenInfo, TokenStore

log = logging.getLogger("planwatch.inbox")

GROUP = "ingest"
NESTED = ("target", "project")  # fields whose value is JSON text
ECHO = 300  # characters a reject keeps of a message, a reason or a field name (a reason may quote a huge value)
ECHO_ERRORS = 100  # field errors a reject lists (a message may have thousands of stray fields)


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
        self.broker: RedisBroker | None = None

    async def open(self, redis: Redis) -> None:
        """Before the subscribers start: the application; the broker's connection (made now: it
        connects lazily) reading entries with their fields as sent (services.inbox.entries); and the
        consumer group created at the start of the stream (FastStream would create it at `$`,
        missing what was sent before)."""
        self.app = App(redis, self.keys)
        if self.broker is not None:
            install_entry_callbacks(await self.broker.connect())
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
        self.broker = broker

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
        leaving the message pending for the reclaimer; so does a refusal that asks to try again
        later (503: the plan changed too often while the message was checked)."""
        with plan_context(body.plan_id):
            try:
                with intake("inbox"):
                    _refuse_malformed(msg)
                    accepted = await self._submit(body)
            except AppError as exc:
                if exc.status == 503:
                    log.warning("inbox %s left pending: %s", _inbox_id(msg), _echo(exc.message))
                    raise
                await self.reject(msg, body, exc, counted=True)
                return
            log.info("inbox %s: %s %s stored=%s", _inbox_id(msg), body.type, body.subject, accepted.stored)
            await self._done(msg)

    async def _submit(self, body: InboxMessage) -> Accepted:
        caller = await self._authenticate(body.token)
        payload = to_payload(body)
        plan_id = payload.get("plan_id")
        if not isinstance(plan_id, str) or not plan_id:  # no plan to check against: what can be found without
            raise _invalid([_plan_id_problem(plan_id), *_planless_problems(payload)])
        try:
            return await self._app.ingest.submit(caller, plan_id, [payload])
        except Invalid as exc:
            untyped = _untyped_problems(payload, {e.field for e in exc.errors})
            if not untyped:
                raise
            raise _invalid([*exc.errors, *untyped]) from None

    async def _authenticate(self, token: str | None) -> TokenInfo:
        """The caller; Unauthorized naming the token field if it is missing, unknown or revoked."""
        if token is None or not token.strip():
            raise Unauthorized(
                "the token is missing: send the department's API token (pwt_…) in the token field",
                "缺少令牌：请在 token 字段中提供本部门的API令牌",
                [FieldError("token", "Field required", "缺少必填字段")],
            )
        try:
            return await self._app.ingest.authenticate(token)
        except Unauthorized as exc:
            if exc.errors:
                raise
            raise Unauthorized(
                exc.message, exc.message_zh, [FieldError("token", exc.message, exc.message_zh)]
            ) from None

    async def reject(self, msg: RedisStreamMessage, body: InboxMessage, exc: AppError, counted: bool = False) -> None:
        """Set the message aside in the rejects stream with the reason (counted in the metrics unless
        `intake` did already), then ack it."""
        if not counted:
            metrics.EVENTS_REFUSED.labels("inbox", exc.code).inc()
        # a token sent in another field (or echoed by a reason quoting the input) is kept by its id only;
        # what the refusal echoes is cut to an excerpt (after redaction: a cut token would not be found),
        # the message itself is kept as sent
        await self._app.redis.xadd(
            self.keys.inbox_rejects,
            {
                "inbox_id": _inbox_id(msg),
                "error": exc.code,
                "message": _echo(exc.message),
                "message_zh": _echo(exc.message_zh),
                "errors": json.dumps(_echoed_errors(exc.errors), ensure_ascii=False),
                "fields": redact(json.dumps(_sent(msg, body), ensure_ascii=False)),
            },
            maxlen=100_000,
            approximate=True,
        )
        log.warning("inbox %s rejected: %s", _inbox_id(msg), _echo(exc.message))
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


def _refuse_malformed(msg: RedisStreamMessage) -> None:
    """Refuse an entry whose fields do not make one event, naming each field at fault (all at
    once): a name or value that is not UTF-8 text (read with replacement characters it would be
    stored as something the sender never wrote); a name given twice (either value could be taken
    for the sender's: redis-py's dict keeps the last); plain fields beside `json`, which carries
    the whole event (they would be dropped unread)."""
    data = msg.raw_message["data"]
    bad = [_text(name) for name, value in data.items() if not (_is_text(name) and _is_text(value))]
    if not bad and type(data) is dict and b"json" not in data and "json" not in data:
        return  # the usual message: plain fields, each once
    errors: list[FieldError] = []
    said: list[tuple[str, str]] = []
    if bad:
        errors += [FieldError(name, "is not UTF-8 text", "不是UTF-8编码的文本") for name in bad]
        said.append((f"{', '.join(bad)}: not UTF-8 text", "字段不是UTF-8编码的文本"))
    if isinstance(data, RepeatedFields):
        repeated = {_text(name): n for name, n in data.repeated.items()}
        errors += [
            FieldError(name, f"given {n} times in one message: send each field once", "同一字段在消息中重复出现")
            for name, n in repeated.items()
        ]
        said.append((f"{', '.join(repeated)}: given more than once", "字段重复出现"))
    if b"json" in data or "json" in data:
        beside = [name for name in map(_text, data) if name not in ("json", "token")]
        reason = "given beside json: send the event either as the json field alone (with the token) or as plain fields"
        errors += [
            FieldError(name, reason, "不能与 json 字段同时发送：事件请只用 json 字段或只用普通字段") for name in beside
        ]
        if beside:
            said.append((f"{', '.join(beside)}: given beside json", "字段不能与 json 字段同时发送"))
    if errors:
        raise Invalid("; ".join(en for en, _ in said), "；".join(zh for _, zh in said), errors)


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
    """The event as a dict, from the `json` field or from the plain fields (never both: refused
    before, by `_refuse_malformed`)."""
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
            fields[name] = _nested(name, fields[name])
    return fields


def _nested(name: str, text: str) -> Any:
    """A nested field's value: an object read as strictly as the json field and every HTTP body
    (no key twice, no NaN, numbers as written), its problems named under the field
    (`project.id`); else a target's wording (6%左右) or a bare JSON value, as before."""
    if text.lstrip().startswith("{"):
        try:
            return strict_json(text, field=name)
        except Invalid as exc:
            errors = [
                FieldError(e.field if e.field == name else f"{name}.{e.field}", e.reason, e.reason_zh)
                for e in exc.errors
            ]
            raise Invalid(f"{name} is not valid JSON", f"{name} 字段不是有效的JSON", errors) from None
    if name == "project":
        raise Invalid(
            "project must be JSON",
            "project 字段必须是JSON",
            [FieldError("project", "must be a JSON object", "必须是JSON对象")],
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a target may be written as the report's wording, e.g. 6%左右


# what every event has, and every field some event has (a message without a type is checked against these)
_COMMON = ("event_id", "subject", "period", "occurred_at")
_EVENT_FIELDS = frozenset(name for model in get_args(get_args(Event)[0]) for name in model.model_fields)
_PLACED = {"plan_id": "plan", "department": "department"}  # stand-ins: the plan and the token decide them


def _invalid(errors: list[FieldError]) -> Invalid:
    """One refusal naming every problem, worded as a submission's (services.app's `prepare`)."""
    return Invalid(
        f"{len(errors)} problem(s) in the submission (invalid values); nothing was stored",
        f"提交内容有{len(errors)}处错误（内容有误），未保存任何数据",
        errors,
    )


def _plan_id_problem(plan_id: object) -> FieldError:
    if plan_id is None or plan_id == "":
        return FieldError("plan_id", "Field required", "缺少必填字段")
    return FieldError("plan_id", "must be text: the plan's id, e.g. rongchang-2025", "应为计划编号文本")


def _planless_problems(payload: dict[str, Any]) -> list[FieldError]:
    """What is wrong with an event, as far as can be told without its plan (its plan_id is
    missing): its model's problems, but for the plan and the department; and, if its type is
    missing or unknown, the fields every event has and fields no event has. The checks a
    submission adds (the plan's, the text's and numbers' of services.app) wait for the plan_id."""
    try:
        event_adapter.validate_python({**payload, **_PLACED})
        found = []
    except ValidationError as exc:
        found = [e for e in field_errors(exc) if e.field not in _PLACED]
    return found + _untyped_problems(payload, {e.field for e in found})


def _untyped_problems(payload: dict[str, Any], named: set[str]) -> list[FieldError]:
    """For an event whose type is missing or unknown — pydantic then names the type alone, not
    knowing which event's fields to check —: the problems of the fields every event has, and
    the fields no event has, but for those `named` already."""
    if payload.get("type") in EVENT_TYPES:
        return []
    try:
        EventBase.model_validate({**{k: payload[k] for k in _COMMON if k in payload}, **_PLACED})
        found = []
    except ValidationError as exc:
        found = field_errors(exc)
    found += [
        FieldError(name, "is no field of any event", "不是任何事件的字段")
        for name in payload
        if name not in _EVENT_FIELDS
    ]
    return [e for e in found if e.field not in named]


def _echo(text: str) -> str:
    """What a reject or a log line echoes of a refusal: secrets redacted, then cut to an excerpt
    (controls are escaped already: AppError shows them `printable`)."""
    return excerpt(redact(text), ECHO)


def _echoed_errors(errors: list[FieldError]) -> list[dict[str, str]]:
    echoed = [
        {"field": _echo(e.field), "reason": _echo(e.reason), "reason_zh": _echo(e.reason_zh)}
        for e in errors[:ECHO_ERRORS]
    ]
    if len(errors) > ECHO_ERRORS:
        more = len(errors) - ECHO_ERRORS
        echoed.append(
            {"field": "(message)", "reason": f"and {more} more problems", "reason_zh": f"另有{more}处错误未列出"}
        )
    return echoed


def _sent(msg: RedisStreamMessage, body: InboxMessage) -> dict[str, Any]:
    """The message's fields as sent, for the reject: every value of a field given twice, and a
    token kept by its id only."""
    sent: dict[str, Any] = body.model_dump(by_alias=True, exclude_none=True)
    data = msg.raw_message["data"]
    if isinstance(data, RepeatedFields):
        for name in data.repeated:
            sent[_text(name)] = [_text(value) for value in data.values_of(name)]
    if "token" in sent:
        tokens = sent["token"]
        sent["token"] = [_redacted(t) for t in tokens] if isinstance(tokens, list) else _redacted(tokens)
    return sent


def _redacted(token: str) -> str:
    return f"pwt_{TokenStore.id_of(token) or '?'}_(redacted)"


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
