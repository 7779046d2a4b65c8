"""Rasa 3.6 NLU component: runs the red-flag detector (bot.redflags) on every user message.

Outputs, per message:
- `red_flags` in the parse data (add_to_output): every finding, asserted or not, as dicts, so the
  tracker's UserUttered.parse_data keeps "fever: negated" for staff review;
- one `red_flag` entity per asserted finding, appended to any entities other extractors found:
  {"entity": "red_flag", "value": <code>, "start", "end", "extractor": "RedFlagDetector",
   "confidence_entity": 1.0, "modifiers": [...]}.

A screening answer ("yes", "not really") is read against the question the bot asked when the
channel puts the question id in the message metadata (`question_metadata_key`), and a patient
known to be under 16 is passed the same way (`under_16_metadata_key`).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.redflags import detect, warm_up

logger = logging.getLogger(__name__)

RED_FLAGS_KEY = "red_flags"
EXTRACTOR_NAME = "RedFlagDetector"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class RedFlagDetector(GraphComponent):
    """Finds red flags (contract codes) in user messages with the rule-based detector."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # entity name of asserted red flags (domain entity and from_entity slot mappings)
            "entity_name": "red_flag",
            # message metadata key holding the id of the screening question just asked
            "question_metadata_key": "screening_question",
            # message metadata key holding true when the patient is under 16
            "under_16_metadata_key": "patient_under_16",
            # build the detector when the model loads, so the first message is not slow
            "warm_up": True,
        }

    @staticmethod
    def required_components() -> List[type]:
        return []  # works on the raw text; no tokenizer or featurizer needed

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._config = self.validate_config(config)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> Dict[Text, Any]:
        defaults = cls.get_default_config()
        merged = {**defaults, **(config or {})}
        for key in merged:
            if key not in defaults:
                raise ValueError(
                    f"RedFlagDetector: unknown config key '{key}'. "
                    f"Allowed keys: {', '.join(sorted(defaults))}."
                )
        for key in ("entity_name", "question_metadata_key", "under_16_metadata_key"):
            if not isinstance(merged[key], str) or not merged[key].strip():
                raise ValueError(f"RedFlagDetector: config key '{key}' must be a non-empty string.")
        if not isinstance(merged["warm_up"], bool):
            raise ValueError("RedFlagDetector: config key 'warm_up' must be true or false.")
        return merged

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RedFlagDetector:
        component = cls(config)
        if component._config["warm_up"]:
            warm_up()
        return component

    # Nothing is trained or persisted: the rules ship with the code (bot/redflags/rules), so a
    # loaded model always uses the reviewed rules of the deployed release.
    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> RedFlagDetector:
        return cls.create(config, model_storage, resource, execution_context)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._process_one(message)
        return messages

    def _process_one(self, message: Message) -> None:
        text = message.get("full_text") or message.get(TEXT) or ""  # see components/message_guard.py
        metadata = message.get("metadata") or {}
        if not isinstance(metadata, dict):
            metadata = {}
        question = metadata.get(self._config["question_metadata_key"])
        under_16 = metadata.get(self._config["under_16_metadata_key"])
        findings = detect(
            text,
            question=question if isinstance(question, str) else None,
            patient_under_16=under_16 if isinstance(under_16, bool) else None,
        )
        message.set(RED_FLAGS_KEY, [finding.to_dict() for finding in findings], add_to_output=True)
        entities = list(message.get(ENTITIES) or [])
        for finding in findings:
            if not finding.asserted:
                continue
            entities.append(
                {
                    "entity": self._config["entity_name"],
                    "value": finding.code,
                    "start": finding.start,
                    "end": finding.end,
                    "extractor": EXTRACTOR_NAME,
                    "confidence_entity": 1.0,
                    "modifiers": list(finding.modifiers),
                }
            )
        message.set(ENTITIES, entities, add_to_output=True)
        if findings:
            # codes and rule ids only: never the words of the message (personal health information)
            logger.debug(
                "red flags: %s",
                [(f.code, f.asserted, f.rule) for f in findings],
            )
