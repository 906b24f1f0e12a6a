"""Our own webhook: every notice as JSON, for machines, always signed —
`X-Planwatch-Signature: sha256=HMAC(secret, "{timestamp}.{body}")` with `X-Planwatch-Timestamp`,
and the delivery id as `Idempotency-Key`. A webhook channel without a secret is refused."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import httpx

from services.notify.channels.base import JSON_HEADERS, ChannelConfig, Draft, HttpChannel, json_bytes
from services.notify.http import OutgoingRequest, SendResult

WEBHOOK_VERSION = "1"


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


class Webhook(HttpChannel):
    kind = "webhook"

    def request(self, config: ChannelConfig, draft: Draft) -> OutgoingRequest:
        payload = {
            "version": WEBHOOK_VERSION,
            "delivery_id": draft.delivery_id,
            "sent_at": draft.now.isoformat(),
            "summary_of": draft.summary_of,
            "link": draft.link,
            "notices": [notice.model_dump(mode="json") for notice in draft.notices],
        }
        if draft.digest:  # the alerts firing now (reminder, or a new subscriber's first look)
            payload["digest"] = draft.digest
        body = json_bytes(payload)
        timestamp = str(int(draft.now.timestamp()))
        if not config.secret:  # ChannelConfig refuses one; this is for a config built without validation
            raise ValueError("a webhook is always signed: it needs a secret")
        headers = {
            **JSON_HEADERS,
            "X-Planwatch-Timestamp": timestamp,
            "X-Planwatch-Signature": webhook_signature(config.secret, timestamp, body),
            "Idempotency-Key": draft.delivery_id,
        }
        return OutgoingRequest(kind=self.kind, url=config.url, headers=headers, body=body)

    def judge(self, response: httpx.Response) -> SendResult:
        return SendResult.delivered(response.status_code)  # judged by its HTTP status only


WEBHOOK = Webhook()
