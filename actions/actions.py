"""Thin rasa_sdk actions over the `bot` package.

Each action reads the tracker, calls plain Python in `bot/`, and turns the result into messages
and events. Nothing clinical is decided here: triage is `bot.triage`, red flags `bot.safety`
and `bot.redflags`, configuration `bot.settings`.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import policy, triage
from bot.buttons import typed_button
from bot.knee_topic import mentions_knee
from bot.redflags.screening import read_answer
from bot.settings import load_settings

logger = logging.getLogger(__name__)

SETTINGS = load_settings()
# Questions where "not sure" is an answer worth keeping (a safety question answered "not sure"
# keeps the level at consultation or above); elsewhere "not sure" is the same as skipping.
UNSURE_IS_AN_ANSWER = ("under_16", triage.MOOD_QUESTION, *triage.SCREENING_QUESTIONS)
YES_NO_QUESTIONS = frozenset((triage.MOOD_QUESTION, *triage.SCREENING_QUESTIONS))
# Entities that place a message on the knee: where on it, or what brings knee pain on. How long,
# which side or how it started could be said of any body part.
KNEE_PLACE_OR_ACTIVITY = frozenset({"pain_location", "pain_trigger"})


def _latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


class ValidateTriageForm(FormValidationAction):
    """One question at a time, only what is still unknown, in the order bot.triage.interview_plan
    gives for what is known (the emergency questions first); skip and "not sure" move on."""

    def name(self) -> str:
        return "validate_triage_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        skipped = set(tracker.get_slot(triage.SKIPPED_SLOT) or [])
        plan = triage.interview_plan(tracker.slots)
        return [slot for slot in plan if slot in domain_slots and slot not in skipped]

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        asked = tracker.get_slot("requested_slot")
        intent = _latest_intent(tracker)
        filled = {e.get("name") for e in events if e.get("event") == "slot"}
        if asked in YES_NO_QUESTIONS and asked not in filled and intent not in ("skip", "stop"):
            # A typed answer the intents did not read as yes or no ("yeah, pretty flat lately")
            answer = read_answer(tracker.latest_message.get("text") or "")
            if answer is not None:
                events.append(SlotSet(asked, answer))
        if asked == "pain_triggers" and not tracker.get_slot(triage.MORE_TRIGGERS):
            events.append(SlotSet(triage.MORE_TRIGGERS, "answered with the triggers question"))
        moves_on = (
            intent == "skip"
            or (intent == "unsure" and asked not in UNSURE_IS_AN_ANSWER)
            or _typed_skip(tracker.latest_message.get("text") or "", asked, domain)
        )
        if asked and moves_on:
            skipped = list(tracker.get_slot(triage.SKIPPED_SLOT) or [])
            if asked not in skipped:
                skipped.append(asked)
            dispatcher.utter_message(response="utter_skip_noted")
            events.append(SlotSet(triage.SKIPPED_SLOT, skipped))
        return events

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # The SDK keeps only the form's own slots; the skip list must reach the tracker too.
        events = await super().get_validation_events(dispatcher, tracker, domain)
        pending = tracker.slots_to_validate()
        if triage.SKIPPED_SLOT in pending:
            events.append(SlotSet(triage.SKIPPED_SLOT, pending[triage.SKIPPED_SLOT]))
        return events

    async def extract_under_16(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # An age given at any point answers the question before it is asked.
        age = tracker.get_slot("age")
        if tracker.get_slot("under_16") is None and isinstance(age, (int, float)):
            return {"under_16": "yes" if policy.is_child(age) else "no"}
        return {}

    def validate_duration_weeks(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            weeks = float(value)
        except (TypeError, ValueError):
            weeks = -1.0
        if 0 <= weeks <= 1000:
            return {"duration_weeks": weeks}
        dispatcher.utter_message(
            text='Sorry, I didn\'t catch how long. You can say something like "6 weeks" or "3 months".'
        )
        return {"duration_weeks": None}


def _typed_skip(text: str, asked: str | None, domain: DomainDict) -> bool:
    """The question's Skip button typed, maybe with a reason after it ("Skip. Honestly it's hard
    to pin down": persona set 7): the same as the tap."""
    variants = (domain.get("responses") or {}).get(f"utter_ask_{asked}") or [{}]
    button = typed_button(text, variants[0].get("buttons") or [])
    return button is not None and button.get("payload") == "/skip"


class ActionAskMoreTriggers(Action):
    """After a first message that named one trigger: does anything else bring the pain on?"""

    def name(self) -> str:
        return "action_ask_more_triggers"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        known = [t for t in tracker.get_slot("pain_triggers") or [] if t in triage.TRIGGER_WORDS]
        dispatcher.utter_message(text=triage.more_triggers_question(known), buttons=triage.more_triggers_buttons(known))
        return []


class ActionCheckKneeDescription(Action):
    """Outside the triage questions, is an answer-like message ("left knee, behind the kneecap,
    about a month") a description of the person's knee? Then the questions start; "for about 3
    weeks" about a shoulder is not, and gets the usual "say it another way" reply."""

    def name(self) -> str:
        return "action_check_knee_description"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        entities = {e.get("entity") for e in tracker.latest_message.get("entities") or []}
        described = mentions_knee(text) or bool(entities & KNEE_PLACE_OR_ACTIVITY)
        return [SlotSet("knee_described", described)]


def without_closing_question(text: str) -> str:
    """An answer's text less the offer it ends with ("...Would you like a physio to help you set
    the right level?"): the triage questions come next instead, and a "yes" typed after two
    questions would be read as the answer to the wrong one."""
    body = text.rstrip()
    if not body.endswith("?"):
        return body
    end = max(body.rfind(". ", 0, len(body) - 1), body.rfind("\n", 0, len(body) - 1))
    return body[: end + 1].rstrip() if end > 0 else body


class ActionAnswerThenQuestions(Action):
    """A question that also tells of the person's own knee pain, before any triage questions
    (bot/safety.py, starts_after_an_answer): the answer from domain.yml, without its closing
    offer, then the start of the questions. The safety policy runs the triage form next."""

    def name(self) -> str:
        return "action_answer_then_questions"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        variants = (domain.get("responses") or {}).get("utter_answer_" + intent.removeprefix("ask_")) or []
        if variants and variants[0].get("text"):
            dispatcher.utter_message(text=without_closing_question(variants[0]["text"]))
        dispatcher.utter_message(response="utter_start_triage")
        return []


class ActionTriageSummary(Action):
    """Say what the bot understood, the triage level and what to do, then offer next steps."""

    def name(self) -> str:
        return "action_triage_summary"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        record = triage.TriageRecord.from_slots(tracker.current_slot_values())
        level, reasons = triage.assess(record, current_level=tracker.get_slot("triage_level"))
        text = triage.summary(record, level, reasons)
        dispatcher.utter_message(text=text)
        booking_next = bool(tracker.get_slot(triage.BOOKING_WANTED_SLOT)) and policy.bookable(level)
        if policy.bookable(level) and not booking_next:
            dispatcher.utter_message(response="utter_offer_hip")
        events: list[EventType] = [
            SlotSet("triage_level", level),
            SlotSet("triage_reasons", reasons),
            SlotSet("triage_summary", triage.describe(record)),
        ]
        if policy.is_urgent(level):
            events.append(SlotSet("staff_review_needed", True))
        if booking_next:  # they asked to book during the questions: the booking starts now
            events.append(FollowupAction("action_offer_booking"))
        return events
