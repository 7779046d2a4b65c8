"""The medspaCy pipeline: blank English, sentence splitting, TargetMatcher and ConText.

Built once, lazily, from the rule files (no model download). `run` is guarded by a lock: spaCy
pipelines are not documented as safe for concurrent calls, and a call takes about a millisecond.
"""

from __future__ import annotations

import bisect
import re
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from bot.redflags.rules import ContextSpec, RuleSet

SPAN_GROUP = "red_flag_mentions"


# Words that start a new clause: a modifier before them does not reach a symptom after them.
CLAUSE_BREAK_WORDS = frozenset(
    {
        "but",
        "tho",
        "though",
        "although",
        "however",
        "because",
        "cos",
        "coz",
        "cause",
        "since",
        "so",
        "now",
        "then",
        "today",
        "currently",
        "anyway",
        "btw",
        "except",
        "whereas",
        "while",
        "until",
        "unless",
        "yet",
        "still",
    }
)
# A tick or a cross after an item of a symptom checklist ends it, as a full stop does ("not better
# with rest ✔, lost 7kg without trying ✔": the "not" is not the weight loss's; blind batch 24).
CHECK_MARKS = frozenset({"✔", "✓", "✅", "☑", "✔️", "✘", "✗", "❌", "☒", "✖", "✖️", "❎"})
CLAUSE_BREAK_PUNCT = frozenset({".", "!", "?", ";", "...", *CHECK_MARKS})
# Words that may join a list after the first negated symptom: "no fever, chills or sweats".
LIST_JOINERS = frozenset({",", "or", "nor", "/", "&", "no", "any", "either", "even", "not", "-", "n", "of"})
# Extra words that end a negation or doubt before its first symptom ("no fever and my calf...").
LIST_BREAK_WORDS = frozenset({"and", "&", "plus", "also"})
MAX_LIGHT_WORDS = 6
# A relative's symptom is family history when a past-tense history word stands between them and
# nothing says it is happening now or to the user ("my dad had his knee replaced and got a clot").
FAMILY_HISTORY_VERBS = frozenset(
    # treatment finished or in remission is history too ("my husband finished chemo last year")
    {
        "had",
        "got",
        "gotten",
        "suffered",
        "died",
        "passed",
        "diagnosed",
        "history",
        "was",
        "were",
        "needed",
        "finished",
        "completed",
        "beat",
        "survived",
        "remission",
        "recovered",
        "treated",
    }
)
FAMILY_PRESENT_WORDS = frozenset(
    {
        "is",
        "are",
        "am",
        "'m",
        "'re",
        "can",
        "ca",
        "cannot",
        "can't",
        "cant",
        "wo",
        "won't",
        "keeps",
        "keep",
        "now",
        "currently",
        "today",
        "still",
        "feels",
        "looks",
        "says",
        "i",
        "my",
        "me",
    }
)

# A relative's body part named right after them ("my wife's knee locks") is that person's symptom
# now, not a diagnosis in the family ("my mum's DVT").
BODY_PART_WORDS = frozenset(
    {
        "knee",
        "knees",
        "kneecap",
        "kneecaps",
        "patella",
        "leg",
        "legs",
        "calf",
        "calves",
        "foot",
        "feet",
        "toes",
        "ankle",
        "ankles",
        "shin",
        "shins",
        "thigh",
        "thighs",
        "hip",
        "hips",
        "chest",
    }
)
# A relative's event of hours or days ago is news, not family history: the user is asking for
# them ("my partner had his arthroscopy 5 days ago and the knee's gone red"). Weeks or years ago
# stay history ("my mum had a DVT years ago").
RECENT = re.compile(
    r"\b(?:(?:\d+|a|an|one|two|three|four|five|six|few|a few|couple(?: of)?|a couple of) (?:hours?|hrs?|days?) ago"
    r"|yesterday|yday|yest(?:erday|y)?|last (?:night|nite|nyt)|this (?:morning|mornin|arvo|afternoon|evening|week)"
    r"|today|2day|tonight|tonite|2nite|just (?:had|got|been|came))\b"
)
RECENT_AFTER_TOKENS = 5

_LOCK = threading.Lock()
_PIPELINE: tuple[Language, RuleSet] | None = None


def _is_break(token) -> bool:
    return token.text in CLAUSE_BREAK_PUNCT or "\n" in token.text or token.lower_ in CLAUSE_BREAK_WORDS


def _mention_tokens(doc: Doc) -> frozenset[int]:
    """Token positions covered by any target or sign (cached on the doc)."""
    cached = doc.user_data.get("red_flag_mention_tokens")
    if cached is None:
        covered: set[int] = set()
        if SPAN_GROUP in doc.spans:
            for span in doc.spans[SPAN_GROUP]:
                covered.update(range(span.start, span.end))
        cached = frozenset(covered)
        doc.user_data["red_flag_mention_tokens"] = cached
    return cached


def list_scope(target: Span, modifier: Span, between: Span) -> bool:
    """Negation and doubt reach the first symptom through a few light words, then further only
    through a list: "no fever or chills" negates both, "no fever my calf is swollen" only fever."""
    covered = _mention_tokens(target.doc)
    seen_symptom = False
    light = 0
    for token in between:
        if token.is_space and "\n" not in token.text or modifier.start <= token.i < modifier.end:
            continue  # medspaCy's span between a backward modifier and its target holds the modifier
        if token.i in covered:
            seen_symptom = True
            continue
        if _is_break(token) or token.lower_ in LIST_BREAK_WORDS:
            return False
        if seen_symptom:
            if token.lower_ not in LIST_JOINERS:
                return False
        else:
            light += 1
            if light > MAX_LIGHT_WORDS:
                return False
    return True


def clause_scope(target: Span, modifier: Span, between: Span) -> bool:
    """Hypothetical and historical phrases reach to the end of their clause."""
    return not any(_is_break(token) for token in between if not modifier.start <= token.i < modifier.end)


def family_history_scope(target: Span, modifier: Span, between: Span) -> bool:
    """A relative marks family history only with history words between ("my dad had a DVT",
    "my mum's cancer"); "my son is limping" or "my mum's knee is swollen" is about the person the
    user asks for, so it stays asserted."""
    if target.start < modifier.start:
        return False  # a relative named after the symptom: "my calf is swollen like my dad's was"
    doc = target.doc
    after = min(target.end + RECENT_AFTER_TOKENS, target.sent.end)
    if RECENT.search(doc[modifier.start : after].text.lower()):
        return False
    words = [t.lower_ for t in between if not t.is_space]
    if not words:
        # right next to each other: only a possessive is history ("my mum's DVT"), and not before
        # a body part ("my wife's knee locks"); "my mum can't put weight on it" is about the
        # person asked for
        if target[0].lower_ in BODY_PART_WORDS:
            return False
        return modifier.text.lower().endswith("s") and "'" in modifier.text
    if not any(w in FAMILY_HISTORY_VERBS for w in words):
        return False  # "my mum has a DVT" is about the person asked for, now
    return not any(w in FAMILY_PRESENT_WORDS for w in words)


SCOPE_FILTERS: dict[str, Callable[[Span, Span, Span], bool]] = {
    "list": list_scope,
    "clause": clause_scope,
    "family_history": family_history_scope,
}


@Language.component("red_flag_newline_sentences")
def newline_sentences(doc: Doc) -> Doc:
    """People separate thoughts with line breaks, not full stops: a line break ends a sentence."""
    for token in doc[:-1]:
        if "\n" in token.text:
            doc[token.i + 1].is_sent_start = True
    return doc


def _context_rules(rules: RuleSet):
    from medspacy.context import ConTextRule

    built: list[ConTextRule] = []
    if rules.context_use_defaults:
        import medspacy

        default_path = Path(medspacy.__file__).resolve().parents[1] / "resources" / "en" / "context_rules.json"
        for rule in ConTextRule.from_json(str(default_path)):
            if rule.literal in rules.context_drop_defaults:
                continue
            scope_filter = rules.context_default_filters.get(rule.category)
            if scope_filter and rule.direction.upper() not in ("TERMINATE", "PSEUDO"):
                rule.on_modifies = SCOPE_FILTERS[scope_filter]
            built.append(rule)
    for spec in rules.context:
        built.append(_context_rule(spec))
    return built


def _context_rule(spec: ContextSpec):
    from medspacy.context import ConTextRule

    return ConTextRule(
        literal=spec.literal,
        category=spec.category,
        pattern=spec.regex,
        direction=spec.direction,
        on_modifies=SCOPE_FILTERS[spec.filter] if spec.filter else None,
        max_scope=spec.max_scope,
    )


def _regex_matcher_of(component: Any, owner: str) -> Any:
    """The regex matcher inside a medspaCy component (TargetMatcher or ConText), or None. medspaCy
    keeps it in private attributes, so a release that moves it gets None and the stock matcher
    stays in place (tests/test_red_flag_pipeline.py notices)."""
    matcher = getattr(component, f"_{owner}__matcher", None)
    return getattr(matcher, "_MedspacyMatcher__regex_matcher", None)


def _one_text_matcher_class() -> type:
    from medspacy.common.regex_matcher import RegexMatcher

    class OneTextRegexMatcher(RegexMatcher):
        """medspaCy's RegexMatcher, matching every pattern against one text made once a document.

        The stock matcher (medspaCy 1.3.1) rebuilds `doc.text_with_ws` from the tokens for every
        pattern, which is most of the rules' time on a long message. The spans are the same: a
        match that starts inside a token starts with that token, one that ends inside a token ends
        after it (the stock resolve_start="left", resolve_end="right")."""

        def __call__(self, doc: Doc) -> list[tuple[int, int, int]]:
            if (self.resolve_start, self.resolve_end) != ("left", "right") or not len(doc):
                return super().__call__(doc)
            text = doc.text_with_ws
            starts = [token.idx for token in doc]
            count = len(starts)
            matches: list[tuple[int, int, int]] = []
            for match_id, patterns in self._patterns.items():
                on_match = self._callbacks[match_id]
                for pattern in patterns:
                    for found in pattern.finditer(text):
                        first = bisect.bisect_left(starts, found.start())
                        if first == count or starts[first] != found.start():
                            first = (first - 1) % count  # the token the match starts in
                        end = bisect.bisect_left(starts, found.end())  # the first token after it
                        if end > first:
                            matches.append((match_id, first, end))
                        if on_match is not None:
                            on_match(self, doc, len(matches) - 1, matches)
            return matches

    return OneTextRegexMatcher


def build(rules: RuleSet, *, one_text: bool = True) -> Language:
    """A fresh pipeline for these rules (tests may build their own; `get` caches one).
    `one_text=False` keeps medspaCy's stock regex matcher (tests compare the two)."""
    import medspacy  # noqa: F401  (registers the medspaCy factories and span extensions)
    import spacy
    from medspacy.custom_tokenizer import create_medspacy_tokenizer
    from medspacy.target_matcher import TargetRule

    nlp = spacy.blank("en")
    nlp.tokenizer = create_medspacy_tokenizer(nlp)
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("red_flag_newline_sentences")
    matcher: Any = nlp.add_pipe(  # medspaCy's TargetMatcher (medspaCy ships no types)
        "medspacy_target_matcher",
        config={"result_type": "group", "span_group_name": SPAN_GROUP, "prune": False},
    )
    # One matcher rule per label: medspaCy's regex matcher rebuilds the text for every rule, so
    # fewer rules keep a long message fast. The detector finds which reviewed rule fired.
    by_label: dict[str, list[str]] = {}
    for spec in rules.targets:
        by_label.setdefault(spec.label, []).append(f"(?:{spec.regex})")
    matcher.add(
        [TargetRule(literal=label, category=label, pattern="|".join(parts)) for label, parts in by_label.items()]
    )
    context: Any = nlp.add_pipe(  # medspaCy's ConText (no types either)
        "medspacy_context",
        config={
            "rules": None,
            "input_span_type": "group",
            "span_group_name": SPAN_GROUP,
            "span_attrs": None,
            "prune_on_modifier_overlap": True,
        },
    )
    context.add(_context_rules(rules))
    if one_text:
        faster = _one_text_matcher_class()
        for component, owner in ((matcher, "TargetMatcher"), (context, "ConText")):
            stock = _regex_matcher_of(component, owner)
            if stock is not None and type(stock) in faster.__bases__:
                stock.__class__ = faster
    return nlp


def get() -> tuple[Language, RuleSet]:
    """The shared pipeline and its rules, built on first use."""
    global _PIPELINE
    if _PIPELINE is None:
        with _LOCK:
            if _PIPELINE is None:
                from bot.redflags.rules import load_rules

                rules = load_rules()
                _PIPELINE = (build(rules), rules)
    return _PIPELINE


def run(text: str) -> Doc:
    nlp, _ = get()
    with _LOCK, warnings.catch_warnings():
        # All our rules are regular expressions, so medspaCy's token Matcher is empty and spaCy
        # warns (W036) on every message; the warning says nothing about the rules.
        warnings.filterwarnings("ignore", message=r".*\[W036\].*")
        return nlp(text)
