"""Rasa glue for bot/language.py: a message in another language, or in no language, is not
forced into the nearest English intent.

Runs last, after the FallbackClassifier and the knee-topic rule. A message plainly in another
language gets the intent `other_language` (the bot says it chats in English and how to reach an
interpreter); two or more "words" none of which is a word ("asdkjh qwoeiu") get `nlu_fallback`
(the bot asks to say it another way) unless the rules found something in them. The red-flag
findings are untouched: the safety policy reads them whatever the intent. Staff see what the
classifier said in the parse data: `language: {detected, classified_as}`.

    pipeline:
      - name: components.knee_topic.KneeTopicRescue
      - name: components.language_guard.LanguageGuard
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot import language

OTHER_LANGUAGE_INTENT = "other_language"
FALLBACK_INTENT = "nlu_fallback"
LANGUAGE_KEY = "language"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class LanguageGuard(GraphComponent):
    """Gives messages in another language, or in no words at all, their own intent."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageGuard:
        language.warm_up()  # about a second at start-up, not on a patient's first message
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._guard(message)
        return messages

    def _guard(self, message: Message) -> None:
        text = message.get(TEXT)
        if not isinstance(text, str) or text.lstrip().startswith("/"):
            return
        before = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        detected = language.other_language(text)
        if detected:
            after = OTHER_LANGUAGE_INTENT
        elif before != FALLBACK_INTENT and not message.get(ENTITIES) and language.is_gibberish(text):
            detected, after = "none", FALLBACK_INTENT
        else:
            return
        chosen = {INTENT_NAME_KEY: after, PREDICTED_CONFIDENCE_KEY: 1.0}
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != after]
        message.set(INTENT, chosen, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [chosen] + ranking, add_to_output=True)
        message.set(LANGUAGE_KEY, {"detected": detected, "classified_as": before}, add_to_output=True)
