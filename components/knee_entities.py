"""Rasa glue for the rule-based entity extractor in bot/entities.py.

Adds pain_trigger, pain_location, onset, duration_weeks, side and age to each message. The rules
live in bot/entity_patterns.yml; this component only adapts them to Rasa's graph. It appends to
the entities other extractors found (the red-flag detector, DIET if it ever extracts) and never
replaces them.

    pipeline:
      - name: components.knee_entities.KneeEntityExtractor
        entities: [pain_trigger, pain_location, onset, duration_weeks, side, age]   # default: all
        patterns_file: null   # default: bot/entity_patterns.yml
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, EXTRACTOR, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.entities import KneeEntityRules, default_rules

ENTITY_TYPES = ("pain_trigger", "pain_location", "onset", "duration_weeks", "side", "age")
CONFIDENCE_KEY = "confidence_entity"
# What the rules found in the text, before the `entities` key chose among it, as (rules file or
# None for the default, text, found): the TriageFactsFeaturizer reads it instead of running the
# same rules again on the same text. Kept on the message only, not in the parse data.
RULES_FOUND_KEY = "knee_rules_found"


@functools.lru_cache(maxsize=4)
def rules_from(path: Optional[str]) -> KneeEntityRules:
    """The compiled rules of a patterns file (None: bot/entity_patterns.yml), one per file per process."""
    return default_rules() if path is None else KneeEntityRules(pathlib.Path(path))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class KneeEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Finds the triage facts in a message with readable rules; needs no training."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Reads the raw text only: no tokenizer or featurizer is needed before it."""
        return []

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # which entity types to add to messages (all of ENTITY_TYPES by default)
            "entities": list(ENTITY_TYPES),
            # a rules file in the format of bot/entity_patterns.yml; None for that file
            "patterns_file": None,
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KneeEntityExtractor:
        return cls(config)

    def __init__(self, config: dict[str, Any]) -> None:
        self._validate(config)
        self._entities = frozenset(config["entities"])
        self._rules_key = None if config["patterns_file"] is None else str(config["patterns_file"])
        self._rules = rules_from(self._rules_key)

    @classmethod
    def _validate(cls, config: dict[str, Any]) -> None:
        known = cls.get_default_config()
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise ValueError(f"KneeEntityExtractor: unknown config key {unknown[0]!r}; the keys are {sorted(known)}.")
        entities = config.get("entities", known["entities"])
        if isinstance(entities, str) or not set(entities) <= set(ENTITY_TYPES):
            raise ValueError(
                f"KneeEntityExtractor: config key 'entities' must be a list drawn from "
                f"{list(ENTITY_TYPES)}, not {entities!r}."
            )
        path = config.get("patterns_file")
        if path is not None and not pathlib.Path(path).is_file():
            raise ValueError(f"KneeEntityExtractor: config key 'patterns_file' names no file: {path!r}.")

    def process(self, messages: list[Message]) -> list[Message]:
        """Appends the entities found in each message's text to those already there."""
        for message in messages:
            text = message.get(TEXT)
            # "/inform{...}" button payloads carry their own entities (RegexMessageHandler).
            if not isinstance(text, str) or text.lstrip().startswith("/"):
                continue
            everything = self._rules.extract(text)
            message.set(RULES_FOUND_KEY, (self._rules_key, text, everything))
            found = [
                {**entity, EXTRACTOR: self.name, CONFIDENCE_KEY: 1.0}
                for entity in everything
                if entity["entity"] in self._entities
            ]
            if found:
                message.set(ENTITIES, list(message.get(ENTITIES, [])) + found, add_to_output=True)
        return messages
