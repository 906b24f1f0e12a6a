"""What the three group robots (WeCom, DingTalk, Feishu) share: people read them, so a summary
names the worst notices and counts the rest; the message is worded once (`wording`) and fitted
into the vendor's size limit; and the answer is the vendor's JSON with an error code, of which
only "too fast / busy" is worth retrying."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx

from events.alerts import AlertNotice, severity_rank
from services.notify.channels.base import ChannelConfig, Delivery, Draft, HttpChannel
from services.notify.http import OutgoingRequest, SendResult
from services.notify.wording import Message, digest_message, message

SUMMARY_LISTS = 20  # a summary names the most important notices, counts the rest


class Robot(HttpChannel):
    # Vendor error codes that mean "too fast / busy, try again later"; every other code is a
    # configuration problem (bad key, signature, keyword, IP) that retrying cannot fix.
    retryable: ClassVar[frozenset[int]]

    @abstractmethod
    def message_request(self, config: ChannelConfig, message: Message, now: datetime) -> OutgoingRequest:
        """The vendor's request carrying `message`, signed at `now`."""

    def answer(self, payload: dict[str, Any]) -> tuple[object, object]:
        """The error code and text of the vendor's answer."""
        return payload.get("errcode"), payload.get("errmsg")

    def listed(self, delivery: Delivery) -> list[AlertNotice]:
        if not delivery.summary or delivery.digest:  # a digest counts them all and lists the worst
            return delivery.notices
        return sorted(delivery.notices, key=lambda n: -severity_rank(n.severity))[:SUMMARY_LISTS]

    def request(self, config: ChannelConfig, draft: Draft) -> OutgoingRequest:
        if draft.digest:
            said = digest_message(
                draft.notices, draft.digest, now=draft.now, zone=ZoneInfo(draft.zone), link=draft.link
            )
        else:
            said = message(draft.notices, draft.summary_of, draft.link, ZoneInfo(draft.zone))
        return self.message_request(config, said, draft.now)

    def judge(self, response: httpx.Response) -> SendResult:
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            # A 2xx that is not the vendor's JSON is a proxy or a wrong URL, not a transient state.
            return SendResult.failed(f"unexpected answer: {response.text[:200]}", retry=False, status=status)
        code, text = self.answer(payload)
        if code == 0:
            return SendResult.delivered(status)
        retry = isinstance(code, int) and code in self.retryable
        return SendResult.failed(f"{self.kind} error {code}: {text}", retry=retry, status=status)


# --- fitting a message into the vendor's limit ------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A message in a vendor's markup, in the parts that fitting treats differently."""

    head: list[str]  # always kept
    items: list[str]  # dropped from the end when the message is too long
    tail: list[str]  # always kept (the link)
    note: Callable[[int], str]  # the "N more" line


def fit(rendered: Rendered, unlisted: int, *, limit: int, size: Callable[[str], int]) -> str:
    """The longest text within `limit`: whole summary lines are dropped from the end (the least
    important) and counted in the "其余N条略" note; only a single oversized notice is cut mid-line,
    and then at a character boundary, so no multi-byte character is ever split."""

    def assemble(shown: int) -> str:
        hidden = unlisted + len(rendered.items) - shown
        note = [rendered.note(hidden)] if hidden else []
        return "\n".join([*rendered.head, *rendered.items[:shown], *note, *rendered.tail])

    if size(assemble(0)) > limit:
        return _cut(assemble(0), limit=limit, size=size)
    shown = 0
    while shown < len(rendered.items) and size(assemble(shown + 1)) <= limit:
        shown += 1
    return assemble(shown)


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, *, limit: int, size: Callable[[str], int]) -> str:
    # Slicing a str never splits a code point; binary search for the longest prefix that fits.
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if size(text[:middle] + "…") <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low] + "…"


# What a robot's markdown would read as markup in a value (a name, a note): its full-width twin,
# which reads the same to a person (钉钉 and 企业微信 document no escape for them).
_INERT = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］", "*": "＊", "`": "｀", "#": "＃"})


def inert(message: Message) -> Message:
    """`message` with its words unable to make markup: a plan or indicator named `</font>…` or
    `[点我](http://…)` cannot restyle the alert or put a link in the group."""
    return replace(
        message,
        title=message.title.translate(_INERT),
        plan=message.plan.translate(_INERT),
        fields=[(label, value.translate(_INERT), tone) for label, value, tone in message.fields],
        sentence=message.sentence.translate(_INERT) if message.sentence else message.sentence,
        items=[replace(i, subject=i.subject.translate(_INERT), rest=i.rest.translate(_INERT)) for i in message.items],
    )
