"""MessageLengthGuard: a huge paste is cut for the NLU, never for the red-flag detector."""
import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from components.message_guard import FULL_TEXT, MessageLengthGuard
from components.red_flags import RedFlagDetector


def test_a_long_paste_is_cut_but_a_red_flag_at_its_end_is_still_found(make_component):
    text = "my knee aches on stairs. " * 2000 + "Now I have crushing chest pain."
    message = Message({TEXT: text})
    make_component(MessageLengthGuard).process([message])
    assert len(message.get(TEXT)) == 5000 and message.get(FULL_TEXT) == text
    make_component(RedFlagDetector).process([message])
    assert "cardiorespiratory" in [f["code"] for f in message.get("red_flags") if f["asserted"]]


def test_short_messages_are_untouched(make_component):
    message = Message({TEXT: "my knee hurts"})
    make_component(MessageLengthGuard).process([message])
    assert message.get(TEXT) == "my knee hurts" and message.get(FULL_TEXT) is None


def test_a_bad_limit_is_named(make_component):
    with pytest.raises(ValueError, match="max_characters"):
        make_component(MessageLengthGuard, {"max_characters": 3})
