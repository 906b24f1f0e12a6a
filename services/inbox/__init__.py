"""The departments' inbox stream: a FastStream consumer group over plain XADD entries."""

from __future__ import annotations

from services.inbox.consumer import Inbox, InboxMessage, asyncapi_document, entry_fields, to_payload
from services.inbox.entries import RepeatedFields, install_entry_callbacks

__all__ = [
    "Inbox",
    "InboxMessage",
    "RepeatedFields",
    "asyncapi_document",
    "entry_fields",
    "install_entry_callbacks",
    "to_payload",
]
