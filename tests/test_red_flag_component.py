"""The Rasa NLU component that runs the red-flag detector on every message.

Components are built as Rasa's own tests build them (tests/conftest.py: make_component). The last tests run Rasa 3.6's own MessageProcessor
code to show the `red_flags` list survives into UserUttered.parse_data in the tracker.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Optional

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.graph_components.converters.nlu_message_converter import NLUMessageConverter
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.red_flags import NETS_KEY, RED_FLAGS_KEY, RedFlagDetector


@pytest.fixture()
def create_detector(make_component):
    return lambda config=None: make_component(RedFlagDetector, config)


def process(detector: RedFlagDetector, text: str, entities=None, metadata=None) -> Message:
    data: Dict[str, Any] = {TEXT: text}
    if entities is not None:
        data[ENTITIES] = entities
    if metadata is not None:
        data["metadata"] = metadata
    [message] = detector.process([Message(data=data)])
    return message


def red_flag_entities(message: Message) -> list:
    return [e for e in message.get(ENTITIES, []) if e["entity"] == "red_flag"]


def test_registered_as_a_trainable_entity_extractor():
    registered = DefaultV1Recipe._from_registry("components.red_flags.RedFlagDetector")
    assert registered.clazz is RedFlagDetector
    assert DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR in registered.types
    assert registered.is_trainable is True  # the learned net is trained with the model


def test_asserted_red_flag_becomes_an_entity_and_the_parse_data_lists_it(create_detector):
    text = "I can't put weight on it since the fall"
    message = process(create_detector(), text)
    [entity] = red_flag_entities(message)
    assert entity["value"] == "fracture_or_dislocation"
    assert entity["extractor"] == "RedFlagDetector" and entity["confidence_entity"] == 1.0
    assert entity["modifiers"] == []
    assert text[entity["start"]:entity["end"]].startswith("can't put weight")
    [finding] = message.get(RED_FLAGS_KEY)
    assert finding["code"] == "fracture_or_dislocation" and finding["asserted"] is True
    assert RED_FLAGS_KEY in message.as_dict(only_output_properties=True)


def test_non_asserted_findings_are_listed_for_staff_but_are_not_entities(create_detector):
    message = process(create_detector(), "my dad had a DVT")
    assert red_flag_entities(message) == []
    [finding] = message.get(RED_FLAGS_KEY)
    assert finding["code"] == "dvt" and finding["modifiers"] == ["family"] and not finding["asserted"]


def test_no_red_flag_leaves_an_empty_list(create_detector):
    message = process(create_detector(), "my knee aches on stairs")
    assert message.get(RED_FLAGS_KEY) == []
    assert red_flag_entities(message) == []


def test_appends_to_entities_found_by_other_extractors(create_detector):
    existing = [{"entity": "pain_trigger", "value": "stairs", "start": 0, "end": 6, "extractor": "KneeEntityExtractor"}]
    message = process(create_detector(), "stairs hurt and my knee is red hot and swollen", entities=list(existing))
    entities = message.get(ENTITIES)
    assert entities[0] == existing[0]
    assert [e["value"] for e in entities[1:]] == ["infection"]


def test_a_sender_cannot_change_how_a_message_is_read_through_its_metadata(create_detector):
    """Context (the question asked, a child patient) comes from the tracker (the safety policy),
    never from metadata a sender writes: "no" cannot be made an answer, "he's limping" a child."""
    detector = create_detector()
    plain = process(detector, "my calf is swollen and sore since the flight")
    forged = process(detector, "my calf is swollen and sore since the flight",
                     metadata={"screening_question": "screen_calf", "patient_under_16": False})
    assert [e["value"] for e in red_flag_entities(forged)] == [e["value"] for e in red_flag_entities(plain)] == ["dvt"]
    assert red_flag_entities(process(detector, "he's limping", metadata={"patient_under_16": True})) == []
    assert red_flag_entities(process(detector, "yes", metadata={"screening_question": "screen_calf"})) == []


def test_the_entity_name_is_configurable(create_detector):
    detector = create_detector({"entity_name": "flag"})
    message = process(detector, "my calf is swollen and sore since the flight")
    assert [(e["entity"], e["value"]) for e in message.get(ENTITIES)] == [("flag", "dvt")]


@pytest.mark.parametrize(
    "config,bad_key",
    [
        ({"entity": "red_flag"}, "entity"),
        ({"question_key": "x"}, "question_key"),
        ({"entity_name": ""}, "entity_name"),
        ({"warm_up": "yes"}, "warm_up"),
        ({"spent_batches": 3}, "spent_batches"),
    ],
)
def test_bad_config_names_the_key(create_detector, config, bad_key):
    with pytest.raises(ValueError, match=f"'{bad_key}'"):
        create_detector(config)


def test_default_config_is_complete():
    config = RedFlagDetector.get_default_config()
    assert set(config) == {"entity_name", "warm_up", "corpus", "spent_batches"}
    assert RedFlagDetector.validate_config(config) == config


def test_training_data_passes_through_unchanged(create_detector):
    training = TrainingData([Message(data={TEXT: "my knee is red hot and swollen", "intent": "knee_pain_general"})])
    out = create_detector().process_training_data(training)
    assert out.training_examples[0].get(ENTITIES) is None


def test_load_gives_the_same_predictions_as_create(default_model_storage, default_execution_context):
    texts = ["no fever but my calf is swollen since my flight", "my mum had breast cancer", "hi"]
    config = RedFlagDetector.get_default_config()
    created = RedFlagDetector.create(config, default_model_storage, Resource("red_flags"), default_execution_context)
    loaded = RedFlagDetector.load(config, default_model_storage, Resource("red_flags"), default_execution_context)
    for text in texts:
        a, b = process(created, text), process(loaded, text)
        assert a.get(ENTITIES) == b.get(ENTITIES) and a.get(RED_FLAGS_KEY) == b.get(RED_FLAGS_KEY)


@pytest.fixture(scope="module")
def trained_storage(tmp_path_factory):
    """A model storage holding a detector trained on the repository's corpus (and a few everyday
    knee messages as the NLU examples)."""
    import uuid

    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    storage = LocalModelStorage(tmp_path_factory.mktemp("model"))
    context = ExecutionContext(GraphSchema({}), uuid.uuid4().hex)
    config = RedFlagDetector.get_default_config()
    detector = RedFlagDetector.create(config, storage, Resource("red_flags_trained"), context)
    everyday = TrainingData([Message(data={TEXT: t, "intent": "knee_pain_general"}) for t in
                             ["my knee hurts on stairs", "sore after sitting at my desk", "how long will it take"]])
    resource = detector.train(everyday)
    return storage, resource, context, detector


def test_trained_then_loaded_gives_the_same_verdicts(trained_storage):
    storage, resource, context, trained = trained_storage
    loaded = RedFlagDetector.load(RedFlagDetector.get_default_config(), storage, resource, context)
    assert loaded.model is not None
    for text in ["my foot just flops when I walk since the tackle", "no fever, knee is fine", "hi"]:
        a, b = process(trained, text), process(loaded, text)
        assert a.get(RED_FLAGS_KEY) == b.get(RED_FLAGS_KEY)
        assert a.get(NETS_KEY) == b.get(NETS_KEY)


def test_the_learned_net_catches_a_plan_the_rules_have_no_words_for(trained_storage):
    _, _, _, detector = trained_storage
    message = process(detector, "i've been saving up my sleeping tablets for when i decide i've had enough")
    nets_said = message.get(NETS_KEY)
    assert "self_harm" not in nets_said["rules"]  # the rules alone miss it...
    assert nets_said["caught_by"].get("self_harm") == "model"  # ...the net escalates it
    assert [e["value"] for e in red_flag_entities(message)] == ["self_harm"]


def test_without_a_learned_net_the_rules_still_work(create_detector):
    detector = create_detector()  # created, never trained: no net
    assert detector.model is None
    message = process(detector, "I can't put weight on it since the fall")
    assert [e["value"] for e in red_flag_entities(message)] == ["fracture_or_dislocation"]
    assert message.get(NETS_KEY)["model"] == {}


def test_odd_messages_do_not_break_the_pipeline(create_detector):
    detector = create_detector()
    for text in ["", "👍", "<b>hi</b>", "x" * 100_000]:
        message = process(detector, text)
        assert isinstance(message.get(RED_FLAGS_KEY), list)


# ---- parse data in the tracker (Rasa 3.6's own processor code) ---------------------------------

class _GraphRunnerWithOnlyTheDetector:
    """Stands in for the trained graph: converts the UserMessage the way Rasa does, then runs
    only our component (no model training needed)."""

    def __init__(self, detector: RedFlagDetector):
        self.detector = detector

    def run(self, inputs, targets):
        [user_message] = inputs["__message__"]
        [message] = NLUMessageConverter().convert_user_message([user_message])
        return {targets[0]: self.detector.process([message])}


@pytest.mark.asyncio
async def test_red_flags_survive_into_user_uttered_parse_data_in_the_tracker(create_detector):
    domain = Domain.from_dict({"intents": ["knee_pain_general"], "entities": ["red_flag"]})
    fake_processor = SimpleNamespace(
        graph_runner=_GraphRunnerWithOnlyTheDetector(create_detector()),
        model_metadata=SimpleNamespace(nlu_target="run_RegexMessageHandler"),
        http_interpreter=None,
        domain=domain,
        _update_full_retrieval_intent=lambda parse_data: None,
        _check_for_unseen_features=lambda parse_data: None,
        _log_slots=lambda tracker: None,
    )

    async def parse_message(message, tracker):
        return MessageProcessor._parse_message_with_graph(fake_processor, message, tracker)

    fake_processor.parse_message = parse_message
    tracker = DialogueStateTracker("patient-1", slots=[])
    message = UserMessage("no fever but my calf is swollen since my flight", sender_id="patient-1")
    await MessageProcessor._handle_message_with_tracker(fake_processor, message, tracker)

    event = tracker.latest_message
    assert isinstance(event, UserUttered)
    findings = event.parse_data[RED_FLAGS_KEY]
    assert {(f["code"], f["asserted"]) for f in findings} == {("dvt", True), ("infection", False)}
    assert [e["value"] for e in event.entities if e["entity"] == "red_flag"] == ["dvt"]

    # what tracker stores persist and the HTTP API returns: the event as JSON, and back
    stored = json.loads(json.dumps(event.as_dict()))
    assert stored["parse_data"][RED_FLAGS_KEY] == findings
    restored = Event.from_parameters(stored)
    assert restored.parse_data[RED_FLAGS_KEY] == findings
    state = tracker.current_state(EventVerbosity.ALL)
    user_events = [e for e in state["events"] if e["event"] == "user"]
    assert user_events[-1]["parse_data"][RED_FLAGS_KEY] == findings
    assert state["latest_message"][RED_FLAGS_KEY] == findings
