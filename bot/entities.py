"""Pick the triage facts out of a patient's message: triggers, location, onset, duration, side, age.

Rule-based on purpose: the triage record must say only what the patient said, every rule is
readable in `entity_patterns.yml`, and a clinician can check why a value was recorded. The
intent classifier (DIET) never sees entity annotations; this module is the only entity source.

    >>> [(e["entity"], e["value"]) for e in extract("stairs and sitting both hurt, left knee")]
    [('pain_trigger', 'stairs'), ('pain_trigger', 'sitting'), ('side', 'left')]

Pure Python plus spaCy's blank English tokenizer and the lookup lemma table from
spacy-lookups-data: no model download, no Rasa import.
"""

from __future__ import annotations

import bisect
import functools
import pathlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import spacy
import yaml
from spacy.lookups import load_lookups
from spacy.matcher import Matcher
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc, Span
from spacy.util import compile_infix_regex, filter_spans

PATTERNS_PATH = pathlib.Path(__file__).with_name("entity_patterns.yml")

# Entities found by token patterns (the rest, age and duration, are numbers read by regex).
TOKEN_ENTITIES = ("pain_trigger", "pain_location", "onset", "side")
# A duration that is a guess ("for months", "a few weeks"): not recorded from a message in passing,
# so the duration question is asked, one tap with its buttons (issue 17: confirm what is vague;
# blind persona set 10: "building for months" was recorded as 8.7 weeks and never asked, the
# answer would have been half a year). In answer to "how long?" it is the answer (durations_said).
UNSURE_DURATION = "duration_unsure"
# Words that join a list of triggers, so that "stairs, sitting or squats are fine" negates all.
LIST_JOINERS = {"and", "or", "nor", "&", ",", "/", "n", "plus", "also", "even", "the", "or even"}
# Spelling correction looks at words of this length or longer only (short words have too many
# real neighbours: "hill" and "pill").
FUZZY_MIN_LENGTH = 5
# Longer "words" are URLs, base64 or keyboard mashing: never worth correcting.
FUZZY_MAX_LENGTH = 20
# How far after "should I", "is it ok to" a trigger counts as part of the question.
HYPOTHETICAL_WINDOW = 3


@dataclass(frozen=True)
class Found:
    """One entity found in a message, with character offsets into the original text."""

    entity: str
    value: Any
    start: int
    end: int
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }


def _lower_keep_length(text: str) -> str:
    """Lower-case without changing any offset (a few characters, like 'İ', grow when lowered)."""
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)


def _damerau_within_one(a: str, b: str) -> bool:
    """True when b is a at most one insertion, deletion, substitution or swap away."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diffs = [i for i in range(la) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
        )
    if la > lb:
        a, b = b, a
    # b is one longer: deleting one letter of b gives a
    for i in range(len(b)):
        if b[:i] + b[i + 1 :] == a:
            return True
    return False


_MARKUP = re.compile(r"<[^<>]{0,200}>|&[a-z]{2,8};|&#\d{1,6};")


def _without_markup(text: str) -> str:
    """Blank out HTML tags and entities (same length, so offsets still point into the original)."""
    return _MARKUP.sub(lambda m: " " * len(m.group(0)), text)


class KneeEntityRules:
    """The rules of `entity_patterns.yml`, compiled once; `extract` is safe to call concurrently."""

    def __init__(self, patterns_path: pathlib.Path = PATTERNS_PATH) -> None:
        self.rules = yaml.safe_load(pathlib.Path(patterns_path).read_text(encoding="utf-8"))
        self._lemmas = load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")
        self._lemma_values: set[str] = set(self._lemmas.values())
        self.nlp = self._tokenizer_pipeline()
        self._pattern_words: set[str] = set()
        # words each matcher's rules use, as (lemmas, exact spellings)
        self._vocabulary: dict[int, tuple[set[str], set[str]]] = {}

        self._labels: dict[str, tuple[str, str]] = {}
        entity_rules: dict[str, list[list[dict[str, Any]]]] = {}
        for entity in TOKEN_ENTITIES:
            for value, phrases in self.rules["entities"][entity].items():
                label = f"{entity}:{value}"
                self._labels[label] = (entity, value)
                entity_rules[label] = [self._token_pattern(p) for p in phrases]
        for entity, phrases in (self.rules.get("not_entities") or {}).items():
            entity_rules[f"not:{entity}"] = [self._token_pattern(p) for p in phrases]
        negation = self.rules["negation"]
        cue_rules = {
            name: [self._token_pattern(p) for p in phrases]
            for name, phrases in (
                ("before", negation["before"]),
                ("after", negation["after"]),
                ("pseudo", negation["pseudo"]),
                ("hypothetical", self.rules["hypothetical"]),
            )
        }
        self._entity_matcher = self._matcher(entity_rules)
        self._cue_matcher = self._matcher(cue_rules)
        self._boundaries = {self._norm(w) for w in negation["boundaries"]}
        self._hypothetical_boundaries = {self._norm(w) for w in self.rules["hypothetical_boundaries"]}
        self._pain_words = {self._norm(w) for w in negation["pain_words"]}
        self._window_before = int(negation["window_before"])
        self._window_after = int(negation["window_after"])

        self._fuzzy_targets = [w.lower() for w in self.rules["fuzzy_words"]]
        # (entity, value) for each word that answers a question on its own: "left", "the front"
        self._answer_words: dict[str, tuple[str, str]] = {
            word: (entity, value)
            for entity, values in self.rules["short_answers"]["words"].items()
            for value, words in values.items()
            for word in words
        }
        self._answer_fillers = set(self.rules["short_answers"]["filler"])
        self.numbers = _NumberReader(self.rules)
        # One cache per rules object, released with it (an lru_cache on the method would keep
        # every instance alive for as long as the class).
        self._correct = functools.lru_cache(maxsize=20000)(self._correct_word)

    # --- building -------------------------------------------------------------------------

    @staticmethod
    def _tokenizer_pipeline() -> spacy.language.Language:
        nlp = spacy.blank("en")
        # Patients skip spaces after punctuation ("hurts;running is ok", "knees/hips").
        infixes = [*(nlp.Defaults.infixes or ()), r"(?<=[a-zA-Z])[;!?/()&+](?=[a-zA-Z])"]
        cast(Tokenizer, nlp.tokenizer).infix_finditer = compile_infix_regex(infixes).finditer
        return nlp

    def _matcher(self, rules: dict[str, list[list[dict[str, Any]]]]) -> Matcher:
        matcher = Matcher(self.nlp.vocab)
        norms: set[str] = set()
        spellings: set[str] = set()
        for label, patterns in rules.items():
            matcher.add(label, patterns)
            for pattern in patterns:
                for token in pattern:
                    if "NORM" in token:
                        norms.update(token["NORM"]["IN"])
                    else:
                        spellings.update(token["LOWER"]["IN"])
        self._vocabulary[id(matcher)] = (norms, spellings)
        return matcher

    def _lemma(self, word: str) -> str:
        return self._lemmas.get(word, word)

    def _norm(self, word: str) -> str:
        return self._lemma(word.lower())

    def _token_pattern(self, phrase: str) -> list[dict[str, Any]]:
        """Turn 'behind (the|my) kneecap' into a spaCy Matcher pattern on normalised words."""
        pattern: list[dict[str, Any]] = []
        for part in str(phrase).split():
            optional = part.startswith("(") and part.endswith(")")
            if optional:
                part = part[1:-1]
            # "=a|b": every alternative of the slot is an exact spelling (one slot tests one
            # token attribute: LOWER for spellings, NORM for lemmas).
            exact = part.startswith("=")
            words = [w.lower() for w in part.lstrip("=").split("|")]
            self._pattern_words.update(words)
            token: dict[str, Any] = (
                {"LOWER": {"IN": words}} if exact else {"NORM": {"IN": [self._norm(w) for w in words]}}
            )
            if optional:
                token["OP"] = "?"
            pattern.append(token)
        return pattern

    # --- reading a message ------------------------------------------------------------------

    def _correct_word(self, word: str) -> str:
        """The intended word for a misspelt one ('runing' -> 'running'); the word itself otherwise."""
        if (
            len(word) < FUZZY_MIN_LENGTH
            or len(word) > FUZZY_MAX_LENGTH
            or not word.isalpha()
            or word in self._pattern_words
            or word in self._lemmas
            or word in self._lemma_values
        ):
            return word
        candidates = {t for t in self._fuzzy_targets if _damerau_within_one(word, t)}
        if len({self._norm(c) for c in candidates}) == 1:
            return candidates.pop()
        return word

    def _doc(self, lowered: str) -> Doc:
        """Tokens of the lower-cased text; NORM holds the lemma of the (spell-corrected) word."""
        doc = self.nlp.make_doc(lowered)
        for token in doc:
            token.norm_ = self._lemma(self._correct(token.text))
        return doc

    def extract(self, text: str) -> list[dict[str, Any]]:
        """Every entity in `text`, in order of position; one per (entity, value)."""
        if not isinstance(text, str) or not text.strip():
            return []
        lowered = _without_markup(_lower_keep_length(text))
        found: list[Found] = []
        found.extend(self._token_entities(text, lowered))
        found.extend(this_episode(self.numbers.durations(text, lowered), lowered))
        found.extend(self.numbers.ages(text, lowered))
        found = onset_now(by_anatomy(found, lowered), lowered)
        found.sort(key=lambda f: (f.start, f.end))
        seen: set[tuple[str, str]] = set()
        unique = []
        for item in found:
            key = (item.entity, str(item.value))
            if key not in seen:
                seen.add(key)
                unique.append(item.as_dict())
        return unique

    def _matches(self, matcher: Matcher, doc: Doc) -> list[tuple[str, int, int]]:
        """Matches as (label, start token, end token).

        The matcher runs only over stretches of words that occur in some rule: every word of a
        match must, so nothing is lost, and 100 kB of pasted text stays fast.
        """
        norms, spellings = self._vocabulary[id(matcher)]
        out = []
        run_start = None
        for i in range(len(doc) + 1):
            inside = i < len(doc) and (doc[i].norm_ in norms or doc[i].text in spellings)
            if inside and run_start is None:
                run_start = i
            elif not inside and run_start is not None:
                for m, start, end in matcher(doc[run_start:i]):
                    out.append((self.nlp.vocab.strings[m], run_start + start, run_start + end))
                run_start = None
        return out

    def _token_entities(self, text: str, lowered: str) -> list[Found]:
        doc = self._doc(lowered)
        cues = self._matches(self._cue_matcher, doc)
        pseudo_end_by_start: dict[int, int] = {}
        for name, s, e in cues:
            if name == "pseudo":
                pseudo_end_by_start[s] = max(e, pseudo_end_by_start.get(s, e))

        def is_pseudo(s: int, e: int) -> bool:
            return any(pseudo_end_by_start.get(ps, -1) >= e for ps in range(max(0, s - 4), s + 1))

        cue_ends: dict[str, dict[int, list[int]]] = {"before": {}, "after": {}, "hypothetical": {}}
        for name, s, e in cues:
            if name in cue_ends and not is_pseudo(s, e):
                # "before" and "after" cues are looked up by where they start, questions by end
                key = e if name == "hypothetical" else s
                cue_ends[name].setdefault(key, []).append(s if name == "hypothetical" else e)
        boundary_at = [t.norm_ in self._boundaries or t.text in self._boundaries for t in doc]
        question_boundary_at = [
            t.norm_ in self._hypothetical_boundaries or t.text in self._hypothetical_boundaries for t in doc
        ]

        spans_by_entity: dict[str, list[Span]] = {e: [] for e in TOKEN_ENTITIES}
        # tokens inside a "not_entities" phrase ("runny nose": "nose won't stop running")
        excluded: dict[str, set[int]] = {e: set() for e in TOKEN_ENTITIES}
        for label, start, end in self._matches(self._entity_matcher, doc):
            if label.startswith("not:"):
                excluded[label[4:]].update(range(start, end))
            else:
                entity, _ = self._labels[label]
                spans_by_entity[entity].append(Span(doc, start, end, label=label))
        for entity, spans in spans_by_entity.items():
            spans[:] = [s for s in spans if not excluded[entity].intersection(range(s.start, s.end))]

        found: list[Found] = []
        for entity, spans in spans_by_entity.items():
            kept = sorted(filter_spans(spans), key=lambda s: s.start)
            starts = [s.start for s in kept]
            for group in self._coordinated(kept, doc):
                end = group[-1].end
                following = bisect.bisect_left(starts, end)
                next_mention = starts[following] if following < len(starts) else len(doc)
                first = bisect.bisect_left(starts, group[0].start)
                previous_end = kept[first - 1].end if first else 0
                if self._negated(group[0].start, end, previous_end, next_mention, cue_ends, boundary_at):
                    continue
                head = group[0]
                if len(group) > 1 and any(
                    e <= head.end for s in range(head.start, head.end) for e in cue_ends["before"].get(s, ())
                ):
                    # a first item that is itself a negation ("no fall") carries it down the list:
                    # "there was no fall or injury" is gradual, not an injury (blind persona set 9)
                    group = group[:1]
                for span in group:
                    if entity == "pain_trigger" and self._in_question(
                        span.start, cue_ends["hypothetical"], question_boundary_at
                    ):
                        continue
                    _, value = self._labels[span.label_]
                    start, end = span.start_char, span.end_char
                    found.append(Found(entity, value, start, end, text[start:end]))
        answer = self._short_answer(doc, text)
        if answer and not spans_by_entity[answer.entity]:
            found.append(answer)
        return found

    def _coordinated(self, spans: Sequence[Span], doc: Doc) -> list[list[Span]]:
        """Group spans joined only by list words: 'stairs, sitting or squats' is one group.

        A mention followed at once by its own pain word starts a group of its own, so that in
        "no pain on stairs and squatting hurts" the "no" does not reach "squatting".
        """
        groups: list[list[Span]] = []
        for span in spans:
            if groups:
                gap = doc[groups[-1][-1].end : span.start]
                said_to_hurt = any(t.norm_ in self._pain_words for t in doc[span.end : span.end + 2])
                if all(t.text in LIST_JOINERS for t in gap) and not said_to_hurt:
                    groups[-1].append(span)
                    continue
            groups.append([span])
        return groups

    def _negated(
        self,
        start: int,
        end: int,
        previous_end: int,
        next_mention: int,
        cue_ends: dict[str, dict[int, list[int]]],
        boundary_at: Sequence[bool],
    ) -> bool:
        """Is the mention at tokens [start, end) negated by a cue in the same part of the sentence?"""
        # Before: back to the nearest boundary or mention of the same kind, at most window_before
        # words.
        scope_start = start
        while (
            scope_start > previous_end
            and start - scope_start < self._window_before
            and not boundary_at[scope_start - 1]
        ):
            scope_start -= 1
        for s in range(scope_start, start):
            if any(e <= start for e in cue_ends["before"].get(s, ())):
                return True
        # After: up to a boundary or the next mention of the same kind.
        scope_end = end
        while scope_end < next_mention and scope_end - end < self._window_after and not boundary_at[scope_end]:
            scope_end += 1
        return any(s in cue_ends["after"] for s in range(end, scope_end))

    @staticmethod
    def _in_question(start: int, question_starts_by_end: dict[int, list[int]], boundary_at: Sequence[bool]) -> bool:
        """Does 'should I', 'is it ok to'... come just before this mention, in the same clause?"""
        for e in range(max(0, start - HYPOTHETICAL_WINDOW + 1), start + 1):
            if e in question_starts_by_end and not any(boundary_at[e:start]):
                return True
        return False

    def _short_answer(self, doc: Doc, text: str) -> Found | None:
        """A short answer to 'which knee?' or 'where?': 'left', 'the right one', 'mostly the front'."""
        words = [t for t in doc if not t.is_punct]
        if not words or len(words) > 6:
            return None
        answers = [t for t in words if t.text in self._answer_words]
        if len(answers) != 1 or not all(t.text in self._answer_fillers for t in words if t not in answers):
            return None
        token = answers[0]
        entity, value = self._answer_words[token.text]
        start, end = token.idx, token.idx + len(token)
        return Found(entity, value, start, end, text[start:end])


class _NumberReader:
    """Durations ('about 6 weeks', 'a couple of months') and ages ('my 12 year old', "I'm 34")."""

    def __init__(self, rules: dict[str, Any]) -> None:
        numbers = rules["numbers"]
        self.words: dict[str, float] = {k: float(v) for k, v in numbers["words"].items()}
        self.vague: dict[str, float] = {k: float(v) for k, v in numbers["vague"].items()}
        duration = rules["duration"]
        self.units: dict[str, float] = {k: float(v) for k, v in duration["units"].items()}
        # fixed phrases with a known length: "since last week", "for years"
        self.phrases: dict[str, float] = {
            k: float(v) for k, v in {**duration["since_phrases"], **duration["unquantified"]}.items()
        }
        # a guess, not a length: recorded only in answer to "how long?" (durations_said)
        self.unsure_phrases = set(duration["unquantified"])
        self.unsure_amounts = set(duration["unsure_amounts"])
        self.not_after = set(duration["not_after"])
        self.frequency_before = set(duration["frequency_before"])
        age = rules["age"]
        self.age_min, self.age_max = int(age["minimum"]), int(age["maximum"])

        word = _alternation(self.words)
        vague = _alternation(self.vague)
        digits = r"\d{1,4}(?:[.,]\d{1,2})?"
        self.number = rf"(?:{digits}|{word}(?:[\s-]+{word})?)"
        duration_number = rf"(?:{digits}|{word}(?:[\s-]+{word})?|{vague})"
        unit = _alternation(self.units)
        period = r"(?:day|week|fortnight|month|year|wk)"
        self.duration_re = re.compile(
            rf"(?<![\w.])(?P<num>{duration_number})"
            rf"(?:\s*(?:-|–|to|or)\s*(?P<num2>{duration_number}))?"
            rf"(?P<half1>\s+and\s+a\s+half)?"
            rf"(?:\s*|-)(?P<unit>{unit})(?![\w])"
            rf"(?P<half2>\s+and\s+a\s+half)?"
            rf"(?:\s+or\s+(?P<num3>{duration_number})(?![\w])(?!\s*(?:{unit})\b))?"
        )
        self.frequency_after_re = re.compile(rf"\s*(?:a|an|per|each|every|/|a\s+)\s*{period}")
        self.old_after_re = re.compile(r"\s*-?\s*old\b")
        # "2 weeks out from a marathon", "6 weeks to go": time ahead, not time in pain
        self.ahead_re = re.compile(r"\s*(?:out\b|to\s+go\b|until\b|till\b|before\b|away\b|from\s+now)")
        self.phrases_re = re.compile(rf"\b{_alternation(self.phrases)}\b")
        self.period_re = re.compile(
            rf"\b(?:the|this)\s+(?:last|past)\s+(?P<unit>{unit})\b|\bsince\s+last\s+(?P<unit2>week|month)\b"
        )

        people = _alternation({p: 0 for p in age["people"]})
        after_age = (
            r"(?=\s*(?:$|[.,!?;:)&]|and\b|but\b|so\b|with\b|now\b|this\b|next\b|last\b|in\b|on\b|"
            r"recently\b|yesterday\b|today\b|years?\b|yrs?\b|yo\b|y/o|f\b|m\b|female|male|btw|if\b|-\s))"
        )
        self.age_res = [
            # "12 year old", "12-year-old", "twelve yr old", "34 years old"
            re.compile(rf"(?<![\w.])(?P<num>{self.number})\s*-?\s*(?:years?|yrs?|yr)\s*-?\s*old\b"),
            # "14yo", "14 y/o", "14 y.o."
            re.compile(r"(?<![\w.])(?P<num>\d{1,3})\s*(?:yo|y/o|y\.o\.?|yrs?o)(?![\w/])"),
            # "I'm 34", "she's fifteen", "my son is 13", "aged 40", "age: 40", "turned 50"
            re.compile(
                rf"(?:\b(?:i'?m|i\s+am|im|i’m|he'?s|she'?s|he’s|she’s|they'?re|they\s+are|{people}\s+is|"
                rf"{people}'s|{people}’s)\s+(?:now\s+|only\s+|just\s+|nearly\s+|almost\s+|about\s+|aged\s+)?"
                rf"|\b(?:aged|age(?:\s+is)?:?|turned|turning|turns)\s+)"
                rf"(?P<num>{self.number}){after_age}"
            ),
            # "my daughter (13)", "my son, 12,"
            re.compile(rf"\b(?:{people})\s*(?:\(|,)\s*(?:aged\s+)?(?P<num>\d{{1,2}})\s*(?:\)|,)"),
        ]

    def value(self, phrase: str | None) -> float | None:
        """The number a phrase says: '6' 6.0, '1.5' 1.5, 'twenty one' 21.0, 'a couple of' 2.0."""
        if not phrase:
            return None
        phrase = re.sub(r"\s+", " ", phrase.strip().replace("-", " "))
        if phrase in self.vague:
            return self.vague[phrase]
        if re.fullmatch(r"\d+(?:[.,]\d+)?", phrase):
            return float(phrase.replace(",", "."))
        parts = phrase.split()
        if all(p in self.words for p in parts):
            numbers = [self.words[p] for p in parts]
            if len(numbers) == 1:
                return numbers[0]
            if len(numbers) == 2 and numbers[0] >= 20 and numbers[0] % 10 == 0 and numbers[1] < 10:
                return numbers[0] + numbers[1]
        return None

    def durations(self, text: str, lowered: str) -> list[Found]:
        found = []
        for m in self.duration_re.finditer(lowered):
            num = self.value(m.group("num"))
            if num is None:
                continue
            previous = lowered[max(0, m.start() - 40) : m.start()].split()[-1:] or [""]
            previous_word = previous[0].strip(".,!?;:()")
            if previous_word in self.not_after:
                continue
            if m.group("num") in self.vague and previous_word in self.frequency_before:
                continue
            if previous_word.isdigit() or re.fullmatch(r"\d+(?:k|km|kms)", previous_word):
                continue  # "40 km a week"
            rest = lowered[m.end() :]
            if any(r.match(rest) for r in (self.frequency_after_re, self.old_after_re, self.ahead_re)):
                continue
            amounts = [num] + [self.value(m.group(g)) for g in ("num2", "num3") if m.group(g)]
            amount = max(a for a in amounts if a is not None)
            if m.group("half1") or m.group("half2"):
                amount += 0.5
            weeks = round(amount * self.units[m.group("unit")], 2)
            unsure = re.sub(r"\s+", " ", m.group("num")) in self.unsure_amounts and not m.group("num2")
            entity = UNSURE_DURATION if unsure else "duration_weeks"
            found.append(Found(entity, weeks, m.start(), m.end(), text[m.start() : m.end()]))
        for m in self.phrases_re.finditer(lowered):
            phrase = re.sub(r"\s+", " ", m.group(0))
            entity = UNSURE_DURATION if phrase in self.unsure_phrases else "duration_weeks"
            found.append(Found(entity, round(self.phrases[phrase], 2), m.start(), m.end(), text[m.start() : m.end()]))
        for m in self.period_re.finditer(lowered):
            unit = m.group("unit") or m.group("unit2")
            if unit in self.units:
                found.append(
                    Found("duration_weeks", round(self.units[unit], 2), m.start(), m.end(), text[m.start() : m.end()])
                )
        return _drop_overlaps(found)

    def ages(self, text: str, lowered: str) -> list[Found]:
        found = []
        for pattern in self.age_res:
            for m in pattern.finditer(lowered):
                num = self.value(m.group("num"))
                if num is None or num != int(num) or not self.age_min <= num <= self.age_max:
                    continue
                start, end = m.span()
                found.append(Found("age", int(num), start, end, text[start:end]))
        return _drop_overlaps(found)


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation, longest first so 'a couple of' wins over 'a'."""
    return "(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True)) + ")"


# Words that tie a sentence to the pain itself, not to something else that lasted or happened then.
_ABOUT_THE_PAIN = re.compile(
    r"\b(?:pain\w*|sore\w*|ache|aches|aching|achy|hurt\w*|niggl\w*|twing\w*|bad|worse|playing up|grief|"
    r"flare\w*|started|starting|began|begun|came on|come on|on and off|off and on|bugging|troubl\w*|"
    r"had it|had this)\b"
)
# "on and off for a year, but it flared up in March": the history, then a new episode of unknown length
_HISTORY_THEN_NOW = re.compile(
    r"\b(?:on and off|off and on|on and off again|for years)\b.*\b(?:but|though|tho|until)\b"
)
LONG_STRETCH_WEEKS = 52  # a year or more: the history, not usually this episode
SHORT_ANSWER_WORDS = 8


def _sentence_around(text: str, start: int, end: int) -> str:
    left = max(text.rfind(mark, 0, start) for mark in ".!?\n")
    rights = [i for i in (text.find(mark, end) for mark in ".!?\n") if i != -1]
    return text[left + 1 : min(rights) if rights else len(text)]


def this_episode(durations: list[Found], lowered: str) -> list[Found]:
    """The durations that say how long THIS pain has lasted. A year or more counts only in a
    sentence about the pain ("I've been running for 20 years", "a clean-out 15 years ago" do not),
    and not beside a shorter one ("on and off for a year, but bad for 5 weeks" is 5 weeks)."""
    if len(lowered.split()) <= SHORT_ANSWER_WORDS:  # "had it for a year": an answer to "how long?"
        return durations
    kept = [
        d
        for d in durations
        if d.value < LONG_STRETCH_WEEKS
        or (
            _ABOUT_THE_PAIN.search(_sentence_around(lowered, d.start, d.end))
            and not _HISTORY_THEN_NOW.search(_sentence_around(lowered, d.start, d.end))
        )
    ]
    if any(d.value < LONG_STRETCH_WEEKS for d in kept):
        kept = [d for d in kept if d.value < LONG_STRETCH_WEEKS]
    return kept


# A distant past named in the sentence: "years ago", "as a teenager", "when I was 20", "in 2015".
_LONG_AGO = re.compile(
    r"\b(?:(?:\d+|two|three|four|five|six|seven|eight|nine|ten|twenty|a few|few|many|several|some|a couple of|"
    r"couple of)\s+(?:years|yrs|decades)\s+(?:ago|back|earlier)|years ago|ages ago|decades ago|long time ago|"
    r"as a (?:kid|child|teen|teenager|junior)|when i was (?:a kid|a child|a teen|a teenager|young|younger|at school|"
    r"in school|\d+)|in (?:high ?school|my teens|my twenties|my 20s|uni)|back in (?:19|20)?\d\d|"
    r"in (?:19\d\d|200\d|201\d))\b"
)
# ...and this pain tied to it all the same: "ever since", "never been right since".
_SINCE_THEN = re.compile(
    r"\b(?:ever since|since then|since that|since the|never been (?:right|the same)|"
    r"(?:hasn'?t|has not|haven'?t) been (?:right|the same)|still (?:hurts|sore|aches|painful))\b"
)


def onset_now(found: list[Found], lowered: str) -> list[Found]:
    """An injury told in a sentence set long ago ("the op was years ago for a cartilage tear",
    "hurt it as a teenager") says how that began, not this pain, unless the sentence ties this
    pain to it ("ever since"). Left out, so the form asks how this pain started."""
    kept = []
    for item in found:
        if item.entity == "onset" and item.value == "sudden_injury":
            sentence = _sentence_around(lowered, item.start, item.end)
            if _LONG_AGO.search(sentence) and not _SINCE_THEN.search(sentence):
                continue
        kept.append(item)
    return kept


_TENDON = re.compile(r"\b(?:tendon|tendons|tendinitis|tendonitis|tendinopathy|tendonopathy|jumper'?s knee)\b")


def by_anatomy(found: list[Found], lowered: str) -> list[Found]:
    """Places read with anatomy: "under the kneecap, on the tendon" is the patellar tendon, below
    the kneecap, not behind it (the tendon runs from the kneecap's lower edge to the shin)."""
    tendon = _TENDON.search(lowered)
    places = {f.value for f in found if f.entity == "pain_location"}
    if tendon is None or "behind_kneecap" not in places:
        return found
    found = [f for f in found if not (f.entity == "pain_location" and f.value == "behind_kneecap")]
    if "below_kneecap" not in places:
        found.append(
            Found(
                "pain_location", "below_kneecap", tendon.start(), tendon.end(), lowered[tendon.start() : tendon.end()]
            )
        )
    return found


def _drop_overlaps(found: list[Found]) -> list[Found]:
    """Keep the longest of overlapping finds ('a month and a half' over 'a month')."""
    kept: list[Found] = []
    taken: set[int] = set()
    for item in sorted(found, key=lambda f: (-(f.end - f.start), f.start)):
        chars = range(item.start, item.end)
        if not any(c in taken for c in chars):
            kept.append(item)
            taken.update(chars)
    return sorted(kept, key=lambda f: f.start)


@functools.lru_cache(maxsize=1)
def default_rules() -> KneeEntityRules:
    """The rules from `entity_patterns.yml`, compiled once a process (about half a second)."""
    return KneeEntityRules()


def extract(text: str) -> list[dict[str, Any]]:
    """Entities in a message: dicts with entity, value, start, end and text (see module doc)."""
    return default_rules().extract(text)


def durations_said(text: str) -> list[float]:
    """Every duration in the text, in order, in weeks: for the triage form, which knows it asked
    how long, so a year or more is this pain's too ("well over a year now, maybe closer to
    eighteen months"), which extract() leaves out of a long message not tied to the pain."""
    if not isinstance(text, str) or not text.strip():
        return []
    rules = default_rules()
    found = rules.numbers.durations(text, _without_markup(_lower_keep_length(text)))
    return [float(f.value) for f in sorted(found, key=lambda f: f.start)]


def number_answer(text: str) -> float | None:
    """The number a bare answer gives ("40", "forty", "sixty two", "1.5"), or None.

    For the triage form, which knows what it asked: "15" answers "how old?" and "how many weeks?"
    differently, so extract() leaves a bare number alone.
    """
    if not isinstance(text, str):
        return None
    return default_rules().numbers.value(_lower_keep_length(text).strip(" .!?"))
