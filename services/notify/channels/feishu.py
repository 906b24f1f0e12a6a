"""The Feishu (飞书) custom bot: plain text; signed with `timestamp` (s) and `sign` in the body
— key and message swapped compared with DingTalk, and not URL-encoded. The whole request body
may be at most 20 KB."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from services.notify.channels.base import JSON_HEADERS, ChannelConfig, json_bytes
from services.notify.channels.robot import Rendered, Robot, fit
from services.notify.http import OutgoingRequest
from services.notify.wording import Message, omitted

FEISHU_BODY_MAX_BYTES = 20_000  # "≤20 KB"; the decimal reading is the safe one


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """base64(HMAC-SHA256(key="{timestamp_s}\\n{secret}", msg="")), not URL-encoded (it goes in the body)."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _render(message: Message) -> Rendered:
    head = [message.title]
    if message.items:
        head.append(f"计划：{message.plan}")
    head += [f"{label}：{value}" for label, value, _ in message.fields]
    if message.sentence:
        head.append(message.sentence)
    items = [f"{n}. {i.tag}{i.subject}{i.rest}" for n, i in enumerate(message.items, start=1)]
    tail = [f"详情：{message.link}"] if message.link else []
    return Rendered(head, items, tail, omitted)


class Feishu(Robot):
    kind = "feishu"
    retryable = frozenset({11232})  # frequency limited

    def answer(self, payload: dict[str, Any]) -> tuple[object, object]:
        # {"code", "msg"}; older bots answer {"StatusCode", "StatusMessage"}
        code = payload["code"] if "code" in payload else payload.get("StatusCode")
        return code, payload.get("msg") or payload.get("StatusMessage")

    def message_request(self, config: ChannelConfig, message: Message, now: datetime) -> OutgoingRequest:
        signing: dict[str, str] = {}
        if config.secret:
            timestamp_s = int(now.timestamp())
            signing = {"timestamp": str(timestamp_s), "sign": feishu_sign(config.secret, timestamp_s)}

        def body_of(text: str) -> bytes:
            return json_bytes({**signing, "msg_type": "text", "content": {"text": text}})

        # The limit is on the whole body, JSON escaping included, so measure exactly that.
        text = fit(_render(message), message.unlisted, limit=FEISHU_BODY_MAX_BYTES, size=lambda t: len(body_of(t)))
        return OutgoingRequest(kind=self.kind, url=config.url, headers=dict(JSON_HEADERS), body=body_of(text))


FEISHU = Feishu()
