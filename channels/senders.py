"""Conversation ids the tracker store can keep, so no conversation is invisible to staff.

Rasa's SQL tracker store keeps the conversation id in a column of 255 characters: PostgreSQL
refuses a longer id, so the message is lost and staff never see it (SQLite keeps it, so this
shows only in production). The REST channel refuses such an id with 400 (the client can fix it).
The web chat takes its id from the page (`session_id`), so a longer or unprintable one is mapped
to `webchat-<hash>`: the same id always reaches the same conversation. Twilio's ids are a hash
already; Telegram's and Messenger's are the platform's short numbers, and a message claiming a
longer one is refused in channels/fair_use.py (the platform could not send a reply to it).
"""

from __future__ import annotations

import hashlib

MAX_SENDER_CHARS = 255  # the tracker store's sender_id column


def is_storable(sender_id: str) -> bool:
    """An id the tracker store keeps as it is: 1 to 255 printable characters, not all blank."""
    return bool(sender_id.strip()) and len(sender_id) <= MAX_SENDER_CHARS and sender_id.isprintable()


def storable_id(sender_id: str, channel: str) -> str:
    """The id itself when the store can keep it, else `<channel>-<hash of the id>`."""
    if is_storable(sender_id):
        return sender_id
    digest = hashlib.sha256(sender_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{channel}-{digest[:32]}"
