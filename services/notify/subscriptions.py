"""Who hears about alerts, through which channel, filtered how.

A subscription is a channel (signed webhook, WeCom / DingTalk / Feishu group robot, or a Redis
stream for in-house systems) plus filters. Stored in the hash `pw:subscriptions`; the secrets
it needs to sign stay server-side and are never listed back. Every webhook is signed: one
subscribed without a secret gets a generated one, shown once, in the creation result only.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from redis.asyncio import Redis

from events.alerts import RULES, AlertNotice, Severity, severity_rank
from events.errors import CONTROL
from services.notify.guard import Network, check_target
from services.notify.masking import mask_url
from services.notify.schedule import WorkingHours
from services.store import CannotUnseal, DamagedKey, Keyspace, Sealer, drop_damaged

HttpKind = Literal["webhook", "wecom", "dingtalk", "feishu"]  # the channels that post to a url
ChannelKind = Literal[HttpKind, "stream"]  # each has its implementation in channels/
# Robots accept 20 messages a minute (WeCom, DingTalk; Feishu 100 but 5/s): stay under it.
DEFAULT_RATE = {"wecom": 20, "dingtalk": 20, "feishu": 20, "webhook": 600, "stream": 6000}
DAY_S = 86_400.0
UNSIGNED = ("wecom", "stream")  # WeCom robots have no signature; a stream is written, not posted
# How long a failing delivery is retried before it goes to the dead letters: a day rides out an
# outage of the receiver (a robot vendor's, a night's maintenance) for robots and webhooks alike.
DEFAULT_MAX_AGE_S = DAY_S

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_repeat(value: Any) -> Any:
    """A duration, or `off` (0: no reminders)."""
    if isinstance(value, str) and value.strip().lower() in ("off", "none", "no"):
        return 0.0
    return parse_duration(value)


def parse_duration(value: Any) -> Any:
    """Seconds as a number, or a number with a unit: `90s`, `5m`, `24h`, `1d`."""
    if not isinstance(value, str):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value.lower())
    if match is None:
        raise ValueError(f"{value!r} is not a duration like 30s, 5m, 24h or 1d (or seconds)")
    return float(match[1]) * _UNITS[match[2]]


# Grouping (Alertmanager's group_wait / group_interval): people read robots, so a burst — a
# rollup catch-up, a spreadsheet import — waits a little to go as one message, and messages come
# at most once a minute; machines read webhooks and streams, at once.
ROBOTS = ("wecom", "dingtalk", "feishu")
DEFAULT_GROUP_WAIT_S = {"wecom": 10.0, "dingtalk": 10.0, "feishu": 10.0, "webhook": 0.0, "stream": 0.0}
DEFAULT_GROUP_INTERVAL_S = {"wecom": 60.0, "dingtalk": 60.0, "feishu": 60.0, "webhook": 0.0, "stream": 0.0}

# Reminders (Alertmanager's repeat_interval): people forget, so a robot group hears again once a
# day, within working hours, of what still fires; machines keep their own state: off.
DEFAULT_REPEAT_INTERVAL_S = {"wecom": DAY_S, "dingtalk": DAY_S, "feishu": DAY_S, "webhook": 0.0, "stream": 0.0}

# durations in seconds, also written with a unit (`24h`), each within its bounds
MaxAge = Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=7 * DAY_S)]
GroupWait = Annotated[float, BeforeValidator(parse_duration), Field(ge=0, le=3600)]
GroupInterval = Annotated[float, BeforeValidator(parse_duration), Field(ge=0, le=DAY_S)]
RepeatInterval = Annotated[float, BeforeValidator(parse_repeat), Field(ge=0, le=30 * DAY_S)]


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plans: list[str] = Field(default_factory=list, description="plan ids; empty = every plan")
    departments: list[str] = Field(default_factory=list, description="responsible departments; empty = all")
    subjects: list[str] = Field(default_factory=list, description="indicator or project ids; empty = all")
    rules: list[str] = Field(default_factory=list, description=f"alert rules ({', '.join(RULES)}); empty = all")
    min_severity: Severity = "warning"
    resolved: bool = Field(default=True, description="also tell when an alert is resolved")
    rollups: bool = Field(default=False, description="also tell when a monthly rollup is published")

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, rules: list[str]) -> list[str]:  # a field validator: the refusal names filters.rules
        unknown = sorted(set(rules) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rule(s) {', '.join(unknown)}; rules are {', '.join(RULES)}")
        return rules


class SubscriptionRequest(BaseModel):
    """What an admin sends to subscribe."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="who is told, e.g. 区发展改革委值班群 (at most 100 characters)")
    channel: ChannelKind
    url: str | None = Field(
        default=None, validate_default=True, description="the webhook or robot address (not for stream)"
    )
    secret: str | None = Field(
        default=None,
        description="signing secret (webhook, DingTalk SEC…, Feishu); a webhook without one gets a generated one",
    )
    filters: Filters = Field(default_factory=Filters)
    rate_per_minute: int | None = Field(default=None, ge=1, le=10_000, description="default: 20 for robots")
    max_age: MaxAge | None = Field(
        default=None,
        description="how long a failing delivery is retried (seconds, or 30m, 24h, 2d; at most 7d) before "
        "it goes to the dead letters; default 24h",
    )
    group_wait: GroupWait | None = Field(
        default=None,
        description="how long the first notice of a burst waits for the rest, to go as one message "
        "(0 to 1h); default 10s for robots, 0 for webhooks and streams",
    )
    group_interval: GroupInterval | None = Field(
        default=None,
        description="the least time between two messages; what comes meanwhile goes as one (0 to 1d); "
        "default 1m for robots, 0 for webhooks and streams",
    )
    repeat_interval: RepeatInterval | None = Field(
        default=None,
        description="remind of the alerts still firing (one digest) this long after the last reminder, "
        "within working hours (seconds, or 4h, 1d; off or 0: never; at most 30d); default 1d for robots, "
        "off for webhooks and streams",
    )
    working_hours: WorkingHours | None = Field(
        default=None,
        description="when reminders may go: '1-5 09:00-18:00' (weekdays, hours[, time zone]) or "
        "{days, start, end, timezone}; default 周一至周五 09:00–18:00 in the zone of the subscription's plans",
    )
    send_firing: bool = Field(
        default=False,
        description="when subscribing: send the alerts firing now, once, as one digest (not stored)",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_allow_private(cls, data: Any) -> Any:
        # Which private networks may be posted to is the operator's decision, not a request's.
        if isinstance(data, dict) and "allow_private" in data:
            if cls is not SubscriptionRequest:  # a subscription stored by an older version: ignored
                return {k: v for k, v in data.items() if k != "allow_private"}
            raise ValueError(
                "allow_private is not accepted: private targets are allowed only by the operator, "
                "with PLANWATCH_ALLOW_PRIVATE_TARGETS (CIDRs); link-local and metadata addresses never"
            )
        return data

    # the two checks below apply to requests: a subscription stored by an older version still reads

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:  # it heads every message and listing
        if cls is not SubscriptionRequest:
            return name
        if not name.strip() or len(name) > 100:
            raise ValueError("must be 1 to 100 characters, not blank")
        if found := CONTROL.search(name):
            raise ValueError(f"holds the control character U+{ord(found[0]):04X}")
        return name

    @field_validator("secret")
    @classmethod
    def _signs(cls, secret: str | None, info: ValidationInfo) -> str | None:
        channel = info.data.get("channel")
        if cls is SubscriptionRequest and secret is not None and channel in UNSIGNED:
            # kept and never used, it would look as if messages were signed
            raise ValueError(f"a {channel} subscription is not signed: it takes no secret")
        if cls is SubscriptionRequest and secret is not None and not 1 <= len(secret) <= 500:
            raise ValueError("must be 1 to 500 characters")
        return secret

    @field_validator("url")
    @classmethod
    def _address(cls, url: str | None, info: ValidationInfo) -> str | None:  # a refusal that names url
        channel = info.data.get("channel")
        if channel is None:  # refused on its own field
            return url
        if channel == "stream":
            if url:
                raise ValueError("a stream subscription has no url: planwatch writes to a Redis stream")
        elif not url:
            raise ValueError(f"a {channel} subscription needs a url")
        return url


class Subscription(SubscriptionRequest):
    id: str
    created_at: str
    # a signing secret generated at creation: a private attribute, not serialised, so only the
    # object `create` returns has it and the creation result is the one place it is shown
    _generated_secret: str | None = PrivateAttr(default=None)

    @property
    def generated_secret(self) -> str | None:
        """The webhook signing secret generated when this subscription was created, on the object
        `SubscriptionStore.create` returned; None otherwise (and on every subscription read back)."""
        return self._generated_secret

    @property
    def rate(self) -> int:
        return self.rate_per_minute or DEFAULT_RATE[self.channel]

    @property
    def group_wait_s(self) -> float:
        return DEFAULT_GROUP_WAIT_S[self.channel] if self.group_wait is None else self.group_wait

    @property
    def group_interval_s(self) -> float:
        return DEFAULT_GROUP_INTERVAL_S[self.channel] if self.group_interval is None else self.group_interval

    @property
    def repeat_interval_s(self) -> float:
        """How long after the last reminder the next is due; 0: no reminders."""
        return DEFAULT_REPEAT_INTERVAL_S[self.channel] if self.repeat_interval is None else self.repeat_interval

    @property
    def hours(self) -> WorkingHours:
        """When reminders may go (the default: 周一至周五 09:00–18:00)."""
        return self.working_hours or WorkingHours()

    @property
    def max_age_s(self) -> float:
        """How long a failing delivery is retried before it is given up (dead-lettered)."""
        return self.max_age or DEFAULT_MAX_AGE_S

    def wants(self, notice: AlertNotice) -> bool:
        f = self.filters
        if notice.type == "rollup.published":  # a report, not an alert: only the plans filter applies
            return f.rollups and (not f.plans or notice.plan_id in f.plans)
        return (
            (not f.plans or notice.plan_id in f.plans)
            and (not f.departments or notice.department in f.departments)
            and (not f.subjects or notice.subject in f.subjects)
            and (not f.rules or notice.rule in f.rules)
            and severity_rank(notice.severity) >= severity_rank(f.min_severity)
            and (f.resolved or notice.type != "alert.resolved")
        )

    def public(self) -> dict[str, Any]:
        """The subscription as listed: the secret is never shown back, except a generated one in
        the creation result (the subscriber cannot know it otherwise); the url only by its host
        and a masked tail (a robot's key or access token is in its url)."""
        shown = {"secret": self._generated_secret} if self._generated_secret else {}
        listed = self.model_dump(exclude={"secret", "send_firing"})
        listed["url"] = mask_url(self.url) if self.url else None
        return {**listed, "has_secret": bool(self.secret), **shown}


_SEALED_FIELDS = ("url", "secret")
log = logging.getLogger("planwatch.notifier")


class SubscriptionStore:
    def __init__(
        self,
        redis: Redis,
        keys: Keyspace,
        allowed_targets: Sequence[Network] = (),
        sealer: Sealer | None = None,
    ) -> None:
        self.redis, self.keys, self.allowed_targets = redis, keys, tuple(allowed_targets)
        self.sealer = sealer or Sealer(None)  # PLANWATCH_SECRET_KEY seals urls and secrets at rest
        self._said: set[tuple[str | bytes, int]] = set()  # damaged records told of: (id, the value's hash)

    async def create(self, request: SubscriptionRequest) -> Subscription:
        """Store a subscription; a url on a private network is refused unless the operator allows
        its network. A webhook without a secret gets a generated one, which the returned
        subscription's `public()` (and `generated_secret`) shows — this once: it is never listed back."""
        if request.url:
            await check_target(request.url, allowed=self.allowed_targets)
        generated = secrets.token_urlsafe(32) if request.channel == "webhook" and not request.secret else None
        subscription = Subscription(
            **{**request.model_dump(exclude={"send_firing"}), "secret": generated or request.secret},
            id=secrets.token_hex(6),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        await self.redis.hset(self.keys.subscriptions, subscription.id, self._sealed(subscription))
        subscription._generated_secret = generated
        return subscription

    async def all(self) -> list[Subscription]:
        raw = await self.redis.hgetall(self.keys.subscriptions)
        opened = []
        for subscription_id, value in raw.items():
            try:
                opened.append(self._opened(value))
            except CannotUnseal as exc:  # not guessed, not sent: said
                self._unreadable(subscription_id, value, f"cannot be read: {exc}")
            except (ValueError, TypeError, AttributeError) as exc:  # not JSON, or not a subscription
                self._unreadable(subscription_id, value, f"cannot be read, passed over: {str(exc)[:200]}")
        return sorted(opened, key=lambda s: s.created_at)

    def _unreadable(self, subscription_id: str | bytes, value: str | bytes, why: str) -> None:
        """Said once a process for each stored value (the notifier reads every subscription each
        second: a line a second, for as long as the record stays damaged, would drown the log)."""
        said = (subscription_id, hash(value))  # within this process: enough to tell a new value
        if said not in self._said:
            if len(self._said) > 10_000:  # a bound, whatever is written there
                self._said.clear()
            self._said.add(said)
            log.error("subscription %s %s", subscription_id, why)

    def _sealed(self, subscription: Subscription) -> str:
        """The stored JSON: the url (a robot's key is in it) and the secret sealed, if a key is set."""
        stored = subscription.model_dump(mode="json", exclude={"send_firing"})
        for name in _SEALED_FIELDS:
            if stored.get(name):
                stored[name] = self.sealer.seal(stored[name])
        return json.dumps(stored, ensure_ascii=False)

    def _opened(self, value: str | bytes) -> Subscription:
        stored = json.loads(value)
        for name in _SEALED_FIELDS:
            if stored.get(name):
                stored[name] = self.sealer.unseal(stored[name])
        return Subscription.model_validate(stored)

    async def delete(self, subscription_id: str) -> bool:
        """Unsubscribe: its queue and bookkeeping go with it (ids are never reused, so nothing would
        ever read them again). A `stream` subscriber's own stream stays: it is the subscriber's data."""
        removed = await self.redis.hdel(self.keys.subscriptions, subscription_id)
        if removed:
            keys = self.keys
            await self.redis.unlink(
                *(
                    key(subscription_id)
                    for key in (
                        keys.sub_queue,
                        keys.sub_seen,
                        keys.sub_sent,
                        keys.sub_dead,
                        keys.sub_state,
                        keys.sub_outgoing,
                        keys.sub_rate,
                        keys.sub_lease,
                    )
                )
            )
        return bool(removed)

    async def counts(self, subscription_id: str) -> dict[str, int]:
        """What is queued, sent and given up (dead letters) for one subscription."""
        [counts] = await self._counts([subscription_id])
        return counts

    async def all_with_counts(self) -> list[tuple[Subscription, dict[str, int]]]:
        """Every subscription with its counts."""
        subscriptions = await self.all()
        return list(zip(subscriptions, await self._counts([s.id for s in subscriptions]), strict=True))

    async def _counts(self, subscription_ids: list[str]) -> list[dict[str, int]]:
        keys = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:  # one round trip for them all
            for sid in subscription_ids:
                pipe.xlen(keys.sub_queue(sid))
                pipe.hlen(keys.sub_sent(sid))
                pipe.xlen(keys.sub_dead(sid))
            replies = await pipe.execute()
        return [
            dict(zip(("queued", "sent", "dead"), replies[3 * n : 3 * n + 3], strict=True))
            for n in range(len(subscription_ids))
        ]


async def drop_if_delivery_key(redis: Redis, keys: Keyspace, damage: DamagedKey) -> bool:
    """Whether `damage` is of a subscription's delivery keys (`{sub:ID}`: its queue, state, lease,
    rate, …): the notifier's own bookkeeping, which a key of another type holds nothing of. It is
    dropped, with a warning, and the subscription's delivery starts afresh at the next round."""
    if not damage.key.startswith(f"{keys.prefix}:{{sub:"):
        return False
    await drop_damaged(redis, damage, "a subscription's delivery bookkeeping, started afresh")
    return True
