"""Two intent classifiers, their confidences averaged (components/intent_ensemble.py)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.intent_ensemble import (
    SET_ASIDE_KEY, VOTES_KEY, CombineIntentRankings, SetAsideIntentRanking, combine,
)

ROOT = Path(__file__).resolve().parents[1]


def ranking(*pairs):
    return [{"name": name, "confidence": confidence} for name, confidence in pairs]


def classified(message, *pairs):
    """What a Rasa intent classifier leaves on a message."""
    message.set(INTENT, ranking(*pairs)[0], add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking(*pairs), add_to_output=True)


@pytest.fixture()
def pipeline(make_component):
    return make_component(SetAsideIntentRanking), make_component(CombineIntentRankings)


def run(pipeline, first, second):
    set_aside, combined = pipeline
    message = Message(data={TEXT: "book me a table at a restaurant"})
    classified(message, *first)       # DIET
    set_aside.process([message])
    classified(message, *second)      # the logistic regression overwrites intent and ranking
    combined.process([message])
    return message


def test_the_average_of_both_classifiers_decides_the_intent(pipeline):
    # DIET reads "book" and says booking; the regression is surer it is off topic.
    message = run(pipeline, [("book_appointment", 0.55), ("out_of_scope", 0.40)],
                  [("out_of_scope", 0.80), ("book_appointment", 0.10)])
    assert message.get(INTENT) == {"name": "out_of_scope", "confidence": pytest.approx(0.60)}
    assert [r["name"] for r in message.get(INTENT_RANKING_KEY)] == ["out_of_scope", "book_appointment"]
    assert message.get(INTENT_RANKING_KEY)[1]["confidence"] == pytest.approx(0.325)
    assert message.as_dict(only_output_properties=True)["intent"]["name"] == "out_of_scope"


def test_one_very_sure_classifier_outweighs_a_hesitant_one(pipeline):
    message = run(pipeline, [("pain_on_stairs", 0.96), ("knee_pain_general", 0.02)],
                  [("knee_pain_general", 0.40), ("pain_on_stairs", 0.36)])
    assert message.get(INTENT) == {"name": "pain_on_stairs", "confidence": pytest.approx(0.66)}


def test_an_intent_one_ranking_leaves_out_counts_as_zero_there(pipeline):
    message = run(pipeline, [("thank", 0.9)], [("goodbye", 0.6), ("thank", 0.3)])
    assert message.get(INTENT_RANKING_KEY) == [
        {"name": "thank", "confidence": pytest.approx(0.6)},
        {"name": "goodbye", "confidence": pytest.approx(0.3)}]


def test_staff_can_see_both_votes_and_the_set_aside_ranking_is_not_left_behind(pipeline):
    message = run(pipeline, [("affirm", 0.6)], [("deny", 0.7)])
    assert [v["name"] for v in message.get(VOTES_KEY)] == ["affirm", "deny"]
    assert SET_ASIDE_KEY not in message.data
    assert "intent_votes" in message.as_dict(only_output_properties=True)


def test_a_draw_goes_to_the_first_classifier():
    assert combine(ranking(("greet", 0.5)), ranking(("goodbye", 0.5)))[0]["name"] == "greet"


def test_the_ranking_is_cut_to_its_length(make_component):
    combined = make_component(CombineIntentRankings, {"ranking_length": 2})
    message = Message(data={TEXT: "hi"})
    message.set(SET_ASIDE_KEY, ranking(("greet", 0.5), ("thank", 0.3), ("goodbye", 0.2)))
    classified(message, ("greet", 0.9), ("affirm", 0.05))
    combined.process([message])
    assert [r["name"] for r in message.get(INTENT_RANKING_KEY)] == ["greet", "thank"]


def test_without_a_set_aside_ranking_the_message_is_left_as_it_is(make_component):
    combined = make_component(CombineIntentRankings)
    message = Message(data={TEXT: "hi"})
    classified(message, ("greet", 0.9))
    combined.process([message])
    assert message.get(INTENT) == {"name": "greet", "confidence": 0.9} and not message.get(VOTES_KEY)


def test_an_empty_message_keeps_diets_answer_instead_of_crashing(make_component):
    # Rasa's own LogisticRegressionClassifier raised on a message with no words: no reply at all.
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from components.intent_ensemble import VotingLogisticRegression

    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    featurizer = make_component(CountVectorsFeaturizer)
    examples = [Message(data={TEXT: text, INTENT: intent}) for text, intent in (
        ("hello there", "greet"), ("hi", "greet"), ("bye now", "goodbye"), ("see you", "goodbye"))]
    data = TrainingData(examples)
    tokenizer.process_training_data(data)
    featurizer.train(data)
    featurizer.process_training_data(data)
    regression = make_component(VotingLogisticRegression)
    regression.train(data)

    # SpacyTokenizer finds no token in "" or "   ", so no featurizer adds anything to it.
    empty, hello = Message(data={TEXT: "   "}), Message(data={TEXT: "hello"})
    tokenizer.process([hello])
    featurizer.process([hello])
    for message in (empty, hello):
        classified(message, ("goodbye", 0.7))   # what DIET said
    regression.process([empty, hello])
    assert empty.get(INTENT) == {"name": "goodbye", "confidence": 0.7}
    assert hello.get(INTENT)["name"] == "greet"


def test_loading_the_regression_does_not_silence_the_servers_log():
    # skops.io (used to load the regression) imports numpy.distutils, which set the root logger
    # to WARNING: a running server then wrote no INFO line at all, "up and running" included.
    script = textwrap.dedent("""
        import logging, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
        import components.intent_ensemble
        import skops.io  # what Rasa's LogisticRegressionClassifier.load does next
        logging.getLogger("rasa.core.run").info("Rasa server is up and running.")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Rasa server is up and running." in result.stdout


def test_a_regression_that_could_not_be_loaded_leaves_diet_to_answer(
        default_model_storage, default_execution_context, caplog):
    # Rasa's load hands back an untrained classifier when the saved file is missing or holds
    # types skops does not trust; predicting with it raised on every message.
    from rasa.engine.storage.resource import Resource

    from components.intent_ensemble import VotingLogisticRegression

    with caplog.at_level("WARNING", logger="components.intent_ensemble"):
        regression = VotingLogisticRegression.load(
            VotingLogisticRegression.get_default_config(), default_model_storage,
            Resource("not_in_the_model"), default_execution_context)
    assert "DIET alone classifies intents" in caplog.text
    message = Message(data={TEXT: "my knee hurts on stairs"})
    classified(message, ("pain_on_stairs", 0.8), ("knee_pain_general", 0.1))
    regression.process([message])
    assert message.get(INTENT) == {"name": "pain_on_stairs", "confidence": 0.8}
