"""Triage logic: from the triage record to a level, the reasons, and a plain-words summary.

Pure functions over plain data, so every branch is tested table-driven (tests/test_triage.py)
without Rasa. The rules, in order:

1. Red flags set the floor at their contract level (bot.contract.RED_FLAG_MIN_LEVEL); a
   screening question answered "yes" counts as its red flag even if nothing else recorded it.
2. Without red flags the bot never goes below `consultation`: it cannot examine a knee, so an
   unclear picture (unknown or atypical answers, "not sure" to a safety question) is a
   consultation, and a typical patellofemoral pattern is a consultation with a running
   assessment.
3. After an injury at 55 or over, the Ottawa knee rules call for an X-ray: `consultation_24`.

`self_care` is never the result of the triage questions: it stays available for conversations
that only ask for information, where no record is assessed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from bot.contract import RED_FLAG_MIN_LEVEL, highest_level

SCREENING_QUESTIONS: dict[str, str] = {
    "screen_heat_swelling_fever": "infection",
    "screen_locking_giving_way": "locked_knee",
    "screen_night_pain": "cancer_signs",
    "screen_calf": "dvt",
    "screen_numbness": "neurovascular",
}

# Where patellofemoral pain is felt, and what loads the joint behind the kneecap.
PFP_LOCATIONS = frozenset({"around_kneecap", "behind_kneecap"})
PFP_TRIGGERS = frozenset({"stairs", "sitting", "squatting", "kneeling", "running", "jumping", "hills"})

# Reason codes: staff read them in the review tool, tests assert them.
TYPICAL_PFP = "typical_patellofemoral_pattern"
UNCLEAR = "unclear_picture"
INJURY_OTTAWA_AGE = "injury_at_55_or_over_ottawa"
AFTER_INJURY = "started_after_injury"
UNDER_16 = "under_16_check_hip"
UNSURE_SCREEN = "unsure_safety_answer"
PERSISTENT = "pain_over_12_weeks"


@dataclass(frozen=True)
class TriageRecord:
    red_flags: tuple[str, ...] = ()
    pain_triggers: tuple[str, ...] = ()
    pain_location: Optional[str] = None
    onset: Optional[str] = None
    duration_weeks: Optional[float] = None
    under_16: Optional[str] = None  # "yes", "no", "unsure"
    age: Optional[float] = None
    side: Optional[str] = None
    screens: Mapping[str, str] = field(default_factory=dict)  # question -> yes/no/unsure

    @classmethod
    def from_slots(cls, slots: Mapping[str, object]) -> "TriageRecord":
        def text(name: str) -> Optional[str]:
            value = slots.get(name)
            return value if isinstance(value, str) and value else None

        def number(name: str) -> Optional[float]:
            value = slots.get(name)
            try:
                return float(value) if value is not None else None
            except (TypeError, ValueError):
                return None

        return cls(
            red_flags=tuple(slots.get("red_flags") or ()),
            pain_triggers=tuple(slots.get("pain_triggers") or ()),
            pain_location=text("pain_location"),
            onset=text("onset"),
            duration_weeks=number("duration_weeks"),
            under_16=text("under_16"),
            age=number("age"),
            side=text("side"),
            screens={q: slots[q] for q in SCREENING_QUESTIONS if isinstance(slots.get(q), str)},
        )

    @property
    def is_child(self) -> bool:
        return self.under_16 == "yes" or (self.age is not None and self.age < 16)


def assess(record: TriageRecord, current_level: Optional[str] = None) -> tuple[str, list[str]]:
    """The triage level for a record and the reasons, most important first.

    `current_level` is the level already reached in the conversation: the result never falls
    below it (a level only rises).
    """
    reasons: list[str] = []
    codes = list(dict.fromkeys(record.red_flags))
    for question, code in SCREENING_QUESTIONS.items():
        if record.screens.get(question) == "yes" and code not in codes:
            codes.append(code)
    levels = [RED_FLAG_MIN_LEVEL[c] for c in codes if c in RED_FLAG_MIN_LEVEL]
    reasons += [f"red_flag:{c}" for c in codes if c in RED_FLAG_MIN_LEVEL]

    if record.onset == "sudden_injury" and record.age is not None and record.age >= 55:
        levels.append("consultation_24")
        reasons.append(INJURY_OTTAWA_AGE)

    if not levels:
        reasons += _non_urgent_reasons(record)
    level = highest_level([*levels, "consultation", current_level]) or "consultation"
    return level, reasons


def _non_urgent_reasons(record: TriageRecord) -> list[str]:
    reasons: list[str] = []
    if is_typical_pfp(record):
        reasons.append(TYPICAL_PFP)
    else:
        reasons.append(UNCLEAR)
    if record.onset == "sudden_injury":
        reasons.append(AFTER_INJURY)
    if record.is_child:
        reasons.append(UNDER_16)
    if any(answer == "unsure" for answer in record.screens.values()):
        reasons.append(UNSURE_SCREEN)
    if record.duration_weeks is not None and record.duration_weeks > 12:
        reasons.append(PERSISTENT)
    return reasons


def is_typical_pfp(record: TriageRecord) -> bool:
    """Pain around or behind the kneecap, gradual, loaded by stairs, squats, sitting or running,
    with every safety question answered "no"."""
    return (
        not record.red_flags
        and record.pain_location in PFP_LOCATIONS
        and record.onset == "gradual"
        and bool(PFP_TRIGGERS.intersection(record.pain_triggers))
        and len(record.screens) == len(SCREENING_QUESTIONS)
        and all(answer == "no" for answer in record.screens.values())
    )


# --- plain-words summary -------------------------------------------------------------------

LOCATION_WORDS = {
    "around_kneecap": "around the kneecap",
    "behind_kneecap": "behind the kneecap",
    "below_kneecap": "just below the kneecap",
    "inner_knee": "on the inner side of the knee",
    "outer_knee": "on the outer side of the knee",
    "back_of_knee": "at the back of the knee",
    "whole_knee": "all over the knee",
}
TRIGGER_WORDS = {
    "stairs": "on stairs",
    "sitting": "after sitting",
    "squatting": "when squatting",
    "kneeling": "when kneeling",
    "running": "when running",
    "jumping": "when jumping or landing",
    "hills": "on hills",
    "walking": "when walking",
    "cycling": "when cycling",
}
SIDE_WORDS = {"left": "in the left knee", "right": "in the right knee", "both": "in both knees"}


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def describe_duration(weeks: Optional[float]) -> Optional[str]:
    if weeks is None:
        return None
    if weeks < 1:
        days = max(1, round(weeks * 7))
        return f"for about {days} day{'s' if days != 1 else ''}"
    if weeks < 1.5:
        return "for about a week"
    if weeks <= 12:
        return f"for about {round(weeks)} weeks"
    months = round(weeks / 4.35)
    if months < 24:
        return f"for about {months} months"
    return f"for about {round(weeks / 52)} years"


def describe(record: TriageRecord) -> str:
    """What the bot understood, e.g. "pain around the kneecap on stairs and after sitting, for
    about 6 weeks, that came on slowly with no injury"."""
    pieces = ["pain"]
    if record.pain_location:
        pieces.append(LOCATION_WORDS.get(record.pain_location, "in the knee"))
    else:
        pieces.append("in the knee")
    if record.side:
        pieces.append(SIDE_WORDS.get(record.side, ""))
    triggers = [TRIGGER_WORDS[t] for t in record.pain_triggers if t in TRIGGER_WORDS]
    if triggers:
        pieces.append(_join(triggers))
    text = " ".join(p for p in pieces if p)
    extras = []
    duration = describe_duration(record.duration_weeks)
    if duration:
        extras.append(duration)
    if record.onset == "gradual":
        extras.append("that came on slowly with no injury")
    elif record.onset == "sudden_injury":
        extras.append("that started after an injury")
    if extras:
        text += ", " + ", ".join(extras)
    return text


ADVICE = {
    "emergency_ambulance": "Please call 000 now.",
    "emergency": "Please go to an emergency department now, or call 000.",
    "consultation_24": "Please see a GP, or go to an emergency department, within 24 hours.",
}


def advice(level: str, reasons: Sequence[str]) -> str:
    """What to do next, in plain words, for the level and reasons from `assess`."""
    if level in ADVICE:
        return ADVICE[level]
    if TYPICAL_PFP in reasons:
        text = (
            "Your description fits a common pattern called patellofemoral pain, also known as "
            "runner's knee. It isn't urgent, but a physio should check it. A running assessment "
            "is a good next step."
        )
    else:
        text = (
            "From what you've told me, it doesn't sound urgent. A physio should check your knee "
            "to find out what's going on."
        )
    if UNSURE_SCREEN in reasons:
        text += " You weren't sure about one of the safety questions: if you notice that sign, see a doctor today."
    if UNDER_16 in reasons:
        text += " In young people, the hip should be checked too."
    return text


def summary(record: TriageRecord, level: str, reasons: Sequence[str]) -> str:
    return f"Here's what I understood: {describe(record)}. {advice(level, reasons)}"
