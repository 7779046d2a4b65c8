"""Telegram: Rasa's built-in channel, plus Telegram's secret-token header.

When `TELEGRAM_SECRET_TOKEN` is set, the webhook is registered with it (`setWebhook`'s
`secret_token`), and every update must carry it back in `X-Telegram-Bot-Api-Secret-Token`, or it
is refused with 403. Without it, Rasa's own check (the bot's username from `getMe`) is all there
is, and anyone who knows the URL can post updates, so the log says so at start-up.

Rasa's channel also registers the webhook with a blocking `asyncio.run` while the app is being
built; here that happens once the server is up, in the server's event loop, and a failure is
logged instead of stopping the bot. Telegram has buttons of its own, so they stay buttons.

Fair use (channels/fair_use.py): past a rate limit or the cap on a conversation's length the
message does not reach the bot and the patient gets one message a minute at most saying why.
The update is still answered 200: Telegram delivers an update again and again until it gets a
2xx. A message with a red flag always goes through.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.bot.api import TelegramAPIServer
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import fair_use as fair
from channels.alerts import is_alert_marker
from channels.disabled import disabled_channel_blueprint
from channels.settings import TEXT_ONLY, TelegramSettings

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's rule for secret tokens.
_SECRET_TOKEN_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def wordless_chat(request: Request) -> int | None:
    """The chat id of a posted message (new or edited) with no text, caption or location to read;
    None for anything else (text, a button tap, a malformed body: Rasa's route handles it). A
    caption becomes the message's text."""
    if request.method != "POST" or not request.path.rstrip("/").endswith("/webhook"):
        return None
    try:
        update = request.json
    except Exception:  # a malformed body is Rasa's route's to refuse
        return None
    if not isinstance(update, dict):
        return None
    message = update.get("message") or update.get("edited_message")
    if not isinstance(message, dict) or any(message.get(key) for key in ("text", "location")):
        return None
    caption = message.get("caption")
    if isinstance(caption, str) and caption.strip():
        # A photo with words under it: the words are the message (Rasa reads `text` only; the
        # parsed body is shared with its route).
        message["text"] = caption
        return None
    chat = message.get("chat")
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    return chat_id if isinstance(chat_id, int) and not isinstance(chat_id, bool) else None


class TelegramBotOutput(TelegramOutput):
    """Rasa's Telegram output, pointed at a chosen Bot API server, registering the secret."""

    def __init__(self, access_token: str, secret_token: str | None, api_url: str | None) -> None:
        server = TelegramAPIServer.from_base(api_url) if api_url else None
        super(TelegramOutput, self).__init__(access_token, **({"server": server} if server else {}))
        self.secret_token = secret_token

    async def set_webhook(self, url: str, *args: Any, **kwargs: Any) -> bool:
        """Registers the webhook, with the secret token whenever one is configured."""
        # aiogram 2.15 predates `secret_token`, so the call is made by its Bot API name.
        payload: dict[str, Any] = {"url": url}
        if self.secret_token:
            payload["secret_token"] = self.secret_token
        return await self.request("setWebhook", payload)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        if is_alert_marker(json_message):
            return  # the alert's text has already gone out
        await super().send_custom_json(recipient_id, json_message, **kwargs)


class SecretTokenTelegramInput(TelegramInput):
    """Telegram webhook; configured by `TELEGRAM_*` environment variables."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(TelegramSettings.from_env())

    def __init__(self, settings: TelegramSettings) -> None:
        if settings.secret_token and not _SECRET_TOKEN_FORMAT.match(settings.secret_token):
            raise ValueError("TELEGRAM_SECRET_TOKEN may hold only letters, digits, '_' and '-' (1 to 256 characters).")
        super().__init__(settings.access_token, settings.bot_username, settings.webhook_url, debug_mode=False)
        self.settings = settings
        self._output: TelegramBotOutput | None = None

    def get_output_channel(self) -> TelegramBotOutput:
        # One output (one HTTP session) for the channel's life; no network call here.
        if self._output is None:
            self._output = TelegramBotOutput(
                self.settings.access_token or "",
                self.settings.secret_token,
                self.settings.api_url,
            )
        return self._output

    def has_valid_secret(self, request: Request) -> bool:
        if not self.settings.secret_token:
            return True
        sent = request.headers.get(SECRET_HEADER, "")
        return hmac.compare_digest(sent.encode(), self.settings.secret_token.encode())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        if not self.settings.enabled:
            return disabled_channel_blueprint(self.name(), self.settings.missing)
        if not self.settings.secret_token:
            logger.warning(
                "Telegram webhook runs without TELEGRAM_SECRET_TOKEN: updates are not "
                "authenticated beyond the bot's username."
            )

        # The chat is the person: Telegram says who writes, and a private chat's id is theirs.
        fair_use = fair.AppFairUse()
        telegram_webhook = super().blueprint(
            fair.gated(on_new_message, fair_use, lambda message: f"telegram:{message.sender_id}")
        )
        fair_use.attach(telegram_webhook)

        @telegram_webhook.middleware("request")
        async def check_secret_token(request: Request) -> HTTPResponse | None:
            # Rasa's routes answer 500 to GET /webhook (its handler returns nothing), and
            # /set_webhook lets anyone make the bot call Telegram. The webhook is registered at
            # start-up (below), so /set_webhook is not served; /webhook takes POST only.
            if request.path.rstrip("/").endswith("/set_webhook"):
                return response.text("Not found: the webhook is registered at start-up.", status=404)
            if request.path.rstrip("/").endswith("/webhook") and request.method != "POST":
                return response.text(
                    "Method not allowed: Telegram posts updates.", status=405, headers={"Allow": "POST"}
                )
            if request.method == "POST" and not self.has_valid_secret(request):
                logger.warning(f"Rejected a Telegram update without the right {SECRET_HEADER}.")
                return response.text("Forbidden", status=403)
            chat = wordless_chat(request)
            if chat is not None:
                # A photo, voice note, sticker or file with no words: Rasa drops it in silence.
                logger.info("A Telegram message with no text got the text-only reply.")
                await self.get_output_channel().send_text_message(str(chat), TEXT_ONLY)
                return response.text("success")
            return None

        @telegram_webhook.listener("after_server_start")
        async def register_webhook(_app: Any, _loop: Any) -> None:
            try:
                await self.get_output_channel().set_webhook(self.webhook_url)
                logger.info("Telegram webhook registered.")
            except Exception as error:  # the bot must run on without Telegram
                logger.error(f"Telegram webhook registration failed: {type(error).__name__}.")

        @telegram_webhook.listener("before_server_stop")
        async def close_session(_app: Any, _loop: Any) -> None:
            session = self.get_output_channel()._session
            if session is not None:
                await session.close()

        return telegram_webhook
