"""Rasa glue for bot/knee_topic.py: a message about the knee is never declined.

Runs after the FallbackClassifier. When the intent is nlu_fallback or out_of_scope but the
message talks about the person's knee, the intent becomes the classifier's best guess if that
is a knee intent, else the symptom intent of the activity named, else knee_pain_general: the
bot engages instead of saying it cannot help. A trigger's symptom intent for a message that
does not name that trigger becomes the intent of the trigger it names (or knee_pain_general)
unless the classifier is sure (bot/knee_topic.named_trigger_intent): the first reply speaks of
the trigger. Staff see why in the parse data: `knee_topic` says which intent the classifier gave
and that the knee rule changed it ("rescued_as" or "named_as").

    pipeline:
      - name: FallbackClassifier
      - name: components.knee_topic.KneeTopicRescue
        confidence: 0.6     # the confidence given to the rescued intent
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

from bot.knee_topic import RESCUABLE_INTENTS, knee_topic_intent, named_trigger_intent

KNEE_TOPIC_KEY = "knee_topic"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class KneeTopicRescue(GraphComponent):
    """Turns a declined message that is about the knee into a knee intent."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"confidence": 0.6}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KneeTopicRescue:
        confidence = config.get("confidence", 0.6)
        if not isinstance(confidence, (int, float)) or not 0 < confidence <= 1:
            raise ValueError(f"KneeTopicRescue: 'confidence' must be a number in (0, 1], not {confidence!r}.")
        return cls(float(confidence))

    def __init__(self, confidence: float) -> None:
        self._confidence = confidence

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._rescue(message)
        return messages

    def _rescue(self, message: Message) -> None:
        intent = message.get(INTENT) or {}
        before = intent.get(INTENT_NAME_KEY)
        text = message.get(TEXT)
        if not isinstance(text, str) or text.lstrip().startswith("/"):
            return
        entities = message.get(ENTITIES) or []
        triggers = [e.get("value") for e in entities if e.get("entity") == "pain_trigger"]
        if before not in RESCUABLE_INTENTS:
            confidence = intent.get(PREDICTED_CONFIDENCE_KEY)
            named = named_trigger_intent(
                before, float(confidence) if isinstance(confidence, (int, float)) else 0.0, triggers
            )
            if named is not None:
                self._set(message, before, named, "named_as", float(confidence or 0.0))
            return
        locations = [
            text[e["start"] : e["end"]]
            for e in entities
            if e.get("entity") == "pain_location" and isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
        ]
        ranked = [r.get(INTENT_NAME_KEY) for r in message.get(INTENT_RANKING_KEY) or []]
        after = knee_topic_intent(text, triggers, locations, ranked)
        if after is None:
            return
        self._set(message, before, after, "rescued_as", self._confidence)

    @staticmethod
    def _set(message: Message, before: str | None, after: str, why: str, confidence: float) -> None:
        """The new intent first in the ranking; staff see which intent the classifier gave."""
        changed = {INTENT_NAME_KEY: after, PREDICTED_CONFIDENCE_KEY: confidence}
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != after]
        message.set(INTENT, changed, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [changed] + ranking, add_to_output=True)
        message.set(KNEE_TOPIC_KEY, {"classified_as": before, why: after}, add_to_output=True)
