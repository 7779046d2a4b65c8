"""Web chat sessions the server issues and signs, so a conversation id alone is not enough.

The widget keeps whatever `session_confirm` gives it and sends it back with every message. Here
that is a token, `<conversation id>.<signature>`: the conversation id is a random id the server
made, and the signature an HMAC-SHA256 of it under `WEBCHAT_SESSION_SECRET`. An id read from a log
line, a review link or a guess is not a token, so it can neither receive that patient's replies
nor post into their chat: a message without a valid token starts a new, empty conversation of its
own (it is still answered). Logs carry a short hash of the conversation id, never the token.

Without `WEBCHAT_SESSION_SECRET` the secret is made at start-up (`./dev run` keeps one in
var/webchat-session-secret): a restart then starts new conversations for open pages, nothing
else is lost.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Mapping

SECRET_ENV = "WEBCHAT_SESSION_SECRET"
SIGNATURE_CHARS = 32  # hex characters of the HMAC kept in the token (128 bits)


class SessionSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError(f"{SECRET_ENV} must be at least 16 characters")
        self._secret = secret

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SessionSigner:
        given = (environ.get(SECRET_ENV) or "").strip()
        return cls(given.encode() if given else secrets.token_bytes(32))

    def _signature(self, conversation_id: str) -> str:
        return hmac.new(self._secret, conversation_id.encode(), hashlib.sha256).hexdigest()[:SIGNATURE_CHARS]

    def new_token(self) -> tuple[str, str]:
        """(conversation id, token) for a new session."""
        conversation_id = uuid.uuid4().hex
        return conversation_id, f"{conversation_id}.{self._signature(conversation_id)}"

    def conversation_of(self, token: object) -> str | None:
        """The conversation id a token was issued for, or None when it was not issued here."""
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 100:
            return None
        conversation_id, signature = token.split(".")
        if not conversation_id or not hmac.compare_digest(signature, self._signature(conversation_id)):
            return None
        return conversation_id


def log_id(conversation_id: str) -> str:
    """What a log line may show of a conversation id: a short hash of it."""
    return hashlib.sha256(conversation_id.encode()).hexdigest()[:12]
