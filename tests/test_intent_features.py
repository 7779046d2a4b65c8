"""What the intent classifiers read besides the words: the word lists of data/nlu/lexicon.yml
(RegexFeaturizer) and the facts the entity rules find (components/triage_facts_featurizer.py).

A word on a list but in no training example is understood by the list it is on: a patient who
writes about an illness the examples never name gets the off-topic reply, a question about
rescheduling reaches booking. An activity only the entity rules know ("plyo", "hunker down") gives
the symptom intent of its trigger. And a word a knee message uses for what brings the pain on is
on no off-topic list, so "walking up ramps" is not read as a clinic question.
"""
from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Dict, List, Set

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import dev  # noqa: E402

LEXICON = ROOT / "data" / "nlu" / "lexicon.yml"
# Lists of things the knee assistant does not handle itself (other services, the team's topics).
OFF_TOPIC_LISTS = ("body_elsewhere", "illness", "other_service", "everyday", "clinic_admin", "booking")


def lexicon() -> Dict[str, List[str]]:
    data = yaml.safe_load(LEXICON.read_text())
    return {
        block["lookup"]: [line.strip()[2:] for line in block["examples"].splitlines() if line.strip()]
        for block in data["nlu"]
    }


def training_words() -> Set[str]:
    words: Set[str] = set()
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for block in yaml.safe_load(path.read_text()).get("nlu", []):
            if "intent" in block:
                words.update(re.findall(r"[a-z0-9'-]+", block["examples"].lower()))
    return words


def test_the_pipeline_reads_the_lists_and_the_facts_as_features():
    config = yaml.safe_load((ROOT / "config.yml").read_text())
    names = [step["name"] for step in config["pipeline"]]
    # Features must exist before the classifiers that learn from them.
    for featurizer in ("RegexFeaturizer", "components.triage_facts_featurizer.TriageFactsFeaturizer"):
        assert featurizer in names
        assert names.index(featurizer) < names.index("DIETClassifier")
    featurizer = config["pipeline"][names.index("RegexFeaturizer")]
    assert featurizer.get("case_sensitive") is False  # "Medicare", "MRI" as patients type them


def test_no_list_repeats_a_word_and_none_is_empty():
    for name, entries in lexicon().items():
        assert entries, name
        assert len(entries) == len(set(entries)), name


def test_words_for_what_brings_knee_pain_on_are_on_no_off_topic_list():
    patterns = yaml.safe_load((ROOT / "bot" / "entity_patterns.yml").read_text())["entities"]
    knee_words = set()
    for entity in ("pain_trigger", "pain_location", "onset"):
        for phrases in patterns[entity].values():
            for phrase in phrases:
                words = re.split(r"[\s|]+", re.sub(r"[()=]", " ", phrase))
                knee_words.update(w.lower() for w in words if w.isalpha())
    assert {"stairs", "movies", "ramp", "netball"} <= knee_words  # the rules were read
    lists = lexicon()
    clashes = {name: sorted(knee_words & set(lists[name])) for name in OFF_TOPIC_LISTS}
    assert not any(clashes.values()), clashes


# Each message's telling word is on a list or in the entity rules, and in no training example
# (checked below), so only the lists and the rules can tell the classifiers what it is about.
UNSEEN_WORD_MESSAGES = [
    # (message, the word only the lists know, intents that are right)
    ("is my thyroid playing up", "thyroid", {"out_of_scope"}),
    ("i hurt my collarbone falling off my bike", "collarbone", {"out_of_scope"}),
    ("my forearm is numb after typing", "forearm", {"out_of_scope"}),
    ("can i reschedule my appt", "reschedule", {"book_appointment", "ask_clinic_info", "request_human"}),
    ("does glucosamine help my knee", "glucosamine", {"ask_treatment_evidence"}),
    ("is arthroscopy an option for runners knee", "arthroscopy", {"ask_treatment_evidence"}),
    ("are hokas good for runners knee", "hokas", {"ask_orthotics"}),
]
UNSEEN_TRIGGER_MESSAGES = [
    # (message, the activity only the entity rules know, intents that are right)
    ("my knee is sore after the ultra", "ultra", {"pain_when_running"}),
    ("plyo work makes my knee throb", "plyo", {"pain_when_jumping"}),
    ("my kneecap aches when i hunker down", "hunker", {"pain_when_squatting"}),
]
# The model trained without the lists and the rules' facts got none of the ten right (three fell
# back or went to out_of_scope, seven to a wrong intent); with them, nine. A training run is not
# bit-for-bit repeatable, so the test asks for most, not all.
AT_LEAST_RIGHT = 7


def test_the_telling_words_are_in_no_training_example():
    words = training_words()
    lists = lexicon()
    patterns = (ROOT / "bot" / "entity_patterns.yml").read_text()
    for message, word, _ in UNSEEN_WORD_MESSAGES + UNSEEN_TRIGGER_MESSAGES:
        assert word not in words, f"{word!r} is in the training data now: pick another word for this test"
    for message, word, _ in UNSEEN_WORD_MESSAGES:
        assert any(word in entries for entries in lists.values()), word
    for message, word, _ in UNSEEN_TRIGGER_MESSAGES:
        assert re.search(rf"\b{word}\b", patterns), word


def test_words_only_the_lists_and_the_rules_know_are_understood():
    from rasa.core.agent import Agent

    agent = Agent.load(str(dev.train()))
    wrong = []
    for message, _, intents in UNSEEN_WORD_MESSAGES + UNSEEN_TRIGGER_MESSAGES:
        intent = asyncio.run(agent.parse_message(message))["intent"]
        if intent["name"] not in intents:
            wrong.append(f"{message!r}: {intent['name']} {intent['confidence']:.2f}")
    total = len(UNSEEN_WORD_MESSAGES) + len(UNSEEN_TRIGGER_MESSAGES)
    assert total - len(wrong) >= AT_LEAST_RIGHT, "\n".join(wrong)
