"""SMS and WhatsApp through Twilio, with every webhook's signature checked.

Rasa's built-in Twilio channel answers any POST to its webhook, so anyone who knows the URL could
talk to the bot as any phone number. This one rejects a request with 403 unless its
`X-Twilio-Signature` is Twilio's HMAC of the webhook URL and form fields under the account's
auth token. One webhook serves both: a `From` of `whatsapp:+61...` is answered from the WhatsApp
sender, any other from the SMS number. Neither has buttons, so buttons go out as numbered lines
and a reply of "2" is mapped back to the second button's payload.

The patient's number is not the conversation id. Rasa would otherwise put it everywhere the id
goes: log lines, staff alert e-mails and their review links, lock keys in Redis. The id is
`sms-` or `whatsapp-` and a keyed hash of the number (the same number always reaches the same
conversation); the number itself travels only inside the request, to send the replies, and in the
user message's metadata (`twilio_from`), which the tracker store keeps and the staff review tool
shows on the conversation page.

Fair use (channels/fair_use.py): past a rate limit or the cap on a conversation's length the
message does not reach the bot and the patient gets one text a minute at most saying why; the
webhook still answers 200 with empty TwiML, because any other status makes Twilio call the
number's fallback URL. A message with a red flag always goes through.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape as xml_escape

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.twilio import TwilioInput
from sanic import Blueprint, response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from channels import fair_use as fair
from channels.alerts import is_alert_marker
from channels.choices import numbered_choices_text, resolve_numbered_reply
from channels.disabled import disabled_channel_blueprint
from channels.settings import TEXT_ONLY, TwilioSettings

logger = logging.getLogger(__name__)

WHATSAPP_PREFIX = "whatsapp:"
# Twilio reads the webhook's answer as TwiML; an empty <Response/> means "no reply from here",
# because the bot's replies go out through the Messages API.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def message_twiml(text: str) -> str:
    """TwiML that answers the incoming message with `text` (SMS and WhatsApp alike)."""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{xml_escape(text)}</Message></Response>'


# The user message metadata key that carries the patient's number (read by the review tool).
FROM_METADATA_KEY = "twilio_from"


def conversation_id_for(address: str, key: str) -> str:
    """`sms-<hash>` or `whatsapp-<hash>`: the same number always gives the same id; the id does
    not give the number back without the key."""
    kind = "whatsapp" if address.startswith(WHATSAPP_PREFIX) else "sms"
    digest = hmac.new(key.encode("utf-8"), address.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{kind}-{digest[:24]}"


def is_address(recipient_id: str) -> bool:
    """A phone number Twilio can send to: +61..., or whatsapp:+61..."""
    number = recipient_id[len(WHATSAPP_PREFIX) :] if recipient_id.startswith(WHATSAPP_PREFIX) else recipient_id
    return number.startswith("+") and number[1:].isdigit()


class TwilioTextOutput(OutputChannel):
    """Sends replies with Twilio's Messages API from the SMS or the WhatsApp sender."""

    @classmethod
    def name(cls) -> str:
        return "twilio"

    def __init__(self, client: Client, sms_number: str | None, whatsapp_number: str | None):
        self.client = client
        self.sms_number = sms_number
        self.whatsapp_number = whatsapp_number
        # conversation id -> the number to answer, for the conversations of this request
        self._addresses: dict[str, str] = {}

    def remember(self, conversation_id: str, address: str) -> None:
        """Replies to `conversation_id` go to `address` (the patient's number)."""
        self._addresses[conversation_id] = address

    def address_for(self, recipient_id: str) -> str | None:
        """The number to send to: the one remembered for this conversation, or the recipient
        itself when it is a number. A pseudonymous id with no number known has none."""
        if recipient_id in self._addresses:
            return self._addresses[recipient_id]
        return recipient_id if is_address(recipient_id) else None

    def sender_for(self, address: str) -> str | None:
        """WhatsApp users are answered from the WhatsApp sender, everyone else by SMS."""
        if address.startswith(WHATSAPP_PREFIX):
            return self.whatsapp_number
        return self.sms_number

    async def _create_message(self, recipient_id: str, **fields: Any) -> None:
        address = self.address_for(recipient_id)
        if address is None:
            logger.error(
                "twilio.no_address conversation=%s: no number is known for it outside its own webhook request.",
                recipient_id,
            )
            return
        sender = self.sender_for(address)
        if sender is None:
            logger.error("No Twilio sender number is set for this kind of recipient.")
            return
        try:
            # The SDK blocks on HTTP; a thread keeps other conversations moving meanwhile.
            await asyncio.to_thread(self.client.messages.create, to=address, from_=sender, **fields)
        except TwilioRestException as error:
            logger.error(f"Twilio refused a message: status {error.status}, code {error.code}.")

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        # One message, not one per paragraph: separate SMS can arrive out of order.
        await self._create_message(recipient_id, body=text.strip())

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_message(recipient_id, numbered_choices_text(text, buttons))

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._create_message(recipient_id, media_url=[image])

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        if is_alert_marker(json_message):
            return  # the alert's text has already gone out
        fields = {key: value for key, value in json_message.items() if key not in ("to", "from_")}
        if not fields.get("media_url"):
            fields.setdefault("body", "")
        await self._create_message(recipient_id, **fields)


class SignedTwilioInput(TwilioInput):
    """Twilio SMS and WhatsApp webhook; configured by `TWILIO_*` environment variables."""

    @classmethod
    def name(cls) -> str:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(TwilioSettings.from_env())

    def __init__(self, settings: TwilioSettings) -> None:
        super().__init__(settings.account_sid, settings.auth_token, settings.sms_number, debug_mode=False)
        self.settings = settings
        self._client: Client | None = None

    @property
    def conversation_key(self) -> str:
        return self.settings.conversation_key or self.settings.auth_token or ""

    def _twilio_client(self) -> Client:
        if self._client is None:
            self._client = Client(self.settings.account_sid, self.settings.auth_token)
        return self._client

    def get_output_channel(self) -> OutputChannel | None:
        if not self.settings.enabled:
            return None
        return TwilioTextOutput(self._twilio_client(), self.settings.sms_number, self.settings.whatsapp_number)

    def is_signed_by_twilio(self, request: Request) -> bool:
        """Whether `X-Twilio-Signature` is Twilio's signature of this request."""
        signature = request.headers.get("X-Twilio-Signature")
        if not signature or not self.settings.auth_token:
            return False
        url = self.settings.webhook_url or request.url
        # Twilio signs every field it posts, empty ones too (a photo's `Body=`); Sanic's
        # `request.form` drops empty fields, so the signature is checked against the body itself.
        fields = RequestParameters(parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        return RequestValidator(self.settings.auth_token).validate(url, fields, signature)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        if not self.settings.enabled:
            return disabled_channel_blueprint(self.name(), self.settings.missing)

        twilio_webhook = Blueprint("twilio_webhook", __name__)
        fair_use = fair.attach(twilio_webhook)

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
            if not sender:
                return response.text(EMPTY_TWIML, content_type="text/xml")
            if not text or not text.strip():
                # A photo, voice note or location with no words: say so, in Twilio's own reply.
                logger.info("A Twilio message with no text got the text-only reply.")
                return response.text(message_twiml(TEXT_ONLY), content_type="text/xml")

            output = self.get_output_channel()
            if not isinstance(output, TwilioTextOutput) or output.sender_for(sender) is None:
                logger.warning("A Twilio message came in on a channel with no sender number set.")
                return response.text("Channel not configured", status=503)

            conversation_id = conversation_id_for(sender, self.conversation_key)
            output.remember(conversation_id, sender)
            # Some carriers turn "@" into "¡".
            text = text.replace("¡", "@")
            agent = getattr(request.app.ctx, "agent", None)
            text = await resolve_numbered_reply(agent, conversation_id, text)
            message = UserMessage(
                text,
                output,
                conversation_id,
                input_channel=self.name(),
                metadata={**(self.get_metadata(request) or {}), FROM_METADATA_KEY: sender},
            )
            # The person is their number, whether it writes by SMS or WhatsApp.
            number = sender[len(WHATSAPP_PREFIX) :] if sender.startswith(WHATSAPP_PREFIX) else sender
            if await fair_use().gate(message, f"phone:{number}"):
                await on_new_message(message)
            return response.text(EMPTY_TWIML, content_type="text/xml")

        return twilio_webhook
