"""The safety layer's decisions, as pure functions over plain data.

`components/safety_policy.py` adapts this to Rasa: it runs inside the Rasa server (no action
server needed) before every action the bot takes, and this module decides:

- after each user message, which red flags it asserts: the NLU component's findings, plus the
  same detector run again with what only the conversation knows (the safety question just
  asked, a patient under 16);
- the triage record updates: `red_flags` only grows, `triage_level` only rises, earlier
  `pain_triggers` are kept when a message names new ones;
- the escalation reply to send at once (stopping any form), then the follow-up, then listen;
- that an emergency-level conversation is never steered to booking.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from bot.contract import RED_FLAG_MIN_LEVEL, SYMPTOM_INTENTS, highest_level, level_rank
# Findings held with doubt ("maybe", "I think", a sign named for another body part, one net only):
# not a red flag yet, not nothing either. The contract: ask one clarifying question, never guess
# downwards.
from bot.redflags.findings import CLARIFY_MODIFIERS
# A clarifying answer is read like the answer to the safety question about the same code.
from bot.triage import MOOD_QUESTION, QUESTION_FOR_CODE, SCREENING_QUESTIONS, TO_ASK_SLOT

ESCALATION_PREFIX = "utter_red_flag_"
CLARIFY_PREFIX = "utter_clarify_"
CLARIFY_SLOT = "red_flag_to_clarify"
SIGNS_SLOT = "red_flag_signs"
# After an escalation every message gets the instruction again, in short (or why it matters, when
# asked): utter_escalated_<kind> / utter_escalated_why_<kind>.
REMINDER_PREFIX = "utter_escalated_"
# "Do I really have to go?", "can't it wait till tomorrow", "is it that serious", "I'm fine".
ASKS_WHY = re.compile(
    r"\b(?:why|really|have to|need to|do i (?:need|have)|must i|is it (?:that |really )?(?:serious|bad|urgent|necessary)"
    r"|can'?t i (?:just )?wait|can it wait|(?:can|could) i (?:just )?wait|tomorrow|overreact\w*|over-react\w*"
    r"|seriously|i'?m (?:fine|ok|okay|alright)|it'?s (?:fine|ok|okay|nothing)|don'?t want to go|rather not|waste of time)\b",
    re.IGNORECASE,
)
FOLLOWUP_ACTION = "utter_red_flag_followup"
NO_BOOKING_ACTION = "utter_emergency_no_booking"
LISTEN = "action_listen"
BOOKING_INTENTS = frozenset({"book_appointment"})
REVIEW_LEVEL = "consultation_24"  # staff review every conversation at or above this level

# A button press sends a payload ("/affirm"), not words: read it as the words it stands for.
PAYLOAD_INTENT_AS_TEXT = {"affirm": "yes", "deny": "no", "unsure": "not sure"}


@dataclass(frozen=True)
class Turn:
    """What the policy sees when a user message has just arrived."""

    text: str
    intent: Optional[str]
    findings: Sequence[Mapping[str, Any]]  # the NLU component's findings (Finding.to_dict())
    requested_slot: Optional[str]  # the question the bot had asked, if any
    slots: Mapping[str, Any]
    active_loop: Optional[str]
    trigger_history: Sequence[str] = ()  # every pain_trigger entity value so far, in order
    signs: Sequence[str] = ()  # red-flag signs this message asserts (the NLU component's red_flag_signs)


@dataclass
class Decision:
    slot_updates: dict[str, Any] = field(default_factory=dict)
    stop_form: bool = False
    action: Optional[str] = None  # the next action to force, or None to let others decide
    findings: list[dict] = field(default_factory=list)  # asserted findings behind the action


def escalation_action(finding: Mapping[str, Any]) -> str:
    code = finding["code"]
    if code == "neurovascular" and level_rank(finding.get("level")) >= level_rank("emergency"):
        return ESCALATION_PREFIX + "neurovascular_emergency"
    return ESCALATION_PREFIX + code


def _finding_level(finding: Mapping[str, Any]) -> str:
    return highest_level([finding.get("level"), RED_FLAG_MIN_LEVEL.get(finding["code"])]) or "consultation_24"


def screening_answer_finding(turn: Turn) -> list[dict]:
    """A "yes" (typed or tapped) to a safety question is that question's red flag. Needs no
    detector, so it holds even if the rule layer fails."""
    question = turn.requested_slot
    if question not in SCREENING_QUESTIONS or turn.intent != "affirm":
        return []
    code = SCREENING_QUESTIONS[question]
    return [{"code": code, "level": RED_FLAG_MIN_LEVEL[code], "matched": turn.text[:200], "start": 0,
             "end": len(turn.text), "modifiers": [], "asserted": True, "rule": f"screening:{question}:yes"}]


def contextual_findings(turn: Turn, detect) -> list[dict]:
    """Findings that need the conversation's context: the answer to a safety question, symptoms
    that are red flags only in a child, and signs that make a red flag only with signs said in
    earlier messages (a hot knee, then a fever; a fall, then "I can't get up")."""
    question = turn.requested_slot if turn.requested_slot in SCREENING_QUESTIONS else None
    under_16 = turn.slots.get("under_16") == "yes" or _number(turn.slots.get("age"), 99) < 16
    prior = [s for s in turn.slots.get(SIGNS_SLOT) or [] if isinstance(s, str)] if turn.signs else []
    if not question and not under_16 and not prior:
        return []
    text = turn.text
    if text.startswith("/"):  # a button payload
        text = PAYLOAD_INTENT_AS_TEXT.get(turn.intent or "", "")
        if not text:
            return []
    context = {"prior_signs": prior} if prior else {}
    found = detect(text, question=question, patient_under_16=True if under_16 else None, **context)
    return [f.to_dict() if hasattr(f, "to_dict") else dict(f) for f in found]


def reminder_action(slots: Mapping[str, Any], text: str) -> str:
    """The short reminder after an escalation: what to do now, or why, when the person asks."""
    codes = slots.get("red_flags") or []
    level = slots.get("triage_level")
    if "self_harm" in codes:
        kind = "crisis"
    elif level == "emergency_ambulance":
        kind = "ambulance"
    elif level_rank(level) >= level_rank("emergency"):
        kind = "emergency"
    else:
        kind = "urgent"
    return REMINDER_PREFIX + ("why_" if ASKS_WHY.search(text or "") else "") + kind


def _number(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def clarify_codes(findings: Iterable[Mapping[str, Any]]) -> list[str]:
    """Codes found only with doubt, that no asserted finding already covers."""
    findings = list(findings)
    sure = {f.get("code") for f in findings if f.get("asserted")}
    codes: list[str] = []
    for f in findings:
        modifiers = set(f.get("modifiers") or [])
        if (not f.get("asserted") and modifiers and modifiers <= CLARIFY_MODIFIERS
                and f.get("code") in RED_FLAG_MIN_LEVEL and f["code"] not in sure and f["code"] not in codes):
            codes.append(f["code"])
    return codes


def clarified_findings(turn: Turn, code: str, detect) -> list[dict]:
    """The answer to "did you mean...?" for `code`: yes makes it a finding."""
    text = PAYLOAD_INTENT_AS_TEXT.get(turn.intent or "", "") if turn.text.startswith("/") else turn.text
    yes = turn.intent == "affirm"
    if not yes and text:
        found = detect(text, question=QUESTION_FOR_CODE.get(code))
        yes = any(getattr(f, "asserted", False) and getattr(f, "code", None) == code for f in found)
    if not yes:
        return []
    return [{"code": code, "level": RED_FLAG_MIN_LEVEL[code], "matched": turn.text[:200], "start": 0,
             "end": len(turn.text), "modifiers": [], "asserted": True, "rule": f"clarified:{code}:yes"}]


def asserted(findings: Iterable[Mapping[str, Any]]) -> list[dict]:
    """The asserted findings, one per code (the most urgent one), in the order first seen."""
    best: dict[str, dict] = {}
    for f in findings:
        if not f.get("asserted") or f.get("code") not in RED_FLAG_MIN_LEVEL:
            continue
        code = f["code"]
        if code not in best or level_rank(_finding_level(f)) > level_rank(_finding_level(best[code])):
            best[code] = dict(f)
    return list(best.values())


def on_user_message(turn: Turn, detect) -> Decision:
    """Decide what happens right after a user message (before any other action runs)."""
    decision = Decision()
    merged_triggers = list(dict.fromkeys([*turn.trigger_history, *(turn.slots.get("pain_triggers") or [])]))
    if merged_triggers != list(turn.slots.get("pain_triggers") or []):
        decision.slot_updates["pain_triggers"] = merged_triggers

    known_signs = list(turn.slots.get(SIGNS_SLOT) or [])
    if any(sign not in known_signs for sign in turn.signs):
        decision.slot_updates[SIGNS_SLOT] = list(dict.fromkeys([*known_signs, *turn.signs]))

    pending = turn.slots.get(CLARIFY_SLOT)
    answer = []
    if pending in RED_FLAG_MIN_LEVEL:
        decision.slot_updates[CLARIFY_SLOT] = None  # one question only, whatever the answer
        answer = clarified_findings(turn, pending, detect)
    context = contextual_findings(turn, detect)
    findings = asserted([*turn.findings, *screening_answer_finding(turn), *context, *answer])
    current_level = turn.slots.get("triage_level")
    if findings:
        codes = list(turn.slots.get("red_flags") or [])
        codes += [f["code"] for f in findings if f["code"] not in codes]
        level = highest_level([current_level, *(_finding_level(f) for f in findings)])
        evidence = list(turn.slots.get("red_flag_evidence") or [])
        evidence += [
            {k: f.get(k) for k in ("code", "level", "matched", "rule", "modifiers")} for f in findings
        ]
        decision.slot_updates.update(red_flags=codes, triage_level=level, red_flag_evidence=evidence)
        if level_rank(level) >= level_rank(REVIEW_LEVEL):
            decision.slot_updates["staff_review_needed"] = True
        # The most urgent; on a tie, the code of the safety question just answered.
        answered = SCREENING_QUESTIONS.get(turn.requested_slot or "")
        most_urgent = max(findings, key=lambda f: (level_rank(_finding_level(f)), f["code"] == answered))
        decision.action = escalation_action(most_urgent)
        decision.stop_form = turn.active_loop is not None
        decision.findings = findings
        return decision

    # After an escalation the conversation stays escalated: every message gets the instruction
    # again in short (or why, when asked), nothing offers booking or exercise, and the triage
    # questions do not restart. The policy answers every turn itself from here.
    if turn.slots.get("red_flags"):
        decision.action = reminder_action(turn.slots, turn.text)
        decision.stop_form = turn.active_loop is not None
        return decision

    # Doubt gets one clarifying question. Inside the triage form the code's own safety question
    # asks it instead, next (again, if it was answered before the doubt came up).
    doubtful = clarify_codes([*turn.findings, *context])
    # A knee message starts the triage questions (data/rules/triage.yml): the doubt is asked
    # there, first, rather than holding the questions back.
    starts_questions = turn.active_loop is None and turn.intent in SYMPTOM_INTENTS
    if doubtful and (turn.active_loop is not None or starts_questions):
        to_ask = list(turn.slots.get(TO_ASK_SLOT) or [])
        for code in sorted(doubtful, key=lambda c: -level_rank(RED_FLAG_MIN_LEVEL[c])):
            question = MOOD_QUESTION if code == "self_harm" else QUESTION_FOR_CODE.get(code)
            if code in to_ask or question is None or question == turn.requested_slot:
                continue  # asked once already, or being answered now
            to_ask.append(code)
            if turn.slots.get(question) is not None:
                decision.slot_updates[question] = None
        if to_ask != list(turn.slots.get(TO_ASK_SLOT) or []):
            decision.slot_updates[TO_ASK_SLOT] = to_ask
    elif doubtful and not pending:
        code = max(doubtful, key=lambda c: level_rank(RED_FLAG_MIN_LEVEL[c]))
        decision.slot_updates[CLARIFY_SLOT] = code
        decision.action = CLARIFY_PREFIX + code
        return decision

    if turn.intent in BOOKING_INTENTS and level_rank(current_level) >= level_rank("emergency"):
        decision.action = NO_BOOKING_ACTION
        decision.stop_form = turn.active_loop is not None
    return decision


def after_action(latest_action: Optional[str], form_stopped_this_turn: bool) -> Optional[str]:
    """What follows the safety layer's own replies; None when the reply was not ours."""
    if latest_action is None:
        return None
    if latest_action.startswith(ESCALATION_PREFIX) and latest_action != FOLLOWUP_ACTION:
        return FOLLOWUP_ACTION if form_stopped_this_turn else LISTEN
    if (latest_action in (FOLLOWUP_ACTION, NO_BOOKING_ACTION) or latest_action.startswith(CLARIFY_PREFIX)
            or latest_action.startswith(REMINDER_PREFIX)):
        return LISTEN
    return None
