"""Every custom action, run as the action server runs it: a CollectingDispatcher, a Tracker built
here, and the real domain."""
from __future__ import annotations

from typing import Any, Optional

import pytest
from rasa.shared.core.domain import Domain
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import actions
from bot.readability import is_readable

DOMAIN = Domain.load("domain.yml")
DOMAIN_DICT = DOMAIN.as_dict()
ALL_NO = {q: "no" for q in actions.triage.SCREENING_QUESTIONS}


def make_tracker(slots: Optional[dict] = None, intent: str = "inform", text: str = "",
                 entities: Optional[list] = None, active_loop: Optional[str] = None,
                 set_by_message: Optional[dict] = None) -> Tracker:
    """`set_by_message`: slots the latest user message filled (what a form validates)."""
    values = {slot.name: None for slot in DOMAIN.slots}
    values.update(slots or {})
    values.update(set_by_message or {})
    events = [{"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (set_by_message or {}).items()]
    return Tracker(
        sender_id="test-conversation",
        slots=values,
        latest_message={"text": text, "intent": {"name": intent, "confidence": 0.99},
                        "entities": entities or []},
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def slot_events(events: list) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def run(action, tracker: Tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN_DICT)
    return dispatcher, events


TYPICAL_SLOTS = {
    "pain_location": "around_kneecap", "pain_triggers": ["stairs", "sitting"], "more_triggers": "no more",
    "onset": "gradual", "duration_weeks": 6.0, "under_16": "no", "screen_mood": "no", **ALL_NO,
}


@pytest.mark.parametrize("text,entities,described", [
    ("left knee, about a month", [{"entity": "side", "value": "left"}], True),
    ("behind the cap, 6 weeks", [{"entity": "pain_location", "value": "behind_kneecap"}], True),
    ("going down stairs for 2 months", [{"entity": "pain_trigger", "value": "stairs"}], True),
    ("for about 3 weeks now", [{"entity": "duration_weeks", "value": 3.0}], False),
    ("it came on slowly, on the right", [{"entity": "onset", "value": "gradual"},
                                         {"entity": "side", "value": "right"}], False),
    ("my knee is fine, it's my left shoulder", [{"entity": "side", "value": "left"}], False),
])
async def test_an_answer_outside_the_questions_starts_them_only_when_it_is_about_the_knee(
        text, entities, described):
    dispatcher, events = await run(actions.ActionCheckKneeDescription(),
                                   make_tracker(text=text, entities=entities))
    assert slot_events(events) == {"knee_described": described}
    assert dispatcher.messages == []


async def test_a_question_with_a_knee_story_gets_its_answer_without_the_closing_offer_then_the_questions_start():
    text = "I have had a sore right knee for some time, should I rest it?"
    dispatcher, events = await run(actions.ActionAnswerThenQuestions(), make_tracker(intent="ask_rest", text=text))
    answer = DOMAIN_DICT["responses"]["utter_answer_rest"][0]["text"]
    sent = dispatcher.messages[0]["text"]
    assert answer.startswith(sent) and "Rest alone" in sent
    assert not sent.rstrip().endswith("?") and not dispatcher.messages[0].get("buttons")  # no offer to say yes to
    assert dispatcher.messages[1]["response"] == "utter_start_triage"
    assert events == []  # the safety policy runs the triage form next


async def test_summary_of_a_typical_pattern_offers_hip_and_booking():
    dispatcher, events = await run(actions.ActionTriageSummary(), make_tracker(TYPICAL_SLOTS))
    texts = [m.get("text") or "" for m in dispatcher.messages]
    assert "pain around the kneecap on stairs and after sitting, for about 6 weeks" in texts[0]
    assert "fits a common pattern called patellofemoral pain" in texts[0]
    assert dispatcher.messages[1]["response"] == "utter_offer_hip"
    slots = slot_events(events)
    assert slots["triage_level"] == "consultation"
    assert "typical_patellofemoral_pattern" in slots["triage_reasons"]
    assert slots["triage_summary"].startswith("pain around the kneecap")
    assert all(is_readable(t) for t in texts if t)


async def test_a_patient_who_asked_to_book_during_the_questions_goes_straight_to_booking_after_the_summary():
    dispatcher, events = await run(actions.ActionTriageSummary(), make_tracker({**TYPICAL_SLOTS, "booking_wanted": True}))
    assert [e for e in events if e.get("event") == "followup"] == [{"event": "followup", "name": "action_offer_booking",
                                                                    "timestamp": None}]
    assert all(m.get("response") != "utter_offer_hip" for m in dispatcher.messages)
    tracker = make_tracker({**TYPICAL_SLOTS, "booking_wanted": True, "triage_level": "emergency", "red_flags": ["dvt"]})
    _, events = await run(actions.ActionTriageSummary(), tracker)
    assert not [e for e in events if e.get("event") == "followup"]  # never booking in an emergency


async def test_summary_never_lowers_the_level_and_offers_no_booking_in_an_emergency():
    tracker = make_tracker({**TYPICAL_SLOTS, "triage_level": "emergency", "red_flags": ["dvt"]})
    dispatcher, events = await run(actions.ActionTriageSummary(), tracker)
    assert slot_events(events)["triage_level"] == "emergency"
    assert all(m.get("response") != "utter_offer_hip" for m in dispatcher.messages)
    assert "emergency department" in dispatcher.messages[0]["text"]


async def test_summary_marks_a_24_hour_conversation_for_staff():
    tracker = make_tracker({**TYPICAL_SLOTS, "onset": "sudden_injury", "age": 60.0, "duration_weeks": 0.5})
    _, events = await run(actions.ActionTriageSummary(), tracker)
    slots = slot_events(events)
    assert slots["triage_level"] == "consultation_24"
    assert slots["staff_review_needed"] is True


# --- the triage form's validation -----------------------------------------------------------

async def validate(slots: dict, intent: str, requested: str, set_by_message=None):
    tracker = make_tracker({**slots, "requested_slot": requested}, intent=intent,
                           active_loop="triage_form", set_by_message=set_by_message)
    dispatcher = CollectingDispatcher()
    events = await actions.ValidateTriageForm().run(dispatcher, tracker, DOMAIN_DICT)
    return dispatcher, slot_events(events)


EMERGENCY_NO = {q: "no" for q in actions.triage.EMERGENCY_QUESTIONS}


async def test_skip_typed_with_a_reason_after_it_moves_to_the_next_question():
    # "Skip." was the policy's to read, and the form rejected the turn: no reply at all (persona set 7)
    tracker = make_tracker({**EMERGENCY_NO, "requested_slot": "pain_location"}, intent="nlu_fallback",
                           text="Skip. Honestly it's hard to pin down, it's just a vague ache.",
                           active_loop="triage_form")
    dispatcher = CollectingDispatcher()
    events = await actions.ValidateTriageForm().run(dispatcher, tracker, DOMAIN_DICT)
    slots = slot_events(events)
    assert slots["skipped_questions"] == ["pain_location"] and slots["requested_slot"] == "pain_triggers"
    assert dispatcher.messages[0]["response"] == "utter_skip_noted"


async def test_skip_moves_to_the_next_question():
    dispatcher, slots = await validate(EMERGENCY_NO, "skip", "pain_location")
    assert slots["skipped_questions"] == ["pain_location"]
    assert slots["requested_slot"] == "pain_triggers"
    assert dispatcher.messages[0]["response"] == "utter_skip_noted"


async def test_the_emergency_questions_come_first_chest_first():
    _, slots = await validate({}, "inform", None)
    assert slots["requested_slot"] == "screen_chest"
    _, slots = await validate({"screen_chest": "no"}, "deny", "screen_chest")
    assert slots["requested_slot"] == "screen_heat_swelling_fever"
    _, slots = await validate({**EMERGENCY_NO, "pain_location": "around_kneecap"}, "deny", "screen_numbness")
    assert slots["requested_slot"] == "pain_triggers"  # then where and what, as before


async def test_after_an_injury_weight_bearing_comes_with_the_emergencies_then_a_pop():
    _, slots = await validate({"onset": "sudden_injury", **EMERGENCY_NO}, "deny", "screen_numbness")
    assert slots["requested_slot"] == "screen_weight_bearing"  # Ottawa: four steps, before "where"
    known = {"onset": "sudden_injury", **EMERGENCY_NO, "screen_weight_bearing": "no",
             "pain_location": "inner_knee", "pain_triggers": ["walking"]}
    _, slots = await validate(known, "deny", "screen_weight_bearing")
    assert slots["requested_slot"] == "screen_pop_swelling"
    # no injury: neither question is asked
    _, slots = await validate({**TYPICAL_SLOTS, "screen_weight_bearing": None, "screen_pop_swelling": None},
                              "deny", "screen_night_pain")
    assert slots["requested_slot"] is None


async def test_under_16_asks_about_a_limp_and_the_hip_and_not_about_mood():
    known = {**TYPICAL_SLOTS, "under_16": "yes", "screen_child_hip": None, "screen_mood": None}
    _, slots = await validate(known, "affirm", "under_16")
    assert slots["requested_slot"] == "screen_child_hip"
    _, slots = await validate({**known, "screen_child_hip": "no"}, "deny", "screen_child_hip")
    assert slots["requested_slot"] is None  # a parent is not asked about the child's mood


@pytest.mark.parametrize("mood,next_question", [("yes", "screen_self_harm"), ("unsure", "screen_self_harm"),
                                                ("no", None)])
async def test_a_low_mood_answer_leads_to_the_self_harm_question(mood, next_question):
    known = {**TYPICAL_SLOTS, "screen_mood": mood, "screen_self_harm": None}
    _, slots = await validate(known, {"yes": "affirm", "no": "deny", "unsure": "unsure"}[mood], "screen_mood")
    assert slots["requested_slot"] == next_question


async def test_a_code_one_net_was_unsure_about_is_asked_next():
    known = {**EMERGENCY_NO, "pain_location": "around_kneecap", "screen_calf": None, "red_flags_to_ask": ["dvt"]}
    _, slots = await validate(known, "inform", "pain_location")
    assert slots["requested_slot"] == "screen_calf"
    known = {**EMERGENCY_NO, "pain_location": "around_kneecap", "red_flags_to_ask": ["fracture_or_dislocation"]}
    _, slots = await validate(known, "inform", "pain_location")
    assert slots["requested_slot"] == "screen_weight_bearing"  # asked even with no injury known


async def test_not_sure_about_a_safety_question_is_kept_as_an_answer():
    _, slots = await validate({**TYPICAL_SLOTS, "screen_calf": None}, "unsure", "screen_calf")
    assert "skipped_questions" not in slots


async def test_an_age_answers_the_under_16_question_before_it_is_asked():
    _, slots = await validate({"age": 13.0}, "inform", "pain_location")
    assert slots["under_16"] == "yes"


async def test_after_a_skip_only_unknown_questions_are_asked():
    known = {k: v for k, v in TYPICAL_SLOTS.items() if k not in ("screen_numbness", "screen_night_pain")}
    _, slots = await validate(known, "skip", "screen_night_pain")
    assert slots["requested_slot"] == "screen_numbness"
    _, slots = await validate({**known, "screen_numbness": "no"}, "skip", "screen_night_pain")
    assert slots["requested_slot"] is None  # nothing left: the form ends


@pytest.mark.parametrize("value,ok", [(6.0, True), ("4", True), (-3, False), ("soon", False)])
async def test_duration_must_be_a_number_of_weeks(value, ok):
    _, slots = await validate({}, "inform", "duration_weeks", set_by_message={"duration_weeks": value})
    assert (slots.get("duration_weeks") is not None) == ok


async def test_one_trigger_from_the_first_message_gets_an_anything_else_question_the_triggers_question_does_not():
    known = {**TYPICAL_SLOTS, "pain_triggers": ["running"], "duration_weeks": None, "more_triggers": None}
    _, slots = await validate(known, "inform", "onset")
    assert slots["requested_slot"] == "more_triggers"
    dispatcher = CollectingDispatcher()
    await actions.ActionAskMoreTriggers().run(dispatcher, make_tracker(known), DOMAIN_DICT)
    message = dispatcher.messages[0]
    assert "when running" in message["text"] and "anything else" in message["text"]
    titles = [b["title"] for b in message["buttons"]]
    assert "Running" not in titles and "Stairs" in titles and titles[-1] == "No, that's all"
    # two or three named in passing get it too (people name what is worst); four are enough
    for named, asked in ((["running", "stairs"], "more_triggers"), (["running", "stairs", "sitting", "hills"], "duration_weeks")):
        _, slots = await validate({**known, "pain_triggers": named}, "inform", "onset")
        assert slots["requested_slot"] == asked
    # answering the triggers question itself, even with one trigger, is enough
    _, slots = await validate({**known, "pain_triggers": ["stairs"], "onset": None}, "inform", "pain_triggers")
    assert slots.get("more_triggers") and slots["requested_slot"] == "onset"
