"""The channels a subscriber can be told through, one module each: our signed `webhook`, the
`wecom`, `dingtalk` and `feishu` group robots, and the Redis `stream` for in-house systems.
Each is a `Channel`; `CHANNELS` maps a subscription's channel name to its implementation.

Vendor payloads and signing follow shared/notes/alerting-practice.md section 4."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import httpx

from events.alerts import AlertNotice
from services.notify.channels.base import Channel, ChannelConfig, Delivery, Draft, HttpChannel, Outlets, notices_json
from services.notify.channels.dingtalk import DINGTALK, DINGTALK_TEXT_MAX_BYTES, dingtalk_sign
from services.notify.channels.feishu import FEISHU, FEISHU_BODY_MAX_BYTES, feishu_sign
from services.notify.channels.stream import STREAM
from services.notify.channels.webhook import WEBHOOK, verify_webhook, webhook_signature
from services.notify.channels.wecom import WECOM, WECOM_MARKDOWN_MAX_BYTES
from services.notify.guard import Network
from services.notify.http import OutgoingRequest, SendResult, post

HTTP_CHANNELS: dict[str, HttpChannel] = {channel.kind: channel for channel in (WEBHOOK, WECOM, DINGTALK, FEISHU)}
CHANNELS: dict[str, Channel] = {**HTTP_CHANNELS, "stream": STREAM}


def build_request(
    channel: ChannelConfig,
    notices: list[AlertNotice],
    *,
    delivery_id: str,
    now: datetime,
    summary_of: int | None = None,
    link: str | None = None,
) -> OutgoingRequest:
    """The signed request delivering `notices` to `channel`: see `Draft` for what they mean."""
    draft = Draft(notices, delivery_id=delivery_id, now=now, summary_of=summary_of, link=link)
    return HTTP_CHANNELS[channel.kind].request(channel, draft)


async def send(
    client: httpx.AsyncClient,
    request: OutgoingRequest,
    *,
    addresses: Sequence[str] = (),
    allowed: Sequence[Network] = (),
    timeout: float = 10.0,
) -> SendResult:
    """Post `request` (to the `addresses` `check_target` approved, if given: see `http.post`;
    redirects checked against `allowed`) and have the channel that built it judge the answer."""
    judge = HTTP_CHANNELS[request.kind].judge
    return await post(client, request, judge, addresses=addresses, allowed=allowed, timeout=timeout)


__all__ = [
    "CHANNELS",
    "DINGTALK_TEXT_MAX_BYTES",
    "FEISHU_BODY_MAX_BYTES",
    "HTTP_CHANNELS",
    "WECOM_MARKDOWN_MAX_BYTES",
    "Channel",
    "ChannelConfig",
    "Delivery",
    "Draft",
    "HttpChannel",
    "Outlets",
    "build_request",
    "dingtalk_sign",
    "feishu_sign",
    "notices_json",
    "send",
    "verify_webhook",
    "webhook_signature",
]
