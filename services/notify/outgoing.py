"""Deliveries made up ahead of a subscription's queue (`sub_outgoing`): dead letters asked to be
redelivered, reminders, and the digest of what fires now sent to a new subscriber. The notifier
sends them first, one at a time, each with its own idempotency key, through the same delivery
path as the queue (retries, dead letters)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import cast

from events.alerts import AlertNotice
from services.notify.channels import notices_json
from services.notify.wording import DigestKind


@dataclass(frozen=True)
class Outgoing:
    """A delivery made up ahead of the queue, as stored in `sub_outgoing`."""

    delivery_id: str  # a redelivered dead letter keeps its idempotency key
    notices: list[AlertNotice]
    fold: bool
    kind: str  # redelivery, reminder, firing
    digest: DigestKind | None = None  # worded as a digest of firing alerts (a redelivered one too)
    zone: str | None = None  # a digest's times are in this zone (the plan's)

    def fields(self) -> dict[str, str]:
        fields = {
            "delivery_id": self.delivery_id,
            "notices": notices_json(self.notices),
            "fold": "1" if self.fold else "0",
            "kind": self.kind,
        }
        if self.digest:
            fields |= {"digest": self.digest, "zone": self.zone or ""}
        return fields

    @classmethod
    def read(cls, fields: dict[str, str]) -> Outgoing:
        notices = [AlertNotice.model_validate(n) for n in json.loads(fields["notices"])]
        digest = fields.get("digest")
        return cls(
            fields["delivery_id"],
            notices,
            fields.get("fold") == "1",
            fields.get("kind", "redelivery"),
            cast(DigestKind, digest) if digest in ("reminder", "firing") else None,
            fields.get("zone") or None,
        )
