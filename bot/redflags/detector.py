"""Red-flag detection: medspaCy mentions -> body-site check -> combinations -> screening answers.

Pure Python (no Rasa). See rules/*.yml for every phrase and combination; this module holds only
the logic that joins them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.contract import RED_FLAG_MIN_LEVEL, level_rank
from bot.redflags import pipeline
from bot.redflags.findings import MODIFIER_NAMES, OTHER_SITE, Finding
from bot.redflags.rules import ComboSpec, RuleSet, TargetSpec
from bot.redflags.screening import screening_finding
from bot.redflags.text import normalise

ADULT_AGE = 16  # contract: child_hip is for a child or adolescent under 16
_AGE_NUMBER = re.compile(r"\d{1,2}")
_OFFSPRING_RULE = "sign.offspring_word"
ANIMAL = "animal"
OTHER_PERSON = "other_person"
# Not a ConText category: an adult's age is said and no child is named (see _adult_finding).
ADULT = "adult"
_ADULT_RULE = "child_hip.adult_age_named"
_WALKS_NORMALLY_RULE = "child_hip.walks_normally"
_CHILD_WORD_RULE = "sign.child_word"


# ---- mentions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    spec: TargetSpec
    start: int  # offsets in the clean text
    end: int
    text: str
    modifiers: frozenset[str]  # after keep_when
    sentence: int
    virtual: bool = False  # e.g. patient_under_16=True: no words in the text
    prior: bool = False  # a sign said in an earlier message of the conversation

    @property
    def label(self) -> str:
        return self.spec.label


@dataclass(frozen=True)
class _SentenceSites:
    knee: bool
    classes: frozenset[str]


# ConText compares every modifier with every target in a document, so a very long message is cut
# at sentence ends into pieces of about this many characters (modifiers never cross sentences).
CHUNK_CHARS = 1500


def _chunks(text: str, limit: int = CHUNK_CHARS) -> list[tuple[int, str]]:
    pieces = []
    start = 0
    n = len(text)
    while start < n:
        end = min(start + limit, n)
        if end < n:
            window = text[start:end]
            cut = max(window.rfind("\n"), window.rfind(". "), window.rfind("! "), window.rfind("? "))
            if cut <= limit // 3:
                cut = window.rfind(" ")
            if cut > 0:
                end = start + cut + 1
        pieces.append((start, text[start:end]))
        start = end
    return pieces


def _analyse(text: str, rules: RuleSet) -> tuple[list[Mention], list[_SentenceSites]]:
    mentions: list[Mention] = []
    sites: list[_SentenceSites] = []
    for offset, piece in _chunks(text):
        if not piece.strip():
            continue
        doc = pipeline.run(piece)
        first_sentence = len(sites)
        for mention in _mentions(doc, rules):
            mentions.append(
                Mention(
                    spec=mention.spec,
                    start=mention.start + offset,
                    end=mention.end + offset,
                    text=mention.text,
                    modifiers=mention.modifiers,
                    sentence=mention.sentence + first_sentence,
                )
            )
        sites.extend(_sentence_sites(doc, rules))
    return mentions, sites


def _mentions(doc, rules: RuleSet) -> list[Mention]:
    by_label: dict[str, list[tuple[TargetSpec, re.Pattern[str]]]] = {}
    for spec in rules.targets:
        by_label.setdefault(spec.label, []).append((spec, _compiled(spec.regex)))
    modifiers: dict[tuple[int, int, str], set] = {}
    graph = doc._.context_graph
    if graph is not None:
        _add_touching_modifiers(doc, graph, modifiers)
        for target, modifier in graph.edges:
            name = MODIFIER_NAMES.get(modifier.category.upper())
            mod_start, mod_end = modifier.modifier_span
            if mod_start < target.end and target.start < mod_end:
                # medspaCy 1.3.1 misses a modifier lying inside its target ("lost weight
                # without trying"): words of the target never modify it.
                continue
            if name:
                modifiers.setdefault((target.start, target.end, target.label_), set()).add(name)
    sentence_of = {}
    for index, sent in enumerate(doc.sents):
        sentence_of[sent.start] = index
    found: dict[tuple[str, int, int], Mention] = {}
    for span in doc.spans[pipeline.SPAN_GROUP] if pipeline.SPAN_GROUP in doc.spans else ():
        candidates = by_label[span.label_]
        spec = next((s for s, regex in candidates if regex.search(span.text)), candidates[0][0])
        mods = frozenset(modifiers.get((span.start, span.end, span.label_), ())) - spec.keep_when
        mention = Mention(
            spec=spec,
            start=span.start_char,
            end=span.end_char,
            text=span.text,
            modifiers=mods,
            sentence=sentence_of.get(span.sent.start, 0),
        )
        key = (spec.id, span.start_char, span.end_char)
        found.setdefault(key, mention)
    return _drop_nested(list(found.values()))


def _add_touching_modifiers(doc, graph, modifiers: dict[tuple[int, int, str], set]) -> None:
    """medspaCy 1.3.1 drops a modifier that runs into its target ("didn't feel a" + "feel a pop").
    A forward modifier that starts before the target, or a backward one that ends after it,
    still modifies it."""
    if pipeline.SPAN_GROUP not in doc.spans:
        return
    sentence_start = [0] * len(doc)
    for sent in doc.sents:
        for i in range(sent.start, sent.end):
            sentence_start[i] = sent.start
    spans = [(s.start, s.end, s.label_) for s in doc.spans[pipeline.SPAN_GROUP]]
    for modifier in graph.modifiers:
        name = MODIFIER_NAMES.get(modifier.category.upper())
        if not name:
            continue
        m_start, m_end = modifier.modifier_span
        direction = modifier.direction.upper()
        for start, end, label in spans:
            if not (m_start < end and start < m_end) or sentence_start[start] != sentence_start[m_start]:
                continue
            forward = direction in ("FORWARD", "BIDIRECTIONAL") and m_start < start < m_end < end
            backward = direction in ("BACKWARD", "BIDIRECTIONAL") and start < m_start < end < m_end
            if forward or backward:
                modifiers.setdefault((start, end, label), set()).add(name)


_COMPILED: dict[str, re.Pattern[str]] = {}


def _compiled(regex: str) -> re.Pattern[str]:
    if regex not in _COMPILED:
        _COMPILED[regex] = re.compile(regex, re.IGNORECASE)
    return _COMPILED[regex]


def _drop_nested(mentions: list[Mention]) -> list[Mention]:
    """Of two mentions of the same label where one lies inside the other, keep the longer."""
    mentions.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept: list[Mention] = []
    for mention in mentions:
        if any(k.label == mention.label and k.start <= mention.start and mention.end <= k.end for k in kept):
            continue
        kept.append(mention)
    return kept


def _sentence_sites(doc, rules: RuleSet) -> list[_SentenceSites]:
    sites = []
    for sent in doc.sents:
        text = sent.text
        classes = frozenset(c.name for c in rules.gating_classes if c.regex.search(text))
        vague = rules.vague_region is not None and not classes and rules.vague_region.search(text)
        knee = bool(rules.knee_region.search(text) or vague)
        sites.append(_SentenceSites(knee, classes))
    return sites


def _child_mentions(mentions: list[Mention]) -> tuple[list[Mention], Mention | None]:
    """Ages decide childhood: "my 9 year old" is a child, "my son, he's 25" is not. Returns the
    mentions kept and the first adult age said plainly (None when there is none)."""
    adult_age: Mention | None = None
    kept: list[Mention] = []
    for mention in mentions:
        if mention.spec.id == _CHILD_WORD_RULE:
            number = _AGE_NUMBER.search(mention.text)
            if number and int(number.group(0)) >= ADULT_AGE:
                if not mention.modifiers and adult_age is None:
                    adult_age = mention
                continue
        kept.append(mention)
    if adult_age is not None:
        kept = [m for m in kept if m.spec.id != _OFFSPRING_RULE]
    return kept, adult_age


def _walks_normally_finding(mentions: list[Mention], ctx: _Context, patient_under_16: bool | None) -> list[Finding]:
    """A child said to walk normally or to have no limp, and no limp or hip, groin or thigh pain said
    of them: the rules' evidence against the under-16 code ("he's walking totally normal, no limp,
    his knee hurts when he squats"). Kept as a negated finding (staff see it), so the learned net,
    which reads a child and a sore knee, does not raise the code alone (nets.NOT_NOW)."""
    if not (patient_under_16 or any(m.label == "child" for m in mentions)):
        return []
    said = [m for m in mentions if m.label in ("limp", "hip_pain") and ctx.person(m) != ANIMAL]
    if any("negated" not in m.modifiers for m in said):
        return []
    evidence = [m for m in said if m.label == "limp"] + [
        m for m in mentions if m.label == "walks_normally" and not m.modifiers and ctx.person(m) != ANIMAL
    ]
    if not evidence:
        return []
    return [_not_under_16(min(evidence, key=lambda m: m.start), "negated", _WALKS_NORMALLY_RULE)]


def _adult_finding(adult_age: Mention | None, mentions: list[Mention], patient_under_16: bool | None) -> list[Finding]:
    """An adult's age said, and no child anywhere in the message: the rules' evidence that the
    under-16 code is not this person's ("my client Gary (58) has been limping"). Kept as a finding
    that is not asserted (staff see "child_hip: adult"), so the learned net, which reads "limping"
    but not ages, does not raise it alone (nets.NOT_NOW)."""
    if adult_age is None or patient_under_16 or any(m.label == "child" for m in mentions):
        return []
    return [_not_under_16(adult_age, ADULT, _ADULT_RULE)]


def _not_under_16(evidence: Mention, modifier: str, rule: str) -> Finding:
    """The rules' evidence against child_hip, kept as a finding that is not asserted."""
    return Finding(
        code="child_hip",
        level=RED_FLAG_MIN_LEVEL["child_hip"],
        matched=evidence.text,
        start=evidence.start,
        end=evidence.end,
        modifiers=(modifier,),
        asserted=False,
        rule=rule,
    )


# ---- findings ---------------------------------------------------------------------------------


_SENTENCE_END = re.compile(r"[.!?;\n]")


def _last_cue(text: str, cues) -> str | None:
    best: tuple[int, str] | None = None
    kinds = [("self", cues.self_words), ("other", cues.other_words)]
    if cues.animal_words is not None:
        kinds.append((ANIMAL, cues.animal_words))
    for kind, regex in kinds:
        for match in regex.finditer(text):
            if best is None or match.start() > best[0]:
                best = (match.start(), kind)
    return best[1] if best else None


class _Context:
    def __init__(self, rules: RuleSet, sites: Sequence[_SentenceSites], text: str = ""):
        self.rules = rules
        self.sites = sites
        self.text = text
        self.gates: dict[str, frozenset[str]] = {c.name: c.gates for c in rules.gating_classes}
        cues = rules.persons
        # "For my husband: he had prostate cancer..." - the relative is the person asked for, so
        # their symptoms and history are not family history (persons.yml: proxy).
        # So is a relative whose care the message asks about ("how soon should he be seen?").
        self.proxy = cues is not None and (
            bool(cues.proxy is not None and cues.proxy.search(text[:200]))
            or bool(cues.proxy_question is not None and cues.proxy_question.search(text))
        )

    def other_site(self, mention: Mention, code: str) -> bool:
        """True when the mention's sentence is about another body part for this code."""
        if mention.virtual or mention.label in self.rules.never_gated_signs or mention.spec.never_gated:
            return False
        if code in ("cardiorespiratory", "self_harm"):
            return False
        site = self.sites[mention.sentence] if mention.sentence < len(self.sites) else None
        if site is None or site.knee:
            return False
        return any(code in self.gates[name] or name in mention.spec.gated_by for name in site.classes)

    def person(self, mention: Mention) -> str | None:
        """'self', 'other', 'animal' or None (unclear) - whom the mention is about."""
        cues = self.rules.persons
        if mention.virtual or cues is None:
            return None  # patient_under_16 is about the patient, who may be the user's child
        if mention.label == "child":
            return "self" if cues.self_child.match(mention.text) else "other"
        inside = _last_cue(mention.text, cues)  # "pain in his groin"
        if inside:
            return inside
        before = self.text[max(0, mention.start - 80) : mention.start]
        ends = list(_SENTENCE_END.finditer(before))
        if ends:
            before = before[ends[-1].end() :]
        return _last_cue(before, cues)

    def someone_else(self, mention: Mention) -> bool:
        """An adult other than the writer has the sign, and the writer then turns to their own
        knee or says they are fine ("my friend's knee is hot and she has a fever. me, just
        stiffness"): the writer is not asking for that person. A child is always the person asked
        for, and so is an adult the writer does not turn away from ("my wife can't walk")."""
        cues = self.rules.persons
        if cues is None or cues.self_instead is None or mention.virtual or self.person(mention) != "other":
            return False
        start = max(0, mention.start - 80)
        before = self.text[start : mention.end]
        if cues.asked_for is not None and cues.asked_for.search(before):
            return False
        return bool(cues.self_instead.search(self.text, mention.end))

    def modifiers_for(self, mention: Mention, code: str) -> tuple[str, ...]:
        names = set(mention.modifiers)
        if self.proxy:
            names.discard("family")
        if self.other_site(mention, code):
            names.add(OTHER_SITE)
        if code not in ("cardiorespiratory", "self_harm"):
            if self.person(mention) == ANIMAL:
                names.add(ANIMAL)  # "my dog's knee is hot and swollen": a vet's question
            elif self.someone_else(mention):
                names.add(OTHER_PERSON)
        return tuple(sorted(names))


def _level(code: str, specs: Iterable[TargetSpec]) -> str:
    level = RED_FLAG_MIN_LEVEL[code]
    for spec in specs:
        if spec.level and level_rank(spec.level) > level_rank(level):
            level = spec.level
    return level


def _direct_findings(mentions: list[Mention], ctx: _Context) -> list[_Ranked]:
    findings: list[_Ranked] = []
    for mention in mentions:
        if mention.spec.kind != "code":
            continue
        code = mention.label
        modifiers = ctx.modifiers_for(mention, code)
        findings.append(
            (
                0,
                Finding(
                    code=code,
                    level=_level(code, [mention.spec]),
                    matched=mention.text,
                    start=mention.start,
                    end=mention.end,
                    modifiers=modifiers,
                    asserted=not modifiers,
                    rule=mention.spec.id,
                ),
                ((mention.start, mention.end),),
            )
        )
    return findings


def _combo_findings(mentions: list[Mention], ctx: _Context, combos: Sequence[ComboSpec]) -> list[_Ranked]:
    by_label: dict[str, list[Mention]] = {}
    for mention in mentions:
        by_label.setdefault(mention.label, []).append(mention)
    findings = []
    for priority, combo in enumerate(combos, start=1):
        chosen: list[tuple[Mention, tuple[str, ...]]] = []
        for group in combo.all_of:
            candidates = []
            for sign in group:
                for mention in by_label.get(sign, ()):
                    modifiers = ctx.modifiers_for(mention, combo.code)
                    if combo.ignore_site:
                        modifiers = tuple(m for m in modifiers if m != OTHER_SITE)
                    candidates.append((mention, modifiers))
            if not candidates:
                break
            # prefer an asserted sign; then the earliest
            candidates.sort(key=lambda c: (bool(c[1]), c[0].start))
            chosen.append(candidates[0])
        else:
            if combo.same_person:
                persons = {ctx.person(m) for m, _ in chosen} - {None}
                if len(persons) > 1:
                    continue  # "my son has a fever and my knee is swollen": two people
            if (
                all(m.prior for m, _ in chosen if m.virtual)
                and all(m.virtual for m, _ in chosen)
                and any(m.prior for m, _ in chosen)
            ):
                continue  # earlier messages alone: that combination was judged when they came
            real = [m for m, _ in chosen if not m.virtual]
            modifiers = tuple(sorted({name for _, mods in chosen for name in mods}))
            unique_real = sorted({(m.start, m.end, m.text) for m in real})
            findings.append(
                (
                    priority,
                    Finding(
                        code=combo.code,
                        level=_level(combo.code, [m.spec for m, _ in chosen]),
                        matched=" + ".join(text for _, _, text in unique_real),
                        start=min((s for s, _, _ in unique_real), default=0),
                        end=max((e for _, e, _ in unique_real), default=0),
                        modifiers=modifiers,
                        asserted=not modifiers,
                        rule=combo.id,
                    ),
                    tuple((s, e) for s, e, _ in unique_real),
                )
            )
    return findings


_Ranked = tuple[int, Finding, tuple[tuple[int, int], ...]]  # priority, finding, ingredient spans


def _select(ranked: list[_Ranked]) -> list[tuple[Finding, tuple[tuple[int, int], ...]]]:
    """One asserted finding a code (the most urgent, then the most specific rule) plus any
    non-asserted findings that point elsewhere in the text, so staff see "fever: negated"."""
    by_code: dict[str, list[_Ranked]] = {}
    for item in ranked:
        by_code.setdefault(item[1].code, []).append(item)
    selected: list[tuple[Finding, tuple[tuple[int, int], ...]]] = []
    for items in by_code.values():
        asserted = sorted(
            (item for item in items if item[1].asserted),
            key=lambda item: (-level_rank(item[1].level), item[0], item[1].start),
        )
        kept = [asserted[0]] if asserted else []
        seen = set()
        for item in sorted(items, key=lambda item: (item[1].start, item[0])):
            finding = item[1]
            if finding.asserted:
                continue
            key = (finding.start, finding.end, finding.modifiers)
            overlaps = any(k[1].start < finding.end and finding.start < k[1].end for k in kept)
            if key in seen or overlaps:
                continue
            seen.add(key)
            kept.append(item)
        selected.extend((finding, parts) for _, finding, parts in kept)
    selected.sort(key=lambda pair: (pair[0].start, pair[0].code))
    return selected


def _to_original(
    finding: Finding, parts: tuple[tuple[int, int], ...], text: str, starts: list[int], ends: list[int]
) -> Finding:
    """Offsets and words in the text as the person typed it (before HTML and space clean-up)."""
    if not starts or finding.end <= finding.start:
        return finding
    start = starts[min(finding.start, len(starts) - 1)]
    end = ends[min(finding.end, len(ends)) - 1]
    # each ingredient of a combination as written, joined by " + "
    matched = " + ".join(text[starts[s] : ends[min(e, len(ends)) - 1]] for s, e in parts if e > s)
    return Finding(
        code=finding.code,
        level=finding.level,
        matched=matched or text[start:end],
        start=start,
        end=end,
        modifiers=finding.modifiers,
        asserted=finding.asserted,
        rule=finding.rule,
    )


@dataclass(frozen=True)
class Analysis:
    findings: list[Finding]
    # Signs (ingredients of combinations, targets.yml kind: sign) asserted about the person now,
    # on the knee or no other body part: the conversation remembers them, so a hot knee now and a
    # fever two messages later are still `infection` (pass them back as `prior_signs`).
    signs: tuple[str, ...] = ()
    # What the rules saw, as words the learned net reads beside the message's own words: each
    # mention (a code or a sign) with its ConText modifiers and whose it is, at its place in the
    # clean text ("sign_fever_negated", "code_dvt_family", "sign_hot_animal").
    facts: tuple[tuple[int, str], ...] = ()
    clean: str = ""


def detect(
    text: str,
    *,
    question: str | None = None,
    patient_under_16: bool | None = None,
    prior_signs: Sequence[str] = (),
) -> list[Finding]:
    """Every red flag mentioned in one user message, asserted or not (see Finding)."""
    return analyse(text, question=question, patient_under_16=patient_under_16, prior_signs=prior_signs).findings


def analyse(
    text: str,
    *,
    question: str | None = None,
    patient_under_16: bool | None = None,
    prior_signs: Sequence[str] = (),
) -> Analysis:
    """The findings of one message (see `detect`) and the signs it asserts."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    clean, starts, ends = normalise(text)
    if not clean.strip():
        return Analysis([])
    _, rules = pipeline.get()
    mentions, sites = _analyse(clean, rules)
    spec = rules.questions.get(question or "")
    if spec is not None and spec.site:
        # an answer is about the site its question asks about, where a sentence names none
        sites = [s if s.knee or s.classes else _SentenceSites(False, frozenset({spec.site})) for s in sites]
    mentions, adult_age = _child_mentions(mentions)
    ctx = _Context(rules, sites, clean)
    signs = _asserted_signs(mentions, ctx)
    if patient_under_16:
        child_spec = next(s for s in rules.targets if s.id == _CHILD_WORD_RULE)
        mentions.append(Mention(child_spec, 0, 0, "", frozenset(), 0, virtual=True))
    sign_specs = {s.label: s for s in reversed(rules.targets) if s.kind == "sign"}
    for label in dict.fromkeys(prior_signs):
        if label in sign_specs:
            mentions.append(Mention(sign_specs[label], 0, 0, "", frozenset(), 0, virtual=True, prior=True))
    ranked = _direct_findings(mentions, ctx) + _combo_findings(mentions, ctx, rules.combinations)
    evidence = _adult_finding(adult_age, mentions, patient_under_16) or _walks_normally_finding(
        [m for m in mentions if not m.virtual or m.prior], ctx, patient_under_16
    )
    ranked += [(len(ranked), f, ((f.start, f.end),)) for f in evidence]
    asked_code = spec.code if spec is not None else None
    # a sign said of another body part answers nothing about the knee ("my calf is so puffy and
    # warm" while the heat question waits is the calf's: blind persona set 7)
    answering = [m for m in mentions if asked_code is None or m.virtual or not ctx.other_site(m, asked_code)]
    answer = screening_finding(clean, question, answering, rules)
    if answer is not None:
        ranked.insert(0, (-1, answer, ((answer.start, answer.end),)))
    findings = [_to_original(f, parts, text, starts, ends) for f, parts in _select(ranked)]
    return Analysis(findings, signs, _facts(mentions, ctx), clean)


def _facts(mentions: list[Mention], ctx: _Context) -> tuple[tuple[int, str], ...]:
    facts = []
    for mention in mentions:
        if mention.virtual:
            continue
        tags = sorted(mention.modifiers)
        person = ctx.person(mention)
        if person in ("other", ANIMAL):
            tags.append(person)
        site = ctx.sites[mention.sentence] if mention.sentence < len(ctx.sites) else None
        if site is not None and not site.knee and site.classes:
            tags.append("elsewhere")
        facts.append((mention.start, "_".join([mention.spec.kind, mention.label, *tags])))
    return tuple(facts)


def _asserted_signs(mentions: list[Mention], ctx: _Context) -> tuple[str, ...]:
    """Signs said plainly, about the person (not another person) and not another body part."""
    labels: list[str] = []
    for mention in mentions:
        if mention.spec.kind != "sign" or mention.modifiers or mention.virtual:
            continue
        if mention.label == "child" or ctx.person(mention) == ANIMAL:
            continue  # a child is passed as patient_under_16; an animal is not the patient
        site = ctx.sites[mention.sentence] if mention.sentence < len(ctx.sites) else None
        if site is not None and not site.knee and site.classes and mention.label not in ctx.rules.never_gated_signs:
            continue  # "my hand is hot": not the knee's
        if mention.label not in labels:
            labels.append(mention.label)
    return tuple(labels)
