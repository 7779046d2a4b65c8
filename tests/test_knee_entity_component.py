"""The Rasa component that adds the rule-based entities to each parsed message.

Components are built as Rasa's own tests build them (tests/conftest.py: make_component).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import pytest
import yaml
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.entities import PATTERNS_PATH
from components.knee_entities import ENTITY_TYPES, KneeEntityExtractor


@pytest.fixture()
def create_extractor(make_component):
    return lambda config=None: make_component(KneeEntityExtractor, config)


def parse(extractor: KneeEntityExtractor, text: str, entities=None) -> list[dict]:
    message = Message(data={TEXT: text, **({ENTITIES: entities} if entities is not None else {})})
    [processed] = extractor.process([message])
    return processed.get(ENTITIES, [])


def test_registered_as_an_untrained_entity_extractor():
    registered = DefaultV1Recipe._from_registry("components.knee_entities.KneeEntityExtractor")
    assert registered.clazz is KneeEntityExtractor
    assert DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR in registered.types
    assert registered.is_trainable is False


def test_default_config_is_complete_and_works_alone(create_extractor):
    assert KneeEntityExtractor.get_default_config() == {
        "entities": list(ENTITY_TYPES),
        "patterns_file": None,
    }
    entities = parse(create_extractor(), "stairs and sitting both hurt, my left knee, 6 weeks")
    assert {(e["entity"], e["value"]) for e in entities} == {
        ("pain_trigger", "stairs"), ("pain_trigger", "sitting"), ("side", "left"),
        ("duration_weeks", 6.0),
    }


def test_every_entity_is_marked_with_extractor_and_confidence(create_extractor):
    text = "my 14yo gets pain below the kneecap at netball, it came on slowly"
    entities = parse(create_extractor(), text)
    assert {e["entity"] for e in entities} == {"age", "pain_location", "pain_trigger", "onset"}
    for entity in entities:
        assert entity["extractor"] == "KneeEntityExtractor"
        assert entity["confidence_entity"] == 1.0
        assert text[entity["start"]:entity["end"]] == entity["text"]


def test_appends_to_entities_of_other_extractors_never_overwrites(create_extractor):
    earlier = {
        "entity": "red_flag", "value": "infection", "start": 0, "end": 3,
        "extractor": "RedFlagDetector", "confidence_entity": 1.0,
    }
    entities = parse(create_extractor(), "hot swollen knee, hurts on stairs", entities=[earlier])
    assert entities[0] == earlier
    assert [(e["entity"], e["value"]) for e in entities[1:]] == [("pain_trigger", "stairs")]


def test_message_without_entities_keeps_what_it_had(create_extractor):
    earlier = {"entity": "red_flag", "value": "dvt", "start": 0, "end": 4, "extractor": "RedFlagDetector"}
    assert parse(create_extractor(), "hello there", entities=[earlier]) == [earlier]
    assert parse(create_extractor(), "hello there") == []


def test_negated_trigger_is_not_added(create_extractor):
    entities = parse(create_extractor(), "stairs are fine but squatting hurts")
    assert [(e["entity"], e["value"]) for e in entities] == [("pain_trigger", "squatting")]


def test_button_payload_is_left_to_rasa(create_extractor):
    # "/inform{...}" carries its own entities; reading its text would add noise.
    assert parse(create_extractor(), '/inform{"pain_trigger":"stairs"}') == []


def test_entities_key_limits_what_is_added(create_extractor):
    extractor = create_extractor({"entities": ["side"]})
    entities = parse(extractor, "left knee hurts on stairs")
    assert [(e["entity"], e["value"]) for e in entities] == [("side", "left")]


def test_patterns_file_key_reads_other_rules(create_extractor, tmp_path):
    rules = yaml.safe_load(PATTERNS_PATH.read_text())
    rules["entities"]["pain_trigger"]["stairs"].append("escalator")
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    assert parse(create_extractor(), "the escalator at work") == []
    entities = parse(create_extractor({"patterns_file": str(path)}), "the escalator at work")
    assert [(e["entity"], e["value"]) for e in entities] == [("pain_trigger", "stairs")]


@pytest.mark.parametrize("config,named", [
    ({"entitys": ["side"]}, "entitys"),
    ({"threshold": 0.5}, "threshold"),
    ({"entities": ["sides"]}, "entities"),
    ({"entities": "side"}, "entities"),
    ({"patterns_file": "/no/such/rules.yml"}, "patterns_file"),
])
def test_bad_config_is_a_clear_error_naming_the_key(create_extractor, config, named):
    with pytest.raises(ValueError, match=named):
        create_extractor(config)


def test_processes_a_batch_of_messages(create_extractor):
    messages = [Message(data={TEXT: t}) for t in ("hurts on stairs", "", "after a fall")]
    processed = create_extractor().process(messages)
    assert [[e["value"] for e in m.get(ENTITIES, [])] for m in processed] == [
        ["stairs"], [], ["sudden_injury"],
    ]
