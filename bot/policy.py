"""The clinic's triage policy: one home for what each level means for the patient and for staff.

Every part reads these (the safety layer, the actions, the staff alerts, the review tool, the
simulator and the evaluation scripts), so they cannot disagree:

- from `URGENT_FROM` up, a conversation is urgent: staff are alerted, it heads the review queue,
  and the summary says to see a doctor within 24 hours or sooner;
- from `NO_BOOKING_FROM` up, the bot never books a visit (urgent care first: 000 or an emergency
  department) and a request to book gets that instruction again;
- up to `BOOKABLE_UP_TO`, a running assessment is offered at the end of the questions;
- a patient under `CHILD_AGE` is a child: a limp or hip, groin or thigh pain is `child_hip`
  (a slipped upper femoral epiphysis or Perthes disease can show as knee pain);
- after a knee injury at `OTTAWA_AGE` or over, the Ottawa knee rules call for an X-ray, and the
  summary says to see a doctor within 24 hours, while the injury is acute: up to
  `OTTAWA_ACUTE_WEEKS` old, or of unknown age (the rules were made for injuries within a week; a
  knock three weeks ago that the person walked off is no longer one of them: blind persona set 8);
- the intent classifier's guess outweighs a rule's reading of the words only from
  `CLASSIFIER_SURE`: a plain name at the name question ("jenny park" read as parking at 0.33:
  persona set 7), a trigger's symptom intent for a message that names no trigger ("playing up
  since tennis on Saturday" read as pain after sitting at 0.53: persona set 9).

The level names themselves are the contract's (`bot/contract.py`).
"""

from __future__ import annotations

from bot.contract import level_rank

URGENT_FROM = "consultation_24"
NO_BOOKING_FROM = "emergency"
BOOKABLE_UP_TO = "consultation"
CHILD_AGE = 16
OTTAWA_AGE = 55
OTTAWA_ACUTE_WEEKS = 1.0
CLASSIFIER_SURE = 0.8


def ottawa_x_ray(age: float | None, injury_weeks: float | None) -> bool:
    """An injury at OTTAWA_AGE or over that is still acute (or of unknown age): an X-ray today."""
    return age is not None and age >= OTTAWA_AGE and (injury_weeks is None or injury_weeks <= OTTAWA_ACUTE_WEEKS)


def is_urgent(level: str | None) -> bool:
    """Staff are alerted and review it first; the patient is told to see a doctor within 24 hours or sooner."""
    return level_rank(level) >= level_rank(URGENT_FROM)


def blocks_booking(level: str | None) -> bool:
    """Urgent care comes first: no visit is booked at this level."""
    return level_rank(level) >= level_rank(NO_BOOKING_FROM)


def bookable(level: str | None) -> bool:
    """A running assessment is offered at the end of the questions."""
    return level_rank(level) <= level_rank(BOOKABLE_UP_TO)


def is_child(age: float | None) -> bool:
    return age is not None and age < CHILD_AGE
