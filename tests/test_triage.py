"""Table-driven tests of the triage logic: every branch of bot.triage.assess, and the summary."""
from __future__ import annotations

import pytest

from bot import triage
from bot.contract import RED_FLAG_MIN_LEVEL
from bot.readability import is_readable
from bot.triage import TriageRecord, assess

ALL_NO = {q: "no" for q in triage.SCREENING_QUESTIONS}
TYPICAL = dict(
    pain_location="around_kneecap", onset="gradual", pain_triggers=("stairs", "sitting"),
    duration_weeks=6.0, under_16="no", screens=ALL_NO,
)


def record(**changes) -> TriageRecord:
    return TriageRecord(**{**TYPICAL, **changes})


CASES = [
    # (name, record, current level, expected level, reasons that must be present)
    ("typical PFP pattern", record(), None, "consultation", [triage.TYPICAL_PFP]),
    ("behind the kneecap, running", record(pain_location="behind_kneecap", pain_triggers=("running",)),
     None, "consultation", [triage.TYPICAL_PFP]),
    ("below the kneecap is not the typical pattern", record(pain_location="below_kneecap"),
     None, "consultation", [triage.UNCLEAR]),
    ("unknown location is unclear, never lower", record(pain_location=None), None, "consultation", [triage.UNCLEAR]),
    ("no triggers known", record(pain_triggers=()), None, "consultation", [triage.UNCLEAR]),
    ("only walking hurts", record(pain_triggers=("walking",)), None, "consultation", [triage.UNCLEAR]),
    ("skipped safety questions", record(screens={}), None, "consultation", [triage.UNCLEAR]),
    ("not sure about a safety question", record(screens={**ALL_NO, "screen_calf": "unsure"}),
     None, "consultation", [triage.UNCLEAR, triage.UNSURE_SCREEN]),
    ("after an injury, under 55", record(onset="sudden_injury", age=30.0), None, "consultation",
     [triage.UNCLEAR, triage.AFTER_INJURY]),
    ("after an injury at 55 or over: Ottawa", record(onset="sudden_injury", age=61.0, duration_weeks=0.5), None,
     "consultation_24", [triage.INJURY_OTTAWA_AGE]),
    ("an injury at 55 or over of unknown age: Ottawa", record(onset="sudden_injury", age=61.0, duration_weeks=None),
     None, "consultation_24", [triage.INJURY_OTTAWA_AGE]),
    # the Ottawa rules are for acute injuries: a knock 3 weeks ago, walked off (blind persona set 8)
    ("an injury at 55 or over three weeks ago", record(onset="sudden_injury", age=61.0, duration_weeks=3.5), None,
     "consultation", [triage.UNCLEAR, triage.AFTER_INJURY]),
    ("gradual onset at 70 is not Ottawa", record(age=70.0), None, "consultation", [triage.TYPICAL_PFP]),
    ("under 16", record(under_16="yes"), None, "consultation", [triage.TYPICAL_PFP, triage.UNDER_16]),
    ("age 13 counts as under 16", record(under_16=None, age=13.0), None, "consultation", [triage.UNDER_16]),
    ("over 12 weeks", record(duration_weeks=20.0), None, "consultation", [triage.PERSISTENT]),
    ("empty record", TriageRecord(), None, "consultation", [triage.UNCLEAR]),
    ("a level never falls", record(), "emergency", "emergency", []),
    ("calf screen yes is dvt", record(screens={**ALL_NO, "screen_calf": "yes"}), None, "emergency", ["red_flag:dvt"]),
    ("heat screen yes is infection", record(screens={**ALL_NO, "screen_heat_swelling_fever": "yes"}), None,
     "emergency", ["red_flag:infection"]),
    ("locking screen yes", record(screens={**ALL_NO, "screen_locking_giving_way": "yes"}), None,
     "consultation_24", ["red_flag:locked_knee"]),
    ("night pain screen yes", record(screens={**ALL_NO, "screen_night_pain": "yes"}), None,
     "consultation_24", ["red_flag:cancer_signs"]),
    ("numbness screen yes", record(screens={**ALL_NO, "screen_numbness": "yes"}), None,
     "consultation_24", ["red_flag:neurovascular"]),
    ("two red flags: the most urgent wins", record(red_flags=("locked_knee", "cardiorespiratory")), None,
     "emergency_ambulance", ["red_flag:locked_knee", "red_flag:cardiorespiratory"]),
    ("a red flag beats the typical pattern", record(red_flags=("child_hip",)), None, "consultation_24",
     ["red_flag:child_hip"]),
]


@pytest.mark.parametrize("name,rec,current,level,reasons", CASES, ids=[c[0] for c in CASES])
def test_assess(name, rec, current, level, reasons):
    got_level, got_reasons = assess(rec, current_level=current)
    assert got_level == level
    for reason in reasons:
        assert reason in got_reasons


@pytest.mark.parametrize("code,level", sorted(RED_FLAG_MIN_LEVEL.items()))
def test_every_red_flag_takes_its_contract_level(code, level):
    assert assess(TriageRecord(red_flags=(code,)))[0] == level


def test_no_record_ever_lands_below_consultation():
    for rec in [TriageRecord(), record(), record(screens={}), record(pain_location="whole_knee")]:
        assert assess(rec)[0] in ("consultation", "consultation_24", "emergency", "emergency_ambulance")


def test_from_slots_reads_the_contract_slots():
    rec = TriageRecord.from_slots({
        "red_flags": ["dvt"], "pain_triggers": ["stairs"], "pain_location": "around_kneecap",
        "onset": "gradual", "duration_weeks": "6", "under_16": "no", "age": None,
        "screen_calf": "no", "screen_numbness": "unsure", "requested_slot": "x",
    })
    assert rec.red_flags == ("dvt",) and rec.pain_triggers == ("stairs",)
    assert rec.duration_weeks == 6.0
    assert rec.screens == {"screen_calf": "no", "screen_numbness": "unsure"}


def test_summary_says_what_was_understood():
    text = triage.describe(record(side="left"))
    assert text == (
        "pain around the kneecap in the left knee on stairs and after sitting, for about 6 weeks, "
        "that came on slowly with no injury"
    )


@pytest.mark.parametrize("weeks,words", [
    (0.43, "for about 3 days"), (1.0, "for about a week"), (6.0, "for about 6 weeks"),
    (16.0, "for about 4 months"), (104.0, "for about 2 years"), (None, None),
])
def test_durations_in_plain_words(weeks, words):
    assert triage.describe_duration(weeks) == words


def test_typical_summary_names_the_pattern_without_diagnosing():
    level, reasons = assess(record())
    text = triage.summary(record(), level, reasons)
    assert "fits a common pattern called patellofemoral pain" in text
    assert "running assessment" in text
    assert "you have" not in text.lower()


@pytest.mark.parametrize("name,rec,current,level,reasons", CASES, ids=[c[0] for c in CASES])
def test_every_summary_is_at_or_below_grade_8(name, rec, current, level, reasons):
    got_level, got_reasons = assess(rec, current_level=current)
    assert is_readable(triage.summary(rec, got_level, got_reasons))


def test_a_patient_who_asked_to_book_is_asked_only_the_emergency_questions_and_any_doubt():
    slots = {"booking_wanted": True, "red_flags_to_ask": ["locked_knee"], "onset": "sudden_injury"}
    assert triage.interview_plan(slots) == ["screen_locking_giving_way", *triage.EMERGENCY_QUESTIONS,
                                            "screen_weight_bearing"]  # after an injury, weight bearing too
    assert "pain_location" in triage.interview_plan({})  # without the wish, the whole interview
