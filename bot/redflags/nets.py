"""Two nets, joined for recall: the rules (bot.redflags.detector) and the learned model
(bot.redflags.learned). Thresholds and the reasons for them: learned.yml.

`assess(text, ...)` runs both on one message and returns every finding the safety layer acts on
(rule findings as they were, plus the model's own findings) and both verdicts for staff.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.contract import RED_FLAG_MIN_LEVEL, highest_level
from bot.redflags.detector import ADULT, ANIMAL, OTHER_PERSON, Analysis, analyse
from bot.redflags.findings import MODEL_ONLY, NOT_BACKED, Finding, asserted_codes, model_rule
from bot.redflags.learned import LearnedModel, Thresholds, load_thresholds


@dataclass
class Verdict:
    findings: list[Finding]  # the rules' findings, then the model's own
    rule_codes: list[str]  # asserted by the rules
    model_scores: dict[str, float] = field(default_factory=dict)  # empty when no model
    model_codes: list[str] = field(default_factory=list)  # at or above `escalate`
    model_doubt: list[str] = field(default_factory=list)  # at or above `clarify` only
    signs: list[str] = field(default_factory=list)  # asserted signs, for the conversation

    def nets(self) -> dict[str, Any]:
        """What each net said, for the parse data and the staff review."""
        caught = {}
        for code in dict.fromkeys([*self.rule_codes, *self.model_codes, *self.model_doubt]):
            by = [name for name, codes in (("rules", self.rule_codes), ("model", self.model_codes)) if code in codes]
            caught[code] = "+".join(by) if by else "model (unsure)"
        return {
            "rules": list(self.rule_codes),
            "model": {c: p for c, p in self.model_scores.items() if p >= 0.05},
            "model_escalate": list(self.model_codes),
            "model_clarify": list(self.model_doubt),
            "caught_by": caught,
        }


# A rule finding with one of these modifiers is the rules' evidence that the message is not a
# red flag now ("no fever", "my dad's DVT", "what if it swells", "last year", "my dog's knee"):
# it outweighs the net's score for that code, which reads words, not who or when.
# ADULT: an adult's age is said and no child is named, so the under-16 code is not this person's.
NOT_NOW = frozenset({"negated", "family", "hypothetical", "historical", ANIMAL, OTHER_PERSON, ADULT})


def decide(
    rule_findings: Sequence[Finding], scores: Mapping[str, float], thresholds: Thresholds
) -> tuple[list[str], list[str]]:
    """The codes to escalate and the codes to ask about, from both nets (learned.yml explains)."""
    ruled = set(asserted_codes(rule_findings))
    not_now = {f.code for f in rule_findings if not f.asserted and NOT_NOW & set(f.modifiers)} - ruled
    sure: list[str] = []
    doubt: list[str] = []
    for code in RED_FLAG_MIN_LEVEL:
        score = scores.get(code, 0.0)
        if code in ruled:
            backed = score >= thresholds.support[code] or code in thresholds.rules_alone
            (sure if backed else doubt).append(code)
        elif score >= thresholds.escalate[code] and code not in not_now:
            sure.append(code)
        elif score >= thresholds.clarify[code] and (
            code not in not_now or code in thresholds.ask_despite_not_now or score >= thresholds.escalate[code]
        ):
            # the net sure and the rules reading "not now" disagree: a question, never silence
            doubt.append(code)
    return sure, doubt


def join(
    rule_findings: Sequence[Finding],
    scores: Mapping[str, float],
    thresholds: Thresholds,
    best_window: Mapping[str, str] | None = None,
) -> list[Finding]:
    """The findings the safety layer acts on: the rules' own, except those the net does not back
    (kept, but as doubt: one clarifying question), and the net's findings that add to them."""
    sure, doubt = decide(rule_findings, scores, thresholds)
    out: list[Finding] = []
    for finding in rule_findings:
        if finding.asserted and finding.code in doubt:
            finding = replace(finding, asserted=False, modifiers=(*finding.modifiers, NOT_BACKED))
        out.append(finding)
    ruled = set(asserted_codes(rule_findings))
    for code in [*sure, *doubt]:
        if code in ruled:
            continue
        score = scores.get(code, 0.0)
        window = (best_window or {}).get(code, "")
        level = RED_FLAG_MIN_LEVEL[code]
        if code in thresholds.level_words and thresholds.level_words[code][1].search(window):
            level = highest_level([level, thresholds.level_words[code][0]]) or level
        out.append(
            Finding(
                code=code,
                level=level,
                matched=window[:160],
                start=0,
                end=0,
                modifiers=() if code in sure else (MODEL_ONLY,),
                asserted=code in sure,
                rule=model_rule(code, score),
            )
        )
    return out


@functools.lru_cache(maxsize=1)
def thresholds() -> Thresholds:
    """learned.yml, read once."""
    return load_thresholds()


def assess(
    text: str,
    model: LearnedModel | None,
    *,
    question: str | None = None,
    patient_under_16: bool | None = None,
    prior_signs: Sequence[str] = (),
) -> Verdict:
    """Both nets on one message. Without a model (none trained yet) the rules act alone."""
    analysis: Analysis = analyse(text, question=question, patient_under_16=patient_under_16, prior_signs=prior_signs)
    verdict = Verdict(
        findings=list(analysis.findings), rule_codes=asserted_codes(analysis.findings), signs=list(analysis.signs)
    )
    if model is None:
        return verdict
    scores, windows = model.scores_with_windows(text, analysis)
    limits = thresholds()
    verdict.findings = join(analysis.findings, scores, limits, windows)
    verdict.model_scores = scores
    verdict.model_codes = [c for c, p in scores.items() if p >= limits.escalate[c]]
    verdict.model_doubt = decide(analysis.findings, scores, limits)[1]
    return verdict
