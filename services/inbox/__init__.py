"""The departments' inbox stream: a FastStream consumer group over plain XADD entries."""

from __future__ import annotations

from services.inbox.consumer import Inbox, InboxMessage, asyncapi_document, entry_fields, to_payload

__all__ = ["Inbox", "InboxMessage", "asyncapi_document", "entry_fields", "to_payload"]
