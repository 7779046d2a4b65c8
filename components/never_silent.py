"""Every patient message gets at least one reply, on every channel.

Rasa 3.6 logs a failed custom action (the action server down, slow past its time-out, or
answering with an error) and carries on to `action_listen`: when that action was the only one
meant to answer, the patient hears nothing at all, on the web chat, SMS, Telegram and Messenger
alike (only the hardened REST channel noticed, and only in its HTTP answer).

`install()` wraps `MessageProcessor._run_prediction_loop`: when the loop ends and nothing was
said since the patient's message, the patient gets the fixed apology with the clinic's number and
000 (channels/settings.py NO_REPLY), and the tracker keeps it as a bot message, so staff see it in
the transcript. Red-flag escalations never need it: they are domain responses the safety policy
forces without the action server.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.settings import load_settings
from channels.settings import NO_REPLY

logger = logging.getLogger(__name__)

RASA_PREDICTION_LOOP = MessageProcessor._run_prediction_loop
NEVER_SILENT = "never_silent"  # the utter_action name staff see on the apology


def said_nothing_since_the_patient(tracker: DialogueStateTracker) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, BotUttered):
            return False
        if isinstance(event, UserUttered):
            return True
    return False  # no patient message (a session start): nothing to answer


async def _prediction_loop_never_silent(
    self: MessageProcessor, output_channel: Any, tracker: DialogueStateTracker
) -> None:
    await RASA_PREDICTION_LOOP(self, output_channel, tracker)
    if not said_nothing_since_the_patient(tracker):
        return
    text = NO_REPLY.format(phone=load_settings().clinic_phone)
    tracker.update(BotUttered(text, metadata={"utter_action": NEVER_SILENT}))
    logger.warning("never_silent.apology conversation=%s", tracker.sender_id)
    await output_channel.send_response(tracker.sender_id, {"text": text})


def install() -> None:
    """Idempotent; the tests compare against RASA_PREDICTION_LOOP."""
    MessageProcessor._run_prediction_loop = _prediction_loop_never_silent
