"""MessageLengthGuard: keeps a huge paste from stalling the NLU pipeline.

A 100 kB message takes the featurizers and the classifier many seconds and blocks the server for
everyone else. This first component hands the rest of the pipeline only the first
`max_characters` of the text; the full text stays in the tracker (staff see it) and under
`FULL_TEXT`, which the red-flag detector reads, so a red flag at the end of a long paste is
still caught.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

FULL_TEXT = "full_text"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class MessageLengthGuard(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"max_characters": 5000}

    def __init__(self, config: dict[str, Any]) -> None:
        unknown = set(config) - set(self.get_default_config())
        if unknown:
            raise ValueError(f"MessageLengthGuard: unknown config key(s) {sorted(unknown)}")
        limit = config.get("max_characters")
        if not isinstance(limit, int) or limit < 100:
            raise ValueError("MessageLengthGuard: 'max_characters' must be a whole number of at least 100")
        self.max_characters = limit

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MessageLengthGuard:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and len(text) > self.max_characters:
                message.set(FULL_TEXT, text)
                message.set(TEXT, text[: self.max_characters])
        return messages
