"""The WeCom (企业微信) group robot: markdown with font colours. The key in the URL is the
secret, so nothing is signed; the content may be at most 4096 bytes of UTF-8."""

from __future__ import annotations

from datetime import datetime

from services.notify.channels.base import JSON_HEADERS, ChannelConfig, json_bytes
from services.notify.channels.robot import Rendered, Robot, fit, inert, utf8_size
from services.notify.http import OutgoingRequest
from services.notify.wording import Message, Tone, omitted

WECOM_MARKDOWN_MAX_BYTES = 4096  # WeCom answers 40058 beyond this

_COLOR: dict[Tone, str] = {"alert": "warning", "ok": "info", "muted": "comment"}


def _style(text: str, tone: Tone | None) -> str:
    if tone == "strong":
        return f"**{text}**"
    if tone is None:
        return text
    return f'<font color="{_COLOR[tone]}">{text}</font>'


def _render(message: Message) -> Rendered:
    message = inert(message)
    head = [f"## {_style(message.title, message.tone)}"]
    if message.items:
        head.append(f"> 计划：{_style(message.plan, 'muted')}")
    head += [f"> {label}：{_style(value, tone)}" for label, value, tone in message.fields]
    if message.sentence:
        head += ["", message.sentence]
    items = [f"- {_style(i.tag, i.tone)}**{i.subject}**{i.rest}" for i in message.items]
    tail = [f"[查看详情]({message.link})"] if message.link else []
    return Rendered(head, items, tail, lambda count: _style(omitted(count), "muted"))


class WeCom(Robot):
    kind = "wecom"
    retryable = frozenset({45009, -1})  # api freq out of limit; -1 系统繁忙

    def message_request(self, config: ChannelConfig, message: Message, now: datetime) -> OutgoingRequest:
        content = fit(_render(message), message.unlisted, limit=WECOM_MARKDOWN_MAX_BYTES, size=utf8_size)
        body = json_bytes({"msgtype": "markdown", "markdown": {"content": content}})
        return OutgoingRequest(kind=self.kind, url=config.url, headers=dict(JSON_HEADERS), body=body)


WECOM = WeCom()
