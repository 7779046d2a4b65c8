"""Rasa 3.6 NLU component: runs both red-flag nets (bot.redflags) on every user message.

The rules need no training; the learned net (bot/redflags/learned.py) is trained with the model
from data/red_flag_corpus/ plus the NLU examples as everyday "none", and saved with it. A model
without it (an older one, or a failed load) still has the rules.

Outputs, per message:
- `red_flags` in the parse data (add_to_output): every finding, asserted or not, as dicts, so the
  tracker's UserUttered.parse_data keeps "fever: negated" for staff review; the learned net's own
  findings have rule "model.<code>:<score>";
- `red_flag_nets`: what each net said (rules' codes, the model's scores, which caught what);
- `red_flag_signs`: signs asserted in this message, which the safety policy remembers so that
  signs in different messages still combine;
- one `red_flag` entity per asserted finding, appended to any entities other extractors found:
  {"entity": "red_flag", "value": <code>, "start", "end", "extractor": "RedFlagDetector",
   "confidence_entity": 1.0, "modifiers": [...]}.

The message is read on its own here. What the conversation knows (the safety question just asked,
a patient under 16, signs from earlier messages) comes from the tracker, which the safety policy
reads (bot/safety.py contextual_findings); never from the message's metadata, which a sender
controls.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.redflags import learned, nets, warm_up

logger = logging.getLogger(__name__)

RED_FLAGS_KEY = "red_flags"
NETS_KEY = "red_flag_nets"
SIGNS_KEY = "red_flag_signs"
EXTRACTOR_NAME = "RedFlagDetector"
MODEL_FILE = "red_flag_model.npz"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class RedFlagDetector(GraphComponent):
    """Finds red flags (contract codes) in user messages with the rule-based detector."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # entity name of asserted red flags (domain entity and from_entity slot mappings)
            "entity_name": "red_flag",
            # build the detector when the model loads, so the first message is not slow
            "warm_up": True,
            # the learned net's corpus (relative to the working directory); "" for rules only
            "corpus": "data/red_flag_corpus",
            # blind batches once scored, trained on beside the corpus; "" for none
            "spent_batches": "data/red_flag_blind",
        }

    @staticmethod
    def required_components() -> list[type]:
        return []  # works on the raw text; no tokenizer or featurizer needed

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: Optional[ModelStorage] = None,
        resource: Optional[Resource] = None,
        model: Optional[learned.LearnedModel] = None,
    ) -> None:
        self._config = self.validate_config(config)
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        defaults = cls.get_default_config()
        merged = {**defaults, **(config or {})}
        for key in merged:
            if key not in defaults:
                raise ValueError(
                    f"RedFlagDetector: unknown config key '{key}'. Allowed keys: {', '.join(sorted(defaults))}."
                )
        if not isinstance(merged["entity_name"], str) or not merged["entity_name"].strip():
            raise ValueError("RedFlagDetector: config key 'entity_name' must be a non-empty string.")
        if not isinstance(merged["warm_up"], bool):
            raise ValueError("RedFlagDetector: config key 'warm_up' must be true or false.")
        if not isinstance(merged["corpus"], str):
            raise ValueError("RedFlagDetector: config key 'corpus' must be a folder path, or \"\" for rules only.")
        if not isinstance(merged["spent_batches"], str):
            raise ValueError("RedFlagDetector: config key 'spent_batches' must be a folder path, or \"\" for none.")
        return merged

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RedFlagDetector:
        component = cls(config, model_storage, resource)
        if component._config["warm_up"]:
            warm_up()
        return component

    def train(self, training_data: TrainingData) -> Resource:
        """Train the learned net on the corpus, the spent blind batches and the NLU examples
        (everyday "none")."""
        if not self._config["corpus"] or self._model_storage is None or self._resource is None:
            return self._resource
        corpus = Path(self._config["corpus"])
        if not corpus.is_dir():
            raise ValueError(f"RedFlagDetector: corpus folder '{corpus}' not found (config key 'corpus').")
        everyday = [m.get(TEXT) for m in training_data.intent_examples]
        spent = Path(self._config["spent_batches"]) if self._config["spent_batches"] else None
        if spent is not None and not spent.is_dir():
            raise ValueError(f"RedFlagDetector: folder '{spent}' not found (config key 'spent_batches').")
        examples = learned.training_examples(corpus, everyday, spent)
        self.model = learned.train(examples, digest=f"{len(examples)} examples")
        with self._model_storage.write_to(self._resource) as directory:
            self.model.save(Path(directory) / MODEL_FILE)
        return self._resource

    # The rules ship with the code (bot/redflags/rules), so a loaded model always uses the
    # reviewed rules of the deployed release; the learned net is the one trained with the model.
    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> RedFlagDetector:
        component = cls.create(config, model_storage, resource, execution_context)
        try:
            with model_storage.read_from(resource) as directory:
                path = Path(directory) / MODEL_FILE
                if path.exists():
                    component.model = learned.LearnedModel.load(path)
        except ValueError:
            pass  # a model trained without the learned net (Rasa raises when nothing was saved)
        if component.model is None and component._config["corpus"]:
            logger.warning("RedFlagDetector: no learned red-flag net in this model; the rules act alone.")
        return component

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._process_one(message)
        return messages

    def _process_one(self, message: Message) -> None:
        text = message.get("full_text") or message.get(TEXT) or ""  # see components/message_guard.py
        verdict = nets.assess(text, self.model)
        findings = verdict.findings
        message.set(RED_FLAGS_KEY, [finding.to_dict() for finding in findings], add_to_output=True)
        message.set(NETS_KEY, verdict.nets(), add_to_output=True)
        message.set(SIGNS_KEY, list(verdict.signs), add_to_output=True)
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
