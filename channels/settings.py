"""Channel configuration, read in one place from environment variables.

Secrets never go into credentials.yml: Rasa's `${VAR}` substitution there fails at start-up when
a variable is unset, and a channel the clinic has not signed up for must simply stay off. Each
messaging channel is therefore on only when every variable it needs is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_ALLOWED_ORIGINS = ("http://localhost:8080", "http://127.0.0.1:8080")

# Every channel hands the bot a message of up to this many characters whole (the red-flag
# detector reads all of it; only the classifiers get the first 5,000, config.yml). A longer one
# is refused with TOO_LONG, never cut: a red flag at the end of a long message must not be lost.
# The web widget (web/widget/upwell-chat.js) holds the same number, with a counter near it.
MAX_MESSAGE_CHARS = 10_000
TOO_LONG = (
    f"That message is too long for me to read in one go. Please split it into shorter messages "
    f"(up to {MAX_MESSAGE_CHARS:,} characters each)."
)

# A photo, voice note, sticker or file with no words (Twilio, Telegram, Messenger): the bot reads
# only text, and a patient message always gets a reply.
TEXT_ONLY = (
    "I can only read typed words, so I can't see photos, voice notes or files. "
    "Please type what you'd like to tell me. If it's an emergency, call 000."
)

# The REST channel's answers when a message was not handled (channels/rest.py).
NOT_STORED = (
    "We could not save your message just now, so nothing was sent to the clinic. Please send it again in a minute."
)
BUSY = "We are busy right now. Please send your message again in a minute."
FAILED = "Something went wrong on our side. Please send your message again."
NO_REPLY = (
    "Sorry, I can't answer that properly right now. Please try again in a few minutes. "
    "If your knee needs care today, call the clinic on {phone}. If it's an emergency, call 000."
)

# Fair use (channels/fair_use.py): what a patient reads when a message is not taken. Red-flag
# messages are always taken, so both sentences also say what to do in an emergency.
RATE_LIMITED = (
    "Sorry, you're sending messages faster than I can read them. Please wait a minute, "
    "then send your last message again. If it's an emergency, call 000 now."
)
CONVERSATION_FULL = (
    "This chat is now too long for me to keep going. Please call the clinic on {phone} "
    "and our team will help you. If it's an emergency, call 000 now."
)


def _env(environ: Mapping[str, str], name: str) -> str | None:
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
    account_sid: str | None = None
    auth_token: str | None = None
    sms_number: str | None = None
    whatsapp_number: str | None = None
    # The exact public URL configured in Twilio's console. Twilio signs that URL, which differs
    # from the one the server sees behind a proxy or tunnel.
    webhook_url: str | None = None
    # Keys the pseudonymous conversation id made from a patient's number (channels/twilio.py).
    # Unset: the auth token is used, so rotating the token starts new conversations.
    conversation_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TwilioSettings:
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
    access_token: str | None = None
    bot_username: str | None = None
    webhook_url: str | None = None
    # Optional but recommended: Telegram sends it back in X-Telegram-Bot-Api-Secret-Token.
    secret_token: str | None = None
    # Only for a self-hosted Bot API server (and the tests' fake one).
    api_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TelegramSettings:
        return cls(
            missing=_missing(environ, "TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_USERNAME", "TELEGRAM_WEBHOOK_URL"),
            access_token=_env(environ, "TELEGRAM_BOT_TOKEN"),
            bot_username=_env(environ, "TELEGRAM_BOT_USERNAME"),
            webhook_url=_env(environ, "TELEGRAM_WEBHOOK_URL"),
            secret_token=_env(environ, "TELEGRAM_SECRET_TOKEN"),
            api_url=_env(environ, "TELEGRAM_API_URL"),
        )


@dataclass(frozen=True)
class FacebookSettings(ChannelSettings):
    verify_token: str | None = None
    app_secret: str | None = None
    page_access_token: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> FacebookSettings:
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


# Fair use defaults for one clinic. A person types a message every few seconds at most; 20 a
# minute in one conversation, or 60 a minute from one network address (a family or a clinic's
# waiting room sharing one connection), is a script. Limits use the `limits` notation
# ("20/minute", "100/hour", "5/10 seconds"); "off" turns one off.
DEFAULT_CONVERSATION_LIMIT = "20/minute"
DEFAULT_ADDRESS_LIMIT = "60/minute"
# Patient messages in one conversation session (a session ends after the domain's
# session_expiration_time without a message). Past it, CONVERSATION_FULL.
DEFAULT_MAX_CONVERSATION_MESSAGES = 500
# A refused message is first read for red flags (the rules alone: about 1.5 ms for a short
# message, 0.3 s for one of 10,000 characters). This many characters a minute from one sender
# are read; a sender past it is pasting long text in a loop, and its refused messages are not
# read, so a flood cannot buy the server's time with them.
DEFAULT_RED_FLAG_READING_LIMIT = "100000/minute"
# Addresses exempt from the rate limits: the bot's own machine (a local proxy that does not pass
# the client's address on, the clinic's own tools, tests and load tests). Behind a proxy, tell
# Sanic to trust it (SANIC_PROXIES_COUNT, SANIC_REAL_IP_HEADER or SANIC_FORWARDED_SECRET) so
# each patient's own address is the one limited. "none": no address is exempt.
DEFAULT_TRUSTED_ADDRESSES: tuple[str, ...] = ("127.0.0.1", "::1")


def _rate(environ: Mapping[str, str], name: str, default: str) -> str | None:
    from limits import parse  # the channels import this module; only fair use needs limits

    value = _env(environ, name) or default
    if value.lower() == "off":
        return None
    try:
        item = parse(value)
    except ValueError:
        raise ValueError(f'{name} must read like "20/minute" or "5/10 seconds", or be "off".') from None
    if item.amount < 1:
        raise ValueError(f"{name} must allow at least one message.")
    return value


@dataclass(frozen=True)
class FairUseSettings:
    """Rate limits and the conversation cap of every patient channel (channels/fair_use.py)."""

    conversation_limit: str | None = DEFAULT_CONVERSATION_LIMIT
    address_limit: str | None = DEFAULT_ADDRESS_LIMIT
    max_conversation_messages: int | None = DEFAULT_MAX_CONVERSATION_MESSAGES
    red_flag_reading_limit: str | None = DEFAULT_RED_FLAG_READING_LIMIT
    trusted_addresses: tuple[str, ...] = DEFAULT_TRUSTED_ADDRESSES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> FairUseSettings:
        """Raises ValueError naming the variable when one is malformed."""
        cap = _env(environ, "FAIR_USE_MAX_CONVERSATION_MESSAGES")
        if cap is None:
            max_messages: int | None = DEFAULT_MAX_CONVERSATION_MESSAGES
        elif cap.lower() == "off":
            max_messages = None
        elif cap.isdigit() and int(cap) > 0:
            max_messages = int(cap)
        else:
            raise ValueError('FAIR_USE_MAX_CONVERSATION_MESSAGES must be a whole number above 0, or "off".')
        trusted = _env(environ, "FAIR_USE_TRUSTED_ADDRESSES")
        addresses: tuple[str, ...]
        if trusted is None:
            addresses = DEFAULT_TRUSTED_ADDRESSES
        elif trusted.lower() == "none":
            addresses = ()
        else:
            addresses = tuple(a.strip() for a in trusted.split(",") if a.strip())
            _check_networks(addresses)
        return cls(
            conversation_limit=_rate(environ, "FAIR_USE_CONVERSATION_LIMIT", DEFAULT_CONVERSATION_LIMIT),
            address_limit=_rate(environ, "FAIR_USE_ADDRESS_LIMIT", DEFAULT_ADDRESS_LIMIT),
            max_conversation_messages=max_messages,
            red_flag_reading_limit=_rate(environ, "FAIR_USE_RED_FLAG_READING_LIMIT", DEFAULT_RED_FLAG_READING_LIMIT),
            trusted_addresses=addresses,
        )


def _check_networks(addresses: tuple[str, ...]) -> None:
    import ipaddress

    for address in addresses:
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError:
            raise ValueError(
                f"FAIR_USE_TRUSTED_ADDRESSES: {address!r} is not an IP address or network "
                '(e.g. 127.0.0.1, 10.0.0.0/8), or use "none".'
            ) from None
