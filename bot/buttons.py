"""A typed button title counts as tapping it ("weekday mornings" typed on SMS, "no, 16 or over").

Pure functions over the buttons of the bot's last message: the safety policy reads every channel's
typed answers with them, and the text-only channels (channels/choices.py) map numbered replies too.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

NEAR_MATCH = 0.85  # difflib ratio: "weekday mornigs", "no 16 or over" still pick their button
SHORT_ANSWER_WORDS = 2  # "slow", "after injury": words of one title, typed alone
MIN_PREFIX = 4  # letters a typed word needs to stand for a title's word ("not", "yes" are answers of their own)
_NOT_WORDS = re.compile(r"[^\w\s]+")
_READ_IN_FULL = frozenset({"yes", "no", "not sure"})
_FIRST_SENTENCE = re.compile(r"^\s*([^.!?\n]+)[.!?\n]+\s*\S")
_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z_]+)(?P<entities>\{.*\})?$", re.DOTALL)


def _plain(text: str) -> str:
    return " ".join(_NOT_WORDS.sub(" ", str(text or "")).casefold().split())


def typed_button(text: str, buttons: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The button whose title the text is (ignoring case, punctuation and a typo or two), if exactly
    one fits."""
    typed = _plain(text)
    if not typed or not buttons:
        return None
    exact = [b for b in buttons if _plain(b.get("title", "")) == typed]
    if len(exact) == 1:
        return exact[0]
    # a title as the message's first sentence, a reason after it: "Skip. Honestly it's hard to
    # pin down" (blind persona set 7). Not "Yes", "No" or "Not sure": what follows them can turn
    # them round ("No. But my calf is warm"), and the safety layer's answer reader weighs that.
    first = _FIRST_SENTENCE.match(str(text or ""))
    if first and _plain(first.group(1)) not in _READ_IN_FULL:
        opening = [b for b in buttons if _plain(b.get("title", "")) == _plain(first.group(1))]
        if len(opening) == 1:
            return opening[0]
    near = [
        b for b in buttons if difflib.SequenceMatcher(None, typed, _plain(b.get("title", ""))).ratio() >= NEAR_MATCH
    ]
    if len(near) == 1:
        return near[0]
    # a word or two of one title, or their start: "slow" for "Slowly, over time", "injury"
    words = typed.split()
    if len(words) <= SHORT_ANSWER_WORDS and all(len(w) >= MIN_PREFIX for w in words):
        fits = [
            b for b in buttons if all(any(t.startswith(w) for t in _plain(b.get("title", "")).split()) for w in words)
        ]
        if len(fits) == 1:
            return fits[0]
    return None


def parse_payload(payload: str) -> tuple[str | None, dict[str, Any]]:
    """("inform", {"pain_location": "around_kneecap"}) from '/inform{"pain_location":"around_kneecap"}';
    (None, {}) for a payload that is plain text."""
    match = _PAYLOAD.match(str(payload or "").strip())
    if not match:
        return None, {}
    try:
        entities = json.loads(match.group("entities")) if match.group("entities") else {}
    except ValueError:
        entities = {}
    return match.group("intent"), entities if isinstance(entities, dict) else {}
