"""A message about the knee is never declined: the rule (bot/knee_topic.py) and its Rasa
component (components/knee_topic.py), which runs after the FallbackClassifier."""

import pytest
import yaml
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.knee_topic import knee_topic_intent, mentions_knee
from components.knee_entities import KneeEntityExtractor
from components.knee_topic import KNEE_TOPIC_KEY, KneeTopicRescue
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text", [
    "my knee has been weird lately",
    "KNEES ARE BAD",
    "left kneee playing up again",
    "the knee cap thing is back",
    "sore patella after netball",
    "physio said it might be runners knee",
    "is it pfps do u reckon",
    "my son's knee",
])
def test_a_knee_is_recognised_however_it_is_spelt(text):
    assert mentions_knee(text)


@pytest.mark.parametrize("text", [
    "my knee is fine, it's my shoulder",
    "knees are ok, the problem is my lower back",
    "not my knee, my ankle",
    "my dog hurt his knee at the park",
    "where can I buy knee high socks",
    "I kneed the door by accident",
    "what are your opening hours",
    "",
])
def test_a_knee_that_is_fine_or_not_a_persons_or_no_knee_is_not(text):
    assert not mentions_knee(text)


@pytest.mark.parametrize("text, triggers, locations, expected", [
    ("knee gets me on the steps at work", ["stairs"], [], "pain_on_stairs"),
    ("knee gets me after the movies", ["sitting"], [], "pain_after_sitting"),
    ("knee is cranky on runs and on stairs", ["running", "stairs"], [], "knee_pain_general"),
    ("the knee again", [], [], "knee_pain_general"),
    ("ache right behind the cap", [], ["behind the cap"], "knee_pain_general"),
    ("aches all over", [], ["all over"], None),
    ("sore at the front when I bend", [], ["at the front"], None),
    ("knee pain when cycling", ["cycling"], [], "knee_pain_general"),
    ("my shoulder hurts on stairs", ["stairs"], [], None),
])
def test_the_rescued_intent_follows_the_activity_named(text, triggers, locations, expected):
    # locations: the words the entity rules read as a place on the knee
    assert knee_topic_intent(text, triggers, locations) == expected


@pytest.mark.parametrize("ranked, expected", [
    (["nlu_fallback", "ask_treatment_evidence", "out_of_scope"], "ask_treatment_evidence"),
    (["nlu_fallback", "inform", "knee_pain_general"], "inform"),
    (["out_of_scope", "greet"], "pain_when_running"),  # the best guess is not a knee intent
    (["nlu_fallback", "book_appointment"], "pain_when_running"),
])
def test_the_classifiers_best_guess_wins_when_it_is_a_knee_intent(ranked, expected):
    assert knee_topic_intent("whats good for a knee that hurts on runs", ["running"], (), ranked) == expected



def classified(text, intent, confidence=0.3):
    ranking = [{"name": intent, "confidence": confidence}, {"name": "greet", "confidence": 0.1}]
    return Message({TEXT: text, INTENT: {"name": intent, "confidence": confidence}, INTENT_RANKING_KEY: ranking})


@pytest.mark.parametrize("declined", ["nlu_fallback", "out_of_scope"])
def test_a_declined_knee_message_becomes_a_knee_intent_and_says_why(make_component, declined):
    message = classified("honestly the knee is doing my head in going down the stairs", declined)
    make_component(KneeEntityExtractor).process([message])
    make_component(KneeTopicRescue).process([message])
    assert message.get(INTENT) == {"name": "pain_on_stairs", "confidence": 0.6}
    assert message.get(INTENT_RANKING_KEY)[0]["name"] == "pain_on_stairs"
    assert message.get(KNEE_TOPIC_KEY) == {"classified_as": declined, "rescued_as": "pain_on_stairs"}
    assert "knee_topic" in message.as_dict(only_output_properties=True)


@pytest.mark.parametrize("text, intent", [
    ("what are your opening hours", "out_of_scope"),
    ("my whole body aches all over", "out_of_scope"),
    ("my knee is fine, my wrist is sore", "out_of_scope"),
    ("my knee hurts", "greet"),  # only declined messages are touched
    ("/affirm", "nlu_fallback"),  # a button payload
])
def test_other_messages_are_left_alone(make_component, text, intent):
    message = classified(text, intent)
    make_component(KneeEntityExtractor).process([message])
    make_component(KneeTopicRescue).process([message])
    assert message.get(INTENT)["name"] == intent and message.get(KNEE_TOPIC_KEY) is None


def test_a_bad_confidence_is_named(make_component):
    with pytest.raises(ValueError, match="confidence"):
        make_component(KneeTopicRescue, {"confidence": 2})


def test_the_bot_runs_the_rescue_after_the_fallback_classifier():
    names = [c["name"] for c in yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]]
    assert names.index("components.knee_topic.KneeTopicRescue") > names.index("FallbackClassifier")


@pytest.mark.parametrize("text, intent, confidence, expected", [
    # the first reply speaks of the trigger, so it must be one the person named (blind persona
    # set 9: "since tennis on Saturday" got "Pain after sitting for a long time...")
    ("my knee has been grumbling ever since the golf weekend", "pain_after_sitting", 0.55, "knee_pain_general"),
    ("my knee is sore going down the stairs at work", "pain_after_sitting", 0.85, "pain_on_stairs"),
    ("my knee gets sore on long flights", "pain_after_sitting", 0.9, "pain_after_sitting"),  # sure: kept
    ("my knee aches after sitting through a film", "pain_after_sitting", 0.4, "pain_after_sitting"),  # named
])
def test_a_trigger_intent_needs_its_trigger_named(make_component, text, intent, confidence, expected):
    message = classified(text, intent, confidence)
    make_component(KneeEntityExtractor).process([message])
    make_component(KneeTopicRescue).process([message])
    assert message.get(INTENT)["name"] == expected
    changed = message.get(KNEE_TOPIC_KEY)
    assert changed == (None if expected == intent else {"classified_as": intent, "named_as": expected})
