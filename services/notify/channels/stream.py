"""The `stream` channel, for in-house systems: every notice of a delivery, as JSON, appended with
the delivery id to a Redis stream of the subscriber's own, `pw:notices:{id}` (capped, roughly,
at the newest 100 000 deliveries). It stays when the subscription is deleted: it is the
subscriber's data."""

from __future__ import annotations

from typing import Any

from services.notify.channels.base import Delivery, Outlets, notices_json
from services.notify.http import SendResult
from services.notify.subscriptions import Subscription

STREAM_MAXLEN = 100_000


class Stream:
    async def deliver(self, delivery: Delivery, to: Subscription, via: Outlets) -> SendResult:
        fields: dict[Any, Any] = {"delivery_id": delivery.id, "notices": notices_json(delivery.notices)}
        if delivery.digest:  # the alerts firing now (reminder, or a new subscriber's first look)
            fields["digest"] = delivery.digest
        await via.redis.xadd(
            via.keys.sub_stream(to.id),
            fields,
            maxlen=STREAM_MAXLEN,
            approximate=True,
        )
        return SendResult.delivered()


STREAM = Stream()
