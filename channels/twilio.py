"""SMS and WhatsApp through Twilio, with every webhook's signature checked.

Rasa's built-in Twilio channel answers any POST to its webhook, so anyone who knows the URL could
talk to the bot as any phone number. This one rejects a request with 403 unless its
`X-Twilio-Signature` is Twilio's HMAC of the webhook URL and form fields under the account's
auth token. One webhook serves both: a `From` of `whatsapp:+61...` is answered from the WhatsApp
sender, any other from the SMS number. Neither has buttons, so buttons go out as numbered lines
and a reply of "2" is mapped back to the second button's payload.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.twilio import TwilioInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from channels.alerts import is_alert_marker
from channels.choices import numbered_choices_text, resolve_numbered_reply
from channels.disabled import disabled_channel_blueprint
from channels.settings import TwilioSettings

logger = logging.getLogger(__name__)

WHATSAPP_PREFIX = "whatsapp:"
# Twilio reads the webhook's answer as TwiML; an empty <Response/> means "no reply from here",
# because the bot's replies go out through the Messages API.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class TwilioTextOutput(OutputChannel):
    """Sends replies with Twilio's Messages API from the SMS or the WhatsApp sender."""

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    def __init__(self, client: Client, sms_number: Optional[str], whatsapp_number: Optional[str]):
        self.client = client
        self.sms_number = sms_number
        self.whatsapp_number = whatsapp_number

    def sender_for(self, recipient_id: Text) -> Optional[str]:
        """WhatsApp users are answered from the WhatsApp sender, everyone else by SMS."""
        if recipient_id.startswith(WHATSAPP_PREFIX):
            return self.whatsapp_number
        return self.sms_number

    async def _create_message(self, recipient_id: Text, **fields: Any) -> None:
        sender = self.sender_for(recipient_id)
        if sender is None:
            logger.error("No Twilio sender number is set for this kind of recipient.")
            return
        try:
            # The SDK blocks on HTTP; a thread keeps other conversations moving meanwhile.
            await asyncio.to_thread(
                self.client.messages.create, to=recipient_id, from_=sender, **fields
            )
        except TwilioRestException as error:
            logger.error(f"Twilio refused a message: status {error.status}, code {error.code}.")

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        # One message, not one per paragraph: separate SMS can arrive out of order.
        await self._create_message(recipient_id, body=text.strip())

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_message(recipient_id, numbered_choices_text(text, buttons))

    async def send_quick_replies(
        self, recipient_id: Text, text: Text, quick_replies: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._create_message(recipient_id, media_url=[image])

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        if is_alert_marker(json_message):
            return  # the alert's text has already gone out
        fields = {key: value for key, value in json_message.items() if key not in ("to", "from_")}
        if not fields.get("media_url"):
            fields.setdefault("body", "")
        await self._create_message(recipient_id, **fields)


class SignedTwilioInput(TwilioInput):
    """Twilio SMS and WhatsApp webhook; configured by `TWILIO_*` environment variables."""

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(TwilioSettings.from_env())

    def __init__(self, settings: TwilioSettings) -> None:
        super().__init__(
            settings.account_sid, settings.auth_token, settings.sms_number, debug_mode=False
        )
        self.settings = settings
        self._client: Optional[Client] = None

    def _twilio_client(self) -> Client:
        if self._client is None:
            self._client = Client(self.settings.account_sid, self.settings.auth_token)
        return self._client

    def get_output_channel(self) -> Optional[OutputChannel]:
        if not self.settings.enabled:
            return None
        return TwilioTextOutput(
            self._twilio_client(), self.settings.sms_number, self.settings.whatsapp_number
        )

    def is_signed_by_twilio(self, request: Request) -> bool:
        """Whether `X-Twilio-Signature` is Twilio's signature of this request."""
        signature = request.headers.get("X-Twilio-Signature")
        if not signature or not self.settings.auth_token:
            return False
        url = self.settings.webhook_url or request.url
        return RequestValidator(self.settings.auth_token).validate(url, request.form, signature)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        if not self.settings.enabled:
            return disabled_channel_blueprint(self.name(), self.settings.missing)

        twilio_webhook = Blueprint("twilio_webhook", __name__)

        @twilio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @twilio_webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            if not self.is_signed_by_twilio(request):
                logger.warning("Rejected a Twilio webhook without a valid X-Twilio-Signature.")
                return response.text("Forbidden", status=403)

            sender = request.form.get("From")
            text = request.form.get("Body")
            if not sender or not text:
                # Media or location without text: nothing the bot can read.
                return response.text(EMPTY_TWIML, content_type="text/xml")

            output = self.get_output_channel()
            if output.sender_for(sender) is None:
                logger.warning("A Twilio message came in on a channel with no sender number set.")
                return response.text("Channel not configured", status=503)

            # Some carriers turn "@" into "¡".
            text = text.replace("¡", "@")
            agent = getattr(request.app.ctx, "agent", None)
            text = await resolve_numbered_reply(agent, sender, text)
            await on_new_message(
                UserMessage(
                    text,
                    output,
                    sender,
                    input_channel=self.name(),
                    metadata=self.get_metadata(request),
                )
            )
            return response.text(EMPTY_TWIML, content_type="text/xml")

        return twilio_webhook
