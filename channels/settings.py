"""Channel configuration, read in one place from environment variables.

Secrets never go into credentials.yml: Rasa's `${VAR}` substitution there fails at start-up when
a variable is unset, and a channel the clinic has not signed up for must simply stay off. Each
messaging channel is therefore on only when every variable it needs is set.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Optional

DEFAULT_ALLOWED_ORIGINS = ("http://localhost:8080", "http://127.0.0.1:8080")

# Every channel hands the bot a message of up to this many characters whole (the red-flag
# detector reads all of it; only the classifiers get the first 5,000, config.yml). A longer one
# is refused with TOO_LONG, never cut: a red flag at the end of a long message must not be lost.
# The web widget (web/widget/upwell-chat.js) holds the same number, with a counter near it.
MAX_MESSAGE_CHARS = 10_000
TOO_LONG = (f"That message is too long for me to read in one go. Please split it into shorter messages "
            f"(up to {MAX_MESSAGE_CHARS:,} characters each).")


def _env(environ: Mapping[str, str], name: str) -> Optional[str]:
    """The stripped value of a variable; None when it is unset or blank."""
    value = environ.get(name, "").strip()
    return value or None


def _missing(environ: Mapping[str, str], *names: str) -> tuple[str, ...]:
    return tuple(name for name in names if _env(environ, name) is None)


def allowed_origins(environ: Mapping[str, str] = os.environ) -> list[str]:
    """Web origins allowed to open the chat socket (`ALLOWED_ORIGINS`, comma separated).

    `*` allows every origin, which is for local experiments only.
    """
    raw = _env(environ, "ALLOWED_ORIGINS")
    if raw is None:
        return list(DEFAULT_ALLOWED_ORIGINS)
    return [origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip()]


@dataclass(frozen=True)
class ChannelSettings:
    """What a channel needs to run; `missing` names the unset variables when it is off."""

    missing: tuple[str, ...]

    @property
    def enabled(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class TwilioSettings(ChannelSettings):
    account_sid: Optional[str] = None
    auth_token: Optional[str] = None
    sms_number: Optional[str] = None
    whatsapp_number: Optional[str] = None
    # The exact public URL configured in Twilio's console. Twilio signs that URL, which differs
    # from the one the server sees behind a proxy or tunnel.
    webhook_url: Optional[str] = None
    # Keys the pseudonymous conversation id made from a patient's number (channels/twilio.py).
    # Unset: the auth token is used, so rotating the token starts new conversations.
    conversation_key: Optional[str] = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "TwilioSettings":
        missing = _missing(environ, "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
        sms = _env(environ, "TWILIO_SMS_NUMBER")
        whatsapp = _env(environ, "TWILIO_WHATSAPP_NUMBER")
        if not sms and not whatsapp:
            missing += ("TWILIO_SMS_NUMBER or TWILIO_WHATSAPP_NUMBER",)
        if whatsapp and not whatsapp.startswith("whatsapp:"):
            whatsapp = f"whatsapp:{whatsapp}"
        return cls(
            missing=missing,
            account_sid=_env(environ, "TWILIO_ACCOUNT_SID"),
            auth_token=_env(environ, "TWILIO_AUTH_TOKEN"),
            sms_number=sms,
            whatsapp_number=whatsapp,
            webhook_url=_env(environ, "TWILIO_WEBHOOK_URL"),
            conversation_key=_env(environ, "TWILIO_CONVERSATION_KEY"),
        )


@dataclass(frozen=True)
class TelegramSettings(ChannelSettings):
    access_token: Optional[str] = None
    bot_username: Optional[str] = None
    webhook_url: Optional[str] = None
    # Optional but recommended: Telegram sends it back in X-Telegram-Bot-Api-Secret-Token.
    secret_token: Optional[str] = None
    # Only for a self-hosted Bot API server (and the tests' fake one).
    api_url: Optional[str] = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "TelegramSettings":
        return cls(
            missing=_missing(
                environ, "TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_USERNAME", "TELEGRAM_WEBHOOK_URL"
            ),
            access_token=_env(environ, "TELEGRAM_BOT_TOKEN"),
            bot_username=_env(environ, "TELEGRAM_BOT_USERNAME"),
            webhook_url=_env(environ, "TELEGRAM_WEBHOOK_URL"),
            secret_token=_env(environ, "TELEGRAM_SECRET_TOKEN"),
            api_url=_env(environ, "TELEGRAM_API_URL"),
        )


@dataclass(frozen=True)
class FacebookSettings(ChannelSettings):
    verify_token: Optional[str] = None
    app_secret: Optional[str] = None
    page_access_token: Optional[str] = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "FacebookSettings":
        return cls(
            missing=_missing(
                environ,
                "FACEBOOK_VERIFY_TOKEN",
                "FACEBOOK_APP_SECRET",
                "FACEBOOK_PAGE_ACCESS_TOKEN",
            ),
            verify_token=_env(environ, "FACEBOOK_VERIFY_TOKEN"),
            app_secret=_env(environ, "FACEBOOK_APP_SECRET"),
            page_access_token=_env(environ, "FACEBOOK_PAGE_ACCESS_TOKEN"),
        )
