"""The REST channel for production: 200 means the message is stored, anything else says why not.

Same URL and same answer as Rasa's `rest` channel (`POST /webhooks/rest/webhook` with
`{"sender": ..., "message": ..., "metadata": {...}}`, answered with the list of bot messages),
but Rasa 3.6's own channel

- answers 200 with whatever was collected even when handling failed (PostgreSQL or Redis down),
  so a client cannot tell a stored message from a lost one;
- answers 500 to a body that is JSON but not an object (`[]`, `"hi"`), and accepts any content
  type;
- writes the patient's message into the log when handling fails.

Here a request is checked first (JSON object, `sender` a short printable id, `message` a
string, `metadata` an object: otherwise 400; not JSON: 415), a message over 10,000 characters is
refused whole (413, never cut), and a failure to store or lock the conversation is a 503 with a plain sentence and
`Retry-After`, so the sender can send the message again. Logs carry conversation ids and error
codes, never message text. Streaming (`?stream=true`) is not offered.

Fair use (channels/fair_use.py): past a rate limit the answer is 429 with a plain sentence and
`Retry-After`; past the cap on a conversation's length, 403 with a sentence giving the clinic's
number. A message with a red flag is never refused.

A patient is never left with no answer: when handling produced no bot message at all (above all
when the action server is down, which Rasa logs and then carries on from in silence), the
answer is a short apology with the clinic's number and 000. Red-flag escalations need no action
server (components/safety_policy.py), so they still come through.

In credentials.yml (the name stays `rest`, so the URL does not change):

    channels.rest.AcknowledgedRestInput:
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.lock_store import LockError
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import load_settings
from channels import fair_use as fair
from channels.senders import MAX_SENDER_CHARS
from channels.settings import BUSY, FAILED, MAX_MESSAGE_CHARS, NO_REPLY, NOT_STORED, TOO_LONG
from components.durable_tracker_store import TrackerStoreUnavailable

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"


class BadMessage(Exception):
    def __init__(self, status: int, code: str, error: str) -> None:
        super().__init__(code)
        self.status, self.code, self.error = status, code, error


def _error(status: int, code: str, error: str, **headers: str) -> HTTPResponse:
    return response.json({"error": error, "code": code}, status=status, headers=headers or None)


def _refused(refusal: fair.Refusal) -> HTTPResponse:
    if refusal.retry_after is not None:  # a rate limit: the same message is welcome later
        return _error(429, refusal.code, refusal.text, **{"Retry-After": str(refusal.retry_after)})
    return _error(403, refusal.code, refusal.text)  # the conversation is full: call the clinic


def parse_message(request: Request) -> tuple[str, str, dict[str, Any] | None]:
    """(sender, text, metadata) from a request, or BadMessage saying what is wrong with it."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise BadMessage(415, "unsupported_media_type", "Send the message as JSON (Content-Type: application/json).")
    try:
        body = request.json
    except InvalidUsage:
        raise BadMessage(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadMessage(400, "invalid_body", 'Send a JSON object: {"sender": "...", "message": "..."}.')

    sender = body.get("sender")
    if isinstance(sender, int) and not isinstance(sender, bool):
        sender = str(sender)
    if not isinstance(sender, str) or not sender.strip():
        raise BadMessage(400, "invalid_sender", '"sender" must be a non-empty string that identifies the conversation.')
    if len(sender) > MAX_SENDER_CHARS or not sender.isprintable():
        raise BadMessage(400, "invalid_sender", f'"sender" must be at most {MAX_SENDER_CHARS} printable characters.')

    text = body.get("message")
    if not isinstance(text, str):
        raise BadMessage(400, "invalid_message", '"message" must be a string.')
    if "\x00" in text:
        # PostgreSQL text cannot hold NUL; it is never part of what a person typed.
        text = text.replace("\x00", "")

    if len(text) > MAX_MESSAGE_CHARS:
        raise BadMessage(413, "message_too_long", TOO_LONG)  # refused whole, never cut
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadMessage(400, "invalid_metadata", '"metadata" must be a JSON object.')
    return sender, text, metadata


class AcknowledgedRestInput(RestInput):
    """Rasa's REST channel that answers 200 only for a message that was handled and stored."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)
        no_reply = NO_REPLY.format(phone=load_settings().clinic_phone)
        fair_use = fair.attach(webhook)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text, metadata = parse_message(request)
            except BadMessage as bad:
                return _error(bad.status, bad.code, bad.error)

            collector = CollectingOutputChannel()
            message = UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
            try:
                refusal = await fair_use().check(sender, text, fair.network_address(request))
                if refusal is not None:
                    return _refused(refusal)
                await on_new_message(message)
            except TrackerStoreUnavailable as error:
                logger.error("rest.not_stored conversation=%s code=%s cause=%s", sender, error.code, error.cause_name)
                return _error(503, error.code, NOT_STORED, **{"Retry-After": RETRY_AFTER_SECONDS})
            except (RedisError, LockError) as error:
                # The lock store is down or the conversation stayed locked: nothing was handled
                # (the lock comes first) or the reply cannot be confirmed.
                logger.error("rest.lock_store_error conversation=%s error=%s", sender, type(error).__name__)
                return _error(503, "lock_store_unavailable", BUSY, **{"Retry-After": RETRY_AFTER_SECONDS})
            except Exception as error:
                # The error's text may quote the message, so only its class goes into the log.
                logger.error("rest.failed conversation=%s error=%s", sender, type(error).__name__)
                logger.debug("rest.failed traceback", exc_info=True)
                return _error(500, "internal_error", FAILED)
            if not collector.messages:
                logger.warning("rest.no_reply conversation=%s", sender)
                return response.json([{"recipient_id": sender, "text": no_reply}])
            return response.json(collector.messages)

        return webhook
