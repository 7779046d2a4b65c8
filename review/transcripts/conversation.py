"""What a conversation's tracker events mean to a reviewer: a digest for the queue, the triage
record, and the turns of the transcript. Plain Python over `EventRow`s: no Django, no Rasa.

The events may come from the running bot, a test or a seeding script; only the stored event
format (Rasa 3.6 `Event.as_dict()`) is relied on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Optional

from bot import policy
from bot.contract import MODEL_RULE_PREFIX, TRIAGE_LEVELS, level_rank

from .stores import EventRow

FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = frozenset({"action_default_fallback", "action_two_stage_fallback"})
# Events that only drive the bot's own loop: counted, never shown as a reply.
QUIET_ACTIONS = frozenset({"action_listen", "action_session_start"})
RECORD_SLOTS = (
    "red_flags", "triage_level", "pain_triggers", "pain_location", "onset", "duration_weeks",
    "staff_review_needed",
)
PREVIEW_CHARS = 200
# The metadata key channels/twilio.py (FROM_METADATA_KEY) puts an SMS or WhatsApp number under,
# and that channel's name (SignedTwilioInput.name(), the event's input_channel). Metadata is
# partly written by whoever sends a message (the website widget and the REST channel pass the
# sender's own), so the number is believed only on a message the Twilio channel took in: that
# channel sets the key itself, after checking Twilio's signature. (Not imported: the review
# tool's image has no Rasa; a test checks the two names match.)
TWILIO_FROM_KEY = "twilio_from"
TWILIO_CHANNEL = "twilio"
# What patients wrote is kept for search up to this many characters a conversation.
SEARCH_TEXT_CHARS = 20_000


def to_datetime(timestamp: Optional[float]) -> Optional[datetime]:
    if timestamp is None:
        return None
    try:
        return datetime.fromtimestamp(float(timestamp), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


def _confidence(parse_data: dict) -> Optional[float]:
    intent = parse_data.get("intent") or {}
    try:
        return float(intent["confidence"]) if intent.get("confidence") is not None else None
    except (TypeError, ValueError):
        return None


def asserted_codes(findings: Iterable[dict]) -> set[str]:
    """Red-flag codes that count: findings asserted about the person now (not negated etc.)."""
    return {
        str(finding.get("code"))
        for finding in findings
        if isinstance(finding, dict) and finding.get("asserted") and finding.get("code")
    }


@dataclass
class Digest:
    """A conversation's summary for the queue, built by adding events in any order."""

    conversation_id: str
    first_event_id: Optional[int] = None
    last_event_id: Optional[int] = None
    started_ts: Optional[float] = None
    last_ts: Optional[float] = None
    channel: str = ""
    user_message_count: int = 0
    bot_message_count: int = 0
    first_message: str = ""
    first_message_event_id: Optional[int] = None
    level_rank: int = -1
    red_flags: set[str] = field(default_factory=set)
    intents: set[str] = field(default_factory=set)
    min_confidence: Optional[float] = None
    fallback_count: int = 0
    staff_review_needed: bool = False
    patient_text: str = ""

    @property
    def triage_level(self) -> str:
        return TRIAGE_LEVELS[self.level_rank] if self.level_rank >= 0 else ""

    @property
    def urgent(self) -> bool:
        return self.level_rank >= level_rank(policy.URGENT_FROM) or self.staff_review_needed or bool(self.red_flags)

    def add(self, event: EventRow) -> None:
        if self.first_event_id is None or event.id < self.first_event_id:
            self.first_event_id = event.id
        if self.last_event_id is None or event.id > self.last_event_id:
            self.last_event_id = event.id
        if event.timestamp is not None:
            if self.started_ts is None or event.timestamp < self.started_ts:
                self.started_ts = event.timestamp
            if self.last_ts is None or event.timestamp > self.last_ts:
                self.last_ts = event.timestamp
        if event.type_name == "user":
            self._add_user(event)
        elif event.type_name == "bot":
            self.bot_message_count += 1
        elif event.type_name == "action":
            if event.action_name in FALLBACK_ACTIONS:
                self.fallback_count += 1
        elif event.type_name == "slot" and event.action_name in ("triage_level", "red_flags", "staff_review_needed"):
            # Rasa stores a slot's name in `action_name`: only the three slots the queue needs
            # are decoded.
            self._add_slot(event.action_name, event.payload().get("value"))

    def _add_user(self, event: EventRow) -> None:
        payload = event.payload()
        parse_data = payload.get("parse_data") or {}
        text = str(payload.get("text") or "")
        self.user_message_count += 1
        if not self.channel and payload.get("input_channel"):
            self.channel = str(payload["input_channel"])[:64]
        if text and (self.first_message_event_id is None or event.id < self.first_message_event_id):
            self.first_message = text[:PREVIEW_CHARS]
            self.first_message_event_id = event.id
        if text and len(self.patient_text) < SEARCH_TEXT_CHARS:
            self.patient_text = (self.patient_text + "\n" + text.lower())[:SEARCH_TEXT_CHARS].lstrip("\n")
        intent = event.intent_name or (parse_data.get("intent") or {}).get("name")
        if intent:
            self.intents.add(str(intent))
        if intent == FALLBACK_INTENT:
            self.fallback_count += 1
        confidence = _confidence(parse_data)
        if confidence is not None and (self.min_confidence is None or confidence < self.min_confidence):
            self.min_confidence = confidence
        self.red_flags |= asserted_codes(_as_list(parse_data.get("red_flags")))

    def _add_slot(self, name: str, value: Any) -> None:
        if name == "triage_level":
            self.level_rank = max(self.level_rank, level_rank(value if isinstance(value, str) else None))
        elif name == "red_flags":
            # Codes are only ever added (the contract); the digest never drops one either.
            self.red_flags |= {str(code) for code in _as_list(value) if code}
        elif name == "staff_review_needed":
            self.staff_review_needed = self.staff_review_needed or value is True


def digest_events(conversation_id: str, events: Iterable[EventRow]) -> Digest:
    digest = Digest(conversation_id)
    for event in events:
        digest.add(event)
    return digest


# ---------------------------------------------------------------------------------------------
# The transcript page.

@dataclass
class Finding:
    code: str
    level: str
    matched: str
    modifiers: list[str]
    asserted: bool
    rule: str

    @property
    def caught_by(self) -> str:
        """Which red-flag net found it (bot/redflags/nets.py): the rules, or the learned net with
        its score ("the learned net, 0.93")."""
        if self.rule.startswith(MODEL_RULE_PREFIX):
            score = self.rule.rpartition(":")[2]
            return f"the learned net, {score}" if score else "the learned net"
        return "the rules" if self.rule else ""

    @property
    def label(self) -> str:
        """'fever: negated' or 'hot swollen knee' for the reviewer."""
        if self.modifiers:
            return f"{self.matched}: {', '.join(self.modifiers)}"
        return self.matched


@dataclass
class UserMessage:
    event_id: int
    at: Optional[datetime]
    text: str
    intent: str
    confidence: Optional[float]
    entities: list[dict]
    findings: list[Finding]
    channel: str
    ranking: list[dict]
    correction: Any = None  # the staff's IntentCorrection, attached by the page
    # What the classifier said before the knee-topic rule (components/knee_topic.py) took the
    # message up as a knee intent; empty when the rule did not act.
    rescued_from: str = ""
    # What the classifier said before the language check (components/language_guard.py) read
    # the message as another language ("es", "cjk"...) or as no words at all ("none").
    language: str = ""
    language_from: str = ""
    # The number an SMS or WhatsApp message came from (channels/twilio.py puts it in the
    # message's metadata; the conversation id is a pseudonym so that it can go in alerts).
    # Empty for a message any other channel took in, whatever its metadata says.
    reply_to: str = ""
    # The two intent classifiers' first choices, DIET's then the regression's, when they differed
    # (components/intent_ensemble.py: the average of their confidences decided); empty otherwise.
    votes: list[dict] = field(default_factory=list)

    @property
    def is_fallback(self) -> bool:
        return self.intent == FALLBACK_INTENT

    def is_low_confidence(self, threshold: float) -> bool:
        return self.confidence is not None and self.confidence < threshold


@dataclass
class BotReply:
    at: Optional[datetime]
    text: str
    buttons: list[str]
    has_other_content: bool


@dataclass
class SlotChange:
    at: Optional[datetime]
    name: str
    value: Any

    @property
    def shown_value(self) -> str:
        if self.value is None:
            return "(cleared)"
        if isinstance(self.value, (list, tuple)):
            return ", ".join(str(item) for item in self.value) or "(none)"
        return str(self.value)


@dataclass
class Turn:
    """What the person wrote, then everything the bot did until they wrote again."""

    at: Optional[datetime]
    user: Optional[UserMessage] = None
    replies: list[BotReply] = field(default_factory=list)
    slot_changes: list[SlotChange] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def _finding(raw: dict) -> Finding:
    return Finding(
        code=str(raw.get("code") or ""),
        level=str(raw.get("level") or ""),
        matched=str(raw.get("matched") or ""),
        modifiers=[str(m) for m in _as_list(raw.get("modifiers")) if m],
        asserted=bool(raw.get("asserted")),
        rule=str(raw.get("rule") or ""),
    )


def _user_message(event: EventRow, payload: dict) -> UserMessage:
    parse_data = payload.get("parse_data") or {}
    intent = parse_data.get("intent") or {}
    entities = [e for e in _as_list(parse_data.get("entities")) if isinstance(e, dict)]
    findings = [_finding(f) for f in _as_list(parse_data.get("red_flags")) if isinstance(f, dict)]
    ranking = [r for r in _as_list(parse_data.get("intent_ranking")) if isinstance(r, dict)][:5]
    knee_topic = parse_data.get("knee_topic")
    language = parse_data.get("language") if isinstance(parse_data.get("language"), dict) else {}
    return UserMessage(
        event_id=event.id,
        at=to_datetime(event.timestamp),
        text=str(payload.get("text") or ""),
        intent=str(event.intent_name or intent.get("name") or ""),
        confidence=_confidence(parse_data),
        entities=entities,
        findings=findings,
        channel=str(payload.get("input_channel") or ""),
        ranking=ranking,
        rescued_from=str(knee_topic.get("classified_as") or "") if isinstance(knee_topic, dict) else "",
        language=str(language.get("detected") or "")[:16],
        language_from=str(language.get("classified_as") or ""),
        reply_to=_reply_to(payload),
        votes=_split_votes(parse_data),
    )


def _split_votes(parse_data: dict) -> list[dict]:
    votes = [v for v in _as_list(parse_data.get("intent_votes")) if isinstance(v, dict) and v.get("name")][:2]
    return votes if len({v["name"] for v in votes}) > 1 else []


def _reply_to(payload: dict) -> str:
    if payload.get("input_channel") != TWILIO_CHANNEL:
        return ""
    metadata = payload.get("metadata")
    value = metadata.get(TWILIO_FROM_KEY) if isinstance(metadata, dict) else None
    return str(value)[:64] if value else ""


def build_turns(events: Iterable[EventRow]) -> list[Turn]:
    turns: list[Turn] = []
    current: Optional[Turn] = None
    for event in events:
        at = to_datetime(event.timestamp)
        if event.type_name == "user":
            current = Turn(at=at, user=_user_message(event, event.payload()))
            turns.append(current)
            continue
        if current is None:
            current = Turn(at=at)
            turns.append(current)
        if event.type_name == "bot":
            payload = event.payload()
            data = payload.get("data") or {}
            buttons = [
                str(button.get("title") or button.get("payload") or "")
                for button in _as_list(data.get("buttons"))
                if isinstance(button, dict)
            ]
            other = any(data.get(key) for key in ("image", "attachment", "custom", "elements"))
            current.replies.append(BotReply(at, str(payload.get("text") or ""), buttons, other))
        elif event.type_name == "slot":
            current.slot_changes.append(SlotChange(at, str(event.action_name or ""), event.payload().get("value")))
        elif event.type_name == "action":
            if event.action_name and event.action_name not in QUIET_ACTIONS:
                current.actions.append(event.action_name)
        elif event.type_name == "session_started":
            current.notices.append("New session started")
        elif event.type_name == "restart":
            current.notices.append("Conversation restarted")
        elif event.type_name == "active_loop" and event.action_name:
            current.notices.append(f"Form started: {event.action_name}")
    return turns


@dataclass
class TriageRecord:
    """The triage slots as they stood at the end, plus the most urgent level ever reached."""

    values: dict[str, Any]
    highest_level: str
    asserted_findings: list[str]

    @property
    def level(self) -> str:
        return str(self.values.get("triage_level") or "")

    @property
    def red_flags(self) -> list[str]:
        return [str(code) for code in _as_list(self.values.get("red_flags"))]

    @property
    def duration_weeks(self) -> Any:
        return self.values.get("duration_weeks")

    @property
    def urgent(self) -> bool:
        return policy.is_urgent(self.highest_level) or bool(self.red_flags) or bool(
            self.values.get("staff_review_needed")
        )


def triage_record(events: Iterable[EventRow]) -> TriageRecord:
    values: dict[str, Any] = {}
    highest = -1
    findings: set[str] = set()
    for event in events:
        if event.type_name == "slot" and event.action_name in RECORD_SLOTS:
            value = event.payload().get("value")
            values[event.action_name] = value
            if event.action_name == "triage_level" and isinstance(value, str):
                highest = max(highest, level_rank(value))
        elif event.type_name in ("restart", "reset_slots"):
            values = {}
        elif event.type_name == "user":
            parse_data = event.payload().get("parse_data") or {}
            findings |= asserted_codes(_as_list(parse_data.get("red_flags")))
    return TriageRecord(
        values=values,
        highest_level=TRIAGE_LEVELS[highest] if highest >= 0 else "",
        asserted_findings=sorted(findings),
    )
