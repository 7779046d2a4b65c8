"""The action server's answers are checked as Rasa checks them, without re-checking the schema.

components/action_response_check.py replaces Rasa's RemoteAction._validate_action_result (about
20 ms of CPU a call, most of it spent checking the schema itself) by one whose schema is compiled
once. Patients notice the time; these tests hold the behaviour to Rasa's, answer by answer.
"""
from __future__ import annotations

import copy
from unittest import mock

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

import components  # noqa: F401 - installs the check, as loading the model does in the server
from components import action_response_check


def _sdk_answer():
    dispatcher = CollectingDispatcher()
    dispatcher.utter_message(text="How did it start?", buttons=[{"title": "Slowly", "payload": "/inform"}])
    dispatcher.utter_message(response="utter_ask_triage_form_duration_weeks")
    return {"events": [SlotSet("pain_location", "around_kneecap"), SlotSet("pain_triggers", ["stairs"]),
                       ActiveLoop("triage_form"), FollowupAction("action_listen")],
            "responses": dispatcher.messages}


ANSWERS = {
    "a form turn from rasa_sdk": _sdk_answer(),
    "nothing to do": {"events": [], "responses": []},
    "no keys at all": {},
    "events not a list": {"events": {"event": "slot"}},
    "an event without its type": {"events": [{"name": "pain_location", "value": "x"}]},
    "an unknown event type": {"events": [{"event": "teleport"}]},
    "a slot event without a name": {"events": [{"event": "slot", "value": "x"}]},
    "responses not a list": {"events": [], "responses": "hello"},
    "a response that is a string": {"events": [], "responses": ["hello"]},
    "not an object": ["events"],
}


def _outcome(check, answer):
    """True, or the error Rasa's processor would log and raise: message and where in the answer."""
    try:
        return check(RemoteAction("validate_triage_form", None), copy.deepcopy(answer))
    except jsonschema.ValidationError as error:
        return ("invalid", error.message, list(error.absolute_path), error.validator)


def test_the_rasa_server_uses_the_compiled_check_once_components_are_loaded():
    assert RemoteAction._validate_action_result is action_response_check.validate_action_result


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_every_answer_gets_the_same_verdict_and_message_as_from_rasa(name):
    answer = ANSWERS[name]
    ours = _outcome(action_response_check.validate_action_result, answer)
    rasas = _outcome(action_response_check.RASA_VALIDATE, answer)
    assert ours == rasas
    if name in ("a form turn from rasa_sdk", "nothing to do", "no keys at all"):
        assert ours is True
    else:
        assert ours[0] == "invalid"
        assert "Failed to validate Action server response" in ours[1]


def test_the_schema_itself_is_not_checked_again_for_each_answer():
    answer = ANSWERS["a form turn from rasa_sdk"]
    validator_class = jsonschema.validators.validator_for(RemoteAction.action_response_format_spec())
    with mock.patch.object(validator_class, "check_schema", wraps=validator_class.check_schema) as checked:
        for _ in range(5):
            assert RemoteAction("validate_triage_form", None)._validate_action_result(copy.deepcopy(answer))
    assert checked.call_count == 0
    # Rasa's own method checks it on every call: the saving the module exists for.
    with mock.patch.object(validator_class, "check_schema", wraps=validator_class.check_schema) as checked:
        for _ in range(5):
            action_response_check.RASA_VALIDATE(RemoteAction("x", None), copy.deepcopy(answer))
    assert checked.call_count == 5

