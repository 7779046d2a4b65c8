"""Booking, call-back and hand-off: the conversation side (docs/booking.md, "Booking and hand-off").

    "book"      -> action_offer_booking (what we keep, why, who sees it; OK?)
                   -> "yes" -> booking_form -> action_submit_booking
                   -> "no"  -> action_booking_declined (nothing kept; the clinic's phone)
    "a person"  -> action_handoff_human (phone, hours, open now?, and a call-back offer that says
                   what we keep) -> "yes" -> callback_form -> action_submit_callback

Each offer is the consent question, so "yes" to it starts the form with consent given (slot
mapping `from_trigger_intent`); the form asks for consent itself only if it ever starts without.
booking_form then asks, one at a time: name, mobile/landline and/or email, then either one of
up to three free Cliniko times or the days and times that suit, the clinic (only when there are
several), and last a confirmation that shows every answer and the triage summary, with a button
to change any one of them. callback_form asks the same for a call-back (a phone number is a
must). Nothing is stored until the person confirms; then the request is committed to the local
store before delivery is tried (`bot.booking.service`), so a failed delivery is never a lost one.

Safety stays with the in-server TriageSafetyPolicy: a red flag stops these forms like any other,
and "book" at emergency level is answered there. The checks here (no booking form at emergency
level, nothing stored) are a second line.

Logs carry request ids and status codes only: never names, numbers or symptoms.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.actions import SETTINGS
from bot import policy
from bot.booking.hours import DAY_NAMES, time_words
from bot.booking.service import (
    BookingService,
    get_booking_service,
    is_open_now,
    next_opening,
    opening_hours_sentence,
    parse_slot_value,
    slot_label,
    triage_summary_from_slots,
)
from bot.booking.store import BookingRequest, utcnow
from bot.booking.validation import (
    GOES_BY,
    TIME_WORDS,
    looks_like_a_name,
    name_words,
    phone_for_people,
    validate_email,
    validate_location,
    validate_name,
    validate_phone,
    validate_preferred_times,
)
from bot.contract import QUESTION_INTENTS, SYMPTOM_INTENTS
from bot.settings import Settings
from bot.triage import (
    BOOKING_WANTED_SLOT,
    EMERGENCY_QUESTIONS,
    MORE_QUESTIONS_SLOT,
    interview_plan,
    questions_left_after_booking,
)

logger = logging.getLogger(__name__)

BOOKING_FORM = "booking_form"
CALLBACK_FORM = "callback_form"
DETAIL_FORMS = (BOOKING_FORM, CALLBACK_FORM)

# Every slot the two forms fill, cleared before a new request and after one is sent or stopped.
DETAIL_SLOTS = (
    "booking_consent",
    "patient_name",
    "contact",
    "contact_phone",
    "contact_email",
    "preferred_times",
    "appointment_slot",
    "offered_slots",
    "clinic_location",
    "booking_confirmed",
)
# The answers a person can change on the confirmation step, in the order they are asked.
CHANGEABLE = ("patient_name", "contact", "appointment_slot", "preferred_times", "clinic_location")

# Never an answer to a detail question: these have rules of their own while a form is active
# (data/rules/booking.yml, data/rules/handoff.yml) and the form carries on after them. Must match
# `not_intent` in domain.yml (tests/test_booking_actions.py checks both).
RULE_HANDLED_INTENTS = frozenset({"stop", "request_human", "ask_clinic_info", "bot_challenge", *QUESTION_INTENTS})
# A confident guess at one of these means the message was not a name.
# The name question's answers that are no name, before the reply says a first name is enough and
# how to leave the booking.
NAME_TRIES_BEFORE_WAY_OUT = 2
NOT_A_NAME_INTENTS = frozenset(
    {
        "affirm",
        "deny",
        "greet",
        "goodbye",
        "thank",
        "skip",
        "unsure",
        "book_appointment",
        *SYMPTOM_INTENTS,
    }
)
NAME_MAX_WORDS = 5
NO_SLOT = "none"  # the "None of these suit me" button
ANY_TIME = "Any time"


def booking_service() -> BookingService:
    """The process-wide booking service (tests point this at a temporary database)."""
    return get_booking_service(SETTINGS)


# --- plain helpers (no Rasa) -------------------------------------------------------------------


@dataclass(frozen=True)
class ContactAnswer:
    phone: str | None = None  # E.164
    email: str | None = None
    reask: str | None = None

    @property
    def shown(self) -> str:
        return " and ".join(p for p in (self.phone and phone_for_people(self.phone), self.email) if p)


_EMAIL_LIKE = re.compile(r"[^\s,;<>]+@[^\s,;<>]*")
_PHONE_LIKE = re.compile(r"\+?[\d(][\d\s\-().]{5,}\d")
CONTACT_REASK = "Please type your mobile number or your email, like 0412 345 678 or name@example.com."
PHONE_NEEDED = "We need a phone number to call you. Please type a mobile or landline, like 0412 345 678."


# "skip", "pass", "rather not", "no thanks": the person does not want to give a contact here.
NOT_GIVING = re.compile(
    r"^\W*(?:skip|pass|no thanks?|nah|no|rather not|i'?d rather not|don'?t want to|do not want to"
    r"|prefer not|not now)\b",
    re.IGNORECASE,
)


def contact_way_out_text(settings: Settings) -> str:
    return (
        "The clinic needs a phone number or an email to book you in. If you'd rather not type it here, "
        f"you can call us on {settings.clinic_phone}, or type stop to end the booking."
    )


def read_contact(text: str, phone_only: bool = False) -> ContactAnswer:
    """A phone number and/or an email from what the person typed ("0412 345 678, jo@x.com")."""
    text = (text or "").strip()
    emails = [e.rstrip(".") for e in _EMAIL_LIKE.findall(text)]
    rest = _EMAIL_LIKE.sub(" ", text)
    phones = _PHONE_LIKE.findall(rest)
    if phone_only and emails and not phones:
        return ContactAnswer(reask=PHONE_NEEDED)
    if not emails and not phones:
        digits = sum(ch.isdigit() for ch in rest)
        if digits >= 3:
            return ContactAnswer(reask=validate_phone(rest).reask)
        if not phone_only and " " not in text and "." in text:
            return ContactAnswer(reask=validate_email(text).reask)  # an email missing its @
        return ContactAnswer(reask=PHONE_NEEDED if phone_only else CONTACT_REASK)
    phone = email = None
    if phones:
        checked = validate_phone(phones[0])
        if not checked.ok:
            return ContactAnswer(reask=checked.reask)
        phone = checked.value
    if emails and not phone_only:
        checked = validate_email(emails[0])
        if not checked.ok:
            return ContactAnswer(reask=checked.reask)
        email = checked.value
    return ContactAnswer(phone=phone, email=email)


_FIELD_WORDS = (
    ("patient_name", ("name",)),
    ("contact", ("phone", "number", "mobile", "email", "e-mail", "contact", "landline")),
    ("preferred_times", ("time", "times", "day", "days", "when", "morning", "afternoon", "evening", "slot")),
    ("clinic_location", ("clinic", "location", "place", "branch", "where")),
)


def field_from_words(text: str) -> str | None:
    """Which answer "my number is wrong" or "change the day" is about (None when unclear)."""
    words = set(re.findall(r"[a-z\-]+", (text or "").lower()))
    found = [field for field, keys in _FIELD_WORDS if words.intersection(keys)]
    return found[0] if len(found) == 1 else None


def first_name(name: str | None) -> str:
    return (name or "").split()[0] if name else ""


def details_to_ask(form: str, slots: Mapping[str, Any], settings: Settings) -> list[str]:
    """The questions this request needs, in order (the form asks the first unanswered one)."""
    if form == BOOKING_FORM and policy.blocks_booking(slots.get("triage_level")):
        return []  # never a booking in an emergency (the safety policy answers first)
    if slots.get("booking_consent") is False:
        return ["booking_consent"]  # no consent: ask nothing else, keep nothing
    asked = ["booking_consent", "patient_name", "contact"]
    if form == BOOKING_FORM:
        if settings.booking_backend == "cliniko":
            asked.append("appointment_slot")
        if slots.get("appointment_slot") in (None, NO_SLOT):
            asked.append("preferred_times")
        if len(settings.clinic_locations) > 1:
            asked.append("clinic_location")
    else:
        asked.append("preferred_times")
    asked.append("booking_confirmed")
    return asked


def chosen_time_label(value: str | None, settings: Settings) -> str | None:
    if not value or value == NO_SLOT:
        return None
    try:
        moment = parse_slot_value(value)
    except ValueError:
        return None
    return slot_label(moment, settings) if moment else None


def when_we_open(opens: datetime, now: datetime, settings: Settings) -> str:
    """ "today at 7 am", "tomorrow at 8 am", "on Monday at 7 am" (clinic time)."""
    local_now = now.astimezone(settings.zone)
    days = (opens.date() - local_now.date()).days
    at = time_words(opens.time().replace(tzinfo=None))
    if days == 0:
        return f"today at {at}"
    if days == 1:
        return f"tomorrow at {at}"
    return f"on {DAY_NAMES[opens.weekday()]} at {at}"


def open_now_sentence(settings: Settings, now: datetime) -> str:
    if is_open_now(settings, now):
        return "We're open now, so you can call us straight away."
    opens = next_opening(settings, now)
    if opens is None:
        return "We're closed right now."
    return f"We're closed right now. We open again {when_we_open(opens, now, settings)}."


# --- what the person reads (grade 8 or below: tests/test_booking_actions.py) -----------------


def consent_text(settings: Settings, kind: str) -> str:
    if kind == "callback":
        what = "your name, your phone number and a good time to call"
        why = "so our team can call you back"
    else:
        what = "your name, your phone number or email, and the times that suit you"
        why = "so our team can contact you about your visit"
    return (
        f"Before we start: I'll ask for {what}. We keep these, with what you told me about your knee, "
        f"{why}. Only {settings.clinic_name} staff can see them. You can read our privacy policy at "
        f"{settings.clinic_privacy_url}. Is that OK?"
    )


CONSENT_BUTTONS = [{"title": "Yes, that's OK", "payload": "/affirm"}, {"title": "No thanks", "payload": "/deny"}]


def callback_offer_text(settings: Settings) -> str:
    return (
        "If you like, our team can call you back. I'd ask for your name, your phone number and a good "
        f"time to call. We keep these, with this chat, so our team can call you. Only {settings.clinic_name} "
        f"staff can see them. You can read our privacy policy at {settings.clinic_privacy_url}. "
        "Would you like a call-back?"
    )


CALLBACK_BUTTONS = [{"title": "Yes, call me back", "payload": "/affirm"}, {"title": "No thanks", "payload": "/deny"}]


def no_consent_text(settings: Settings, kind: str) -> str:
    text = f"That's fine. I haven't kept any of your details. You can call us on {settings.clinic_phone}"
    if kind == "booking":
        return text + f" to book, or book online at {settings.clinic_booking_url}."
    return text + " when it suits you."


def stopped_text(settings: Settings) -> str:
    return (
        "No problem, I've stopped. I haven't sent your details to the clinic. "
        f"You can call us on {settings.clinic_phone} at any time."
    )


def confirmation_text(slots: Mapping[str, Any], settings: Settings, kind: str) -> str:
    lines = ["Please check your details:", f"- Name: {slots.get('patient_name')}"]
    if slots.get("contact_phone"):
        lines.append(f"- Phone: {phone_for_people(slots['contact_phone'])}")
    if slots.get("contact_email"):
        lines.append(f"- Email: {slots['contact_email']}")
    label = chosen_time_label(slots.get("appointment_slot"), settings)
    if label:
        lines.append(f"- Time: {label}")
    elif slots.get("preferred_times"):
        heading = "Good time to call" if kind == "callback" else "Times that suit"
        lines.append(f"- {heading}: {slots['preferred_times']}")
    if kind == "booking" and len(settings.clinic_locations) > 1 and slots.get("clinic_location"):
        lines.append(f"- Clinic: {slots['clinic_location']}")
    if slots.get("triage_summary"):
        lines.append(f"- Your knee: {slots['triage_summary']}")
    else:
        lines.append("- Your knee: no knee check yet. The physio will ask you about it.")
    question = "Shall I send this to the clinic?" if kind == "booking" else "Shall I ask our team to call you?"
    return "\n".join(lines) + "\n\n" + question


def confirmation_buttons(asked: Sequence[str], kind: str) -> list[dict[str, str]]:
    titles = {
        "patient_name": "Change name",
        "contact": "Change phone" if kind == "callback" else "Change phone or email",
        "appointment_slot": "Change time",
        "preferred_times": "Change times",
        "clinic_location": "Change clinic",
    }
    buttons = [{"title": "Yes, send it", "payload": "/affirm"}]
    for field in CHANGEABLE:
        if field not in asked or (field == "preferred_times" and "appointment_slot" in asked):
            continue  # with Cliniko, "Change time" offers the free times again
        buttons.append({"title": titles[field], "payload": f'/inform{{"booking_field":"{field}"}}'})
    buttons.append({"title": "Cancel", "payload": "/stop"})
    return buttons


def outcome_text(request: BookingRequest, settings: Settings) -> str:
    """What happens next, in plain words, for a stored request."""
    name = first_name(request.name)
    thanks = f"Thanks, {name}." if name else "Thanks."
    reach = f"call you on {phone_for_people(request.phone)}" if request.phone else f"email you at {request.email}"
    clinic_phone = settings.clinic_phone
    if request.kind == "callback":
        if request.status == "delivered":
            return f"{thanks} Our team will {reach}. If you'd rather not wait, call us on {clinic_phone}."
        return (
            f"{thanks} I've saved your request. Our team will {reach} as soon as they can. "
            f"You can also call us on {clinic_phone}."
        )
    when = slot_label(request.slot_starts_at, settings) if request.slot_starts_at else None
    if request.status == "delivered":
        if when and request.backend == "cliniko":
            place = f" at {request.location}" if request.location else ""
            return f"{thanks} You're booked in for {when}{place}. If you need to change it, call us on {clinic_phone}."
        return (
            f"{thanks} Your request is with the clinic. Our team will {reach} to set a time. "
            f"If you'd rather talk now, call us on {clinic_phone}."
        )
    missed = f"I couldn't book {when} just now" if when else "I couldn't send it to the clinic just now"
    return (
        f"{thanks} I've saved your request, but {missed}. Don't worry: our team will {reach} "
        f"to set a time. You can also call us on {clinic_phone}."
    )


def name_needed_text(settings: Settings) -> str:
    """The reply to "skip" at the name question: the one detail a booking cannot do without."""
    return (
        "I need a name to book you in. A first name is fine. "
        f"To leave the booking, type stop, or call us on {settings.clinic_phone}."
    )


def not_saved_text(settings: Settings) -> str:
    return (
        f"Sorry, I couldn't save your request just now. Please call us on {settings.clinic_phone} "
        "and we'll book you in."
    )


# --- Rasa glue ---------------------------------------------------------------------------------


def _intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _answers_to(tracker: Tracker, slot: str) -> int:
    """How many messages the patient has sent since the form first asked for `slot` this time."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            count += 1
        elif event.get("event") == "slot" and event.get("name") == "requested_slot" and event.get("value") != slot:
            break
    return count


def _confidence(tracker: Tracker) -> float:
    return float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)


def _text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def _active_form(tracker: Tracker) -> str | None:
    return (tracker.active_loop or {}).get("name")


def _entity(tracker: Tracker, name: str) -> str | None:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    return None


def _cleared() -> list[EventType]:
    return [SlotSet(name, None) for name in DETAIL_SLOTS]


def _kind(form: str | None) -> str:
    return "callback" if form == CALLBACK_FORM else "booking"


class ActionOfferBooking(Action):
    """Start a booking (the rule then runs booking_form), or say why not now."""

    def name(self) -> str:
        return "action_offer_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        level = tracker.get_slot("triage_level")
        form = _active_form(tracker)
        if policy.blocks_booking(level):
            dispatcher.utter_message(response="utter_emergency_no_booking")
            return []
        if form == "triage_form":
            # Booking now: only the emergency questions still unanswered come first; the triage
            # form then ends, and its summary starts the booking (ActionTriageSummary).
            slots = {**tracker.current_slot_values(), BOOKING_WANTED_SLOT: True}
            waiting = [q for q in interview_plan(slots) if tracker.get_slot(q) is None]
            dispatcher.utter_message(response="utter_booking_after_safety" if waiting else "utter_booking_now")
            return [SlotSet(BOOKING_WANTED_SLOT, True)]
        if form in DETAIL_FORMS:
            dispatcher.utter_message(response="utter_booking_finish_details")
            return []
        if any(tracker.get_slot(q) is None for q in EMERGENCY_QUESTIONS) and not tracker.get_slot("red_flags"):
            # Nobody is booked in without the emergency questions: they come first, then the
            # triage form ends and its summary starts the booking (ActionTriageSummary).
            dispatcher.utter_message(response="utter_booking_after_safety")
            return [SlotSet(BOOKING_WANTED_SLOT, True), FollowupAction("triage_form")]
        if not policy.bookable(level):
            dispatcher.utter_message(response="utter_booking_gp_first")
        else:
            dispatcher.utter_message(response="utter_booking_start")
        settings = booking_service().settings
        dispatcher.utter_message(text=consent_text(settings, "booking"), buttons=CONSENT_BUTTONS)
        return [*_cleared(), SlotSet(BOOKING_WANTED_SLOT, None)]


class ActionBookingDeclined(Action):
    """ "No" to keeping details: keep nothing, and give the phone and booking page instead."""

    def name(self) -> str:
        return "action_booking_declined"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=no_consent_text(booking_service().settings, "booking"))
        return _cleared()


class ActionHandoffHuman(Action):
    """The clinic's phone and hours, whether it is open now, and (outside a form) a call-back offer."""

    def name(self) -> str:
        return "action_handoff_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        settings = booking_service().settings
        emergency = policy.blocks_booking(tracker.get_slot("triage_level"))
        form = _active_form(tracker)
        if emergency:
            dispatcher.utter_message(response="utter_handoff_urgent_care_first")
        dispatcher.utter_message(
            text=" ".join(
                [
                    f"You can talk to our team on {settings.clinic_phone}.",
                    opening_hours_sentence(settings),
                    open_now_sentence(settings, utcnow()),
                ]
            )
        )
        if form:
            dispatcher.utter_message(response="utter_back_to_questions")
        if form or emergency:
            return []
        dispatcher.utter_message(text=callback_offer_text(settings), buttons=CALLBACK_BUTTONS)
        return _cleared()  # a call-back request starts empty


class ActionAskBookingConsent(Action):
    def name(self) -> str:
        return "action_ask_booking_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        settings = booking_service().settings
        dispatcher.utter_message(text=consent_text(settings, _kind(_active_form(tracker))), buttons=CONSENT_BUTTONS)
        return []


class ActionAskAppointmentSlot(Action):
    """Up to three free Cliniko times as buttons; none to offer: ask which times suit instead."""

    def name(self) -> str:
        return "action_ask_appointment_slot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        slots = await booking_service().offer_slots_async(limit=3)
        if not slots:
            dispatcher.utter_message(response="utter_booking_no_free_times")
            dispatcher.utter_message(response="utter_ask_booking_form_preferred_times")
            return [
                SlotSet("offered_slots", []),
                SlotSet("appointment_slot", NO_SLOT),
                SlotSet("requested_slot", "preferred_times"),
            ]
        buttons = [{"title": s.label, "payload": f'/inform{{"appointment_slot":"{s.value}"}}'} for s in slots]
        buttons.append({"title": "None of these suit me", "payload": f'/inform{{"appointment_slot":"{NO_SLOT}"}}'})
        dispatcher.utter_message(response="utter_booking_free_times", buttons=buttons)
        return [SlotSet("offered_slots", [{"value": s.value, "label": s.label} for s in slots])]


class ActionAskClinicLocation(Action):
    def name(self) -> str:
        return "action_ask_clinic_location"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        locations = booking_service().settings.clinic_locations
        dispatcher.utter_message(
            response="utter_which_clinic", buttons=[{"title": place, "payload": place} for place in locations]
        )
        return []


class ActionAskBookingConfirmed(Action):
    """Every answer and the triage summary, with a button to change any one of them."""

    def name(self) -> str:
        return "action_ask_booking_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        settings = booking_service().settings
        form = _active_form(tracker) or BOOKING_FORM
        slots = tracker.current_slot_values()
        dispatcher.utter_message(
            text=confirmation_text(slots, settings, _kind(form)),
            buttons=confirmation_buttons(details_to_ask(form, slots, settings), _kind(form)),
        )
        return []


class _DetailsFormValidation(FormValidationAction, ABC):
    """What booking_form and callback_form share: which questions, and checking each answer."""

    @abstractmethod
    def name(self) -> str: ...

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        return details_to_ask(self.form_name(), tracker.slots, booking_service().settings)

    def _asked(self, tracker: Tracker, slot: str) -> bool:
        return tracker.get_slot("requested_slot") == slot

    def _unclear(self, tracker: Tracker, slot: str) -> bool:
        """Asked `slot`, and the message is neither its answer nor something a rule answers."""
        return self._asked(tracker, slot) and _intent(tracker) not in RULE_HANDLED_INTENTS

    def _button_from_elsewhere(self, value: Any, dispatcher: CollectingDispatcher) -> bool:
        if isinstance(value, str) and value.startswith("/"):
            dispatcher.utter_message(response="utter_booking_finish_details")
            return True
        return False

    # consent: yes/no buttons; anything else gets a kind re-ask
    async def extract_booking_consent(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not self._unclear(tracker, "booking_consent") or _intent(tracker) in ("affirm", "deny"):
            return {}
        dispatcher.utter_message(response="utter_booking_need_yes_or_no")
        return {"booking_consent": None}

    def validate_booking_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"booking_consent": value if isinstance(value, bool) else None}

    def validate_patient_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None or self._button_from_elsewhere(value, dispatcher):
            return {"patient_name": None}
        plainly_a_name = GOES_BY.match(str(value)) is not None or looks_like_a_name(str(value))
        if (
            _intent(tracker) in NOT_A_NAME_INTENTS
            and _confidence(tracker) >= policy.CLASSIFIER_SURE
            and not plainly_a_name
        ):
            # "skip", or a second answer that is no name ("not sure", "rather not say" looped to the
            # simulator's 60-turn limit: blind persona set 10): a name is needed to book; say that a
            # first name is enough and how to leave, instead of asking the same way again
            if _intent(tracker) == "skip" or _answers_to(tracker, "patient_name") >= NAME_TRIES_BEFORE_WAY_OUT:
                dispatcher.utter_message(text=name_needed_text(booking_service().settings))
            else:
                dispatcher.utter_message(response="utter_booking_need_name")
            return {"patient_name": None}
        checked = validate_name(value)
        if checked.value is not None and name_words(checked.value) > NAME_MAX_WORDS:  # a note beside it is fine
            dispatcher.utter_message(response="utter_booking_just_name")
            return {"patient_name": None}
        if not checked.ok:
            stuck = _answers_to(tracker, "patient_name") >= NAME_TRIES_BEFORE_WAY_OUT
            dispatcher.utter_message(text=name_needed_text(booking_service().settings) if stuck else checked.reask)
            return {"patient_name": None}
        return {"patient_name": checked.value}

    def _taken_whole(self, tracker: Tracker, slot: str, says_it: Callable[[str], bool]) -> dict[str, Any]:
        """The message as `slot`'s answer when it plainly holds one, whatever else it says or
        asks, so the detail is not asked for again while a rule answers the rest (blind persona
        sets 3 and 4: "name@example.com. is my information private?", "weekday mornings before
        8? is that possible", "Konstantinos Georgiou, call me Kostas")."""
        if not self._asked(tracker, slot) or tracker.get_slot(slot):
            return {}
        text = _text(tracker)
        return {slot: text} if not text.startswith("/") and says_it(text) else {}

    async def extract_patient_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # "call me Kostas" after a name reads like a request for a call; "jenny park" like a question
        # about parking, when the classifier is not sure (bot/safety.py sends both here)
        unsure = _confidence(tracker) < policy.CLASSIFIER_SURE
        return self._taken_whole(
            tracker,
            "patient_name",
            lambda text: GOES_BY.match(text) is not None or (unsure and looks_like_a_name(text)),
        )

    async def extract_contact(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        phone_only = self.form_name() == CALLBACK_FORM

        def holds_one(text: str) -> bool:
            answer = read_contact(text, phone_only=phone_only)
            return bool(answer.phone or answer.email)

        return self._taken_whole(tracker, "contact", holds_one)

    async def extract_preferred_times(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._taken_whole(
            tracker, "preferred_times", lambda text: bool(TIME_WORDS.search(text)) and validate_preferred_times(text).ok
        )

    def validate_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        cleared = {"contact": None, "contact_phone": None, "contact_email": None}
        if value is None or self._button_from_elsewhere(value, dispatcher):
            return cleared
        answer = read_contact(value, phone_only=self.form_name() == CALLBACK_FORM)
        if answer.reask and NOT_GIVING.match(str(value)):
            # "skip", "rather not": say why it is needed and give a way out, never the same re-ask
            dispatcher.utter_message(text=contact_way_out_text(booking_service().settings))
            return cleared
        if answer.reask:
            dispatcher.utter_message(text=answer.reask)
            return cleared
        return {"contact": answer.shown, "contact_phone": answer.phone, "contact_email": answer.email}

    def validate_preferred_times(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None or self._button_from_elsewhere(value, dispatcher):
            return {"preferred_times": None}
        if _intent(tracker) in ("skip", "unsure"):
            return {"preferred_times": ANY_TIME}
        checked = validate_preferred_times(value)
        if not checked.ok:
            dispatcher.utter_message(text=checked.reask)
            return {"preferred_times": None}
        return {"preferred_times": checked.value}

    async def extract_appointment_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not self._unclear(tracker, "appointment_slot") or _entity(tracker, "appointment_slot"):
            return {}
        dispatcher.utter_message(response="utter_booking_tap_a_time")
        return {"appointment_slot": None}

    def validate_appointment_slot(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"appointment_slot": None}
        offered = [s.get("value") for s in tracker.get_slot("offered_slots") or []]
        if value == NO_SLOT or value in offered:
            return {"appointment_slot": value}
        dispatcher.utter_message(response="utter_booking_time_taken")
        return {"appointment_slot": None}

    def validate_clinic_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None or self._button_from_elsewhere(value, dispatcher):
            return {"clinic_location": None}
        checked = validate_location(value, booking_service().settings.clinic_locations)
        if not checked.ok:
            dispatcher.utter_message(text=checked.reask)
            return {"clinic_location": None}
        return {"clinic_location": checked.value}

    # confirmation: "yes" sends; a change button (or "my number is wrong") clears that answer,
    # which the form then asks again before confirming again; anything else shows the choices
    async def extract_booking_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not self._unclear(tracker, "booking_confirmed") or _intent(tracker) == "affirm":
            return {}
        asked = details_to_ask(self.form_name(), tracker.slots, booking_service().settings)
        field = _entity(tracker, "booking_field") or field_from_words(_text(tracker))
        if field == "preferred_times" and "appointment_slot" in asked:
            field = "appointment_slot"
        if field in CHANGEABLE and field in asked:
            cleared = {field: None}
            if field == "appointment_slot":
                cleared["preferred_times"] = None
            return {"booking_confirmed": None, **cleared}
        dispatcher.utter_message(response="utter_booking_change_which")
        return {"booking_confirmed": None}

    def validate_booking_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"booking_confirmed": True if value is True else None}


class ValidateBookingForm(_DetailsFormValidation):
    def name(self) -> str:
        return "validate_booking_form"


class ValidateCallbackForm(_DetailsFormValidation):
    def name(self) -> str:
        return "validate_callback_form"


class ActionSubmitBooking(Action):
    """Store the confirmed request first, then deliver it; say plainly what happens next."""

    kind = "booking"

    def name(self) -> str:
        return "action_submit_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        service = booking_service()
        settings = service.settings
        slots = tracker.current_slot_values()
        if self.kind == "booking" and policy.blocks_booking(slots.get("triage_level")):
            return _cleared()  # the safety policy has already said what to do
        if slots.get("booking_consent") is False:
            dispatcher.utter_message(text=no_consent_text(settings, self.kind))
            return _cleared()
        if slots.get("booking_confirmed") is not True:
            return _cleared()  # the form ended some other way: nothing to send
        fields = self.fields(tracker, slots)
        try:
            request = await service.submit_and_deliver(fields, idempotency_key=tracker.latest_message.get("message_id"))
        except Exception as error:  # the database is away, or a field slipped past the form
            logger.error(
                "%s request for conversation %s not saved: %s", self.kind, tracker.sender_id, type(error).__name__
            )
            dispatcher.utter_message(text=not_saved_text(settings))
            return [*_cleared(), SlotSet("booking_kind", self.kind), SlotSet("booking_status", "not_saved")]
        logger.info("%s request %s for conversation %s: %s", self.kind, request.id, tracker.sender_id, request.status)
        dispatcher.utter_message(text=outcome_text(request, settings))
        events: list[EventType] = [
            *_cleared(),
            SlotSet("booking_kind", self.kind),
            SlotSet("booking_status", request.status),
            SlotSet("booking_request_id", request.id),
        ]
        if self.kind == "booking" and questions_left_after_booking(slots):
            # booked before the routine questions: offer them now (the safety policy reads the answer)
            dispatcher.utter_message(response="utter_offer_more_questions")
            events.append(SlotSet(MORE_QUESTIONS_SLOT, True))
        return events

    def fields(self, tracker: Tracker, slots: Mapping[str, Any]) -> dict[str, Any]:
        summary = triage_summary_from_slots(slots)
        if slots.get("triage_summary"):
            summary["description"] = slots["triage_summary"]
        if slots.get("triage_reasons"):
            summary["reasons"] = slots["triage_reasons"]
        chosen = slots.get("appointment_slot")
        return {
            "kind": self.kind,
            "conversation_id": tracker.sender_id,
            "name": slots.get("patient_name"),
            "phone": slots.get("contact_phone"),
            "email": slots.get("contact_email") if self.kind == "booking" else None,
            "preferred_times": slots.get("preferred_times"),
            "location": slots.get("clinic_location") if self.kind == "booking" else None,
            "triage_level": slots.get("triage_level"),
            "triage_summary": summary or None,
            "slot_starts_at": chosen if chosen and chosen != NO_SLOT else None,
        }


class ActionSubmitCallback(ActionSubmitBooking):
    kind = "callback"

    def name(self) -> str:
        return "action_submit_callback"


class ActionBookingStopped(Action):
    """ "Stop" in the middle: end kindly and keep none of the details."""

    def name(self) -> str:
        return "action_booking_stopped"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=stopped_text(booking_service().settings))
        return _cleared()
