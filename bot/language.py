"""Is a message written in another language than English, or not in words at all?

The bot understands English only. A message in Spanish or Vietnamese would otherwise be forced
into the nearest English intent ("me duele la rodilla cuando subo escaleras" was answered about
the VMO muscle); the person should hear, plainly, that the chat is in English and how to get an
interpreter. Built from what the installed packages carry, nothing downloaded:

- English words: spacy-lookups-data's English word frequencies (`en_lexeme_prob`, a million
  forms from web text), kept above a frequency floor so that rare foreign words seen on English
  pages ("rodilla", "duele") do not count, while "arvo", "physio" and "kms" do;
- other languages: spaCy's stop-word lists (the small words every sentence has: "la", "cuando",
  "khi", "ang", "saya"), less the ones that are also common English ("a", "me", "come");
- other scripts: a message mostly in letters outside the Latin alphabet (Chinese, Arabic, Greek,
  Hindi, Korean...) is not English, whatever its words.

    >>> other_language("me duele la rodilla cuando subo escaleras")
    'es'
    >>> other_language("my kne hurtz wen i run up hils") is None
    True
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import re
import unicodedata
from pathlib import Path

from bot.knee_topic import mentions_knee

# log probabilities in en_lexeme_prob: "the" -3.5, "knee" -10.9, "physio" -14.6, "arvo" -16.2,
# "rodilla" -19.0. Above ENGLISH_FLOOR a word counts as English (about the 110,000 most frequent).
ENGLISH_FLOOR = -16.5
# A foreign stop word this frequent in English text is no evidence of another language ("la",
# "per", "come", "fa").
COMMON_ENGLISH = -11.0
# Latin-script languages most spoken in Australian homes after English (ABS census), and their
# neighbours whose small words overlap theirs.
STOP_WORD_LANGUAGES = ("es", "it", "pt", "fr", "de", "nl", "vi", "tl", "id", "hr", "pl", "tr")
MIN_WORDS = 3
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@functools.lru_cache(maxsize=1)
def _english() -> tuple[frozenset[str], frozenset[str]]:
    """(words that count as English, words common enough that they prove nothing)."""
    import spacy_lookups_data
    from spacy.lang.en.stop_words import STOP_WORDS

    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lexeme_prob.json.gz"
    with gzip.open(path, "rt", encoding="utf8") as handle:
        probs = json.load(handle)
    known = frozenset(w for w, p in probs.items() if p >= ENGLISH_FLOOR) | frozenset(STOP_WORDS)
    common = frozenset(w for w, p in probs.items() if p >= COMMON_ENGLISH) | frozenset(STOP_WORDS)
    return known, common


@functools.lru_cache(maxsize=1)
def _stop_words() -> tuple[tuple[str, frozenset[str]], ...]:
    """Each language's stop words that are not common English."""
    import spacy

    _, common = _english()
    lists = []
    for code in STOP_WORD_LANGUAGES:
        # Only the word-list file: importing spacy.lang.<code> builds the whole language (seconds).
        path = Path(spacy.__file__).parent / "lang" / code / "stop_words.py"
        spec = importlib.util.spec_from_file_location(f"_stop_words_{code}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"spaCy has no stop words for {code!r} at {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        lists.append((code, frozenset(w for w in module.STOP_WORDS if w not in common and " " not in w)))
    return tuple(lists)


def warm_up() -> None:
    """Load the word lists now (about a second) instead of on the first message."""
    _stop_words()


def _script(text: str) -> str | None:
    """The script of most of the letters when it is not Latin ("cjk", "arabic", "greek"...)."""
    scripts: dict[str, int] = {}
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "").split(" ")[0].lower()
            scripts[name] = scripts.get(name, 0) + 1
    letters = sum(scripts.values())
    if not letters:
        return None
    top, count = max(scripts.items(), key=lambda item: item[1])
    return top if top != "latin" and count * 2 > letters else None


def words(text: str):
    return _WORD.findall(text.lower())


def english_share(tokens) -> float:
    known, _ = _english()
    return sum(1 for w in tokens if w in known) / len(tokens) if tokens else 0.0


def other_language(text: str) -> str | None:
    """A language or script code when the message is plainly not English, else None.

    Latin script: at least three words, and small words of one other language: two or more,
    making at least a quarter of the message, or one with fewer than half the words English.
    A few typos, slang or a place name leave an English message English."""
    if not text or text.lstrip().startswith("/"):
        return None
    script = _script(text)
    if script:
        return script
    tokens = words(text)
    if len(tokens) < MIN_WORDS:
        return None
    share = english_share(tokens)
    best, hits = None, 0
    for code, stop_words in _stop_words():
        found = len(set(tokens) & stop_words)  # distinct: "ta ta" is one word (Australian thanks)
        if found > hits:
            best, hits = code, found
    if (hits >= 2 and hits * 4 >= len(tokens)) or (hits == 1 and share < 0.5):
        return best
    return None


def is_gibberish(text: str) -> bool:
    """Two or more words, not one of them English or another language's ("asdkjh qwoeiu"),
    and no knee however it is spelt ("kneee sorre" is a knee message)."""
    if not text or text.lstrip().startswith("/") or _script(text) or mentions_knee(text):
        return False
    tokens = words(text)
    return len(tokens) >= 2 and english_share(tokens) == 0 and other_language(text) is None
