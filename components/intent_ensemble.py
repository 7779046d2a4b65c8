"""Two intent classifiers, their confidences averaged.

DIET (a neural network over word and character features) and a logistic regression over the
same sparse features make different mistakes: in 5-fold cross-validation on this project's data
DIET got 241 of 3,971 examples wrong and the logistic regression 287, but only 100 of those were
the same examples. Averaging the two classifiers' confidences for each intent (soft voting) got
197 wrong in one run and 214 in the next (intent F1 0.939 -> 0.950, 0.946); taking whichever
was more confident got 209 (0.947).
Rasa keeps only the last classifier's answer, so:

    pipeline:
      - name: DIETClassifier
      - name: components.intent_ensemble.SetAsideIntentRanking     # keeps DIET's answer
      - name: components.intent_ensemble.VotingLogisticRegression   # overwrites intent, ranking
      - name: components.intent_ensemble.CombineIntentRankings      # the average decides
      - name: FallbackClassifier

The combined ranking gives each intent the mean of its two confidences (0 where a ranking
leaves it out); the top of it is the intent. The parse data keeps both classifiers' first
choices under `intent_votes`, so staff can see when they disagreed. DIET must come first:
Rasa's LogisticRegressionClassifier writes its own predictions over the training examples'
intents, and a classifier after it would learn from those.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message


def _import_skops_keeping_log_level() -> None:
    """Imports skops.io (Rasa's LogisticRegressionClassifier saves and loads with it) without
    letting it silence the server's log.

    skops.io imports every scikit-learn estimator, which imports numpy.distutils, whose log module
    sets the root logger to WARNING. Rasa imports it while loading the model, so after that no
    INFO line was written at all, "Rasa server is up and running" included: the production stack
    waits for that line from each worker, and staff lose every INFO line of the running server.
    Importing it here first, and putting the level back, leaves Rasa's later import a no-op."""
    root = logging.getLogger()
    level = root.level
    try:
        import skops.io  # noqa: F401  (imported for its side effect: see the docstring)
    finally:
        root.setLevel(level)


_import_skops_keeping_log_level()

logger = logging.getLogger(__name__)

SET_ASIDE_KEY = "intent_ranking_set_aside"
VOTES_KEY = "intent_votes"


def _ranking(message: Message) -> list[dict[str, Any]]:
    ranking = message.get(INTENT_RANKING_KEY) or []
    if not ranking and message.get(INTENT):
        ranking = [message.get(INTENT)]
    return [dict(r) for r in ranking if isinstance(r, dict) and r.get(INTENT_NAME_KEY)]


def combine(first: list[dict[str, Any]], second: list[dict[str, Any]], length: int = 10) -> list[dict[str, Any]]:
    """Each intent with the mean of its confidences in the two rankings, best first.

    Ties keep the first ranking's order (the first classifier wins a draw)."""
    best: dict[str, float] = {}  # the mean confidence so far
    order: dict[str, int] = {}
    for ranking in (first, second):
        for entry in ranking:
            name = entry[INTENT_NAME_KEY]
            confidence = float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
            order.setdefault(name, len(order))
            best[name] = best.get(name, 0.0) + confidence / 2
    names = sorted(best, key=lambda n: (-best[n], order[n]))
    return [{INTENT_NAME_KEY: n, PREDICTED_CONFIDENCE_KEY: best[n]} for n in names[:length]]


class _Untrained(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _Untrained:
        return cls(config)

    def __init__(self, config: Optional[dict[str, Any]] = None) -> None:
        self._config = {**self.get_default_config(), **(config or {})}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SetAsideIntentRanking(_Untrained):
    """Keeps the intent ranking so far for CombineIntentRankings (not part of the parse data)."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            message.set(SET_ASIDE_KEY, _ranking(message))
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CombineIntentRankings(_Untrained):
    """The set-aside ranking and the current one, averaged: the two classifiers vote."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"ranking_length": 10}

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            first = message.get(SET_ASIDE_KEY)
            if first is None:
                continue
            second = _ranking(message)
            ranking = combine(first, second, int(self._config["ranking_length"]))
            message.data.pop(SET_ASIDE_KEY, None)
            if not ranking:
                continue
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            message.set(VOTES_KEY, [r[0] for r in (first, second) if r], add_to_output=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class VotingLogisticRegression(LogisticRegressionClassifier):
    """Rasa's logistic regression, without its crash on a message that has no words.

    Rasa 3.6's LogisticRegressionClassifier builds an empty feature row for an empty or blank
    message and scikit-learn refuses it, so the whole parse failed and the patient got no reply.
    Such a message is left with the ranking it has (DIET's), which the vote then keeps; so is
    every message when the regression could not be loaded (Rasa then hands back an untrained one).
    """

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> VotingLogisticRegression:
        # Rasa's load returns an untrained classifier, saying so only at debug level, when the
        # saved file is missing or skops finds types it does not trust in it.
        component = super().load(config, model_storage, resource, execution_context, **kwargs)
        if not component.is_trained:
            logger.warning(
                "The logistic regression of the intent vote could not be loaded from the "
                "model; DIET alone classifies intents until the model is retrained."
            )
        return component

    @property
    def is_trained(self) -> bool:
        return hasattr(self.clf, "classes_")

    def process(self, messages: list[Message]) -> list[Message]:
        # Untrained, scikit-learn would raise on every message: no reply at all for anyone.
        if not self.is_trained:
            return messages
        readable = [m for m in messages if m.get_sparse_features(TEXT)[1] is not None]
        if readable:
            super().process(readable)
        return messages
