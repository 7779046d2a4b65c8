"""Fair use on every patient channel: rate limits, a cap on a conversation's length, and red flags
always through.

Every channel asks `FairUse.check` before a message goes to the bot:

- **Rate limits** (the `limits` library, in this worker's memory): per
  conversation (`FAIR_USE_CONVERSATION_LIMIT`, 20 a minute) and per address
  (`FAIR_USE_ADDRESS_LIMIT`, 60 a minute). On the REST channel and the web chat the address is
  the client's network address (a proxy's `X-Forwarded-For` only when Sanic is told to trust it:
  `SANIC_PROXIES_COUNT`, `SANIC_REAL_IP_HEADER` or `SANIC_FORWARDED_SECRET`); addresses in
  `FAIR_USE_TRUSTED_ADDRESSES` (the bot's own machine by default) are not rate limited. On SMS,
  WhatsApp, Telegram and Messenger the platform says who is writing, so the address is that
  person (their number, chat or page-scoped id): the platforms' own servers are never limited
  as one address.
- **A cap on a conversation's length** (`FAIR_USE_MAX_CONVERSATION_MESSAGES`, 500 patient
  messages in one session): past it, the patient is asked to call the clinic. The count comes
  from the tracker store the first time this worker sees a conversation (and again every 50
  messages or 10 minutes), and is kept in memory in between.
- **A red-flag message is never the one refused.** Before refusing, the message is read by the
  red-flag rules alone (bot.redflags.detector, about 1.5 ms; the learned net is not loaded here),
  with what the conversation knows (the safety question just asked, a child, signs said before:
  bot.safety); a message with any finding, asserted or not, goes to the bot. The reading has a
  budget per sender (`FAIR_USE_RED_FLAG_READING_LIMIT`, characters a minute): far past it, a
  sender is pasting long text in a loop, and its refused messages are not read.

The numbers live in channels/settings.py, with the sentences the patient reads. Limits are per
worker process: with N Sanic workers a sender can get up to N times the limit through.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from limits import aio, parse
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import SessionStarted, UserUttered
from sanic import Blueprint, Sanic
from sanic.request import Request

from bot.redflags import detector
from bot.safety import SIGNS_SLOT, Turn, contextual_findings, screening_answer_finding
from bot.settings import load_settings
from channels.senders import is_storable
from channels.settings import CONVERSATION_FULL, RATE_LIMITED, FairUseSettings

logger = logging.getLogger(__name__)

RATE_LIMITED_CODE = "rate_limited"
CONVERSATION_LIMIT_CODE = "conversation_limit"

# A patient on a messaging platform is told why a message was not taken at most once a window
# (each text costs the clinic, and a flood must not make the bot flood back); the log says it
# once a window too.
NOTICE_WINDOW = parse("1/minute")
# The conversation's length is read again from the tracker store this often.
RELOAD_AFTER_MESSAGES = 50
RELOAD_AFTER_SECONDS = 600.0
# What the conversation knows for the red-flag check (the question just asked...) is read again
# when older than this, or once a message has gone through since.
CONTEXT_SECONDS = 10.0
# Reading the tracker for that context counts against the red-flag reading budget as this many
# characters, so a flood of new conversation ids cannot make the server query it each time.
CONTEXT_READING_COST = 2_000
CONVERSATIONS_KEPT = 20_000  # conversations whose length one worker remembers (least recent go)
CONTEXT_SLOTS = ("requested_slot", "under_16", "age", SIGNS_SLOT)


@dataclass(frozen=True)
class Refusal:
    """Why a message was not taken, in the patient's words, and when to try again."""

    code: str  # RATE_LIMITED_CODE or CONVERSATION_LIMIT_CODE
    text: str
    retry_after: int | None = None  # seconds; rate limits only


@dataclass
class _Conversation:
    messages: int  # patient messages in its current session, as far as this worker knows
    loaded_at: float
    since_load: int = 0
    context: dict | None = None  # CONTEXT_SLOTS; None once a message has gone through
    context_at: float = 0.0
    has_store: bool = field(default=True, repr=False)


def network_address(request: Request) -> str:
    """The client's address: the one a trusted proxy passed on, else the connection's peer."""
    address = (request.remote_addr or request.ip or "").strip("[]")
    return f"ip:{address}"


def _key(value: str) -> str:
    # Limit keys are hashes: no phone number or address sits in memory under its own name.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _payload_intent(text: str) -> str | None:
    if not text.startswith("/"):
        return None
    return text[1:].split("{", 1)[0].strip() or None


class FairUse:
    """One per Sanic app (worker); shared by all its channels, so an address is limited once."""

    def __init__(self, settings: FairUseSettings, clinic_phone: str, app: Sanic | None = None) -> None:
        self.settings = settings
        self.app = app
        # Fixed windows (a window starts with its first message): one counter a key, and a key is
        # dropped when its window ends. limits 2.4's in-memory moving window keeps every key it
        # ever saw. The limiter holds its storage only weakly, so this object keeps it.
        self._storage = aio.storage.MemoryStorage()
        self._limiter = aio.strategies.FixedWindowRateLimiter(self._storage)
        self._per_conversation = parse(settings.conversation_limit) if settings.conversation_limit else None
        self._per_address = parse(settings.address_limit) if settings.address_limit else None
        self._reading = parse(settings.red_flag_reading_limit) if settings.red_flag_reading_limit else None
        self._trusted = [ipaddress.ip_network(a, strict=False) for a in settings.trusted_addresses]
        self.conversation_full = CONVERSATION_FULL.format(phone=clinic_phone)
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()

    # --- the decision ---

    async def check(self, conversation_id: str, text: str, address: str | None = None) -> Refusal | None:
        """None when the message may go to the bot (and it is counted); else why not."""
        refusal = await self._rate_refusal(conversation_id, address)
        state = None
        cap = self.settings.max_conversation_messages
        if refusal is None and cap:
            state = await self._state(conversation_id)
            if state is not None and state.messages >= cap:
                refusal = Refusal(CONVERSATION_LIMIT_CODE, self.conversation_full)
        if refusal is not None:
            codes = await self._red_flag_codes(conversation_id, text, address, state)
            if codes:
                logger.warning(
                    "fair_use.red_flag_let_through conversation=%s reason=%s codes=%s",
                    conversation_id,
                    refusal.code,
                    ",".join(sorted(set(codes))),
                )
                refusal = None
        if refusal is None:
            self._count(conversation_id)
        elif await self._first_in_window("log", conversation_id):
            logger.warning("fair_use.refused conversation=%s reason=%s", conversation_id, refusal.code)
        return refusal

    async def gate(self, message: UserMessage, address: str | None, tell_every_time: bool = False) -> bool:
        """True when `message` may go to the bot. Otherwise the patient is told why through the
        message's own output channel: every time (the web chat), or once a window (messaging
        platforms, where each text costs and a flood must not be answered with one)."""
        if not is_storable(message.sender_id):
            logger.warning(
                "fair_use.unstorable_sender channel=%s length=%d", message.input_channel, len(message.sender_id)
            )
            return False
        refusal = await self.check(message.sender_id, message.text or "", address)
        if refusal is None:
            return True
        if tell_every_time or await self._first_in_window("notice", message.sender_id):
            try:
                await message.output_channel.send_text_message(message.sender_id, refusal.text)
            except Exception as error:
                logger.error("fair_use.notice_failed conversation=%s error=%s", message.sender_id, type(error).__name__)
        return False

    def is_trusted(self, address: str | None) -> bool:
        if not address or not address.startswith("ip:") or not self._trusted:
            return False
        try:
            ip = ipaddress.ip_address(address[3:])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self._trusted)

    # --- rate limits ---

    async def _rate_refusal(self, conversation_id: str, address: str | None) -> Refusal | None:
        if self.is_trusted(address):
            return None
        checks = []  # the address first: a refused flood of new conversation ids makes no new keys
        if self._per_address is not None and address:
            checks.append((self._per_address, ("address", _key(address))))
        if self._per_conversation is not None:
            checks.append((self._per_conversation, ("conversation", _key(conversation_id))))
        for item, identifiers in checks:
            if not await self._limiter.hit(item, *identifiers):
                reset_at, _remaining = await self._limiter.get_window_stats(item, *identifiers)
                return Refusal(RATE_LIMITED_CODE, RATE_LIMITED, max(1, math.ceil(reset_at - time.time())))
        return None

    async def _first_in_window(self, what: str, conversation_id: str) -> bool:
        return await self._limiter.hit(NOTICE_WINDOW, what, _key(conversation_id))

    # --- the conversation's length ---

    def _count(self, conversation_id: str) -> None:
        state = self._conversations.get(conversation_id)
        if state is not None:
            state.messages += 1
            state.since_load += 1
            state.context = None

    async def _state(self, conversation_id: str) -> _Conversation | None:
        state = self._conversations.get(conversation_id)
        if (
            state is None
            or state.since_load >= RELOAD_AFTER_MESSAGES
            or time.monotonic() - state.loaded_at > RELOAD_AFTER_SECONDS
        ):
            return await self._load(conversation_id)
        self._conversations.move_to_end(conversation_id)
        return state

    async def _load(self, conversation_id: str) -> _Conversation | None:
        agent = getattr(getattr(self.app, "ctx", None), "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return None
        try:
            tracker = await store.retrieve(conversation_id)
        except Exception as error:
            logger.warning(
                "fair_use.tracker_unreadable conversation=%s error=%s", conversation_id, type(error).__name__
            )
            return None
        messages, context = _summary(tracker, _session_minutes(agent))
        now = time.monotonic()
        state = _Conversation(messages, now, 0, context, now)
        self._conversations[conversation_id] = state
        self._conversations.move_to_end(conversation_id)
        while len(self._conversations) > CONVERSATIONS_KEPT:
            self._conversations.popitem(last=False)
        return state

    # --- red flags ---

    async def _red_flag_codes(
        self, conversation_id: str, text: str, address: str | None, state: _Conversation | None
    ) -> list[str]:
        """The codes of every red-flag finding in a message about to be refused."""
        sender = _key(address or conversation_id)
        if self._reading is not None and not await self._limiter.hit(
            self._reading, "reading", sender, cost=max(1, len(text))
        ):
            if await self._first_in_window("unread", conversation_id):
                logger.warning("fair_use.not_read conversation=%s: over the red-flag reading budget", conversation_id)
            return []
        analysis = detector.analyse(text)
        findings = [finding.to_dict() for finding in analysis.findings]
        if findings:
            return [f["code"] for f in findings]
        context = await self._context(conversation_id, sender, state)
        if context:
            turn = Turn(
                text=text,
                intent=_payload_intent(text),
                findings=(),
                requested_slot=context.get("requested_slot"),
                slots=context,
                active_loop=None,
                signs=analysis.signs,
            )
            findings = screening_answer_finding(turn) + contextual_findings(turn, detector.detect)
        return [f["code"] for f in findings]

    async def _context(self, conversation_id: str, sender: str, state: _Conversation | None) -> dict:
        """What the conversation knows that changes how a message reads (see CONTEXT_SLOTS)."""
        state = state or self._conversations.get(conversation_id)
        if state is not None and state.context is not None and time.monotonic() - state.context_at <= CONTEXT_SECONDS:
            return state.context
        if self._reading is not None and not await self._limiter.hit(
            self._reading, "reading", sender, cost=CONTEXT_READING_COST
        ):
            return {}
        state = await self._load(conversation_id)
        return (state.context or {}) if state is not None else {}


def _session_minutes(agent: Any) -> float:
    config = getattr(getattr(agent, "domain", None), "session_config", None)
    return float(getattr(config, "session_expiration_time", 0) or 0)


def _summary(tracker: Any, session_minutes: float) -> tuple[int, dict]:
    """(patient messages in the current session, CONTEXT_SLOTS) of a stored conversation."""
    if tracker is None:
        return 0, {}
    events = list(tracker.events)
    starts = [i for i, event in enumerate(events) if isinstance(event, SessionStarted)]
    session = events[starts[-1] + 1 :] if starts else events
    expired = bool(session_minutes and session and time.time() - session[-1].timestamp > session_minutes * 60)
    messages = 0 if expired else sum(1 for event in session if isinstance(event, UserUttered))
    slots = {name: tracker.slots[name].value for name in CONTEXT_SLOTS if name in tracker.slots}
    return messages, slots


def for_app(app: Sanic) -> FairUse:
    """The app's FairUse, made on first use from the environment (FairUseSettings)."""
    fair_use = getattr(app.ctx, "fair_use", None)
    if fair_use is None:
        fair_use = FairUse(FairUseSettings.from_env(), load_settings().clinic_phone, app)
        app.ctx.fair_use = fair_use
    return fair_use


class AppFairUse:
    """The FairUse of the app a channel's blueprint runs in, made when the server starts (so a
    bad FAIR_USE_* variable stops it there). Call it for the FairUse."""

    def __init__(self) -> None:
        self._fair_use: FairUse | None = None

    def attach(self, blueprint: Blueprint) -> AppFairUse:
        @blueprint.listener("before_server_start")
        async def start_fair_use(app: Sanic, _loop: Any) -> None:
            self._fair_use = for_app(app)

        return self

    def __call__(self) -> FairUse:
        if self._fair_use is None:
            raise RuntimeError("Fair use is made when the server starts; it has not started.")
        return self._fair_use


def attach(blueprint: Blueprint) -> AppFairUse:
    """`AppFairUse().attach(blueprint)`."""
    return AppFairUse().attach(blueprint)


def gated(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    fair_use: AppFairUse,
    address: Callable[[UserMessage], str | None],
) -> Callable[[UserMessage], Awaitable[Any]]:
    """`on_new_message` that lets through only what `FairUse.gate` admits (messaging platforms)."""

    async def handle(message: UserMessage) -> Any:
        if await fair_use().gate(message, address(message)):
            return await on_new_message(message)
        return None

    return handle
