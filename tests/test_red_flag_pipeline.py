"""The rules' pipeline matches every pattern against one text a document (bot/redflags/pipeline.py),
and finds exactly what medspaCy's stock regex matcher finds."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from bot.redflags import learned, pipeline
from bot.redflags.rules import load_rules
from bot.redflags.text import normalise

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pipelines():
    rules = load_rules()
    return pipeline.build(rules), pipeline.build(rules, one_text=False)


def _found(nlp, text: str):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*\[W036\].*")
        doc = nlp(normalise(text)[0])
    spans = [(s.start, s.end, s.label_) for s in doc.spans.get(pipeline.SPAN_GROUP, [])]
    graph = doc._.context_graph
    edges = sorted((t.start, t.end, m.category, m.modifier_span) for t, m in graph.edges) if graph else []
    return spans, edges


def test_both_medspacy_components_use_the_one_text_matcher(pipelines):
    fast, stock = pipelines
    for name, owner in (("medspacy_target_matcher", "TargetMatcher"), ("medspacy_context", "ConText")):
        assert type(pipeline._regex_matcher_of(fast.get_pipe(name), owner)).__name__ == "OneTextRegexMatcher"
        assert type(pipeline._regex_matcher_of(stock.get_pipe(name), owner)).__name__ == "RegexMatcher"


def test_the_one_text_matcher_finds_what_the_stock_matcher_finds(pipelines):
    fast, stock = pipelines
    texts = [e.text for e in learned.read_corpus()][::7]
    for path in sorted((ROOT / "tests" / "vignettes").glob("*.yml")):
        texts += [i["text"] for i in yaml.safe_load(path.read_text()) or [] if isinstance(i, dict) and i.get("text")]
    # edges: a match at the first or last character, spaces around, emoji, newlines
    texts += ["knee", " swollen knee ", "hot\n\nswollen knee, fever 🤒", "no fever. my calf is swollen", "limp"]
    found = [t for t in texts if _found(fast, t)[0]]
    assert len(found) > len(texts) // 2  # the comparison is about texts where the rules see something
    different = [t for t in texts if _found(fast, t) != _found(stock, t)]
    assert different == []


@pytest.mark.parametrize(
    "pattern",
    [r"nee h", r"\s+hurts", r"urt", r"knee", r"\s", r"s\W*$", r"^\W*\w", r"[.,!]", r"wel+ed\s+an"],
)
def test_matches_that_start_or_end_inside_a_token_or_on_a_space_resolve_as_medspacy_does(pipelines, pattern):
    import spacy
    from medspacy.common.regex_matcher import RegexMatcher

    nlp = spacy.blank("en")
    stock = RegexMatcher(nlp.vocab)
    stock.add("probe", [pattern])
    fast = RegexMatcher(nlp.vocab)
    fast.add("probe", [pattern])
    fast.__class__ = pipeline._one_text_matcher_class()
    for text in ["my knee hurts", " knee  hurts on stairs. ", "it swelled and hurts!", "hurts", "a, b. c!"]:
        doc = nlp(text)
        assert fast(doc) == stock(doc), (pattern, text)
