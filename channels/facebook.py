"""Facebook Messenger, with every webhook's SHA-256 signature checked.

Rasa 3.6's `FacebookInput` checks only the legacy `X-Hub-Signature` header, takes the hash
algorithm from the header itself (so a sender can pick a weak one), compares in non-constant
time and answers a bad signature with 200 "not validated". Meta signs every delivery with
`X-Hub-Signature-256`; this channel requires that header, compares in constant time and answers
403. One delivery can carry several messages (Meta batches them); Rasa handles only the first,
this channel every one. Messenger's button template holds at most 3 buttons (Rasa then drops them all): up to 13
go out as quick replies, more as numbered lines, and a reply by number maps back to the payload.

Fair use (channels/fair_use.py): past a rate limit or the cap on a conversation's length the
message does not reach the bot and the patient gets one message a minute at most saying why.
The webhook still answers 200: one delivery can carry several people's messages, and Meta
delivers again, then turns the webhook off, when it keeps getting errors. A message with a red
flag always goes through.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fbmessenger import MessengerClient
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.facebook import FacebookInput, Messenger, MessengerBot
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import fair_use as fair
from channels.alerts import is_alert_marker
from channels.choices import numbered_choices_text, resolve_numbered_reply
from channels.disabled import disabled_channel_blueprint
from channels.settings import TEXT_ONLY, FacebookSettings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_TEMPLATE_BUTTONS = 3
MAX_QUICK_REPLIES = 13
MAX_TITLE_CHARS = 20


def _titles_fit(buttons: list[dict[str, Any]]) -> bool:
    return all(len(str(button.get("title", ""))) <= MAX_TITLE_CHARS for button in buttons)


class MessengerOutput(MessengerBot):
    """Rasa's Messenger output, keeping buttons that do not fit Messenger's limits."""

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        if len(buttons) <= MAX_TEMPLATE_BUTTONS and _titles_fit(buttons):
            await super().send_text_with_buttons(recipient_id, text, buttons, **kwargs)
        else:
            await self.send_quick_replies(recipient_id, text, buttons, **kwargs)

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        if len(quick_replies) <= MAX_QUICK_REPLIES and _titles_fit(quick_replies):
            replies = [{**reply, "content_type": "text"} for reply in quick_replies]
            await super().send_quick_replies(recipient_id, text, replies, **kwargs)
        else:
            await self.send_text_message(recipient_id, numbered_choices_text(text, quick_replies))

    async def send_custom_json(self, recipient_id: str, json_message: Any, **kwargs: Any) -> None:
        if is_alert_marker(json_message):
            return  # the alert's text has already gone out
        await super().send_custom_json(recipient_id, json_message, **kwargs)


class NumberedReplyMessenger(Messenger):
    """Rasa's webhook parser, answering through `MessengerOutput` and mapping numbered replies."""

    def __init__(
        self,
        page_access_token: str,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        agent: Any,
        fair_use: fair.FairUse,
    ) -> None:
        super().__init__(page_access_token, on_new_message)
        self.agent = agent
        self.fair_use = fair_use

    async def handle(self, payload: dict, metadata: dict[str, Any] | None) -> None:
        """Every message of a delivery: Meta batches them, and Rasa's `handle` returns after the
        first, so the others were lost."""
        for entry in payload.get("entry") or []:
            for message in entry.get("messaging") or []:
                self.last_message = message  # get_user_id reads it
                if message.get("message"):
                    await self.message(message, metadata)
                elif message.get("postback"):
                    await self.postback(message, metadata)

    async def message(self, message: dict[str, Any], metadata: dict[str, Any] | None) -> None:
        """Text and quick replies as Rasa reads them. The page's own messages echoed back are
        skipped. A photo, voice note, sticker or file with no words gets TEXT_ONLY, never silence,
        and is never logged whole (Rasa logs the whole event, which can hold the patient's words)."""
        body = message.get("message") or {}
        if body.get("is_echo"):
            return
        if self._is_quick_reply_message(message) or self._is_user_message(message):
            await super().message(message, metadata)
            return
        sender_id = self.get_user_id()
        logger.info("A Messenger message with no text got the text-only reply.")
        await MessengerOutput(self.client).send_text_message(sender_id, TEXT_ONLY)

    async def _handle_user_message(self, text: str, sender_id: str, metadata: dict[str, Any] | None) -> None:
        out_channel = MessengerOutput(self.client)
        await out_channel.send_action(sender_id, sender_action="mark_seen")
        text = await resolve_numbered_reply(self.agent, sender_id, text)
        message = UserMessage(text, out_channel, sender_id, input_channel=self.name(), metadata=metadata)
        # The page-scoped id is the person: Meta says who writes.
        if not await self.fair_use.gate(message, f"facebook:{sender_id}"):
            return
        await out_channel.send_action(sender_id, sender_action="typing_on")
        try:
            await self.on_new_message(message)
        finally:
            await out_channel.send_action(sender_id, sender_action="typing_off")


class SignedFacebookInput(FacebookInput):
    """Messenger webhook; configured by `FACEBOOK_*` environment variables."""

    @classmethod
    def name(cls) -> str:
        return "facebook"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(FacebookSettings.from_env())

    def __init__(self, settings: FacebookSettings) -> None:
        super().__init__(settings.verify_token or "", settings.app_secret or "", settings.page_access_token or "")
        self.settings = settings

    def get_output_channel(self) -> OutputChannel | None:
        if not self.settings.enabled:
            return None
        return MessengerOutput(MessengerClient(self.fb_access_token))

    def is_signed_by_meta(self, request: Request) -> bool:
        """Whether `X-Hub-Signature-256` is the app secret's HMAC-SHA256 of the raw body."""
        header = request.headers.get(SIGNATURE_HEADER, "")
        scheme, _, signature = header.partition("=")
        if scheme != "sha256" or not signature or not self.fb_secret:
            return False
        expected = hmac.new(self.fb_secret.encode(), request.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature, expected)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        if not self.settings.enabled:
            return disabled_channel_blueprint(self.name(), self.settings.missing)

        fb_webhook = Blueprint("fb_webhook", __name__)
        fair_use = fair.attach(fb_webhook)

        @fb_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @fb_webhook.route("/webhook", methods=["GET"])
        async def token_verification(request: Request) -> HTTPResponse:
            token = request.args.get("hub.verify_token") or ""
            if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
                token.encode(), self.fb_verify.encode()
            ):
                return response.text(request.args.get("hub.challenge") or "")
            logger.warning("Refused a Messenger webhook verification with a wrong verify token.")
            return response.text("Forbidden", status=403)

        @fb_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.is_signed_by_meta(request):
                logger.warning(f"Rejected a Messenger webhook without a valid {SIGNATURE_HEADER}.")
                return response.text("Forbidden", status=403)
            messenger = NumberedReplyMessenger(
                self.fb_access_token,
                on_new_message,
                getattr(request.app.ctx, "agent", None),
                fair_use(),
            )
            await messenger.handle(request.json, self.get_metadata(request))
            return response.text("success")

        return fb_webhook
