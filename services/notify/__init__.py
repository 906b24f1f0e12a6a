"""Telling subscribers: fan-out of alert notices (`fanout`), delivery (`delivery`), the channels
(`channels/`, one module each), the wording of messages (`wording`), the network guard
(`guard`), what is pending and given up (`deliveries`), the HTTP sending (`http`), reminders and
digests of what fires (`reminders`, scheduled by the pure `schedule`). Other rooms import from here."""

from __future__ import annotations

from services.notify.channels import (
    ChannelConfig,
    build_request,
    dingtalk_sign,
    feishu_sign,
    send,
    verify_webhook,
    webhook_signature,
)
from services.notify.deliveries import DeadLetter, Deliveries, Pending
from services.notify.guard import UnresolvedTarget, UnsafeTarget, check_target
from services.notify.http import OutgoingRequest, SendResult
from services.notify.notifier import Notifier
from services.notify.reminders import FiringOf, queue_firing, remindable, zone_of
from services.notify.schedule import WorkingHours, next_reminder, reminder_due, working_start
from services.notify.subscriptions import Filters, Subscription, SubscriptionRequest, SubscriptionStore

__all__ = [
    "ChannelConfig",
    "DeadLetter",
    "Deliveries",
    "Filters",
    "FiringOf",
    "Notifier",
    "OutgoingRequest",
    "Pending",
    "SendResult",
    "Subscription",
    "SubscriptionRequest",
    "SubscriptionStore",
    "UnresolvedTarget",
    "UnsafeTarget",
    "WorkingHours",
    "build_request",
    "check_target",
    "dingtalk_sign",
    "feishu_sign",
    "next_reminder",
    "queue_firing",
    "remindable",
    "reminder_due",
    "send",
    "verify_webhook",
    "webhook_signature",
    "working_start",
    "zone_of",
]
