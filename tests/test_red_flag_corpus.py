"""The learned red-flag net's corpus (data/red_flag_corpus/): its shape, and that no test set and
no held-out phrase is in it (a test set trained on is no longer a test)."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.contract import RED_FLAG_CODES
from bot.redflags import learned

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = ROOT.parent / "shared" / "eval"
TEST_SETS = [ROOT / "tests" / "vignettes" / "red_flags.yml"]


def _norm(text: str) -> str:  # as ../shared/tools/heldout_overlap.py compares
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def test_the_corpus_covers_every_code_with_hard_negatives_from_several_writers():
    corpus = learned.read_corpus()
    assert len(corpus) >= 3000
    assert len({e.source for e in corpus}) >= 5  # many writers
    per_code = Counter(code for e in corpus for code in e.codes)
    assert all(per_code[code] >= 150 for code in RED_FLAG_CODES), per_code
    quiet_kinds = Counter(e.kind for e in corpus if not e.codes)
    assert sum(quiet_kinds.values()) >= 1000
    for kind in ("negated", "family", "animal", "hypothetical", "past", "figure_of_speech", "other_person"):
        assert quiet_kinds[kind] >= 50, kind


@pytest.mark.parametrize("training", ["corpus", "spent batches"])
def test_no_test_set_or_held_out_phrase_is_in_the_corpus(training):
    # The spent blind batches were written by people who never saw our vignettes, so a short
    # phrase of a vignette may turn up inside one by chance ("my dad had a DVT"); they are checked
    # against the held-out sets only.
    examples = learned.read_corpus() if training == "corpus" else learned.read_spent_batches()
    assert examples
    corpus = [_norm(e.text) for e in examples]
    corpus_set = set(corpus)
    sources = list(TEST_SETS) if training == "corpus" else []
    if HELD_OUT.is_dir():
        sources += sorted(HELD_OUT.glob("*.yml"))
    for path in sources:
        for item in yaml.safe_load(path.read_text()) or []:
            if not isinstance(item, dict) or not item.get("text"):
                continue
            text = _norm(item["text"])
            assert text not in corpus_set, f"{path.name}: {item['text']!r} is in the corpus"
            if len(text.split()) >= 4 and path.parent.name != "eval":  # whole sentences, not "no fever"
                assert not any(text in example for example in corpus), f"{path.name}: {item['text']!r} inside"
