"""The learned red-flag net (bot/redflags/learned.py) and how it is joined with the rules
(bot/redflags/nets.py, thresholds in bot/redflags/learned.yml)."""
from __future__ import annotations

import pytest

from bot.contract import RED_FLAG_CODES
from bot.redflags import analyse, learned, nets
from bot.redflags.findings import MODEL_ONLY, NOT_BACKED, Finding, asserted_codes, codes_to_clarify

LIMITS = learned.Thresholds(
    escalate={c: 0.8 for c in RED_FLAG_CODES}, clarify={c: 0.45 for c in RED_FLAG_CODES},
    support={c: 0.1 for c in RED_FLAG_CODES}, rules_alone=("self_harm",), ask_despite_not_now=("self_harm",),
)


def rule(code, asserted=True, modifiers=()):
    return Finding(code=code, level="consultation_24", matched="w", start=0, end=1, modifiers=tuple(modifiers),
                   asserted=asserted, rule="test")


def scores(**given):
    return {c: given.get(c, 0.0) for c in RED_FLAG_CODES}


@pytest.mark.parametrize("rules,model,sure,doubt", [
    ([rule("dvt")], scores(dvt=0.5), ["dvt"], []),  # both nets: escalate
    ([rule("dvt")], scores(dvt=0.02), [], ["dvt"]),  # the net does not back the rule: ask
    ([], scores(locked_knee=0.9), ["locked_knee"], []),  # the net sure on its own: escalate
    ([], scores(locked_knee=0.6), [], ["locked_knee"]),  # the net unsure on its own: ask
    ([], scores(locked_knee=0.3), [], []),  # too little: nothing
    # the rules read "not now" ("no fever", the dog's knee, "Gary (58) is limping"): never escalated;
    # asked when the net is sure, so the disagreement is never silent
    ([rule("infection", False, ["negated"])], scores(infection=0.95), [], ["infection"]),
    ([rule("infection", False, ["animal"])], scores(infection=0.6), [], []),
    ([rule("child_hip", False, ["adult"])], scores(child_hip=0.99), [], ["child_hip"]),
    ([rule("self_harm")], scores(self_harm=0.0), ["self_harm"], []),  # rules alone for self-harm
    ([rule("self_harm", False, ["family"])], scores(self_harm=0.5), [], ["self_harm"]),  # never silence
])
def test_the_nets_are_joined_for_recall_and_a_disagreement_is_a_question(rules, model, sure, doubt):
    assert nets.decide(rules, model, LIMITS) == (sure, doubt)


def test_with_the_release_thresholds_a_chest_word_the_net_doubts_is_asked_and_self_harm_always_escalates():
    limits = nets.thresholds()  # bot/redflags/learned.yml
    # "nearly had a heart attack at the price": the rules see the words, the net does not back them
    assert nets.decide([rule("cardiorespiratory")], scores(cardiorespiratory=0.05), limits) == (
        [], ["cardiorespiratory"])
    assert nets.decide([rule("cardiorespiratory")], scores(cardiorespiratory=0.9), limits) == (
        ["cardiorespiratory"], [])
    assert nets.decide([rule("self_harm")], scores(self_harm=0.0), limits) == (["self_harm"], [])
    # the net's doubt about chest pain is asked even when the rules read "no chest pain"
    assert nets.decide([rule("cardiorespiratory", False, ["negated"])], scores(cardiorespiratory=0.5),
                       limits) == ([], ["cardiorespiratory"])


def test_join_keeps_both_verdicts_for_staff():
    joined = nets.join([rule("dvt")], scores(dvt=0.02, cancer_signs=0.9), LIMITS, {"cancer_signs": "wakes me at night"})
    dvt = next(f for f in joined if f.code == "dvt")
    assert dvt.asserted is False and NOT_BACKED in dvt.modifiers and dvt.rule == "test"
    cancer = next(f for f in joined if f.code == "cancer_signs")
    assert cancer.asserted and cancer.rule == "model.cancer_signs:0.90" and cancer.matched == "wakes me at night"
    assert asserted_codes(joined) == ["cancer_signs"] and codes_to_clarify(joined) == ["dvt"]
    joined = nets.join([], scores(child_hip=0.5), LIMITS)
    assert joined[0].modifiers == (MODEL_ONLY,) and codes_to_clarify(joined) == ["child_hip"]


def test_the_thresholds_file_is_checked(tmp_path):
    path = tmp_path / "learned.yml"
    path.write_text("default: {escalate: 0.3, clarify: 0.5, support: 0.1}\n")
    with pytest.raises(ValueError, match="clarify <= escalate"):
        learned.load_thresholds(path)
    path.write_text("default: {escalate: 0.8, clarify: 0.5, support: 0.1}\ncodes: {heart: {escalate: 0.9}}\n")
    with pytest.raises(ValueError, match="unknown codes"):
        learned.load_thresholds(path)
    path.write_text("default: {escalate: 0.8, clarify: 0.5, support: 0.1}\nself_harm_beside_another_flag: 7\n")
    with pytest.raises(ValueError, match="self_harm_beside_another_flag"):
        learned.load_thresholds(path)
    limits = learned.load_thresholds()  # the real file
    assert set(limits.escalate) == set(RED_FLAG_CODES) and set(limits.rules_alone) <= set(RED_FLAG_CODES)
    assert 0.9 <= limits.self_harm_beside_another_flag <= 1


@pytest.fixture(scope="module")
def small_model():
    corpus = [
        learned.Example("my calf is swollen and hot since the flight", ("dvt",)),
        learned.Example("calf went puffy and red after surgery", ("dvt",)),
        learned.Example("big fat calf after the plane, it aches", ("dvt",)),
        learned.Example("no calf pain at all, just the knee", ()),
        learned.Example("my knee aches on the stairs", ()),
        learned.Example("sore after sitting at my desk", ()),
        learned.Example("i want to end it all", ("self_harm",)),
        learned.Example("thinking about not being here anymore", ("self_harm",)),
        learned.Example("this hill is killing me lol", ()),
    ]
    return learned.train(corpus)


def test_a_trained_net_saves_as_plain_arrays_and_loads_the_same(tmp_path, small_model):
    path = tmp_path / "net.npz"
    small_model.save(path)
    import numpy as np

    with np.load(path, allow_pickle=False) as data:  # no pickled objects: loading runs no code
        assert set(data.files) >= {"coef", "idf", "word_terms"}
    loaded = learned.LearnedModel.load(path)
    for text in ["my calf is swollen after flying", "knee hurts on stairs", ""]:
        assert loaded.scores(text) == small_model.scores(text)


def test_a_flag_buried_in_a_long_story_is_scored_sentence_by_sentence(small_model):
    story = "My knee aches on the stairs and after sitting at my desk, and the hill is hard. " * 20
    alone = small_model.scores("my calf is swollen and hot since the flight")["dvt"]
    buried = small_model.scores(story + "My calf is swollen and hot since the flight.")["dvt"]
    assert buried == pytest.approx(alone, abs=0.02)  # the story does not dilute it
    assert small_model.scores(story)["dvt"] < alone


def test_the_corpus_reader_names_a_bad_item(tmp_path):
    (tmp_path / "w.yml").write_text("red_flag_corpus:\n  - {text: 'ok', codes: [heart]}\n")
    with pytest.raises(ValueError, match="item 1: unknown codes"):
        learned.read_corpus(tmp_path)


# ---- the rules' side: signs remembered across messages, whose symptom it is -------------------


def test_signs_from_earlier_messages_combine_with_a_new_one():
    first = analyse("my knee feels hot to touch")
    assert {"hot", "knee_site"} <= set(first.signs) and not asserted_codes(first.findings)
    later = analyse("and I've had a fever since last night", prior_signs=first.signs)
    assert asserted_codes(later.findings) == ["infection"]
    # earlier signs alone never fire again: that combination was judged when they came
    again = analyse("ok thanks", prior_signs=["hot", "swollen", "knee_site"])
    assert asserted_codes(again.findings) == []


def test_a_fall_earlier_and_cannot_bear_weight_later_is_a_fracture():
    later = analyse("still can't put any weight on it", prior_signs=analyse("I slipped down the stairs").signs)
    assert "fracture_or_dislocation" in asserted_codes(later.findings)


@pytest.mark.parametrize("text", [
    "my dog's knee is hot and swollen",
    "our kelpie can't put weight on his back leg after he fell",
])
def test_an_animals_symptoms_are_not_the_patients(text):
    result = analyse(text)
    assert asserted_codes(result.findings) == []
    assert any("animal" in f.modifiers for f in result.findings)


def test_another_adults_symptom_is_theirs_when_the_writer_turns_to_their_own_knee():
    result = analyse("my friend's knee is red and hot and she's got a fever. me, just stiffness on stairs")
    assert asserted_codes(result.findings) == []
    assert any("other_person" in f.modifiers for f in result.findings)
    # a child is always the person asked for; so is an adult the writer does not turn away from
    assert asserted_codes(analyse("my son's knee is red and hot and he has a fever, mine is just sore").findings)
    assert asserted_codes(analyse("my wife can't put weight on her leg after she fell").findings)


@pytest.mark.parametrize("text,evidence", [
    # an adult's age, and no child named
    ("my client Gary (58) has been limping all week and now his knee is hot and swollen", "adult"),
    ("support worker here, my participant (19, autism) has been limping since footy", "adult"),
    # a child said to walk normally, with no limp or hip, groin or thigh pain
    ("my son is 12 and he's walking totally normal, no limp, he just says the front of his knee hurts", "negated"),
    ("our 8 year old says his knee aches after PE, he's walking and running normally", "negated"),
])
def test_the_rules_evidence_against_the_under_16_code_outweighs_the_net(text, evidence):
    result = analyse(text)
    assert "child_hip" not in asserted_codes(result.findings)
    assert any(f.code == "child_hip" and evidence in f.modifiers for f in result.findings)
    assert "child_hip" not in nets.decide(result.findings, scores(child_hip=0.99), LIMITS)[0]




@pytest.mark.parametrize("text", [
    "my nan has a hot swollen knee and a temp, but I'm asking about mine, it hurts on stairs",
    "my coach had bone cancer in his knee as a kid. mine is just sore after squats",
])
def test_every_relative_and_acquaintance_is_another_person(text):
    assert asserted_codes(analyse(text).findings) == []


def test_the_spent_blind_batches_stay_caught():
    """Each batch was scored once at first sight (README); once spent, the learned net trains on
    it (data/red_flag_blind/README.md), so this is no measurement: it guards against a change that
    loses what the release catches. Both nets joined, as the bot runs them."""
    model = learned.default_model()
    items = []
    for path in sorted(learned.SPENT_BATCHES_DIR.glob("batch*.yml")):
        items += learned.batch_items(path)
    need = found = quiet = flagged = 0
    for item in items:
        codes = asserted_codes(nets.assess(item["text"], model).findings)
        if item["codes"]:
            need += len(item["codes"])
            found += sum(code in codes for code in item["codes"])
        else:
            quiet += 1
            flagged += bool(codes)
    assert need >= 480 and quiet >= 240
    assert found / need >= 0.95  # 468/480 at first sight (119 + 117 + 114 + 118)
    assert flagged / quiet <= 0.15  # 25/240 at first sight (8 + 3 + 5 + 9)


@pytest.mark.parametrize("text,code", [
    ("For my husband: he had prostate cancer treated in 2019, now his knee aches at night", "cancer_signs"),
    ("Hi, I'm writing for my mum. She can't put any weight on her leg since she fell", "fracture_or_dislocation"),
])
def test_a_message_written_for_someone_is_about_the_person_asked_for_not_family_history(text, code):
    assert code in asserted_codes(analyse(text).findings)
    assert asserted_codes(analyse("my dad had prostate cancer years ago, my knee aches").findings) == []


def test_the_word_by_word_character_counts_are_scikit_learns():
    """learned.WordCharGrams (fast, cached) counts what scikit-learn's char_wb analyser counts."""
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [e.text.lower() for e in learned.read_corpus()][::5]
    texts += ["", " ", "a", "ab", "hot\n\nswollen  knee 🤒", "x\ty", "calf calf calf"]
    fitted = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5)).fit(texts[::3])
    terms = sorted(fitted.vocabulary_, key=fitted.vocabulary_.get)
    ours = learned.WordCharGrams(terms)
    theirs = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5), vocabulary=terms)
    for _ in range(2):  # the second time from the cache
        assert (ours.transform(texts) != theirs.transform(texts)).nnz == 0


def test_hard_negatives_can_weigh_more_in_training():
    corpus = [
        learned.Example("my calf is swollen and hot since the flight", ("dvt",)),
        learned.Example("calf went puffy and red after surgery", ("dvt",)),
        learned.Example("my dad's calf is swollen and hot after his flight", (), kind="family"),
        learned.Example("my knee aches on the stairs", ()),
    ]
    text = "my mum's calf is swollen and hot"
    plain = learned.train(corpus).scores(text)["dvt"]
    weighted = learned.train(corpus, hard_negative_weight=5.0).scores(text)["dvt"]
    assert weighted < plain


@pytest.mark.parametrize("text", [
    "I'm 45 and my son (12) has been limping and says his thigh hurts",  # an adult beside the child
    "my son is 12, he was walking normally yesterday but today he's limping and his knee hurts",
    "my 10 year old has no limp but says the top of his thigh aches",
])
def test_a_limp_or_hip_pain_said_of_the_child_keeps_the_under_16_code(text):
    assert "child_hip" in asserted_codes(analyse(text).findings)
