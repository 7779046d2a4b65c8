"""Buttons on channels that have none: numbered text choices, and a reply by number mapped back.

SMS and WhatsApp (through Twilio) show only text, so a question with buttons goes out as
numbered lines, and the patient answers "2". The answer is mapped back to that button's payload
by reading the buttons of the bot's last message from the conversation's tracker, so nothing has
to be remembered in the channel between two webhooks (and it survives a restart).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rasa.shared.core.events import BotUttered, SessionStarted, UserUttered

from bot.buttons import typed_button

logger = logging.getLogger(__name__)

Button = dict[str, Any]

REPLY_HINT = "Reply with a number."
# "2", "2.", "2)", "#2", with any spaces around: a bare choice, not "2 weeks".
_NUMBER_REPLY = re.compile(r"^\s*#?\s*(\d{1,2})\s*[.)]?\s*$")


def numbered_choices_text(text: str, buttons: Sequence[Button]) -> str:
    """The message text, one numbered line a button, and how to answer, as one message."""
    lines = [text.strip()] if text and text.strip() else []
    lines += [f"{number}. {button.get('title', '')}" for number, button in enumerate(buttons, 1)]
    lines.append(REPLY_HINT)
    return "\n".join(lines)


def payload_for_reply(reply: str, buttons: Sequence[Button]) -> str | None:
    """The payload of the button a reply picks: by its number, or by typing its title."""
    match = _NUMBER_REPLY.match(reply or "")
    if match:
        index = int(match.group(1)) - 1
        if 0 <= index < len(buttons):
            return buttons[index].get("payload")
        return None
    button = typed_button(reply or "", buttons)  # a typed title (bot/buttons.py: one home)
    return button.get("payload") if button is not None else None


def buttons_awaiting_reply(events: Iterable[Any]) -> list[Button]:
    """Buttons of the bot's latest message, if the user has not answered since.

    A new session (after the session expiry) also ends the question: "2" a day later means 2.
    """
    for event in reversed(list(events)):
        if isinstance(event, (UserUttered, SessionStarted)):
            return []
        if isinstance(event, BotUttered):
            buttons = event.data.get("buttons") or event.data.get("quick_replies")
            if buttons:
                return list(buttons)
    return []


async def resolve_numbered_reply(agent: Any, sender_id: str, text: str) -> str:
    """The payload a numbered (or titled) reply stands for; otherwise the text unchanged."""
    tracker_store = getattr(agent, "tracker_store", None)
    if tracker_store is None or not text:
        return text
    tracker = await tracker_store.retrieve(sender_id)
    if tracker is None:
        return text
    payload = payload_for_reply(text, buttons_awaiting_reply(tracker.events))
    if payload is None:
        return text
    logger.debug("Mapped a numbered reply to a button payload.")
    return payload
