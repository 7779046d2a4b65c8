"""The triage facts the entity rules find, as features for the intent classifiers.

The rules of bot/entity_patterns.yml already know that "at my desk", "end of a movie" and "after
a flight" are sitting, that "sqautting" is squatting and "dance leaps" jumping, that "he is
eleven" gives an age and "no injury" a gradual onset. The classifiers learn only from words, so
"my knee aches at my desk" could be read as general knee pain when no sitting example says
"desk". This featurizer gives them one feature for each fact the rules find: a value of
pain_trigger, pain_location, onset or side ("pain_trigger=sitting"), or that a duration or an
age was given. The feature is on for the message and for the words the fact was found in.

The classifiers learn from exactly what they will see: on training examples (which carry
hand-written entity labels instead) it runs the rules itself; on a patient's message it takes what
the KneeEntityExtractor earlier in the pipeline found with the same rules in the same text, and
runs them only when there is nothing to take.

    pipeline:
      - name: SpacyTokenizer
      - name: components.triage_facts_featurizer.TriageFactsFeaturizer
        patterns_file: null   # default: bot/entity_patterns.yml
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.entities import KneeEntityRules
from components.knee_entities import RULES_FOUND_KEY, rules_from

# Facts whose value is a number: only whether one was given is a feature.
NUMBER_FACTS = ("duration_weeks", "age")


def feature_names(rules: KneeEntityRules) -> list[str]:
    """One name for each value the rules can give, in a fixed order ("pain_trigger=stairs")."""
    names = [f"{entity}={value}" for entity, values in rules.rules["entities"].items() for value in values]
    return names + list(NUMBER_FACTS)


def feature_name(entity: dict[str, Any]) -> str:
    if entity["entity"] in NUMBER_FACTS:
        return entity["entity"]
    return f"{entity['entity']}={entity['value']}"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class TriageFactsFeaturizer(SparseFeaturizer, GraphComponent):
    """Sparse features from the rule-based triage facts; needs no training."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**SparseFeaturizer.get_default_config(), "patterns_file": None}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TriageFactsFeaturizer:
        return cls(config, execution_context.node_name or "triage_facts")

    def __init__(self, config: dict[str, Any], name: str = "triage_facts") -> None:
        super().__init__(name, {**self.get_default_config(), **config})
        path = self._config["patterns_file"]
        self._rules_key = None if path is None else str(path)
        self._rules = rules_from(self._rules_key)
        self._index = {feature: i for i, feature in enumerate(feature_names(self._rules))}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        unknown = sorted(set(config) - set(cls.get_default_config()))
        if unknown:
            raise ValueError(f"TriageFactsFeaturizer: unknown config key {unknown[0]!r}.")

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._featurize(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._featurize(message)
        return messages

    def _facts(self, message: Message, text: str) -> list[dict[str, Any]]:
        """The facts the rules find in the message's text that have a feature."""
        rules_key, found_in, found = message.get(RULES_FOUND_KEY) or (None, None, None)
        if found is None or rules_key != self._rules_key or found_in != text:
            found = self._rules.extract(text)
        return [e for e in found if feature_name(e) in self._index]

    def _featurize(self, message: Message) -> None:
        text = message.get(TEXT)
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        if not isinstance(text, str) or not tokens:
            return
        sequence = np.zeros((len(tokens), len(self._index)))
        sentence = np.zeros((1, len(self._index)))
        for fact in self._facts(message, text):
            column = self._index[feature_name(fact)]
            sentence[0, column] = 1.0
            start, end = fact.get("start"), fact.get("end")
            for row, token in enumerate(tokens):
                if start is not None and end is not None and token.start < end and token.end > start:
                    sequence[row, column] = 1.0
        self.add_features_to_message(
            scipy.sparse.coo_matrix(sequence), scipy.sparse.coo_matrix(sentence), TEXT, message
        )
