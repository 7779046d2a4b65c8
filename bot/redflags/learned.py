"""The learned red-flag net: a linear classifier over the contract's codes, beside the rules.

The rules (medspaCy targets + ConText) find what their phrases name; people describe the same
emergencies in words no rule anticipated ("my foot flops when I walk", "giving my things away").
This net learns from a corpus written for it (data/red_flag_corpus/, many writers, hard negatives
included) and scores every code from 0 to 1. How the two nets are joined, and the thresholds, are
in `learned.yml` beside this file; the joining itself is `bot.redflags.nets`.

The model is small and plain: word (1-2) and character (2-5, within words) n-grams, TF-IDF, and one
logistic regression per code (a message can carry two codes; "none" is every score low). A long
message is also scored sentence by sentence (and in pairs of sentences), and each code takes its
highest score, so a flag buried in a long story is not diluted by the story.

Saved as arrays and a word list (numpy .npz, no pickle), so loading a model runs no code.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from bot.contract import RED_FLAG_CODES

if TYPE_CHECKING:
    from bot.redflags.detector import Analysis

REPO = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO / "data" / "red_flag_corpus"
CORPUS_KEY = "red_flag_corpus"
# Blind batches once scored (data/red_flag_blind/README.md): more writers to learn from.
SPENT_BATCHES_DIR = REPO / "data" / "red_flag_blind"
SPENT_KEY = "red_flag_blind"
NLU_DIR = REPO / "data" / "nlu"
SETTINGS_FILE = Path(__file__).with_name("learned.yml")

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+|\s+-\s+")
_MAX_WINDOWS = 400  # a 100 kB paste: the rules read all of it; this net scores its first 400 windows
_WORD = dict(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w[\w']*\b", min_df=1)
_CHAR_NGRAMS = (2, 5)
_CHAR = dict(analyzer="char_wb", ngram_range=_CHAR_NGRAMS, min_df=2)
_FACT = dict(analyzer="word", token_pattern=r"\S+", lowercase=False, binary=True)


@dataclass(frozen=True)
class Example:
    text: str
    codes: tuple[str, ...]
    source: str = ""
    kind: str = ""


@dataclass(frozen=True)
class Thresholds:
    """Per code: at or above `escalate` the net alone escalates; at or above `clarify` (and below
    `escalate`) it asks that code's clarifying question."""

    escalate: Mapping[str, float]
    clarify: Mapping[str, float]
    # A rule finding escalates when the net gives its code at least `support`; below that the
    # nets disagree and the code gets its clarifying question, except for `rules_alone` codes.
    support: Mapping[str, float] = field(default_factory=dict)
    rules_alone: tuple[str, ...] = ()
    # The net's self-harm reading beside another red flag is asked about (bot/safety.py) unless
    # its score is at least this.
    self_harm_beside_another_flag: float = 1.0
    # The net's doubt about these codes is asked even when the rules read the words as not now.
    ask_despite_not_now: tuple[str, ...] = ()
    # code -> (level, words): the net's finding of that code takes the level when its sentence
    # has one of the words (a neurovascular finding about a cold or blue foot is an emergency).
    level_words: Mapping[str, tuple[str, re.Pattern[str]]] = field(default_factory=dict)


def load_thresholds(path: Path = SETTINGS_FILE) -> Thresholds:
    data = yaml.safe_load(path.read_text()) or {}
    default = data.get("default") or {}
    per_code = data.get("codes") or {}
    escalate: dict[str, float] = {}
    clarify: dict[str, float] = {}
    support: dict[str, float] = {}
    for code in RED_FLAG_CODES:
        own = {**default, **(per_code.get(code) or {})}
        try:
            escalate[code] = float(own["escalate"])
            clarify[code] = float(own["clarify"])
            support[code] = float(own["support"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path.name}: code {code} needs numbers for escalate, clarify and support") from error
        if not 0 <= support[code] <= clarify[code] <= escalate[code] <= 1 or clarify[code] == 0:
            raise ValueError(f"{path.name}: code {code} needs 0 <= support <= clarify <= escalate <= 1, clarify > 0")
    rules_alone = tuple(data.get("rules_alone") or ())
    beside = data.get("self_harm_beside_another_flag", 1.0)
    if not isinstance(beside, (int, float)) or not 0 < beside <= 1:
        raise ValueError(f"{path.name}: self_harm_beside_another_flag needs a number above 0, at most 1")
    ask_despite_not_now = tuple(data.get("ask_despite_not_now") or ())
    raw_levels = data.get("level_words") or {}
    unknown = (set(per_code) | set(rules_alone) | set(ask_despite_not_now) | set(raw_levels)) - set(RED_FLAG_CODES)
    if unknown:
        raise ValueError(f"{path.name}: unknown codes {sorted(unknown)}")
    level_words = {}
    for code, spec in raw_levels.items():
        try:
            level_words[code] = (str(spec["level"]), re.compile(spec["words"], re.IGNORECASE))
        except (KeyError, TypeError, re.error) as error:
            raise ValueError(f"{path.name}: level_words {code} needs a level and a valid words pattern") from error
    return Thresholds(
        escalate=escalate,
        clarify=clarify,
        support=support,
        rules_alone=rules_alone,
        self_harm_beside_another_flag=float(beside),
        ask_despite_not_now=ask_despite_not_now,
        level_words=level_words,
    )


# ---- the corpus ---------------------------------------------------------------------------------


def read_corpus(directory: Path = CORPUS_DIR) -> list[Example]:
    """Every example of data/red_flag_corpus/*.yml; a malformed item fails loudly, naming it."""
    examples: list[Example] = []
    for path in sorted(directory.glob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        items = doc.get(CORPUS_KEY)
        if not isinstance(items, list):
            raise ValueError(f"{path}: expected a list under '{CORPUS_KEY}'")
        examples += [_example(item, f"{path} item {n}", path.stem) for n, item in enumerate(items, start=1)]
    return examples


def _example(item: object, where: str, source: str) -> Example:
    """One item of a corpus or batch file; a malformed one fails loudly, naming it."""
    text = item.get("text") if isinstance(item, dict) else None
    codes = item.get("codes") if isinstance(item, dict) else None
    if not isinstance(item, dict) or not isinstance(text, str) or not text.strip() or not isinstance(codes, list):
        raise ValueError(f"{where}: needs text and a list of codes")
    unknown = set(codes) - set(RED_FLAG_CODES)
    if unknown:
        raise ValueError(f"{where}: unknown codes {sorted(unknown)}")
    return Example(text, tuple(codes), source, str(item.get("kind") or ""))


def batch_items(path: Path) -> list[dict]:
    """The items of a blind batch file: a YAML list as the writers write it, or the same list
    under `red_flag_blind:` once spent and kept in data/red_flag_blind/."""
    doc = yaml.safe_load(path.read_text())
    items = doc.get(SPENT_KEY) if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a list of items (under '{SPENT_KEY}' in {SPENT_BATCHES_DIR.name}/)")
    return [item for item in items if isinstance(item, dict) and item.get("text")]


def read_spent_batches(directory: Path = SPENT_BATCHES_DIR) -> list[Example]:
    """Every item of the scored blind batches (text, codes, level, kind and writer)."""
    examples: list[Example] = []
    for path in sorted(directory.glob("batch*.yml")) if directory.is_dir() else []:
        items = batch_items(path)
        examples += [_example(item, f"{path} item {n}", path.stem) for n, item in enumerate(items, start=1)]
    return examples


def training_digest() -> str:
    """Changes whenever what the model learns from changes: the corpus, the NLU data, the rules
    that filter it, or this module."""
    digest = hashlib.sha256()
    rules = Path(__file__).with_name("rules")
    for path in [
        *sorted(CORPUS_DIR.glob("*.yml")),
        *sorted(SPENT_BATCHES_DIR.glob("batch*.yml")),
        *sorted(NLU_DIR.glob("*.yml")),
        *sorted(rules.glob("*.yml")),
        Path(__file__),
    ]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# ---- text and windows ---------------------------------------------------------------------------


def window_spans(clean: str) -> list[tuple[int, int]]:
    """The whole message, then each sentence and each pair of neighbouring sentences, as spans of
    the clean text."""
    if not clean.strip():
        return []
    sentences: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(clean):
        if clean[start : match.start()].strip():
            sentences.append((start, match.start()))
        start = match.end()
    if clean[start:].strip():
        sentences.append((start, len(clean)))
    spans = [(0, len(clean))]
    if len(sentences) > 1:
        spans += sentences + [(a[0], b[1]) for a, b in zip(sentences, sentences[1:], strict=False)]
    return spans[:_MAX_WINDOWS]


def _facts_in(facts: Sequence[tuple[int, str]], start: int, end: int) -> str:
    return " ".join(tag for at, tag in facts if start <= at < end)


# ---- the model ----------------------------------------------------------------------------------


class LearnedModel:
    """Scores each red-flag code for a message (0-1). Built by `train`, saved and loaded as arrays."""

    def __init__(
        self,
        word_terms: Sequence[str],
        char_terms: Sequence[str],
        fact_terms: Sequence[str],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        codes: Sequence[str],
        digest: str = "",
    ):
        from sklearn.feature_extraction.text import CountVectorizer

        self.codes = tuple(codes)
        self.digest = digest
        self._word = CountVectorizer(vocabulary=list(word_terms), **_without_min_df(_WORD))
        self._char = WordCharGrams(char_terms)
        self._fact = CountVectorizer(vocabulary=list(fact_terms) or ["-"], **_FACT)
        self._fact_terms = list(fact_terms)
        self._idf = np.asarray(idf, dtype=np.float64)
        # features x codes, laid out for the sparse product (a transposed view would be copied on
        # every message); the only copy kept
        self._coef_t = np.ascontiguousarray(np.asarray(coef, dtype=np.float64).T)
        self._intercept = np.asarray(intercept, dtype=np.float64)
        self._word_terms = list(word_terms)
        self._char_terms = list(char_terms)

    # -- scoring
    def score_texts(self, texts: Sequence[str], facts: Sequence[str]) -> np.ndarray:
        """Scores of prepared texts with the rules' facts about each, one row each."""
        if not texts:
            return np.zeros((0, len(self.codes)))
        features = _features(self._word, self._char, self._fact, texts, facts, self._idf)
        logits = features @ self._coef_t + self._intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def scores(self, text: str, analysis: Analysis | None = None) -> dict[str, float]:
        """Each code's highest score over the message's windows."""
        return self.scores_with_windows(text, analysis)[0]

    def scores_with_windows(
        self, text: str, analysis: Analysis | None = None
    ) -> tuple[dict[str, float], dict[str, str]]:
        """Each code's highest score, and the window (sentence) that gave it. `analysis` is the
        rules' analysis of the same text (made here when not given)."""
        if analysis is None:
            from bot.redflags.detector import analyse

            analysis = analyse(text)
        clean = analysis.clean.lower()
        spans = window_spans(clean)
        if not spans:
            return {code: 0.0 for code in self.codes}, {}
        parts = [clean[a:b].strip() for a, b in spans]
        matrix = self.score_texts(parts, [_facts_in(analysis.facts, a, b) for a, b in spans])
        best = matrix.argmax(axis=0)
        scores = {code: round(float(matrix[best[i], i]), 4) for i, code in enumerate(self.codes)}
        return scores, {code: parts[best[i]] for i, code in enumerate(self.codes)}

    # -- persistence (no pickle)
    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            word_terms=np.array(self._word_terms, dtype=str),
            char_terms=np.array(self._char_terms, dtype=str),
            fact_terms=np.array(self._fact_terms, dtype=str),
            idf=self._idf,
            coef=self._coef_t.T,
            intercept=self._intercept,
            codes=np.array(self.codes, dtype=str),
            digest=np.array(self.digest),
        )

    @classmethod
    def load(cls, path: Path) -> LearnedModel:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                data["word_terms"].tolist(),
                data["char_terms"].tolist(),
                data["fact_terms"].tolist(),
                data["idf"],
                data["coef"],
                data["intercept"],
                data["codes"].tolist(),
                str(data["digest"]),
            )


class WordCharGrams:
    """The counts `_CHAR` (scikit-learn's char_wb analyser) gives, for a fixed vocabulary, made
    word by word with a cache. char_wb takes each word (split at white space) padded with one
    space and counts its 2- to 5-character pieces; a padded word no longer than n counts once,
    whole, and stops there. A message's windows share their words, and so do messages, so most
    words are looked up, not cut again (tests compare it with the scikit-learn analyser)."""

    _MAX_CACHED = 50_000

    def __init__(self, terms: Sequence[str]):
        self._index = {term: i for i, term in enumerate(terms)}
        self._size = len(terms)
        low, high = _CHAR_NGRAMS
        self._low: int = low
        self._high: int = high
        self._cache: dict[str, dict[int, int]] = {}

    def _word(self, word: str) -> dict[int, int]:
        counts = self._cache.get(word)
        if counts is None:
            counts = {}
            padded = f" {word} "
            for n in range(self._low, self._high + 1):
                whole = n >= len(padded)
                for start in range(1 if whole else len(padded) - n + 1):
                    index = self._index.get(padded[start : start + n])
                    if index is not None:
                        counts[index] = counts.get(index, 0) + 1
                if whole:
                    break
            if len(self._cache) >= self._MAX_CACHED:
                self._cache.clear()
            self._cache[word] = counts
        return counts

    def transform(self, texts: Sequence[str]):
        from scipy.sparse import csr_matrix

        indptr: list[int] = [0]
        indices: list[int] = []
        values: list[int] = []
        for text in texts:
            row: dict[int, int] = {}
            for word in text.lower().split():
                for index, count in self._word(word).items():
                    row[index] = row.get(index, 0) + count
            indices.extend(row)
            values.extend(row.values())
            indptr.append(len(indices))
        return csr_matrix(
            (np.array(values, dtype=np.int64), np.array(indices, dtype=np.int64), np.array(indptr)),
            shape=(len(texts), self._size),
        )


def _without_min_df(params: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in params.items() if k != "min_df"}


def _features(word, char, fact, texts: Sequence[str], facts: Sequence[str], idf: np.ndarray):
    from scipy.sparse import hstack
    from sklearn.preprocessing import normalize

    counts = hstack([word.transform(texts), char.transform(texts), fact.transform(facts)]).tocsr()
    counts.data = 1.0 + np.log(counts.data)  # sublinear term frequency
    return normalize(counts.multiply(idf).tocsr())


# Corpus kinds of "none" that look like a red flag and are not one now (data/red_flag_corpus/).
HARD_NEGATIVE_KINDS = frozenset(
    {"negated", "family", "animal", "hypothetical", "past", "figure_of_speech", "other_person", "question"}
)


def train(
    examples: Iterable[Example], c: float = 64.0, digest: str = "", hard_negative_weight: float = 1.0
) -> LearnedModel:
    """One logistic regression per code over TF-IDF word and character n-grams and the rules'
    facts. `hard_negative_weight` counts each hard "none" (HARD_NEGATIVE_KINDS) that many times."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    from bot.redflags.detector import analyse

    examples = list(examples)
    analyses = [analyse(e.text) for e in examples]
    texts = [a.clean.lower().strip() for a in analyses]
    facts = [" ".join(tag for _, tag in a.facts) for a in analyses]
    word = CountVectorizer(**_WORD).fit(texts)
    char = CountVectorizer(**_CHAR).fit(texts)
    fact = CountVectorizer(**_FACT).fit([f or "-" for f in facts])
    counts = hstack([word.transform(texts), char.transform(texts), fact.transform(facts)]).tocsr()
    idf = TfidfTransformer(sublinear_tf=True).fit(counts).idf_
    features = _features(word, char, fact, texts, facts, idf)
    hard = [not e.codes and e.kind in HARD_NEGATIVE_KINDS for e in examples]
    weights = np.where(hard, hard_negative_weight, 1.0)
    coef = np.zeros((len(RED_FLAG_CODES), features.shape[1]))
    intercept = np.zeros(len(RED_FLAG_CODES))
    for row, code in enumerate(RED_FLAG_CODES):
        labels = np.array([code in e.codes for e in examples], dtype=int)
        if labels.sum() == 0:
            intercept[row] = -10.0  # no example of this code: it never fires
            continue
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, solver="liblinear")
        model.fit(features, labels, sample_weight=weights)
        coef[row] = model.coef_[0]
        intercept[row] = model.intercept_[0]
    return LearnedModel(_terms(word), _terms(char), _terms(fact), idf, coef, intercept, RED_FLAG_CODES, digest)


def _terms(vectorizer) -> list[str]:
    terms = [""] * len(vectorizer.vocabulary_)
    for term, index in vectorizer.vocabulary_.items():
        terms[index] = term
    return terms


# ---- the default model, for scripts and tests outside a Rasa model ------------------------------

_CACHE: dict[str, LearnedModel] = {}


def default_model(cache_dir: Path | None = None) -> LearnedModel | None:
    """The model trained on the repository's corpus (cached in var/ by the corpus's digest), or
    None when there is no corpus."""
    if not CORPUS_DIR.is_dir() or not any(CORPUS_DIR.glob("*.yml")):
        return None
    digest = training_digest()
    if digest in _CACHE:
        return _CACHE[digest]
    folder = cache_dir or (REPO / "var" / "red_flag_model")
    path = folder / f"model-{digest}.npz"
    if path.exists():
        model = LearnedModel.load(path)
    else:
        model = train(training_examples(), digest=digest)
        folder.mkdir(parents=True, exist_ok=True)
        model.save(path)
    _CACHE[digest] = model
    return model


# ---- everyday knee conversation as "none" -------------------------------------------------------

_ANNOTATION = re.compile(r"\[([^\]]*)\]\{[^}]*\}|\[([^\]]*)\]\([^)]*\)")


def nlu_examples(directory: Path = NLU_DIR) -> list[str]:
    """The intent examples of the NLU data (annotations stripped): everyday knee conversation,
    questions and answers, which the red-flag net must learn to leave alone."""
    texts: list[str] = []
    for path in sorted(directory.glob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for block in doc.get("nlu") or []:
            if not isinstance(block, dict) or "intent" not in block:
                continue
            for line in str(block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    texts.append(_ANNOTATION.sub(lambda m: m.group(1) or m.group(2) or "", line[2:]))
    return texts


def training_examples(
    corpus_dir: Path = CORPUS_DIR,
    everyday: Iterable[str] | None = None,
    spent_dir: Path | None = SPENT_BATCHES_DIR,
) -> list[Example]:
    """The corpus and the spent blind batches, plus everyday knee conversation (the NLU examples,
    or `everyday`) as "none" where the rules see no red flag at all, not even a negated one. An
    NLU example the rules read as a flag is left out rather than taught as "none": the intent data
    was not written to be red-flag free."""
    from bot.redflags.detector import detect

    examples = read_corpus(corpus_dir) + (read_spent_batches(spent_dir) if spent_dir else [])
    for text in nlu_examples() if everyday is None else everyday:
        if isinstance(text, str) and text.strip() and not detect(text):
            examples.append(Example(text, (), "nlu"))
    return examples
