"""What a channel is to the delivery loop, and what the four channels that post over HTTP share.

The delivery loop hands every channel the same thing — a `Delivery` for a subscription — and
gets a `SendResult` back; whether the channel posts to a robot or appends to a Redis stream is
the channel's business. The HTTP channels build a signed request (pure: the clock is an
argument, so a request can be rebuilt and compared byte for byte), have the target checked
again, post it to the approved addresses and judge the answer."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator
from redis.asyncio import Redis

from events.alerts import AlertNotice
from services.notify.guard import Network, UnresolvedTarget, UnsafeTarget, check_target
from services.notify.http import OutgoingRequest, SendResult, post
from services.notify.subscriptions import HttpKind, Subscription
from services.notify.wording import DigestKind
from services.store import Keyspace

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


@dataclass(frozen=True)
class Delivery:
    """One message to one subscriber, as the delivery loop hands it to a channel."""

    id: str  # the idempotency key: the same when a delivery is sent again after a crash
    notices: list[AlertNotice]  # every notice it stands for, in queue order
    summary: bool  # folded into one summary message
    link: str | None  # where to read more
    digest: DigestKind | None = None  # the alerts firing now (a reminder, or a new subscriber's first look)
    zone: str | None = None  # the message's times are in this zone (the plan's; None: Asia/Shanghai)


@dataclass(frozen=True)
class Outlets:
    """What channels write to: the HTTP client, and Redis (the stream channel)."""

    redis: Redis
    keys: Keyspace
    http: httpx.AsyncClient
    allowed_targets: tuple[Network, ...] = ()  # private networks the operator allows (SSRF guard)


class Channel(Protocol):
    """One way of telling a subscriber. Never raises for the subscriber's own failures (a bad
    address, a refusal, a timeout): they are in the result, with whether to try again."""

    async def deliver(self, delivery: Delivery, to: Subscription, via: Outlets) -> SendResult: ...


class ChannelConfig(BaseModel):
    """Where one subscriber's notices go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: HttpKind
    url: str
    secret: str | None = Field(
        default=None, repr=False, description="signing secret (required for webhook); WeCom has none"
    )

    @model_validator(mode="after")
    def _webhooks_are_signed(self) -> ChannelConfig:
        if self.kind == "webhook" and not self.secret:
            raise ValueError("a webhook is always signed: it needs a secret")
        return self


def json_bytes(payload: dict[str, Any]) -> bytes:
    # Chinese stays readable on the wire (and 3 bytes, not 6, per character against the limits).
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def notices_json(notices: list[AlertNotice]) -> str:
    """The notices as stored for machines to read: in a subscriber's stream, in a dead letter."""
    return json.dumps([notice.model_dump(mode="json") for notice in notices], ensure_ascii=False)


@dataclass(frozen=True)
class Draft:
    """What one HTTP request says, before a vendor's format: the notices it lists (one, or the
    listed part of a summary of `summary_of` changes), the idempotency key our own webhook
    carries (the robots have none), the signing time, and where to read more."""

    notices: list[AlertNotice]
    delivery_id: str
    now: datetime
    summary_of: int | None = None
    link: str | None = None
    digest: DigestKind | None = None  # worded as a digest of the alerts firing now
    zone: str = "Asia/Shanghai"  # the zone the message's times are told in, labelled (the plan's)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if not self.notices:
            raise ValueError("a delivery needs at least one notice")
        if self.summary_of is not None and self.summary_of < len(self.notices):
            raise ValueError(f"summary_of={self.summary_of} is less than the {len(self.notices)} notices listed")


class HttpChannel(ABC):
    """A channel that posts a signed request to the subscription's url."""

    kind: ClassVar[HttpKind]

    @abstractmethod
    def request(self, config: ChannelConfig, draft: Draft) -> OutgoingRequest:
        """The signed request saying `draft` to `config`."""

    @abstractmethod
    def judge(self, response: httpx.Response) -> SendResult:
        """What a 2xx answer means."""

    def listed(self, delivery: Delivery) -> list[AlertNotice]:
        """The notices a message names (machines read webhooks: every notice)."""
        return delivery.notices

    async def deliver(self, delivery: Delivery, to: Subscription, via: Outlets) -> SendResult:
        assert to.url is not None  # SubscriptionRequest refuses an HTTP channel without one
        try:  # checked at each send, and the checked address is the one connected to (DNS rebinding)
            addresses = await check_target(to.url, allowed=via.allowed_targets)
        except UnsafeTarget as exc:
            return SendResult.failed(str(exc), retry=isinstance(exc, UnresolvedTarget))
        try:
            config = ChannelConfig(kind=self.kind, url=to.url, secret=to.secret)
        except ValueError as exc:  # e.g. a webhook stored unsigned before every webhook was: a refusal
            return SendResult.failed(f"subscription cannot be sent to: {exc}", retry=False)
        draft = Draft(
            self.listed(delivery),
            delivery_id=delivery.id,
            now=datetime.now(UTC),
            summary_of=len(delivery.notices) if delivery.summary else None,
            link=delivery.link,
            digest=delivery.digest,
            zone=delivery.zone or "Asia/Shanghai",
        )
        return await post(
            via.http, self.request(config, draft), self.judge, addresses=addresses, allowed=via.allowed_targets
        )
