"""The audit log: who viewed, exported or changed which conversation. Ids and actions only."""
from __future__ import annotations

from typing import Iterable

from .models import AuditEvent
from .stores import iter_chunks


def record(user, action: str, conversation_id: str = "", detail: str = "") -> None:
    username = user.get_username() if user is not None and user.is_authenticated else ""
    AuditEvent.objects.create(
        username=username, action=action, conversation_id=conversation_id or "", detail=detail[:200]
    )


def record_many(user, action: str, conversation_ids: Iterable[str], detail: str = "") -> None:
    username = user.get_username() if user is not None and user.is_authenticated else ""
    rows = [
        AuditEvent(username=username, action=action, conversation_id=c, detail=detail[:200])
        for c in conversation_ids
    ]
    for chunk in iter_chunks(rows, 2000):
        AuditEvent.objects.bulk_create(chunk)
