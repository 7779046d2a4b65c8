"""MessageLengthGuard: a huge paste is cut for the NLU, never for the red-flag detector."""
import uuid

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from components.message_guard import FULL_TEXT, MessageLengthGuard
from components.red_flags import RedFlagDetector


def make(component, config, tmp_path):
    return component.create({**component.get_default_config(), **config}, LocalModelStorage(tmp_path),
                            Resource("x"), ExecutionContext(GraphSchema({}), uuid.uuid4().hex))


def test_a_long_paste_is_cut_but_a_red_flag_at_its_end_is_still_found(tmp_path):
    text = "my knee aches on stairs. " * 2000 + "Now I have crushing chest pain."
    message = Message({TEXT: text})
    make(MessageLengthGuard, {}, tmp_path).process([message])
    assert len(message.get(TEXT)) == 5000 and message.get(FULL_TEXT) == text
    make(RedFlagDetector, {}, tmp_path).process([message])
    assert "cardiorespiratory" in [f["code"] for f in message.get("red_flags") if f["asserted"]]


def test_short_messages_are_untouched(tmp_path):
    message = Message({TEXT: "my knee hurts"})
    make(MessageLengthGuard, {}, tmp_path).process([message])
    assert message.get(TEXT) == "my knee hurts" and message.get(FULL_TEXT) is None


def test_a_bad_limit_is_named(tmp_path):
    with pytest.raises(ValueError, match="max_characters"):
        make(MessageLengthGuard, {"max_characters": 3}, tmp_path)
