"""Telling subscribers: fan-out of alert notices, delivery, and the channels. Other rooms import
from here."""

from __future__ import annotations

from services.notify.channels import (
    ChannelConfig,
    OutgoingRequest,
    SendResult,
    UnresolvedTarget,
    UnsafeTarget,
    build_request,
    check_target,
    dingtalk_sign,
    feishu_sign,
    send,
    verify_webhook,
    webhook_signature,
)
from services.notify.notifier import Notifier
from services.notify.subscriptions import Filters, Subscription, SubscriptionRequest, SubscriptionStore

__all__ = [
    "ChannelConfig",
    "Filters",
    "Notifier",
    "OutgoingRequest",
    "SendResult",
    "Subscription",
    "SubscriptionRequest",
    "SubscriptionStore",
    "UnresolvedTarget",
    "UnsafeTarget",
    "build_request",
    "check_target",
    "dingtalk_sign",
    "feishu_sign",
    "send",
    "verify_webhook",
    "webhook_signature",
]
