"""Reading level of the texts a patient reads.

House rule: every text the bot shows is at or below school grade 8 on the Flesch-Kincaid grade
of textstat 0.7.4. The formula counts words, sentences and syllables, so it is measured on the
words a person actually reads: markdown, links, emoji, phone numbers and slot placeholders are
taken out first (``plain_text``), because the formula would score them as words they are not.

textstat works offline: it counts syllables with pyphen's bundled hyphenation dictionaries.
"""

from __future__ import annotations

import re

import textstat

MAX_GRADE = 8

# Texts of fewer than this many words count as readable whatever the formula says. The formula
# averages over words and sentences, so in a text this short one word decides the score:
# "Emergency" alone scores 20.2 and "Booking confirmed." 8.8, while "Why the hip?" scores -2.7.
# From five words up a hard text shows: five words of jargon score 24 (see the tests).
SHORT_TEXT_WORDS = 5

_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # [words](url) -> words; images too
_ANGLE_LINK = re.compile(r"<(?:https?://|mailto:)[^>]*>")
# A URL ends before the punctuation that closes its sentence.
_BARE_URL = re.compile(r"\b(?:https?://|www\.)\S*[^\s.,;:!?)]", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_SLOT_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# Phone numbers: 000, or groups of digits (with +, brackets, spaces or hyphens between them)
# holding six or more digits: 13 11 14, 1800 022 222, (03) 9123 4567, +61 412 345 678.
# Read as one unit, yet the formula would count each digit group as a short, easy word.
_PHONE = re.compile(r"(?<![\w.])(?:000|\+?\(?\d[\d \t()\-]{4,}\d)(?![\w.]\d)")
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~|`+)(?=\S)(.+?)(?<=\S)\1")
_STRAY_MARKUP = re.compile(r"[*`~]+|(?<!\w)_+|_+(?!\w)")
_LINE_MARKER = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*+\u2022]\s+|\d{1,3}[.)]\s+)")
# Emoji and pictographs, dingbats, variation selectors and zero-width joiners.
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U00002b00-\U00002bff\U0000fe00-\U0000fe0f\U0000200d\U000020e3]"
)
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,!?;:])")
_SENTENCE_END = ".!?"


def _phone_digits(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "" if digits == "000" or len(digits) >= 6 else match.group(0)


def plain_text(response_text: str) -> str:
    """The words of a response as a reader meets them, ready for the readability formula.

    Each line (a paragraph, a list item, a heading) is read as its own unit, so one that does
    not end a sentence gets a full stop: otherwise a bulleted list would count as one endless
    sentence.
    """
    text = response_text or ""
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _ANGLE_LINK.sub("", text)
    text = _BARE_URL.sub("", text)
    text = _EMAIL.sub("", text)
    text = _HTML_TAG.sub(" ", text)
    text = _SLOT_PLACEHOLDER.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _STRAY_MARKUP.sub("", text)
    text = _PHONE.sub(_phone_digits, text)
    text = _EMOJI.sub("", text)

    sentences = []
    for line in text.splitlines():
        line = _LINE_MARKER.sub("", line)
        line = " ".join(line.split())
        line = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", line)
        line = line.strip(" ,;:")
        # Drop what is left of a line emptied of its words (a lone "-" or "()").
        if not re.search(r"\w", line):
            continue
        if line[-1] not in _SENTENCE_END:
            line += "."
        sentences.append(line)
    return " ".join(sentences)


def word_count(text: str) -> int:
    """Words of the plain text, counted as the formula counts them."""
    return textstat.lexicon_count(plain_text(text))


def grade(text: str) -> float:
    """Flesch-Kincaid grade (textstat 0.7.4) of the plain text; 0.0 when there are no words.

    This is the formula's raw value. To judge a text, use ``is_readable``: it applies the
    short-text rule.
    """
    plain = plain_text(text)
    if not plain:
        return 0.0
    return float(textstat.flesch_kincaid_grade(plain))


def is_readable(text: str, max_grade: float = MAX_GRADE) -> bool:
    """True when a patient can be shown this text: under five words, or at or below max_grade."""
    return word_count(text) < SHORT_TEXT_WORDS or grade(text) <= max_grade
