"""The safety layer's decisions (bot/safety.py), table-driven, with the real red-flag detector."""
from __future__ import annotations

import pytest

from bot import safety
from bot.redflags import detect


def finding(code, level=None, asserted=True, start=0, end=4, modifiers=()):
    from bot.contract import RED_FLAG_MIN_LEVEL

    return {"code": code, "level": level or RED_FLAG_MIN_LEVEL[code], "matched": "words", "start": start,
            "end": end, "modifiers": list(modifiers), "asserted": asserted, "rule": "test"}


def turn(text="hello", intent="knee_pain_general", findings=(), requested_slot=None, active_loop=None,
         history=(), signs=(), **slots):
    return safety.Turn(text=text, intent=intent, findings=list(findings), requested_slot=requested_slot,
                       slots=slots, active_loop=active_loop, trigger_history=list(history), signs=list(signs))


def test_a_red_flag_escalates_with_its_own_reply_and_level():
    d = safety.on_user_message(turn(findings=[finding("dvt")]), detect)
    assert d.action == "utter_red_flag_dvt"
    assert d.slot_updates["red_flags"] == ["dvt"]
    assert d.slot_updates["triage_level"] == "emergency"
    assert d.slot_updates["staff_review_needed"] is True
    assert d.slot_updates["red_flag_evidence"][0]["code"] == "dvt"


def test_a_negated_finding_raises_nothing():
    d = safety.on_user_message(turn(findings=[finding("infection", asserted=False, modifiers=["negated"])]), detect)
    assert d.action is None
    assert "red_flags" not in d.slot_updates


def test_red_flags_only_grow_and_the_level_only_rises():
    d = safety.on_user_message(
        turn(findings=[finding("locked_knee")], red_flags=["cardiorespiratory"], triage_level="emergency_ambulance"),
        detect,
    )
    assert d.slot_updates["red_flags"] == ["cardiorespiratory", "locked_knee"]
    assert d.slot_updates["triage_level"] == "emergency_ambulance"


def test_the_most_urgent_finding_picks_the_reply():
    d = safety.on_user_message(turn(findings=[finding("locked_knee"), finding("cardiorespiratory", start=9)]), detect)
    assert d.action == "utter_red_flag_cardiorespiratory"
    assert set(d.slot_updates["red_flags"]) == {"locked_knee", "cardiorespiratory"}


def test_a_cold_blue_foot_gets_the_emergency_reply():
    d = safety.on_user_message(turn(findings=[finding("neurovascular", level="emergency")]), detect)
    assert d.action == "utter_red_flag_neurovascular_emergency"
    assert d.slot_updates["triage_level"] == "emergency"


def test_a_red_flag_stops_an_active_form():
    d = safety.on_user_message(turn(findings=[finding("self_harm")], active_loop="triage_form"), detect)
    assert d.stop_form and d.action == "utter_red_flag_self_harm"


@pytest.mark.parametrize("text,intent,expect", [
    ("/affirm", "affirm", "dvt"),
    ("yeah it's really swollen", "affirm", "dvt"),
    ("/deny", "deny", None),
    ("no", "deny", None),
    ("not at all", "deny", None),
    ("/unsure", "unsure", None),
])
def test_answers_to_the_calf_question_count(text, intent, expect):
    d = safety.on_user_message(turn(text=text, intent=intent, requested_slot="screen_calf",
                                    active_loop="triage_form"), detect)
    assert (d.slot_updates.get("red_flags") or [None])[0] == expect


def test_yes_to_the_heat_question_is_a_finding():
    d = safety.on_user_message(turn(text="yeah it's really hot", intent="affirm",
                                    requested_slot="screen_heat_swelling_fever", active_loop="triage_form"), detect)
    assert d.slot_updates["red_flags"] == ["infection"]


def test_a_yes_to_a_non_safety_question_is_not_a_finding():
    d = safety.on_user_message(turn(text="/affirm", intent="affirm", requested_slot="under_16",
                                    active_loop="triage_form"), detect)
    assert d.action is None


def test_triggers_from_earlier_messages_are_kept():
    d = safety.on_user_message(turn(pain_triggers=["sitting"], history=["stairs", "sitting"]), detect)
    assert d.slot_updates["pain_triggers"] == ["stairs", "sitting"]


def test_no_trigger_update_when_nothing_changed():
    d = safety.on_user_message(turn(pain_triggers=["stairs"], history=["stairs"]), detect)
    assert "pain_triggers" not in d.slot_updates


def test_an_emergency_conversation_is_never_steered_to_booking():
    d = safety.on_user_message(turn(intent="book_appointment", triage_level="emergency"), detect)
    assert d.action == "utter_emergency_no_booking"
    d = safety.on_user_message(turn(intent="book_appointment", triage_level="consultation_24"), detect)
    assert d.action is None


@pytest.mark.parametrize("latest,stopped,expect", [
    ("utter_red_flag_dvt", True, "utter_red_flag_followup"),
    ("utter_red_flag_dvt", False, "action_listen"),
    ("utter_red_flag_followup", True, "action_listen"),
    ("utter_emergency_no_booking", False, "action_listen"),
    ("utter_greet", False, None),
    (None, False, None),
])
def test_what_follows_an_escalation(latest, stopped, expect):
    assert safety.after_action(latest, stopped) == expect


# --- doubt gets one clarifying question (contract: never guess downwards) ---------------------

def test_a_doubtful_finding_gets_one_clarifying_question():
    doubtful = finding("neurovascular", asserted=False, modifiers=["uncertain"])
    d = safety.on_user_message(turn(text="maybe a bit numb", intent="inform", findings=[doubtful]), detect)
    assert d.action == "utter_clarify_neurovascular"
    assert d.slot_updates[safety.CLARIFY_SLOT] == "neurovascular"
    assert "red_flags" not in d.slot_updates


@pytest.mark.parametrize("text,intent,raised", [
    ("/affirm", "affirm", True), ("yes", "affirm", True), ("/deny", "deny", False), ("no", "deny", False),
])
def test_the_answer_to_a_clarifying_question_decides(text, intent, raised):
    d = safety.on_user_message(turn(text=text, intent=intent, red_flag_to_clarify="dvt"), detect)
    assert d.slot_updates[safety.CLARIFY_SLOT] is None  # asked once only
    assert (d.slot_updates.get("red_flags") == ["dvt"]) == raised
    assert (d.action == "utter_red_flag_dvt") == raised


def test_negated_findings_are_not_doubt():
    negated = finding("infection", asserted=False, modifiers=["negated"])
    assert safety.on_user_message(turn(findings=[negated]), detect).action is None


def test_no_clarifying_question_inside_the_triage_form():
    doubtful = finding("dvt", asserted=False, modifiers=["uncertain"])
    d = safety.on_user_message(turn(findings=[doubtful], active_loop="triage_form"), detect)
    assert d.action is None


def test_clarifying_questions_are_followed_by_listening():
    assert safety.after_action("utter_clarify_dvt", False) == "action_listen"


def test_on_a_tie_the_answered_questions_code_picks_the_reply():
    both = [finding("infection"), finding("dvt", start=5)]
    d = safety.on_user_message(turn(text="swollen and warm", intent="affirm", findings=both,
                                    requested_slot="screen_calf", active_loop="triage_form"), detect)
    assert d.action == "utter_red_flag_dvt"


# ---- the conversation is the unit --------------------------------------------------------------


def test_signs_are_remembered_and_joined_with_a_later_message():
    first = safety.on_user_message(turn("my knee feels hot", signs=["hot", "knee_site"]), detect)
    assert first.action is None and first.slot_updates["red_flag_signs"] == ["hot", "knee_site"]
    later = safety.on_user_message(
        turn("I've had a fever since last night", intent="inform", signs=["fever"],
             red_flag_signs=["hot", "knee_site"]), detect)
    assert later.action == "utter_red_flag_infection"
    assert later.slot_updates["red_flags"] == ["infection"]
    assert later.slot_updates["red_flag_signs"] == ["hot", "knee_site", "fever"]


@pytest.mark.parametrize("slots,text,action", [
    ({"red_flags": ["dvt"], "triage_level": "emergency"}, "should I stretch it?", "utter_escalated_emergency"),
    ({"red_flags": ["dvt"], "triage_level": "emergency"}, "do I really have to go?", "utter_escalated_why_emergency"),
    ({"red_flags": ["cardiorespiratory"], "triage_level": "emergency_ambulance"}, "ok", "utter_escalated_ambulance"),
    ({"red_flags": ["locked_knee"], "triage_level": "consultation_24"}, "can I book?", "utter_escalated_urgent"),
    ({"red_flags": ["locked_knee", "self_harm"], "triage_level": "emergency_ambulance"}, "idk",
     "utter_escalated_crisis"),  # after a self-harm reply, every message gets a crisis-aware answer
])
def test_after_an_escalation_every_message_gets_the_instruction_again(slots, text, action):
    d = safety.on_user_message(turn(text, intent="nlu_fallback", **slots), detect)
    assert d.action == action
    assert safety.after_action(action, False) == "action_listen"  # nothing else runs


def test_a_new_red_flag_after_an_escalation_still_escalates():
    d = safety.on_user_message(turn(findings=[finding("cardiorespiratory")], red_flags=["locked_knee"],
                                    triage_level="consultation_24"), detect)
    assert d.action == "utter_red_flag_cardiorespiratory"


def test_a_doubt_during_the_questions_asks_that_codes_question_next():
    doubt = finding("dvt", asserted=False, modifiers=["model_only"])
    d = safety.on_user_message(turn(findings=[doubt], active_loop="triage_form", requested_slot="pain_location",
                                    screen_calf="no"), detect)
    assert d.action is None  # the form carries on ...
    assert d.slot_updates["red_flags_to_ask"] == ["dvt"]  # ... with the calf question next
    assert d.slot_updates["screen_calf"] is None  # asked again, though answered before
    again = safety.on_user_message(turn(findings=[doubt], active_loop="triage_form", red_flags_to_ask=["dvt"]),
                                   detect)
    assert "red_flags_to_ask" not in again.slot_updates  # once per code


def test_a_doubt_in_a_first_knee_message_goes_to_the_questions_and_elsewhere_gets_a_question():
    doubt = finding("self_harm", asserted=False, modifiers=["model_only"])
    d = safety.on_user_message(turn("knee is wrecking me", intent="knee_pain_general", findings=[doubt]), detect)
    assert d.action is None and d.slot_updates["red_flags_to_ask"] == ["self_harm"]  # asked as the mood question
    d = safety.on_user_message(turn("meh", intent="out_of_scope", findings=[doubt]), detect)
    assert d.action == "utter_clarify_self_harm" and d.slot_updates["red_flag_to_clarify"] == "self_harm"
