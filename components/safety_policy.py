"""TriageSafetyPolicy: the red-flag escalation and triage record, inside the Rasa server.

Runs before every action with the highest priority. Its slot updates are returned as the
prediction's mandatory `events`, which Rasa applies whichever policy wins, so the record stays
right even when another policy chooses the next action. When a message asserts a red flag it
forces the escalation reply (a domain response: no action server involved), stops any active
form, and then listens. Its predictions are marked `is_no_user_prediction`, the class Rasa
ranks above all others, because an active form's own prediction is in that class too and a red
flag must interrupt it. The decisions themselves are pure functions in `bot/safety.py`.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot import safety

logger = logging.getLogger(__name__)


def _detect(text: str, **context: Any):
    from bot.redflags import detect  # loaded once, on first use

    return detect(text, **context)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class TriageSafetyPolicy(Policy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 7}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Any = None,
    ) -> None:
        unknown = set(config) - {"priority"}
        if unknown:
            raise ValueError(
                f"TriageSafetyPolicy: unknown config key(s) {sorted(unknown)}; only 'priority' can be set."
            )
        super().__init__(config, model_storage, resource, execution_context, featurizer)

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        # Nothing to learn: the rules are the clinic's, kept in bot/redflags/rules.
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        latest = tracker.latest_action_name
        if latest == ACTION_LISTEN_NAME and isinstance(_last_user_or_action(tracker), UserUttered):
            return self._on_user_message(tracker, domain)
        follow = safety.after_action(
            latest, _form_stopped_since_user(tracker), tracker.active_loop_name, tracker.get_slot(safety.CLARIFY_SLOT)
        )
        if follow:
            return self._force(follow, domain, events=[])
        return self._prediction(self._default_predictions(domain))

    def _on_user_message(self, tracker: DialogueStateTracker, domain: Domain) -> PolicyPrediction:
        message = tracker.latest_message
        parse = message.parse_data if message else {}
        turn = safety.Turn(
            text=(message.text or "") if message else "",
            intent=(message.intent or {}).get("name") if message else None,
            intent_confidence=float((message.intent or {}).get("confidence") or 0.0) if message else 0.0,
            findings=parse.get("red_flags") or [],
            requested_slot=tracker.get_slot(REQUESTED_SLOT),
            slots={name: slot.value for name, slot in tracker.slots.items()},
            active_loop=tracker.active_loop_name,
            trigger_history=_trigger_history(tracker),
            signs=[sign for sign in parse.get("red_flag_signs") or [] if isinstance(sign, str)],
            entities=[
                e["entity"]
                for e in parse.get("entities") or []
                if isinstance(e, dict) and isinstance(e.get("entity"), str)
            ],
            buttons=_last_buttons(tracker),
            tries=_tries(tracker),
            triage_started=_triage_started(tracker),
            before={slot: _slot_before_this_message(tracker, slot) for slot in safety.KEPT_ONCE_KNOWN},
        )
        try:
            decision = safety.on_user_message(turn, _detect)
        except Exception:  # never let the safety layer take the conversation down
            logger.exception("safety policy failed on conversation %s", tracker.sender_id)
            plain_turn = {
                **turn.__dict__,
                "requested_slot": None,
                "slots": {**turn.slots, "under_16": None, "age": None},
            }
            decision = safety.on_user_message(safety.Turn(**plain_turn), lambda *a, **k: [])
        events = [SlotSet(name, value) for name, value in decision.slot_updates.items()]
        if decision.findings:
            logger.info(
                "red flag escalation conversation=%s codes=%s",
                tracker.sender_id,
                ",".join(f["code"] for f in decision.findings),
            )
        if decision.stop_form:
            events += [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
        if decision.action:
            return self._force(decision.action, domain, events)
        return self._prediction(self._default_predictions(domain), events=events)

    def _force(self, action: str, domain: Domain, events: list) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, events=events, is_no_user_prediction=True)


def _last_user_or_action(tracker: DialogueStateTracker):
    for event in reversed(tracker.events):
        if isinstance(event, (UserUttered, ActionExecuted)) and not (
            isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME
        ):
            return event
    return None


def _last_buttons(tracker: DialogueStateTracker) -> list[dict]:
    """The buttons the bot showed since the patient's previous message (none if it showed none)."""
    seen_user = False
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            if seen_user:
                return []
            seen_user = True
        elif isinstance(event, BotUttered) and seen_user and event.data.get("buttons"):
            return list(event.data["buttons"])
    return []


def _tries(tracker: DialogueStateTracker) -> int:
    """The patient's messages since the question now asked was first asked (this one included)."""
    asked = tracker.get_slot(REQUESTED_SLOT)
    count = tries = 0
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            count += 1
        elif isinstance(event, SlotSet) and event.key == REQUESTED_SLOT and event.value == asked:
            tries = count  # asked (again) here: the messages after it were answers to it
        elif isinstance(event, ActiveLoop) or (isinstance(event, SlotSet) and event.key == REQUESTED_SLOT):
            break
    return tries


def _slot_before_this_message(tracker: DialogueStateTracker, slot: str) -> Any:
    """The slot's value before the latest user message (and the slot extraction that followed it)."""
    seen_user = False
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            seen_user = True
        elif seen_user and isinstance(event, SlotSet) and event.key == slot:
            return event.value
    return None


def _triage_started(tracker: DialogueStateTracker) -> bool:
    return any(isinstance(e, ActiveLoop) and e.name == safety.TRIAGE_FORM for e in tracker.events)


def _form_stopped_since_user(tracker: DialogueStateTracker) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActiveLoop) and event.name is None:
            return True
    return False


def _trigger_history(tracker: DialogueStateTracker) -> list[str]:
    values: list[str] = []
    for event in tracker.events:
        if isinstance(event, UserUttered):
            for entity in event.entities or []:
                if entity.get("entity") == "pain_trigger" and isinstance(entity.get("value"), str):
                    values.append(entity["value"])
    return values
