"""Answers to the bot's screening questions (rules/screening.yml): "yes", "not really", "dunno".

An affirmative answer is a finding of the question's code, a negative one is not, an unsure one
is a finding marked "uncertain" (not asserted: the bot asks again, never guesses downwards).
"""

from __future__ import annotations

import functools
import re

from bot.contract import RED_FLAG_MIN_LEVEL
from bot.redflags.findings import Finding
from bot.redflags.rules import RuleSet, ScreeningQuestion

_CONTRAST = re.compile(r"\b(?:but|though|tho|although|except|apart from|only|just)\b", re.IGNORECASE)
_FILLER = re.compile(
    r"^(?:(?:um+|uh+|hmm+|well|oh|ah|err*|so|honestly|ok|okay|omg|lol|haha+|ha|lmao|tbh|look|mate)\b[\s,.!]*)*",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=1)
def _answer_rules() -> RuleSet:
    """The rule files alone (no spaCy pipeline): the action server reads answers with them."""
    from bot.redflags.rules import load_rules

    return load_rules()


# Only a plain yes word ("yes", "yeah", "definitely") is a yes whatever follows. The other openers
# the rules take as yes ("it is", "I have", "a bit", "sometimes", "very", "right"...) open a
# statement about the knee as often as they answer: "It is worse at night now." or "bit of
# background..." sent while the chest question is on screen is no yes to chest pain (blind persona
# set 6: two such second opening messages were sent 000), nor is "I have been running for years",
# "very sore on stairs" or "right knee mostly". Such an opener is a yes when the rest of its clause
# is a short tail ("a bit", "it does sometimes", "it is, yes", "it does wake me") that is not a
# statement about how the pain is ("worse", "fine", "not"), and "a bit of" or "a lot of" is no degree
# ("a lot of pain on stairs"); anything longer counts only through the
# question's own signs (`_sign_answer`: "it is swollen and warm", "sometimes my calf aches").
_PLAIN_YES = re.compile(
    r"(?:yes|yeah|yea|yeh|yep|yup|yas|ya|yah|y|ye|aye|definitely|absolutely|certainly|affirmative|ok yes|"
    r"👍|✔|✅)(?![\w'])",
    re.IGNORECASE,
)
_A_STATEMENT_FOLLOWS = re.compile(
    r"\s*(?:worse|better|bad|sore|painful|fine|ok|okay|good|alright|getting|mostly|only|just|more|less|"
    r"the same|not|never|no|usually|always been|been|had|got|from|since|knees?)(?!\w)",
    re.IGNORECASE,
)
_NOT_A_DEGREE = re.compile(r"(?:a )?(?:little )?(?:bit|lot|lots|heaps) of\b", re.IGNORECASE)
# "I do" and "I have" answer only with a degree, a time or a yes after them ("I do sometimes", "I
# have, a bit"); with anything else they open a statement: "I do tai chi, now is hard" sent while
# the chest question was on screen was read as a yes and sent 000 (blind persona set 10).
_FIRST_PERSON_OPENER = re.compile(r"(?:i do|i have|i'?ve)(?![\w'])", re.IGNORECASE)
_FIRST_PERSON_TAIL = re.compile(
    r"\s*(?:$|sometimes|a bit|a little|a lot|bit|little|yes|yeah|yep|now|right now|at the moment|at times|"
    r"occasionally|often|lately|recently|really|too|also|actually|all the time|constantly|every|still|kind of|"
    r"kinda|sort of|sorta|definitely|though|tho|mate|haha|lol)(?![\w'])",
    re.IGNORECASE,
)
_TAIL_END = re.compile(r"[.!?;,]|\s[-–]\s|\b(?:but|though|tho|and)\b", re.IGNORECASE)
_SHORT_TAIL_WORDS = 4


def _affirmative(answer: str, rules: RuleSet) -> re.Match[str] | None:
    """The yes that opens an answer, unless it opens a statement instead (above)."""
    match = rules.answers["affirmative"].match(answer)
    if match is None or _NOT_A_DEGREE.match(answer):
        return None
    if _PLAIN_YES.match(answer):
        return match
    rest = answer[match.end() :]
    tail = rest[: m.start()] if (m := _TAIL_END.search(rest)) else rest
    if _A_STATEMENT_FOLLOWS.match(tail) or len(tail.split()) > _SHORT_TAIL_WORDS:
        return None
    if _FIRST_PERSON_OPENER.fullmatch(match.group(0).strip()) and not _FIRST_PERSON_TAIL.match(tail):
        return None
    return match


def read_answer(text: str, rules: RuleSet | None = None) -> str | None:
    """A typed answer to a yes/no question, as "yes", "no" or "unsure" ("yeah, pretty flat since I
    stopped running" -> "yes"), or None when it is not plainly one of them."""
    if rules is None:
        rules = _answer_rules()
    stripped = (text or "").strip()
    lead = _FILLER.match(stripped)
    answer = stripped[lead.end() if lead else 0 :]
    if not answer or answer.startswith("/"):
        return None
    unsure = rules.answers["unsure"].match(answer)
    if unsure and unsure.group(0).strip("? "):
        return "unsure"
    if rules.answers["negative"].match(answer):
        # "No, all good. Bit stressed with work but that's normal" is a no; "no, but yes it swells"
        # is not a plain one. A sign after the "but" is the rules' to find (screening_finding).
        contrast = _CONTRAST.search(answer)
        if contrast and _BARE_ANSWER.match(answer[contrast.end() :].lstrip(" ,")) is not None:
            return None
        return "no"
    if _affirmative(answer, rules):
        return "yes"
    return _answer_after_a_preamble(answer, rules)


# Where a later clause starts: a sentence break, or "but", "so", "though" ("I sleep in the day
# haha but no, it doesn't wake me"; "Is that going on a record? ... Fine. No.").
_CLAUSE_START = re.compile(r"(?:[.!?;]+|\s[-–]\s|\b(?:but|so|though|tho|anyway|anyways)\b,?)\s*", re.IGNORECASE)


def _answer_after_a_preamble(answer: str, rules: RuleSet) -> str | None:
    """A plain no or yes that starts a later clause, after a story or a question back, when every
    such clause agrees (found by blind persona set 3). Only a bare no or yes counts: "no, it
    doesn't wake me" but not "not only at night"."""
    readings = set()
    for start in _CLAUSE_START.finditer(answer):
        clause = answer[start.end() :]
        bare = _BARE_ANSWER.match(clause)
        if bare:
            readings.add("no" if bare.group("no") else "yes")
    return readings.pop() if len(readings) == 1 else None


_BARE_ANSWER = re.compile(
    r"(?:(?P<no>no|nope|nah|not really|never)|(?P<yes>yes|yeah|yep|yup))\b"
    r"(?!\s+(?:only|just|wonder|matter|doubt|idea|more|longer|way)\b)",
    re.IGNORECASE,
)


def denies(text: str, question: str | None, rules: RuleSet | None = None) -> bool:
    """Does the answer say no in the question's own terms (`no_when` in screening.yml)?"""
    if rules is None:
        rules = _answer_rules()
    spec = rules.questions.get(question or "")
    match = spec.no_when.search(text or "") if spec and spec.no_when else None
    # "I can walk, but only a few steps" says yes
    return match is not None and _CONTRAST.search((text or "")[match.end() :]) is None


def starts_negative(text: str, rules: RuleSet | None = None) -> bool:
    """Does the answer start with a no ("No. My dad had a clot once, but I'm fine")?"""
    if rules is None:
        rules = _answer_rules()
    stripped = (text or "").strip()
    lead = _FILLER.match(stripped)
    return rules.answers["negative"].match(stripped[lead.end() if lead else 0 :]) is not None


def screening_finding(text: str, question: str | None, mentions: list, rules: RuleSet) -> Finding | None:
    """The finding an answer to screening question `question` makes, or None.

    `mentions` are the detector's mentions in `text` (signs and codes with their modifiers)."""
    spec = rules.questions.get(question or "")
    if spec is None:
        return None
    stripped = text.strip()
    lead = _FILLER.match(stripped)
    offset = len(text) - len(text.lstrip()) + (lead.end() if lead else 0)
    answer = text[offset:]
    unsure = rules.answers["unsure"]

    def uncertain(match) -> Finding:
        if spec.unsure_is_yes and match.group(0).strip("? ") and len(answer.split()) <= 8:
            # "not sure" to chest pain or thoughts of self-harm: treat as yes. A question asked
            # back ("why does the hip matter?") is not an unsure answer to them.
            return _answer_finding(
                spec.code, spec.id, "unsure_counts", text, offset + match.start(), offset + match.end(), ()
            )
        return _answer_finding(
            spec.code, spec.id, "unsure", text, offset + match.start(), offset + match.end(), ("uncertain",)
        )

    # Order matters: "not sure" and "no idea" are unsure, not negative; "yeah maybe" is unsure.
    first = unsure.match(answer)
    if first:
        return uncertain(first)
    if rules.answers["negative"].match(answer):
        # "no swelling, but it's hot": a contrast after the "no" can still answer yes, unless what
        # follows says no in the question's own terms (screening.yml no_when)
        contrast = _CONTRAST.search(answer)
        if contrast is None or (spec.no_when is not None and spec.no_when.search(answer[contrast.end() :])):
            return None
        after = offset + contrast.end()
        return _sign_answer(spec, text, [m for m in mentions if m.start >= after])
    affirmative = _affirmative(answer, rules)
    if affirmative:
        hedge = unsure.search(" ".join(answer.split()[:3]))
        if hedge and hedge.start() < 20:
            hedge = unsure.search(answer)
            return uncertain(hedge)
        return _answer_finding(
            spec.code, spec.id, "affirmative", text, offset + affirmative.start(), offset + affirmative.end(), ()
        )
    if len(answer.split()) <= 12:
        anywhere = unsure.search(answer)
        if anywhere:
            return uncertain(anywhere)
    return _sign_answer(spec, text, mentions)


def _sign_answer(spec: ScreeningQuestion, text: str, mentions: list) -> Finding | None:
    """An answer that names a sign or code the question asks about ("my calf is a bit sore")."""
    for mention in mentions:
        if (mention.label in spec.signs or mention.label in spec.codes) and not mention.modifiers:
            return _answer_finding(spec.code, spec.id, "describes_sign", text, mention.start, mention.end, ())
    return None


def _answer_finding(
    code: str, question: str, kind: str, text: str, start: int, end: int, modifiers: tuple[str, ...]
) -> Finding:
    return Finding(
        code=code,
        level=RED_FLAG_MIN_LEVEL[code],
        matched=text[start:end],
        start=start,
        end=end,
        modifiers=tuple(modifiers),
        asserted=not modifiers,
        rule=f"screening.{question}.{kind}",
    )
