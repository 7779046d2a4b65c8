"""The entity rules' facts as features for the intent classifiers (components/triage_facts_featurizer.py).

Built as Rasa's own tests build components (tests/conftest.py: make_component), with Rasa's
whitespace tokenizer in front of it.
"""
from __future__ import annotations

import numpy as np
import pytest
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.triage_facts_featurizer import TriageFactsFeaturizer


@pytest.fixture()
def featurize(make_component):
    tokenizer = make_component(WhitespaceTokenizer)
    featurizer = make_component(TriageFactsFeaturizer)

    def run(text: str, training: bool = False):
        message = Message(data={TEXT: text})
        if training:
            data = TrainingData([message])
            tokenizer.process_training_data(data)
            featurizer.process_training_data(data)
        else:
            tokenizer.process([message])
            featurizer.process([message])
        sequence, sentence = message.get_sparse_features(TEXT)
        return featurizer, message, sequence, sentence

    return run


def on(featurizer, matrix) -> set:
    names = list(featurizer._index)
    rows, columns = matrix.nonzero()
    return {names[c] for c in columns}


def test_the_place_someone_sits_is_a_sitting_feature_on_the_message_and_its_word(featurize):
    featurizer, message, sequence, sentence = featurize("my knee aches at my desk")
    assert on(featurizer, sentence.features) == {"pain_trigger=sitting"}
    tokens = [t.text for t in message.get("text_tokens")]
    rows, _ = sequence.features.nonzero()
    assert [tokens[r] for r in rows] == ["desk"]


@pytest.mark.parametrize("text, expected", [
    ("sqautting hurts my knee", {"pain_trigger=squatting"}),          # the rules' typo tolerance
    ("he is eleven", {"age"}),
    ("not long, maybe a week", {"duration_weeks"}),
    ("no, no injury", {"onset=gradual"}),
    ("stairs and running both hurt my left knee",
     {"pain_trigger=stairs", "pain_trigger=running", "side=left"}),
    ("i don't get pain on stairs", set()),                            # negated: no fact
    ("what are your opening hours", set()),
])
def test_each_fact_the_rules_find_is_one_feature(featurize, text, expected):
    featurizer, _, _, sentence = featurize(text)
    assert on(featurizer, sentence.features) == expected


def test_training_examples_get_the_same_features_as_messages(featurize):
    text = "my knee hurts after the movies and on stairs"
    _, _, sequence, sentence = featurize(text)
    _, _, train_sequence, train_sentence = featurize(text, training=True)
    assert np.array_equal(sentence.features.toarray(), train_sentence.features.toarray())
    assert np.array_equal(sequence.features.toarray(), train_sequence.features.toarray())
    assert sentence.features.sum() == 2


@pytest.mark.parametrize("text", ["", "   ", "\U0001F62D\U0001F62D"])
def test_a_message_with_no_words_gets_no_feature_and_does_not_fail(featurize, text):
    _, _, _, sentence = featurize(text)
    assert sentence is None or sentence.features.sum() == 0


def test_after_the_entity_extractor_the_rules_are_not_run_twice_on_a_message(make_component, featurize):
    from components.knee_entities import KneeEntityExtractor

    text = "my knee hurts after the movies and on stairs, left side"
    featurizer, _, _, alone = featurize(text)
    tokenizer = make_component(WhitespaceTokenizer)
    extractor = make_component(KneeEntityExtractor, {"entities": ["pain_trigger"]})
    calls = []
    rules = featurizer._rules
    original = rules.extract
    rules.extract = lambda t: calls.append(t) or original(t)
    try:
        message = Message(data={TEXT: text})
        tokenizer.process([message])
        extractor.process([message])
        featurizer.process([message])
        # The same text changed after the extractor read it (it never is in this pipeline): run again.
        other = Message(data={TEXT: "my knee hurts on stairs"})
        tokenizer.process([other])
        extractor.process([other])
        other.set(TEXT, "my knee hurts when i squat")
        featurizer.process([other])
    finally:
        del rules.extract
    assert calls == [text, "my knee hurts on stairs", "my knee hurts when i squat"]
    # All of what the rules found counts, not only the entities the extractor was asked to add.
    assert np.array_equal(message.get_sparse_features(TEXT)[1].features.toarray(), alone.features.toarray())
    assert on(featurizer, alone.features) == {"pain_trigger=sitting", "pain_trigger=stairs", "side=left"}
    assert on(featurizer, other.get_sparse_features(TEXT)[1].features) == {"pain_trigger=squatting"}
