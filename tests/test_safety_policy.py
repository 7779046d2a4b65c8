"""TriageSafetyPolicy as Rasa runs it: the real domain, trackers built from events, and the
policy ensemble that picks between it and an active form's own prediction."""
from __future__ import annotations

import uuid

import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, SessionStarted, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from components.safety_policy import TriageSafetyPolicy

DOMAIN = Domain.load("domain.yml")


@pytest.fixture
def policy(tmp_path) -> TriageSafetyPolicy:
    return TriageSafetyPolicy.create(
        TriageSafetyPolicy.get_default_config(), LocalModelStorage(tmp_path),
        Resource("safety"), ExecutionContext(GraphSchema({}), uuid.uuid4().hex),
    )


def tracker_with(*events) -> DialogueStateTracker:
    base = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    return DialogueStateTracker.from_events("t", [*base, *events], slots=DOMAIN.slots)


def user(text, intent="knee_pain_general", red_flags=(), entities=()):
    parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": list(entities), "text": text,
             "red_flags": list(red_flags)}
    return UserUttered(text, parse["intent"], list(entities), parse_data=parse)


def finding(code, asserted=True):
    from bot.contract import RED_FLAG_MIN_LEVEL

    return {"code": code, "level": RED_FLAG_MIN_LEVEL[code], "matched": "x", "start": 0, "end": 1,
            "modifiers": [] if asserted else ["negated"], "asserted": asserted, "rule": "t"}


def predicted(prediction: PolicyPrediction) -> str | None:
    best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    return DOMAIN.action_names_or_texts[best] if prediction.probabilities[best] > 0 else None


def slot_events(prediction) -> dict:
    return {e.key: e.value for e in prediction.events if isinstance(e, SlotSet)}


def test_a_red_flag_is_forced_with_its_slots(policy):
    prediction = policy.predict_action_probabilities(tracker_with(user("calf", red_flags=[finding("dvt")])), DOMAIN)
    assert predicted(prediction) == "utter_red_flag_dvt"
    assert prediction.is_no_user_prediction
    slots = slot_events(prediction)
    assert slots["red_flags"] == ["dvt"] and slots["triage_level"] == "emergency"


def test_a_negated_finding_predicts_nothing_and_sets_nothing(policy):
    prediction = policy.predict_action_probabilities(
        tracker_with(user("no fever", red_flags=[finding("infection", asserted=False)])), DOMAIN)
    assert predicted(prediction) is None
    assert not slot_events(prediction)


def test_the_escalation_beats_an_active_forms_own_prediction(policy):
    tracker = tracker_with(
        ActionExecuted("triage_form"), ActiveLoop("triage_form"), SlotSet("requested_slot", "pain_location"),
        ActionExecuted("action_listen"), user("chest", red_flags=[finding("cardiorespiratory")]),
    )
    ours = policy.predict_action_probabilities(tracker, DOMAIN)
    assert ActiveLoop(None) in ours.events
    form_probabilities = [0.0] * len(DOMAIN.action_names_or_texts)
    form_probabilities[DOMAIN.index_for_action("triage_form")] = 1.0
    form = PolicyPrediction(form_probabilities, "RulePolicy", 6, is_no_user_prediction=True)
    best = DefaultPolicyPredictionEnsemble().combine_predictions([form, ours], tracker, DOMAIN)
    assert best.policy_name == "TriageSafetyPolicy"
    assert predicted(best) == "utter_red_flag_cardiorespiratory"


def test_yes_to_the_calf_question_escalates_even_as_a_button(policy):
    tracker = tracker_with(
        ActionExecuted("triage_form"), ActiveLoop("triage_form"), SlotSet("requested_slot", "screen_calf"),
        ActionExecuted("action_listen"), user("/affirm", intent="affirm"),
    )
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "utter_red_flag_dvt"


def test_after_the_escalation_comes_the_followup_then_listening(policy):
    tracker = tracker_with(
        ActionExecuted("triage_form"), ActiveLoop("triage_form"), ActionExecuted("action_listen"),
        user("calf", red_flags=[finding("dvt")]), ActiveLoop(None), ActionExecuted("utter_red_flag_dvt"),
    )
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "utter_red_flag_followup"
    tracker.update(ActionExecuted("utter_red_flag_followup"))
    assert predicted(policy.predict_action_probabilities(tracker, DOMAIN)) == "action_listen"


def test_earlier_triggers_are_kept_when_a_message_names_new_ones(policy):
    stairs = {"entity": "pain_trigger", "value": "stairs"}
    sitting = {"entity": "pain_trigger", "value": "sitting"}
    tracker = tracker_with(
        user("stairs", entities=[stairs]), SlotSet("pain_triggers", ["stairs"]), ActionExecuted("utter_greet"),
        ActionExecuted("action_listen"), user("sitting", entities=[sitting]), SlotSet("pain_triggers", ["sitting"]),
    )
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    assert slot_events(prediction)["pain_triggers"] == ["stairs", "sitting"]


def test_a_bad_config_key_is_named(tmp_path):
    with pytest.raises(ValueError, match="prority"):
        TriageSafetyPolicy.create({"priority": 7, "prority": 1}, LocalModelStorage(tmp_path), Resource("x"),
                                  ExecutionContext(GraphSchema({}), "x"))


def test_doubt_outside_a_form_gets_a_clarifying_question_from_the_domain(policy):
    doubtful = {**finding("dvt", asserted=False), "modifiers": ["uncertain"]}
    message = user("maybe my calf", intent="inform", red_flags=[doubtful])
    prediction = policy.predict_action_probabilities(tracker_with(message), DOMAIN)
    assert predicted(prediction) == "utter_clarify_dvt"
    assert slot_events(prediction)["red_flag_to_clarify"] == "dvt"


def test_doubt_in_a_knee_message_is_asked_first_in_the_triage_questions(policy):
    doubtful = {**finding("dvt", asserted=False), "modifiers": ["model_only"]}
    message = user("my calf is a bit funny and my knee hurts", red_flags=[doubtful])
    prediction = policy.predict_action_probabilities(tracker_with(message), DOMAIN)
    assert predicted(prediction) != "utter_clarify_dvt"  # the questions start, the calf one first
    assert slot_events(prediction)["red_flags_to_ask"] == ["dvt"]


def asked(slot, answer_text, intent="nlu_fallback"):
    """The form asking `slot` (as Rasa records it), then the patient's message."""
    return [ActionExecuted("triage_form"), SlotSet("requested_slot", slot), ActionExecuted("action_listen"),
            user(answer_text, intent)]


def test_not_an_answer_asks_again_and_the_second_miss_on_the_same_question_offers_a_way_out(policy):
    start = [user("my knee hurts on stairs", "pain_on_stairs"), ActiveLoop("triage_form")]
    once = tracker_with(*start, *asked("screen_numbness", "nope"), SlotSet("screen_numbness", "no"),
                        *asked("pain_location", "the wobbly bit"))
    assert predicted(policy.predict_action_probabilities(once, DOMAIN)) == "utter_need_a_choice"
    twice = tracker_with(*start, *asked("pain_location", "the wobbly bit"), *asked("pain_location", "wobbly bit"))
    assert predicted(policy.predict_action_probabilities(twice, DOMAIN)) == "utter_stuck"
    # a typed button title is the tap, read from the buttons the bot showed
    from rasa.shared.core.events import BotUttered
    buttons = [{"title": "Just below the kneecap", "payload": '/inform{"pain_location":"below_kneecap"}'}]
    typed = tracker_with(*start, ActionExecuted("triage_form"), SlotSet("requested_slot", "pain_location"),
                         BotUttered("Where on the knee is the pain?", {"buttons": buttons}),
                         ActionExecuted("action_listen"), user("just below the kneecap!", "greet"))
    prediction = policy.predict_action_probabilities(typed, DOMAIN)
    assert predicted(prediction) == "triage_form" and slot_events(prediction)["pain_location"] == "below_kneecap"
