"""The DingTalk (钉钉) custom robot: markdown; signed with `timestamp` (ms) and `sign` in the
query string, the sign URL-encoded."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote_plus, urlsplit, urlunsplit

from services.notify.channels.base import JSON_HEADERS, ChannelConfig, json_bytes
from services.notify.channels.robot import Rendered, Robot, fit, inert, utf8_size
from services.notify.http import OutgoingRequest
from services.notify.wording import Message, omitted

# DingTalk documents no byte limit for markdown; we keep to the same budget as Feishu.
DINGTALK_TEXT_MAX_BYTES = 20_000


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """URL-encoded base64(HMAC-SHA256(key=secret, msg="{timestamp_ms}\\n{secret}"))."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def _render(message: Message) -> Rendered:
    message = inert(message)
    # DingTalk renders headings, lists, quotes, bold and links; font colours are undocumented.
    head = [f"### {message.title}", ""]
    if message.items:
        head += [f"计划：{message.plan}", ""]
    for label, value, tone in message.fields:
        head.append(f"- {label}：**{value}**" if tone == "strong" else f"- {label}：{value}")
    if message.sentence:
        head += ["", f"> {message.sentence}"]
    items = [f"- **{i.tag}{i.subject}**{i.rest}" for i in message.items]
    tail = ["", f"[查看详情]({message.link})"] if message.link else []
    return Rendered(head, items, tail, lambda count: f"- {omitted(count)}")


def _with_query(url: str, extra: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


class DingTalk(Robot):
    kind = "dingtalk"
    retryable = frozenset({130101, -1})  # send too fast; -1 系统繁忙

    def message_request(self, config: ChannelConfig, message: Message, now: datetime) -> OutgoingRequest:
        text = fit(_render(message), message.unlisted, limit=DINGTALK_TEXT_MAX_BYTES, size=utf8_size)
        body = json_bytes(
            {
                "msgtype": "markdown",
                "markdown": {"title": message.title, "text": text},
                "at": {"atMobiles": [], "isAtAll": False},
            }
        )
        url = config.url
        if config.secret:
            timestamp_ms = int(now.timestamp() * 1000)
            url = _with_query(url, f"timestamp={timestamp_ms}&sign={dingtalk_sign(config.secret, timestamp_ms)}")
        return OutgoingRequest(kind=self.kind, url=url, headers=dict(JSON_HEADERS), body=body)


DINGTALK = DingTalk()
