"""The public names of the triage contract (../shared/docs/triage-contract.md).

Clinic staff filter transcripts by these names and analytics count them: rename nothing here
without changing the contract everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable

# Lowest urgency first, so list position is the order of urgency.
TRIAGE_LEVELS: tuple[str, ...] = (
    "self_care",
    "consultation",
    "consultation_24",
    "emergency",
    "emergency_ambulance",
)

RED_FLAG_MIN_LEVEL: dict[str, str] = {
    "cardiorespiratory": "emergency_ambulance",
    "self_harm": "emergency_ambulance",
    "fracture_or_dislocation": "emergency",
    "infection": "emergency",
    "dvt": "emergency",
    "neurovascular": "consultation_24",  # a cold, pale or blue foot: emergency (see red-flag rules)
    "locked_knee": "consultation_24",
    "acute_injury": "consultation_24",
    "cancer_signs": "consultation_24",
    "child_hip": "consultation_24",
}
RED_FLAG_CODES: tuple[str, ...] = tuple(RED_FLAG_MIN_LEVEL)
# A red-flag finding's `rule` names what found it: a reviewed rule's id, or, for the learned net
# (bot/redflags/learned.py), this prefix, the code and the score ("model.dvt:0.93"). Staff filter
# and the review tool label findings by it.
MODEL_RULE_PREFIX = "model."

PAIN_TRIGGERS: tuple[str, ...] = (
    "stairs",
    "sitting",
    "squatting",
    "kneeling",
    "running",
    "jumping",
    "hills",
    "walking",
    "cycling",
)
PAIN_LOCATIONS: tuple[str, ...] = (
    "around_kneecap",
    "behind_kneecap",
    "below_kneecap",
    "inner_knee",
    "outer_knee",
    "back_of_knee",
    "whole_knee",
)
ONSETS: tuple[str, ...] = ("gradual", "sudden_injury")

SYMPTOM_INTENTS: tuple[str, ...] = (
    "pain_on_stairs",
    "pain_after_sitting",
    "pain_when_squatting",
    "pain_when_running",
    "pain_when_jumping",
    "knee_pain_general",
)
QUESTION_INTENTS: tuple[str, ...] = (
    "ask_what_is_pfps",
    "ask_why_hip",
    "ask_rest",
    "ask_cadence",
    "ask_orthotics",
    "ask_vmo",
    "ask_recovery_time",
    "ask_treatment_evidence",
    "ask_taping_bracing",
    "ask_imaging",
)
HANDOFF_INTENTS: tuple[str, ...] = ("book_appointment", "request_human")
CONVERSATION_INTENTS: tuple[str, ...] = (
    "greet",
    "goodbye",
    "affirm",
    "deny",
    "thank",
    "bot_challenge",
    "out_of_scope",
)
MINIMUM_INTENTS: tuple[str, ...] = SYMPTOM_INTENTS + QUESTION_INTENTS + HANDOFF_INTENTS + CONVERSATION_INTENTS
# The bot's intents beyond the contract's minimum: answers inside the triage and booking
# questions, and clinic questions (fees, hours, where) that only the team can answer.
FORM_INTENTS: tuple[str, ...] = ("inform", "stop", "skip", "unsure")
CLINIC_INTENTS: tuple[str, ...] = ("ask_clinic_info",)
# Given by components/language_guard.py, not by the classifiers: a message in another language.
LANGUAGE_INTENTS: tuple[str, ...] = ("other_language",)
# Every intent in domain.yml (a test checks): what staff can choose when they correct a message.
ALL_INTENTS: tuple[str, ...] = MINIMUM_INTENTS + FORM_INTENTS + CLINIC_INTENTS + LANGUAGE_INTENTS


def level_rank(level: str | None) -> int:
    """Position of a level in the order of urgency; -1 for no level yet."""
    return TRIAGE_LEVELS.index(level) if level in TRIAGE_LEVELS else -1


def highest_level(levels: Iterable[str | None]) -> str | None:
    """The most urgent of the given levels (None when none is a level)."""
    best: str | None = None
    for level in levels:
        if level_rank(level) > level_rank(best):
            best = level
    return best
