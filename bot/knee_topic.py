"""Is this message about the person's knee? A rule that keeps knee messages from being declined.

The intent classifier is trained on a few thousand examples; patients find new ways to say
"my knee hurts". When the classifier gives up on a message (nlu_fallback) or calls it out of
scope, but the message plainly talks about a knee, the bot should engage, not answer "I can
only help with knees". This module decides that, in readable rules:

- the message names the knee (knee, kneecap, patella, runner's knee, common misspellings), or
  the entity rules found a place on the knee in words that name the kneecap ("behind the cap");
- and the knee is not negated or somebody else's ("my knee is fine, it's my back",
  "my dog hurt his knee").

The rescued intent is the classifier's own best guess when that is a knee intent (it was just
under the threshold), else the symptom intent of the one activity the message names (stairs ->
pain_on_stairs), else knee_pain_general, which starts the triage questions.

    >>> knee_topic_intent("the knee thing is back, cant do the steps at work", ["stairs"])
    'pain_on_stairs'
    >>> knee_topic_intent("my knee is fine, it is my shoulder", []) is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from bot.contract import QUESTION_INTENTS, SYMPTOM_INTENTS
from bot.policy import CLASSIFIER_SURE

# Intents a message may be rescued from: the classifier's "I don't know" and "not for us".
RESCUABLE_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})

# Intents that engage with a knee: symptoms, questions, and answers to the triage questions.
KNEE_INTENTS = frozenset(SYMPTOM_INTENTS + QUESTION_INTENTS + ("inform",))
GENERAL_INTENT = "knee_pain_general"
TRIGGER_INTENTS = {
    "stairs": "pain_on_stairs",
    "sitting": "pain_after_sitting",
    "squatting": "pain_when_squatting",
    "running": "pain_when_running",
    "jumping": "pain_when_jumping",
}

_KNEE = re.compile(
    r"\b("
    r"kn+e+s*|kn+e+[- ]?caps?|patell\w*|pfps|runn?er'?s'? ?knee|jumper'?s'? ?knee"
    r")\b",
    re.IGNORECASE,
)
_KNEECAP_WORDS = re.compile(r"\b(kn+e+\w*|caps?|patell\w*)\b", re.IGNORECASE)
# "my knee is fine", "not my knee", "nothing to do with knees"
_NEGATED = re.compile(
    r"\b(not|isn'?t|aren'?t|nothing to do with|no(t)? (problem|issue)s? with|other than"
    r")\s+(my |the |a |her |his |your )?"
    r"(knee|kneecap)s?\b"
    r"|\b(knee|kneecap)s?\s+(is|are|'s|feel|feels)?\s*(totally |completely |perfectly |all )?"
    r"(fine|ok|okay|good|alright|great|healthy|normal|not the problem)\b",
    re.IGNORECASE,
)
# Somebody's or something's knee that is not the person's (or their child's): animals, objects.
_NOT_A_PERSON = re.compile(
    r"\b(dog|dogs|cat|cats|horse|horses|pet|puppy|kitten|table|chair|pants|jeans|trousers|"
    r"robot|doll|statue)'?s?\b[^.?!]{0,30}\bknee|\bknee[- ]?(high|length|deep|socks?|pads? for sale)\b",
    re.IGNORECASE,
)


# The person's own knee trouble, in their words: a pain word beside "I", "my" or "me".
_FIRST_PERSON = re.compile(r"\b(?:i|i'?m|i'?ve|my|me|mine)\b", re.IGNORECASE)
_PAIN_WORDS = re.compile(
    r"\b(?:pain\w*|sore\w*|ach(?:e|es|ed|ing|y)|hurt\w*|niggl\w*|grind\w*|throb\w*|twing\w*|tender|"
    r"stiff\w*|swell\w*|swollen|puff\w*|click\w*|crunch\w*|playing up|giving me (?:grief|trouble|hell|curry)|"
    r"killing me|bother\w*|flar\w*)\b",
    re.IGNORECASE,
)


def describes_own_knee_pain(text: str) -> bool:
    """The message tells of the writer's own knee trouble ("I have had a sore right knee for
    some time and would like some advice"), whatever else it asks. A question about knees in
    general ("does taping help?", "is cycling good for my knee?") does not."""
    return mentions_knee(text) and bool(_FIRST_PERSON.search(text)) and bool(_PAIN_WORDS.search(text))


def mentions_knee(text: str) -> bool:
    """The message names a knee in a way that is about someone's knee problem."""
    if not text or not _KNEE.search(text):
        return False
    return not (_NEGATED.search(text) or _NOT_A_PERSON.search(text))


def knee_topic_intent(
    text: str,
    pain_triggers: Iterable[str],
    location_words: Sequence[str] = (),
    ranked: Sequence[str] = (),
) -> str | None:
    """The intent a declined message should have instead, or None to leave it declined.

    location_words: the words of the message that the entity rules read as a place on the knee.
    Only those naming the kneecap count ("behind the cap"); "all over" or "at the front" could
    be anywhere in the body.
    ranked: the classifier's intents, most likely first. When it gave up (nlu_fallback) but its
    best guess is a knee intent ("what helps runners knee" -> ask_treatment_evidence), that
    guess is the answer; else the activity named decides.
    """
    names_kneecap = any(_KNEECAP_WORDS.search(words or "") for words in location_words)
    if not (mentions_knee(text) or (names_kneecap and not _NEGATED.search(text or ""))):
        return None
    best_guess = next((name for name in ranked if name not in RESCUABLE_INTENTS), None)
    if best_guess in KNEE_INTENTS:
        return best_guess
    intents = {TRIGGER_INTENTS[t] for t in pain_triggers if t in TRIGGER_INTENTS}
    return intents.pop() if len(intents) == 1 else GENERAL_INTENT


def named_trigger_intent(intent: str | None, confidence: float, pain_triggers: Iterable[str]) -> str | None:
    """The intent instead of a trigger's symptom intent when the message does not name that
    trigger, or None when it stands. The bot's first reply speaks of the trigger ("Pain after
    sitting for a long time is a common knee pattern"), so it must be one the person said: a
    message naming other triggers gets the intent of the one it names (or knee_pain_general for
    several); a message naming none keeps the classifier's guess only when it is sure
    ("playing up since tennis on Saturday" was read as pain after sitting at 0.53: persona set 9;
    "flew to perth and my knees were killing me" is sitting at 0.90).

    >>> named_trigger_intent("pain_after_sitting", 0.53, [])
    'knee_pain_general'
    >>> named_trigger_intent("pain_after_sitting", 0.85, ["stairs"])
    'pain_on_stairs'
    >>> named_trigger_intent("pain_after_sitting", 0.9, []) is None
    True
    """
    own = next((trigger for trigger, name in TRIGGER_INTENTS.items() if name == intent), None)
    triggers = set(pain_triggers)
    if own is None or own in triggers:
        return None
    named = {TRIGGER_INTENTS[t] for t in triggers if t in TRIGGER_INTENTS}
    if not triggers and confidence >= CLASSIFIER_SURE:
        return None
    return named.pop() if len(named) == 1 else GENERAL_INTENT
