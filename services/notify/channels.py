"""Delivery channels: turning alert notices into the requests WeCom, DingTalk, Feishu and our own
webhook expect, signing them, and judging the answers.

Everything here except `send` and `check_target` is pure: `build_request` takes the clock
as an argument, so a delivery can be rebuilt and compared byte for byte in tests.

Vendor payloads and signing follow shared/notes/alerting-practice.md section 4:
- WeCom group robot: the key in the URL is the secret; markdown content ≤ 4096 bytes UTF-8.
- DingTalk custom robot: `timestamp` (ms) and `sign` in the query string; sign is URL-encoded.
- Feishu custom bot: `timestamp` (s) and `sign` in the body; key and message swapped compared with
  DingTalk, and not URL-encoded; request body ≤ 20 KB.
- Our webhook: `X-Planwatch-Signature: sha256=HMAC(secret, "{timestamp}.{body}")`, always: a
  webhook channel without a secret is refused.

Sending does not check the target address: callers run `check_target` when a channel is
configured, and again before each send, passing the address it approved to `send`, which
connects there without resolving the name again (so DNS rebinding cannot redirect it).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import quote_plus, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.alerts import AlertNotice, severity_rank

ChannelKind = Literal["webhook", "wecom", "dingtalk", "feishu"]

WEBHOOK_VERSION = "1"
WECOM_MARKDOWN_MAX_BYTES = 4096  # WeCom answers 40058 beyond this
FEISHU_BODY_MAX_BYTES = 20_000  # "≤20 KB"; the decimal reading is the safe one
# DingTalk documents no byte limit for markdown; we keep to the same budget as Feishu.
DINGTALK_TEXT_MAX_BYTES = 20_000

# China has had no daylight saving time since 1991, so a fixed offset is exact.
CHINA_TIME = timezone(timedelta(hours=8), "北京时间")

_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}

# Vendor error codes that mean "too fast / busy, try again later"; every other code is a
# configuration problem (bad key, signature, keyword, IP) that retrying cannot fix.
RETRYABLE_CODES: dict[str, frozenset[int]] = {
    "wecom": frozenset({45009, -1}),  # api freq out of limit; -1 系统繁忙
    "dingtalk": frozenset({130101, -1}),  # send too fast; -1 系统繁忙
    "feishu": frozenset({11232}),  # frequency limited
}


class ChannelConfig(BaseModel):
    """Where one subscriber's notices go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ChannelKind
    url: str
    secret: str | None = Field(
        default=None, repr=False, description="signing secret (required for webhook); WeCom has none"
    )

    @model_validator(mode="after")
    def _webhooks_are_signed(self) -> ChannelConfig:
        if self.kind == "webhook" and not self.secret:
            raise ValueError("a webhook is always signed: it needs a secret")
        return self


@dataclass(frozen=True)
class OutgoingRequest:
    """One HTTP request, fully built and signed, ready for `send`."""

    kind: ChannelKind
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    method: str = "POST"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status: int | None
    error: str | None
    retry: bool


# --- signing ---------------------------------------------------------------------------------


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` over `{timestamp}.{body}`: binding the timestamp stops replays of old bodies."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify_webhook(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: datetime, tolerance_s: int = 300
) -> bool:
    """What a receiver of our webhook runs: signature matches and the timestamp is fresh."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now.timestamp() - sent) > tolerance_s:
        return False
    expected = webhook_signature(secret, timestamp, body)
    return hmac.compare_digest(expected.encode("utf-8"), signature.encode("utf-8"))


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """URL-encoded base64(HMAC-SHA256(key=secret, msg="{timestamp_ms}\\n{secret}"))."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """base64(HMAC-SHA256(key="{timestamp_s}\\n{secret}", msg="")), not URL-encoded (it goes in the body)."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


# --- message content -------------------------------------------------------------------------

Tone = Literal["alert", "ok", "muted", "strong"]

# What went wrong, short enough for a title: "地区生产总值" + "未达目标".
_PROBLEM_ZH: dict[str, str] = {
    "indicator_behind": "未达目标",
    "relative_target": "未达相对目标",
    "project_not_started": "逾期未开工",
    "project_investment_lag": "投资滞后",
    "portfolio_start_rate": "滞后",  # subject names read 重点项目开工 / 重点项目投资
    "portfolio_investment_rate": "滞后",
    "data_stale": "数据逾期未报送",
}


@dataclass(frozen=True)
class _Item:
    """One line of a summary message."""

    tag: str
    tone: Tone
    subject: str
    rest: str


@dataclass(frozen=True)
class _Message:
    """What a message says, before any channel's markup."""

    title: str
    tone: Tone
    plan: str
    fields: list[tuple[str, str, Tone | None]]
    sentence: str | None
    items: list[_Item]
    unlisted: int  # changes the summary stands for but the caller did not pass
    link: str | None


def _one_line(text: str) -> str:
    # Values go into line-based layouts; a stray newline would break a field or a list item.
    return " ".join(text.splitlines())


def _china_time(moment: datetime) -> str:
    return moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")


def _tag(notice: AlertNotice) -> str:
    if notice.type == "rollup.published":
        return "【月度报告】"
    if notice.type == "alert.resolved":
        return "【已恢复】"
    if notice.type == "alert.escalated" and notice.severity != "emergency":
        return f"【升级为{notice.severity_zh}】"
    return f"【{notice.severity_zh}】"  # emergency reads 【升级督办】 already


def _problem(notice: AlertNotice) -> str:
    problem = _PROBLEM_ZH.get(notice.rule, f"：{notice.rule_zh}")
    return f"{problem}预警已解除" if notice.type == "alert.resolved" else problem


def _tone(notice: AlertNotice) -> Tone:
    return "ok" if notice.type == "alert.resolved" else "alert"


def _subject_label(notice: AlertNotice) -> str:
    return "项目" if notice.rule.startswith("project_") else "指标"


def _fact_labels(notice: AlertNotice) -> tuple[str, str, str]:
    """Labels for target, actual and deviation. Indicators have annual targets and a gap to them
    (全年目标 / 完成 / 与目标±); project rules word their facts themselves ("2025-03开工",
    "未开工", "逾期3个月", "完成投资…"), so neutral labels keep them from reading twice."""
    if notice.rule.startswith(("project_", "portfolio_")):
        return "目标", "进展", "偏差"
    return "全年目标", "完成", "与目标±"


def _importance(notice: AlertNotice) -> tuple[int, int, int, float]:
    """Sort key, most important first: firing before resolved, severer first, escalations first, newest first."""
    return (
        notice.type == "alert.resolved",
        -severity_rank(notice.severity),
        notice.type != "alert.escalated",
        -notice.at.timestamp(),
    )


def _single_message(notice: AlertNotice, link: str | None) -> _Message:
    fields: list[tuple[str, str, Tone | None]] = [
        ("计划", notice.plan_name, "muted"),
        (_subject_label(notice), notice.subject_name, "strong"),
    ]
    target_label, actual_label, deviation_label = _fact_labels(notice)
    if notice.target:
        fields.append((target_label, notice.target, None))
    if notice.actual:
        done = f"{notice.actual}（{notice.period}）" if notice.period else notice.actual
        fields.append((actual_label, done, None))
    elif notice.period:
        fields.append(("统计期", notice.period, None))
    if notice.deviation:
        fields.append((deviation_label, notice.deviation, _tone(notice)))
    fields.append(("责任单位", notice.department_name, None))
    fields.append(("开始时间", _china_time(notice.started_at), "muted"))
    if notice.type == "alert.escalated":
        fields.append(("升级时间", _china_time(notice.at), "muted"))
    elif notice.type == "alert.resolved":
        fields.append(("恢复时间", _china_time(notice.at), "muted"))
    return _one_notice(f"{_tag(notice)}{notice.subject_name}{_problem(notice)}", _tone(notice), notice, fields, link)


def _one_notice(
    title: str, tone: Tone, notice: AlertNotice, fields: list[tuple[str, str, Tone | None]], link: str | None
) -> _Message:
    """A message about one notice: its fields, then its summary sentence."""
    return _Message(
        title=_one_line(title),
        tone=tone,
        plan=notice.plan_name,
        fields=[(label, _one_line(value), tone) for label, value, tone in fields],
        sentence=_one_line(notice.summary_zh),
        items=[],
        unlisted=0,
        link=link,
    )


def _summary_item(notice: AlertNotice) -> _Item:
    _, actual_label, deviation_label = _fact_labels(notice)
    facts = []
    if notice.actual:
        facts.append(f"{actual_label}{notice.actual}")
    if notice.target:
        facts.append(f"目标{notice.target}")
    if notice.deviation:
        facts.append(f"{deviation_label.rstrip('±')}{notice.deviation}")
    rest = _problem(notice) + (f"：{'，'.join(facts)}" if facts else "") + f"（{notice.department_name}）"
    return _Item(tag=_tag(notice), tone=_tone(notice), subject=_one_line(notice.subject_name), rest=_one_line(rest))


def _summary_message(notices: list[AlertNotice], total: int, link: str | None) -> _Message:
    words = {
        "alert.raised": "新增",
        "alert.escalated": "升级",
        "alert.resolved": "恢复",
        "rollup.published": "月度报告",
    }
    counts = {kind: sum(n.type == kind for n in notices) for kind in words}
    breakdown = "，".join(f"{words[kind]}{count}条" for kind, count in counts.items() if count)
    if total == len(notices):
        title = f"计划执行预警汇总：{breakdown}（共{total}条变化）"
    else:  # the caller listed only the most important changes
        title = f"计划执行预警汇总：共{total}条变化（重点：{breakdown}）"
    plans = "、".join(dict.fromkeys(n.plan_name for n in notices))
    return _Message(
        title=title,
        tone="alert" if counts["alert.resolved"] < len(notices) else "ok",
        plan=_one_line(plans),
        fields=[],
        sentence=None,
        items=[_summary_item(n) for n in sorted(notices, key=_importance)],
        unlisted=total - len(notices),
        link=link,
    )


def _rollup_message(notice: AlertNotice, link: str | None) -> _Message:
    """A monthly report was published: what it covers, what missed, where to read it."""
    fields: list[tuple[str, str, Tone | None]] = [
        ("计划", notice.plan_name, "muted"),
        ("报告期", notice.period or "", None),
        ("版本", notice.actual or "", None),
    ]
    if notice.deviation:
        fields.append(("未达目标", notice.deviation, "alert"))
    fields.append(("生成时间", _china_time(notice.at), "muted"))
    return _one_notice(f"【月度报告】{notice.subject_name}", "ok", notice, fields, link)


def _message(notices: list[AlertNotice], summary_of: int | None, link: str | None) -> _Message:
    if len(notices) == 1 and summary_of in (None, 1):
        if notices[0].type == "rollup.published":
            return _rollup_message(notices[0], link)
        return _single_message(notices[0], link)
    return _summary_message(notices, summary_of or len(notices), link)


# --- markup per channel ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Rendered:
    head: list[str]  # always kept
    items: list[str]  # dropped from the end when the message is too long
    tail: list[str]  # always kept (the link)
    note: Callable[[int], str]  # the "N more" line


def _omitted(count: int) -> str:
    return f"…（其余{count}条略）"


_WECOM_COLOR: dict[Tone, str] = {"alert": "warning", "ok": "info", "muted": "comment"}


def _wecom_style(text: str, tone: Tone | None) -> str:
    if tone == "strong":
        return f"**{text}**"
    if tone is None:
        return text
    return f'<font color="{_WECOM_COLOR[tone]}">{text}</font>'


def _render_wecom(message: _Message) -> _Rendered:
    head = [f"## {_wecom_style(message.title, message.tone)}"]
    if message.items:
        head.append(f"> 计划：{_wecom_style(message.plan, 'muted')}")
    head += [f"> {label}：{_wecom_style(value, tone)}" for label, value, tone in message.fields]
    if message.sentence:
        head += ["", message.sentence]
    items = [f"- {_wecom_style(i.tag, i.tone)}**{i.subject}**{i.rest}" for i in message.items]
    tail = [f"[查看详情]({message.link})"] if message.link else []
    return _Rendered(head, items, tail, lambda count: _wecom_style(_omitted(count), "muted"))


def _render_dingtalk(message: _Message) -> _Rendered:
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
    return _Rendered(head, items, tail, lambda count: f"- {_omitted(count)}")


def _render_text(message: _Message) -> _Rendered:
    head = [message.title]
    if message.items:
        head.append(f"计划：{message.plan}")
    head += [f"{label}：{value}" for label, value, _ in message.fields]
    if message.sentence:
        head.append(message.sentence)
    items = [f"{n}. {i.tag}{i.subject}{i.rest}" for n, i in enumerate(message.items, start=1)]
    tail = [f"详情：{message.link}"] if message.link else []
    return _Rendered(head, items, tail, _omitted)


def _fit(rendered: _Rendered, unlisted: int, *, limit: int, size: Callable[[str], int]) -> str:
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


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


# --- requests --------------------------------------------------------------------------------


def _json_bytes(payload: dict[str, Any]) -> bytes:
    # Chinese stays readable on the wire (and 3 bytes, not 6, per character against the limits).
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _with_query(url: str, extra: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def build_request(
    channel: ChannelConfig,
    notices: list[AlertNotice],
    *,
    delivery_id: str,
    now: datetime,
    summary_of: int | None = None,
    link: str | None = None,
) -> OutgoingRequest:
    """The signed request delivering `notices` (one, or the listed part of a summary of `summary_of`
    changes) to `channel`. `now` is the signing time; `delivery_id` is the idempotency key our own
    webhook carries (the robots have none)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not notices:
        raise ValueError("a delivery needs at least one notice")
    if summary_of is not None and summary_of < len(notices):
        raise ValueError(f"summary_of={summary_of} is less than the {len(notices)} notices listed")
    if channel.kind == "webhook":
        return _webhook_request(channel, notices, delivery_id=delivery_id, now=now, summary_of=summary_of, link=link)
    message = _message(notices, summary_of, link)
    if channel.kind == "wecom":
        content = _fit(_render_wecom(message), message.unlisted, limit=WECOM_MARKDOWN_MAX_BYTES, size=_utf8_size)
        body = _json_bytes({"msgtype": "markdown", "markdown": {"content": content}})
        return OutgoingRequest(kind="wecom", url=channel.url, headers=dict(_JSON_HEADERS), body=body)
    if channel.kind == "dingtalk":
        return _dingtalk_request(channel, message, now)
    return _feishu_request(channel, message, now)


def _webhook_request(
    channel: ChannelConfig,
    notices: list[AlertNotice],
    *,
    delivery_id: str,
    now: datetime,
    summary_of: int | None,
    link: str | None,
) -> OutgoingRequest:
    payload = {
        "version": WEBHOOK_VERSION,
        "delivery_id": delivery_id,
        "sent_at": now.isoformat(),
        "summary_of": summary_of,
        "link": link,
        "notices": [notice.model_dump(mode="json") for notice in notices],
    }
    body = _json_bytes(payload)
    timestamp = str(int(now.timestamp()))
    if not channel.secret:  # ChannelConfig refuses one; this is for a config built without validation
        raise ValueError("a webhook is always signed: it needs a secret")
    headers = {
        **_JSON_HEADERS,
        "X-Planwatch-Timestamp": timestamp,
        "X-Planwatch-Signature": webhook_signature(channel.secret, timestamp, body),
        "Idempotency-Key": delivery_id,
    }
    return OutgoingRequest(kind="webhook", url=channel.url, headers=headers, body=body)


def _dingtalk_request(channel: ChannelConfig, message: _Message, now: datetime) -> OutgoingRequest:
    text = _fit(_render_dingtalk(message), message.unlisted, limit=DINGTALK_TEXT_MAX_BYTES, size=_utf8_size)
    body = _json_bytes(
        {
            "msgtype": "markdown",
            "markdown": {"title": message.title, "text": text},
            "at": {"atMobiles": [], "isAtAll": False},
        }
    )
    url = channel.url
    if channel.secret:
        timestamp_ms = int(now.timestamp() * 1000)
        url = _with_query(url, f"timestamp={timestamp_ms}&sign={dingtalk_sign(channel.secret, timestamp_ms)}")
    return OutgoingRequest(kind="dingtalk", url=url, headers=dict(_JSON_HEADERS), body=body)


def _feishu_request(channel: ChannelConfig, message: _Message, now: datetime) -> OutgoingRequest:
    signing: dict[str, str] = {}
    if channel.secret:
        timestamp_s = int(now.timestamp())
        signing = {"timestamp": str(timestamp_s), "sign": feishu_sign(channel.secret, timestamp_s)}

    def body_of(text: str) -> bytes:
        return _json_bytes({**signing, "msg_type": "text", "content": {"text": text}})

    # The limit is on the whole body, JSON escaping included, so measure exactly that.
    text = _fit(_render_text(message), message.unlisted, limit=FEISHU_BODY_MAX_BYTES, size=lambda t: len(body_of(t)))
    return OutgoingRequest(kind="feishu", url=channel.url, headers=dict(_JSON_HEADERS), body=body_of(text))


# --- sending ---------------------------------------------------------------------------------


async def send(
    client: httpx.AsyncClient,
    request: OutgoingRequest,
    *,
    addresses: Sequence[str] = (),
    timeout: float = 10.0,
) -> SendResult:
    """Post `request` and judge the answer. Redirects are not followed: a redirect could point
    anywhere, including addresses `check_target` refused. With `addresses` (what `check_target`
    approved) the connection goes to those addresses, the next one if one cannot be connected to
    (an unreachable IPv6 route, say), and the name is not resolved again; the Host header and TLS
    (SNI and certificate) still use the URL's host name."""
    url = httpx.URL(request.url)
    if not addresses:
        result, _ = await _post(client, request, url, request.headers, {}, timeout)
        return result
    headers = {**request.headers, "Host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": url.raw_host.decode("ascii")}
    for address in addresses:
        result, connected = await _post(client, request, url.copy_with(host=address), headers, extensions, timeout)
        if connected:
            break
    return result


async def _post(
    client: httpx.AsyncClient,
    request: OutgoingRequest,
    url: httpx.URL,
    headers: dict[str, str],
    extensions: dict[str, str],
    timeout: float,
) -> tuple[SendResult, bool]:
    """The result, and whether a connection was made (else another address may be tried)."""
    try:
        response = await client.request(
            request.method,
            url,
            headers=headers,
            content=request.body,
            timeout=timeout,
            follow_redirects=False,
            extensions=extensions,
        )
    except httpx.UnsupportedProtocol as error:
        return SendResult(ok=False, status=None, error=f"unsupported URL: {error}", retry=False), True
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:
        return SendResult(ok=False, status=None, error=f"{type(error).__name__}: {error}", retry=True), False
    except httpx.TransportError as error:  # reset, read timeout: may work later
        return SendResult(ok=False, status=None, error=f"{type(error).__name__}: {error}", retry=True), True
    except (httpx.RequestError, httpx.InvalidURL) as error:
        return SendResult(ok=False, status=None, error=f"{type(error).__name__}: {error}", retry=False), True
    return _judge(request.kind, response), True


def _judge(kind: ChannelKind, response: httpx.Response) -> SendResult:
    status = response.status_code
    if not 200 <= status < 300:
        retry = status == 429 or status >= 500
        return SendResult(ok=False, status=status, error=f"HTTP {status}: {response.text[:200]}", retry=retry)
    if kind == "webhook":
        return SendResult(ok=True, status=status, error=None, retry=False)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        # A 2xx that is not the vendor's JSON is a proxy or a wrong URL, not a transient state.
        return SendResult(ok=False, status=status, error=f"unexpected answer: {response.text[:200]}", retry=False)
    if kind == "feishu":
        code = answer["code"] if "code" in answer else answer.get("StatusCode")
        text = answer.get("msg") or answer.get("StatusMessage")
    else:
        code, text = answer.get("errcode"), answer.get("errmsg")
    if code == 0:
        return SendResult(ok=True, status=status, error=None, retry=False)
    retry = isinstance(code, int) and code in RETRYABLE_CODES[kind]
    return SendResult(ok=False, status=status, error=f"{kind} error {code}: {text}", retry=retry)


# --- SSRF protection -------------------------------------------------------------------------


class UnsafeTarget(ValueError):
    """A channel URL we refuse to post to (not http(s), unresolvable, or an internal address)."""


class UnresolvedTarget(UnsafeTarget):
    """The URL's host name did not resolve: refused when a channel is configured, but at send
    time most likely a passing DNS failure, worth retrying."""


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_REASON_ZH = {
    "unspecified": "未指定地址",
    "loopback": "回环地址",
    "link-local": "链路本地地址",
    "multicast": "组播地址",
    "private": "内网地址",
    "reserved": "保留地址",
    "non-public": "非公网地址",
}


def _refuse(url: str, reason: str, reason_zh: str, kind: type[UnsafeTarget] = UnsafeTarget) -> UnsafeTarget:
    return kind(f"refusing notification target {url!r}: {reason}（拒绝推送地址：{reason_zh}）")


def _split_target(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise _refuse(url, f"malformed URL ({error})", "地址格式错误") from None
    if parts.scheme not in ("http", "https"):
        raise _refuse(url, "only http and https URLs are allowed", "仅允许 http 或 https 地址")
    if not parts.hostname:
        raise _refuse(url, "the URL has no host", "地址缺少主机名")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _address_class(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why this address is not a public one, or None if it is."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 form can carry an IPv4 address; judge the IPv4 address it reaches.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _address_class(embedded)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),  # e.g. 100.64.0.0/10 carrier-grade NAT
    )
    return next((name for name, hit in checks if hit), None)


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check_addresses(url: str, host: str, addresses: list[str], allow_private: bool) -> None:
    if allow_private:
        return
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        problem = _address_class(address)
        if problem:
            raise _refuse(
                url,
                f"{host} is {address}, a {problem} address",
                f"{host} 指向{_REASON_ZH[problem]} {address}",
            )


def _cannot_resolve(url: str, host: str, error: Exception) -> UnsafeTarget:
    return _refuse(url, f"cannot resolve host {host} ({error})", f"无法解析主机名 {host}", UnresolvedTarget)


async def check_target(url: str, *, allow_private: bool = False) -> list[str]:
    """Refuse URLs that would make us post into our own network (SSRF): anything not http(s), and
    any host that is or resolves to a loopback, private, link-local, multicast, reserved or
    unspecified address. Every resolved address must be public (a resolver may rotate them).
    `allow_private=True` is for intranet deployments; names must still resolve. DNS is asked on
    the event loop's resolver, without blocking it. Returns the addresses approved, in the
    resolver's order: give them to `send`, so the name is not resolved a second time, perhaps to
    somewhere else."""
    host, port = _split_target(url)
    literal = _literal_ip(host)
    if literal is not None:
        _check_addresses(url, host, [str(literal)], allow_private)
        return [str(literal)]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise _cannot_resolve(url, host, error) from None
    addresses = [str(info[4][0]).split("%", 1)[0] for info in infos]  # an IPv6 zone id cannot be pinned
    _check_addresses(url, host, addresses, allow_private)
    if not addresses:
        raise _cannot_resolve(url, host, OSError("no address"))
    return list(dict.fromkeys(addresses))  # one per address, not per socket type
