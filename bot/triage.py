"""Triage logic: from the triage record to a level, the reasons, and a plain-words summary.

Pure functions over plain data, so every branch is tested table-driven (tests/test_triage.py)
without Rasa. The rules, in order:

1. Red flags set the floor at their contract level (bot.contract.RED_FLAG_MIN_LEVEL); a
   screening question answered "yes" counts as its red flag even if nothing else recorded it.
2. Without red flags the bot never goes below `consultation`: it cannot examine a knee, so an
   unclear picture (unknown or atypical answers, "not sure" to a safety question) is a
   consultation, and a typical patellofemoral pattern is a consultation with a running
   assessment.
3. After an acute injury at 55 or over, the Ottawa knee rules call for an X-ray: `consultation_24`
   (bot/policy.py: `ottawa_x_ray`).

`self_care` is never the result of the triage questions: it stays available for conversations
that only ask for information, where no record is assessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot import policy
from bot.contract import RED_FLAG_MIN_LEVEL, highest_level

# The safety questions: each slot's "yes" is that red-flag code. Every code of the contract has
# one, so before a triage level is given every code has been asked about in a way that fits what
# is known (interview_plan). Their wording and the reasons for it: bot/redflags/rules/screening.yml.
SCREENING_QUESTIONS: dict[str, str] = {
    "screen_chest": "cardiorespiratory",
    "screen_heat_swelling_fever": "infection",
    "screen_calf": "dvt",
    "screen_numbness": "neurovascular",
    "screen_weight_bearing": "fracture_or_dislocation",
    "screen_pop_swelling": "acute_injury",
    "screen_child_hip": "child_hip",
    "screen_locking_giving_way": "locked_knee",
    "screen_night_pain": "cancer_signs",
    "screen_self_harm": "self_harm",
}
QUESTION_FOR_CODE: dict[str, str] = {code: question for question, code in SCREENING_QUESTIONS.items()}
# Not a red flag: the two Whooley questions in one (down or hopeless, little interest or pleasure,
# over the past month). "Yes" or "not sure" leads to the direct question about self-harm.
MOOD_QUESTION = "screen_mood"
# Asked first, of everyone, as healthdirect and NHS 111 do: the emergencies (000 or an emergency
# department today) come before where it hurts.
EMERGENCY_QUESTIONS: tuple[str, ...] = ("screen_chest", "screen_heat_swelling_fever", "screen_calf", "screen_numbness")
# Codes the safety layer wants asked about next (a doubt from one net): slot of codes, kept by
# TriageSafetyPolicy, read here.
TO_ASK_SLOT = "red_flags_to_ask"
# "Does anything else bring it on?": asked when the first message named one trigger, so the
# pain_triggers question was never asked (blind persona set 3: the record held "running" when
# the patient would have named stairs and hills too). Answering the triggers question sets it.
MORE_TRIGGERS = "more_triggers"
SKIPPED_SLOT = "skipped_questions"  # the triage questions the patient skipped: not asked again
MORE_TRIGGERS_UP_TO = 3  # triggers named before any were asked: up to this many, "anything else?"
# Every slot the triage questions can fill, in the domain's order (domain.yml lists them too).
ALL_FORM_SLOTS: tuple[str, ...] = (
    *EMERGENCY_QUESTIONS,
    "pain_location",
    "pain_triggers",
    MORE_TRIGGERS,
    "onset",
    "screen_weight_bearing",
    "screen_pop_swelling",
    "duration_weeks",
    "under_16",
    "screen_child_hip",
    "screen_locking_giving_way",
    "screen_night_pain",
    MOOD_QUESTION,
    "screen_self_harm",
)

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
    pain_location: str | None = None
    onset: str | None = None
    duration_weeks: float | None = None
    under_16: str | None = None  # "yes", "no", "unsure"
    age: float | None = None
    side: str | None = None
    screens: Mapping[str, str] = field(default_factory=dict)  # question -> yes/no/unsure

    @classmethod
    def from_slots(cls, slots: Mapping[str, Any]) -> TriageRecord:
        def text(name: str) -> str | None:
            value = slots.get(name)
            return value if isinstance(value, str) and value else None

        def number(name: str) -> float | None:
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
        return self.under_16 == "yes" or policy.is_child(self.age)


def assess(record: TriageRecord, current_level: str | None = None) -> tuple[str, list[str]]:
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

    if record.onset == "sudden_injury" and policy.ottawa_x_ray(record.age, record.duration_weeks):
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
    with every safety question the interview asks answered "no"."""
    asked = [q for q in planned_questions(record) if q in SCREENING_QUESTIONS]
    return (
        not record.red_flags
        and record.pain_location in PFP_LOCATIONS
        and record.onset == "gradual"
        and bool(PFP_TRIGGERS.intersection(record.pain_triggers))
        and all(record.screens.get(q) == "no" for q in asked)
        and all(answer == "no" for answer in record.screens.values())
    )


def planned_questions(record: TriageRecord, mood: str | None = None, to_ask: Sequence[str] = ()) -> list[str]:
    """The triage questions for what is known so far, in the order they are asked (the first one
    not yet answered is next). The reasons for the order:
    - the emergency questions first, for everyone (chest, a hot swollen knee, the calf, the foot);
    - after an injury, weight bearing (Ottawa: four steps) and a knee or kneecap out of place as
      soon as the injury is known, then a pop or swelling within hours;
    - under 16, a limp or hip, groin or thigh pain (a slipped upper femoral epiphysis can show as
      knee pain alone);
    - locking and night pain, then mood (two Whooley questions in one), and only after a "yes" or
      "not sure" to mood the direct question about self-harm. A parent answering for a child is
      not asked about the child's mood: the doctor visit the summary recommends can ask that.
    - a code either net was unsure about (`to_ask`) is asked before everything else."""
    injury = record.onset == "sudden_injury"
    # A doubt about self-harm is asked gently, as the mood question (the direct one follows a yes).
    plan = [MOOD_QUESTION if c == "self_harm" else QUESTION_FOR_CODE[c] for c in to_ask if c in QUESTION_FOR_CODE]
    plan += list(EMERGENCY_QUESTIONS)
    if injury:
        plan.append("screen_weight_bearing")
    plan += ["pain_location", "pain_triggers", "onset"]
    if injury:
        plan += ["screen_weight_bearing", "screen_pop_swelling"]
    if 1 <= len(record.pain_triggers) <= MORE_TRIGGERS_UP_TO:
        # Named in passing, not asked: people name what is worst (blind persona sets 5 and 7).
        # After the injury questions, which matter more.
        plan.append(MORE_TRIGGERS)
    plan += ["duration_weeks", "under_16"]
    if record.is_child:
        plan.append("screen_child_hip")
    plan += ["screen_locking_giving_way", "screen_night_pain"]
    if not record.is_child:
        plan.append(MOOD_QUESTION)
    if mood in ("yes", "unsure"):
        plan.insert(plan.index(MOOD_QUESTION) + 1, "screen_self_harm")
    return list(dict.fromkeys(plan))


BOOKING_WANTED_SLOT = "booking_wanted"


def interview_plan(slots: Mapping[str, object]) -> list[str]:
    """`planned_questions` for the conversation's slots. A patient who asked to book is asked only
    the emergency questions (and any red flag either net was unsure about) before booking: the
    rest can wait for the physio."""
    mood = slots.get(MOOD_QUESTION)
    to_ask = slots.get(TO_ASK_SLOT) or ()
    doubts = [c for c in to_ask if isinstance(c, str)] if isinstance(to_ask, (list, tuple)) else []
    plan = planned_questions(TriageRecord.from_slots(slots), mood if isinstance(mood, str) else None, doubts)
    if slots.get(BOOKING_WANTED_SLOT):
        first = set(EMERGENCY_QUESTIONS) | {QUESTION_FOR_CODE[c] for c in doubts if c in QUESTION_FOR_CODE}
        if slots.get("onset") == "sudden_injury":
            first.add("screen_weight_bearing")  # a fracture is an emergency too (Ottawa four steps)
        if mood in ("yes", "unsure") or "self_harm" in doubts:
            first |= {MOOD_QUESTION, "screen_self_harm"}
        plan = [q for q in plan if q in first]
    return plan


MORE_QUESTIONS_SLOT = "more_questions_offered"


def questions_left_after_booking(slots: Mapping[str, object]) -> list[str]:
    """The triage questions a patient who booked early was not asked (only the emergency questions
    come before booking): after the booking, they are offered, so the physio has the whole picture
    (blind persona sets 5-7: early bookers' records held only their first message)."""
    skipped = slots.get(SKIPPED_SLOT)
    skipped = skipped if isinstance(skipped, (list, tuple)) else ()
    plan = interview_plan({**slots, BOOKING_WANTED_SLOT: None})
    return [q for q in plan if slots.get(q) is None and q not in skipped]


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
# The "anything else?" question's buttons: every trigger the pain_triggers question offers.
MORE_TRIGGER_BUTTONS = (
    ("Stairs", "stairs"),
    ("Sitting a long time", "sitting"),
    ("Squatting", "squatting"),
    ("Running", "running"),
    ("Jumping or landing", "jumping"),
    ("Hills", "hills"),
    ("Kneeling", "kneeling"),
)


def more_triggers_question(known: Sequence[str]) -> str:
    said = _join([TRIGGER_WORDS[t] for t in known if t in TRIGGER_WORDS]) or "at times"
    return f"You said it hurts {said}. Does anything else bring it on? Tap one, type all that apply, or tap No."


def more_triggers_buttons(known: Sequence[str]) -> list[dict[str, str]]:
    buttons = [
        {"title": title, "payload": f'/inform{{"pain_trigger":"{value}"}}'}
        for title, value in MORE_TRIGGER_BUTTONS
        if value not in known
    ]
    return [*buttons, {"title": "No, that's all", "payload": "/deny"}]


SIDE_WORDS = {"left": "in the left knee", "right": "in the right knee", "both": "in both knees"}


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def describe_duration(weeks: float | None) -> str | None:
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
