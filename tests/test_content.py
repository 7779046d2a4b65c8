"""What a clinician would check in the bot's answers (the utter_answer_* responses in domain.yml).

Facts come from the clinic's article and, where it overstates, the patellofemoral pain consensus
(Crossley et al. 2016; Collins et al. 2018, BJSM).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
# The repo has no pytest `pythonpath` setting yet: make `bot` importable from any working folder.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bot.contract import ALL_INTENTS, MINIMUM_INTENTS, QUESTION_INTENTS  # noqa: E402

DOMAIN_FILE = REPO_ROOT / "domain.yml"


def answer_name(intent: str) -> str:
    return "utter_answer_" + intent[len("ask_"):]


@pytest.fixture(scope="module")
def answers() -> dict:
    # Rasa's own loader, so what is checked is what the bot sends.
    from rasa.shared.core.domain import Domain

    responses = Domain.load(str(DOMAIN_FILE)).responses
    return {name: v for name, v in responses.items() if name.startswith("utter_answer_")}


def words(text: str) -> str:
    """Lower case, one space between words, straight apostrophes: for phrase matching."""
    return " ".join(text.replace("\u2019", "'").lower().split())


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def all_answer_texts(answers: dict) -> list[tuple[str, str]]:
    return [(name, v["text"]) for name, variations in answers.items() for v in variations]


@pytest.mark.parametrize("intent", QUESTION_INTENTS)
def test_every_question_intent_has_an_answer(answers, intent):
    name = answer_name(intent)
    assert name in answers, f"{intent} has no {name} in {DOMAIN_FILE.name}"
    assert all(v.get("text", "").strip() for v in answers[name]), f"{name} has an empty variation"


def test_every_answer_ends_with_a_next_step(answers):
    missing = []
    for name, variations in answers.items():
        for variation in variations:
            closing = sentences(variation["text"])[-1]
            if not closing.endswith("?"):
                missing.append(f"{name}: ends with {closing!r}, not a question or offer")
            if not variation.get("buttons"):
                missing.append(f"{name}: no buttons to take the next step")
    assert missing == []


def test_every_button_leads_to_an_intent_of_the_contract(answers):
    # A typo in a payload gives the user a button that does nothing they expect.
    wrong = [
        f"{name}: {button['title']!r} -> {button['payload']!r}"
        for name, variations in answers.items()
        for variation in variations
        for button in variation.get("buttons", [])
        if not button["payload"].startswith("/")
        or button["payload"][1:] not in MINIMUM_INTENTS
    ]
    assert wrong == []


def test_the_contract_module_lists_every_intent_of_the_domain():
    # Staff correct misread messages from this list (review tool): an intent missing here cannot
    # be chosen, one that is not in the domain would be exported for training and break it.
    import yaml

    declared = yaml.safe_load(DOMAIN_FILE.read_text())["intents"]
    names = [i if isinstance(i, str) else next(iter(i)) for i in declared]
    assert sorted(names) == sorted(ALL_INTENTS)


def test_every_answer_offers_a_way_to_a_person_or_a_knee_check(answers):
    ways_on = {"/book_appointment", "/knee_pain_general"}
    stuck = [
        name
        for name, variations in answers.items()
        for variation in variations
        if not ways_on & {b["payload"] for b in variation.get("buttons", [])}
    ]
    assert stuck == []


def test_answers_are_chat_sized(answers):
    too_long = [
        f"{name}: {len(sentences(text))} sentences, {len(text.split())} words"
        for name, text in all_answer_texts(answers)
        if not 2 <= len(sentences(text)) <= 5 or len(text.split()) > 90
    ]
    assert too_long == []


# Phrases each answer must carry: the facts a clinician would look for first.
KEY_FACTS = {
    "utter_answer_what_is_pfps": [
        r"behind the kneecap", r"stairs", r"sit for a long time", r"fits a common pattern",
        r"a physio can check this for you",
    ],
    "utter_answer_why_hip": [
        r"hip can play a part", r"side and back of the hip", r"thigh bone drop",
        r"turn in", r"one leg", r"drives the knee in", r"kneecap to the outside",
    ],
    "utter_answer_rest": [
        r"rest alone is the most common mistake", r"comes back when you go back",
        r"build up load step by step", r"strength work for the hip and knee",
    ],
    "utter_answer_cadence": [r"5 to 10%", r"160 to 168 steps a minute", r"speed and distance"],
    "utter_answer_orthotics": [
        r"orthoses", r"feet roll in", r"short term", r"add-on to exercise, not on their own",
        r"seat set too low", r"cleats", r"bike fit",
    ],
    "utter_answer_vmo": [
        r"vmo", r"did not back this up", r"hip and knee exercises together",
        r"better than knee exercises alone",
    ],
    # Collins 2018 / Lankhorst 2016: many still have pain years later; no 8-to-12-week promise
    "utter_answer_recovery_time": [r"most people get better", r"full program", r"a year or more later"],
    "utter_answer_treatment_evidence": [
        r"exercise is the main treatment", r"hip and knee exercises done together",
        r"better than knee exercises alone", r"rest alone", r"no exercise", r"just the vmo",
        r"adding shoe inserts, tape or hands-on care to exercise",
    ],
    "utter_answer_taping_bracing": [
        r"tape or a knee brace", r"on its own", r"research is unsure", r"along with exercise",
        r"exercise is still the main treatment",
    ],
    "utter_answer_imaging": [
        r"usually not needed", r"after an injury", r"warning signs", r"hot, swollen",
        r"locked", r"pain at night", r"not getting better",
    ],
}


@pytest.mark.parametrize("name", sorted(KEY_FACTS))
def test_answer_carries_its_key_facts(answers, name):
    text = words(" ".join(v["text"] for v in answers[name]))
    absent = [phrase for phrase in KEY_FACTS[name] if not re.search(phrase, text)]
    assert absent == [], f"{name} lacks {absent}"


# The bot never diagnoses, and never repeats the article's overstatements.
FORBIDDEN = {
    r"\byou have\b": "diagnosing: 'you have ...'",
    r"\byou've got\b": "diagnosing: 'you've got ...'",
    r"\byou are suffering\b": "diagnosing",
    r"\bdiagnos": "the bot does not diagnose",
    r"\bdefinitely\b": "no certainty the bot cannot have",
    r"almost never (is |the )?(the )?knee": "overstatement: the hip can play a part",
    r"\balways the hip\b": "overstatement: the hip can play a part",
    r"hip problem": "overstatement: the hip can play a part",
    r"\bcure[sd]?\b": "no promise of a cure",
    r"8 to 12 weeks|pain-free running in": "overstatement: many still have pain a year or more later",
    r"often plays a big part": "overstatement: hip weakness has not been shown to come first",
}


def test_no_answer_diagnoses_or_overstates(answers):
    found = [
        f"{name}: {pattern!r} ({why})"
        for name, text in all_answer_texts(answers)
        for pattern, why in FORBIDDEN.items()
        if re.search(pattern, words(text))
    ]
    assert found == []


US_SPELLINGS = r"\b(favor|favorite|center|color|behavior|recognize|realize|organize|pediatric|orthopedic|kilometer|meters?|mom)\b"


def test_answers_use_australian_spelling(answers):
    found = [
        f"{name}: {match.group(0)!r}"
        for name, text in all_answer_texts(answers)
        for match in re.finditer(US_SPELLINGS, words(text))
    ]
    assert found == []


CALL_FOR_LEVEL = {"emergency_ambulance": "000", "emergency": "000", "consultation_24": "1800022222"}


def test_each_escalation_offers_the_number_its_level_needs_first():
    """The widget's first call button: 000 for an emergency, Lifeline for self-harm, and for a
    doctor within 24 hours healthdirect's nurses, not an ambulance for night pain."""
    from rasa.shared.core.domain import Domain

    from bot.contract import RED_FLAG_MIN_LEVEL

    responses = Domain.load(str(DOMAIN_FILE)).responses
    wanted = {f"utter_red_flag_{code}": CALL_FOR_LEVEL[level] for code, level in RED_FLAG_MIN_LEVEL.items()}
    wanted["utter_red_flag_self_harm"] = "131114"
    wanted["utter_red_flag_neurovascular_emergency"] = "000"
    for name, call in wanted.items():
        for variation in responses[name]:
            assert variation["custom"]["call"] == call, name
            assert variation["custom"]["alert"] == {"000": "emergency", "131114": "crisis"}.get(call, "urgent"), name


def _first_steps_after_yes(rules_dir: Path) -> dict:
    """For every rule "<action>, then affirm, then ...": the action -> the steps after the yes."""
    after_yes = {}
    for path in rules_dir.glob("*.yml"):
        for rule in yaml.safe_load(path.read_text()).get("rules", []):
            steps = rule.get("steps", [])
            if len(steps) > 2 and "action" in steps[0] and steps[1].get("intent") == "affirm":
                after_yes[steps[0]["action"]] = steps[2:]
    return after_yes


def test_yes_typed_to_an_answers_offer_does_what_its_first_button_does(answers):
    """Every answer ends with a yes/no offer ("Would you like to book a running assessment?");
    on SMS there is no button to tap, so a typed "yes" must take the first button's path."""
    after_yes = _first_steps_after_yes(REPO_ROOT / "data" / "rules")
    first_step_of = {
        "/book_appointment": {"action": "action_offer_booking"},
        "/knee_pain_general": {"action": "utter_start_triage"},
    }
    for name, variations in answers.items():
        for variation in variations:
            assert variation["text"].rstrip().endswith("?"), name
            payload = variation["buttons"][0]["payload"]
            wanted = first_step_of.get(payload) or {"action": answer_name(payload.lstrip("/"))}
            assert name in after_yes, f"no rule for 'yes' after {name}"
            assert after_yes[name][0] == wanted, name
