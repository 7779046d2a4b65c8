"""Builders for the review tool's tests: conversations saved through Rasa's own SQLTrackerStore
(so the `events` schema and JSON are Rasa 3.6's real ones) and booking requests saved through
bot/booking/store.py."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

PASSWORD = "a long test passphrase 42"


@dataclass
class Conversation:
    sender_id: str
    events: list = field(default_factory=list)


def _slots():
    from rasa.shared.core.slots import BooleanSlot, CategoricalSlot, FloatSlot, ListSlot

    from bot.contract import ONSETS, PAIN_LOCATIONS, TRIAGE_LEVELS

    return [
        ListSlot("red_flags", mappings=[]),
        CategoricalSlot("triage_level", mappings=[], values=list(TRIAGE_LEVELS)),
        ListSlot("pain_triggers", mappings=[]),
        CategoricalSlot("pain_location", mappings=[], values=list(PAIN_LOCATIONS)),
        CategoricalSlot("onset", mappings=[], values=list(ONSETS)),
        FloatSlot("duration_weeks", mappings=[]),
        BooleanSlot("staff_review_needed", mappings=[]),
    ]


class Script:
    """Writes one conversation's events with increasing timestamps, as the bot would."""

    def __init__(self, sender_id: str, start: Optional[float] = None, channel: str = "socketio") -> None:
        self.conversation = Conversation(sender_id)
        self.clock = start if start is not None else time.time() - 3600
        self.channel = channel
        from rasa.shared.core.events import ActionExecuted, SessionStarted

        self._add(ActionExecuted("action_session_start", timestamp=self._tick()))
        self._add(SessionStarted(timestamp=self._tick()))
        self._add(ActionExecuted("action_listen", timestamp=self._tick()))

    def _tick(self, seconds: float = 2.0) -> float:
        self.clock += seconds
        return self.clock

    def _add(self, event) -> "Script":
        self.conversation.events.append(event)
        return self

    def user(self, text: str, intent: str, confidence: float = 0.92, entities: tuple = (),
             red_flags: tuple = (), channel: Optional[str] = None, metadata: Optional[dict] = None,
             **parse_extra: Any) -> "Script":
        from rasa.shared.core.events import UserUttered

        ranking = [{"name": intent, "confidence": confidence},
                   {"name": "knee_pain_general", "confidence": round((1 - confidence) / 2, 3)}]
        parse_data = {
            "intent": {"name": intent, "confidence": confidence},
            "entities": list(entities),
            "intent_ranking": ranking,
            "red_flags": list(red_flags),
            **parse_extra,
        }
        return self._add(UserUttered(
            text, {"name": intent, "confidence": confidence}, list(entities), parse_data,
            timestamp=self._tick(20), input_channel=channel or self.channel, metadata=metadata,
        ))

    def slot(self, name: str, value: Any) -> "Script":
        from rasa.shared.core.events import SlotSet

        return self._add(SlotSet(name, value, timestamp=self._tick(0.1)))

    def action(self, name: str) -> "Script":
        from rasa.shared.core.events import ActionExecuted

        return self._add(ActionExecuted(name, policy="RulePolicy", confidence=1.0, timestamp=self._tick(0.1)))

    def bot(self, text: str, buttons: Optional[list] = None) -> "Script":
        from rasa.shared.core.events import ActionExecuted, BotUttered

        self._add(BotUttered(text, {"buttons": buttons} if buttons else {}, timestamp=self._tick(0.5)))
        return self._add(ActionExecuted("action_listen", timestamp=self._tick(0.1)))

    def done(self) -> Conversation:
        return self.conversation


def finding(code: str, matched: str, start: int, level: str, asserted: bool = True,
            modifiers: tuple = (), rule: str = "") -> dict:
    return {"code": code, "level": level, "matched": matched, "start": start, "end": start + len(matched),
            "modifiers": list(modifiers), "asserted": asserted, "rule": rule or f"{code}.{matched.split()[0]}"}


def entity(name: str, value: str, text: str, message: str) -> dict:
    start = message.index(text)
    return {"entity": name, "value": value, "start": start, "end": start + len(text),
            "extractor": "KneeEntityExtractor", "confidence_entity": 1.0}


def clinic_conversations(base: Optional[float] = None) -> list[Conversation]:
    """Five realistic conversations: an emergency, an ordinary case with a negated red flag and a
    call-back, a fallback, and two messages that try script and SQL injection."""
    base = base if base is not None else time.time() - 6 * 3600
    hot = "My knee is hot, red and swollen and I have a fever"
    emergency = (
        Script("conv-infection", start=base)
        .user("hi", "greet", 0.99).bot("Hi! I can help with knee pain. What's going on?")
        .user(hot, "knee_pain_general", 0.81, red_flags=(
            finding("infection", "hot, red and swollen", hot.index("hot"), "emergency"),
            finding("infection", "fever", hot.index("fever"), "emergency"),
            finding("cancer_signs", "my knee is hot, red and swollen", 0, "consultation_24", asserted=False,
                    modifiers=("model_only",), rule="model.cancer_signs:0.52"),
        ))
        .slot("red_flags", ["infection"]).slot("triage_level", "emergency").slot("staff_review_needed", True)
        .action("action_escalate")
        .bot("Please go to an emergency department now. A hot, red, swollen knee with a fever needs care today.")
        .user("I want to book", "book_appointment", 0.95)
        .bot("I've asked the clinic to call you.")
        .done()
    )
    stairs_text = "My knee hurts around the kneecap on stairs, no fever though"
    ordinary = (
        Script("conv-stairs", start=base + 600)
        .user(stairs_text, "pain_on_stairs", 0.93,
              entities=(entity("pain_trigger", "stairs", "stairs", stairs_text),
                        entity("pain_location", "around_kneecap", "around the kneecap", stairs_text)),
              red_flags=(finding("infection", "fever", stairs_text.index("fever"), "emergency",
                                 asserted=False, modifiers=("negated",)),))
        .slot("pain_triggers", ["stairs"]).slot("pain_location", "around_kneecap")
        .bot("How long has it hurt?", buttons=[{"title": "Under 6 weeks", "payload": "/inform"},
                                              {"title": "6 weeks or more", "payload": "/inform"}])
        .user("about 6 weeks, it came on slowly", "inform", 0.88)
        .slot("duration_weeks", 6.0).slot("onset", "gradual").slot("triage_level", "consultation")
        .bot("That fits a common pattern. Booking a visit with a physio is a good next step.")
        .user("can someone call me back", "request_human", 0.9)
        .bot("Sure. The clinic will call you.")
        .done()
    )
    fallback = (
        Script("conv-fallback", start=base + 1200, channel="twilio")
        .user("asdf qwer zxcv", "nlu_fallback", 0.21)
        .action("action_default_fallback")
        .bot("Sorry, I didn't get that. Could you say it another way?")
        .user("knee sore after runs", "pain_when_running", 0.55)
        .slot("pain_triggers", ["running"]).slot("triage_level", "self_care")
        .bot("Here is some advice for running.")
        .done()
    )
    xss = (
        Script("conv-xss", start=base + 1800)
        .user("<script>alert('x')</script> my knee <img src=x onerror=alert(1)>", "knee_pain_general", 0.64)
        .bot("Tell me more about your knee.")
        .done()
    )
    sqli = (
        Script("conv-sqli", start=base + 2400)
        .user("'; DROP TABLE events; -- knee", "out_of_scope", 0.7)
        .bot("I can only help with knee pain.")
        .done()
    )
    return [emergency, ordinary, fallback, xss, sqli]


def build_tracker_db(path: Path, conversations: list[Conversation]) -> None:
    """Save conversations with Rasa's SQLTrackerStore (creating its `events` table)."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    store = SQLTrackerStore(dialect="sqlite", db=str(path))

    async def save_all() -> None:
        for conversation in conversations:
            tracker = DialogueStateTracker.from_events(conversation.sender_id, conversation.events, slots=_slots())
            await store.save(tracker)

    asyncio.run(save_all())
    store.engine.dispose()


def build_booking_db(path: Path, requests: list[dict]) -> None:
    """Store booking and call-back requests with the booking module's own store."""
    from bot.booking.store import BookingRequest, BookingStore, new_request

    store = BookingStore(f"sqlite:///{path}")
    store.create_all()
    now = datetime.now(timezone.utc)
    for values in requests:
        values = dict(values)
        kind = values.pop("kind")
        status = values.pop("status", "pending")
        request = new_request(kind, "local", now, BookingRequest.new_id(), **values)
        store.insert(request)
        if status != "pending":
            store.update(request.id, status=status)
    store.dispose()


def make_staff(username: str, role: str):
    from django.contrib.auth import get_user_model

    from transcripts.models import StaffMember

    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    StaffMember.objects.create(user=user, role=role)
    return user
