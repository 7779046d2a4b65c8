"""Numbered choices for text-only channels, and reading a patient's answer back."""
from __future__ import annotations

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered

from channels.choices import buttons_awaiting_reply, numbered_choices_text, payload_for_reply
from channels.settings import allowed_origins

BUTTONS = [
    {"title": "Yes", "payload": "/affirm"},
    {"title": "No", "payload": "/deny"},
    {"title": "Not sure", "payload": "/out_of_scope"},
]


def test_numbered_choices_read_as_one_message():
    assert numbered_choices_text("Does it hurt on stairs?", BUTTONS) == (
        "Does it hurt on stairs?\n1. Yes\n2. No\n3. Not sure\nReply with a number."
    )


@pytest.mark.parametrize("reply", ["2", " 2 ", "2.", "2)", "#2", "no", "NO "])
def test_a_number_or_the_title_picks_the_button(reply):
    assert payload_for_reply(reply, BUTTONS) == "/deny"


@pytest.mark.parametrize("reply", ["0", "4", "12", "2 weeks", "it hurts", ""])
def test_anything_else_is_left_for_the_bot_to_understand(reply):
    assert payload_for_reply(reply, BUTTONS) is None


def test_only_an_unanswered_question_has_buttons_awaiting_a_reply():
    asked = [UserUttered("knee pain"), BotUttered("Stairs?", data={"buttons": BUTTONS}),
             ActionExecuted("action_listen")]
    assert buttons_awaiting_reply(asked) == BUTTONS
    assert buttons_awaiting_reply(asked + [BotUttered("More info")]) == BUTTONS
    assert buttons_awaiting_reply(asked + [UserUttered("yes"), BotUttered("OK")]) == []
    assert buttons_awaiting_reply(asked + [SessionStarted()]) == []
    assert buttons_awaiting_reply([]) == []


def test_allowed_origins_default_to_the_demo_page_and_read_a_comma_list():
    assert allowed_origins({}) == ["http://localhost:8080", "http://127.0.0.1:8080"]
    assert allowed_origins({"ALLOWED_ORIGINS": " https://a.example/ ,https://b.example,"}) == [
        "https://a.example", "https://b.example"
    ]
