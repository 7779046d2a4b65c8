"""The result type of red-flag detection: one Finding per red flag mentioned in a message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.contract import MODEL_RULE_PREFIX

# ConText categories -> the modifier names staff see in transcripts.
MODIFIER_NAMES: dict[str, str] = {
    "NEGATED_EXISTENCE": "negated",
    "FAMILY": "family",
    "HYPOTHETICAL": "hypothetical",
    "HISTORICAL": "historical",
    "POSSIBLE_EXISTENCE": "uncertain",
}
# Not a ConText category: the sentence is about another body part ("my hand is red and swollen").
OTHER_SITE = "other_site"
# Not a ConText category: only the learned net found it, with moderate confidence (nets.py).
MODEL_ONLY = "model_only"
# Not a ConText category: a rule matched, but the learned net scored the code below its `support`.
NOT_BACKED = "not_backed_by_model"
# Modifiers that mean "maybe": the bot should ask one clarifying question, never guess downwards.
CLARIFY_MODIFIERS = frozenset({"uncertain", OTHER_SITE, MODEL_ONLY, NOT_BACKED})


@dataclass(frozen=True)
class Finding:
    """One red flag found in a message.

    `asserted` is True only when the red flag is said about the user (or the person they ask
    for) now; negated, family, hypothetical, historical, uncertain and other-site findings are
    returned too (staff see "fever: negated") but are not asserted.
    `matched` is the words as typed; for a combination rule its ingredients joined by " + "
    ("can't put weight on + the fall"), and `start`/`end` span all of them. `rule` is the id of
    the reviewed rule in bot/redflags/rules/ (or "screening.<question>.<answer kind>").
    """

    code: str
    level: str
    matched: str
    start: int
    end: int
    modifiers: tuple[str, ...]
    asserted: bool
    rule: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (lists, not tuples) for parse data, slots and transcripts."""
        return {
            "code": self.code,
            "level": self.level,
            "matched": self.matched,
            "start": self.start,
            "end": self.end,
            "modifiers": list(self.modifiers),
            "asserted": self.asserted,
            "rule": self.rule,
        }


def asserted_codes(findings: Iterable[Finding]) -> list[str]:
    """The codes asserted in these findings, each once, in order of first appearance."""
    codes: list[str] = []
    for finding in findings:
        if finding.asserted and finding.code not in codes:
            codes.append(finding.code)
    return codes


def codes_to_clarify(findings: Iterable[Finding]) -> list[str]:
    """Codes found only with doubt ("maybe", "not sure", another body part named).

    For these the bot should ask one clarifying question (contract: never guess downwards).
    Codes that are also asserted are left out: they need no question.
    """
    findings = list(findings)
    asserted = set(asserted_codes(findings))
    codes: list[str] = []
    for finding in findings:
        if (
            not finding.asserted
            and finding.code not in asserted
            and finding.code not in codes
            and finding.modifiers
            and set(finding.modifiers) <= CLARIFY_MODIFIERS
        ):
            codes.append(finding.code)
    return codes


def model_rule(code: str, score: float) -> str:
    """The `rule` of a finding the learned net made alone: "model.self_harm:0.97"."""
    return f"{MODEL_RULE_PREFIX}{code}:{score:.2f}"


def model_score(rule: object) -> float | None:
    """The net's score in a `model_rule` id (two decimals), or None for a reviewed rule's id."""
    text = str(rule or "")
    if not text.startswith(MODEL_RULE_PREFIX):
        return None
    try:
        return float(text.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None
