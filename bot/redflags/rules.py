"""Load and check the clinician-readable rule files in bot/redflags/rules/.

The YAML files hold every phrase the detector knows; this module turns them into compiled
patterns and plain data, and fails loudly (naming the file and rule) when a file is wrong, so a
bad edit is caught by the tests rather than in a conversation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.contract import RED_FLAG_CODES, RED_FLAG_MIN_LEVEL, TRIAGE_LEVELS

RULES_DIR = Path(__file__).resolve().parent / "rules"

CONTEXT_CATEGORIES = frozenset(
    {"NEGATED_EXISTENCE", "FAMILY", "HYPOTHETICAL", "HISTORICAL", "POSSIBLE_EXISTENCE", "TERMINATE"}
)
DIRECTIONS = frozenset({"FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"})
SCOPE_FILTERS = frozenset({"list", "clause", "family_history"})
MODIFIER_KEYS = frozenset({"negated", "family", "hypothetical", "historical", "uncertain"})

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class RuleFileError(ValueError):
    """A rule file is malformed; the message names the file and the rule."""


@dataclass(frozen=True)
class TargetSpec:
    id: str
    label: str  # a red-flag code (kind "code") or a sign name (kind "sign")
    kind: str
    literal: str
    regex: str
    level: str | None = None
    keep_when: frozenset[str] = frozenset()
    never_gated: bool = False  # systemic signs (weight loss, cancer history) have no body site
    gated_by: frozenset[str] = frozenset()  # extra site classes that gate this rule


@dataclass(frozen=True)
class ContextSpec:
    literal: str
    category: str
    direction: str
    regex: str
    filter: str | None = None
    max_scope: int | None = None


@dataclass(frozen=True)
class ComboSpec:
    id: str
    code: str
    all_of: tuple[tuple[str, ...], ...]
    ignore_site: bool = False
    same_person: bool = False
    why: str = ""


@dataclass(frozen=True)
class PersonCues:
    self_words: re.Pattern[str]
    other_words: re.Pattern[str]
    self_child: re.Pattern[str]
    animal_words: re.Pattern[str] | None = None
    asked_for: re.Pattern[str] | None = None
    self_instead: re.Pattern[str] | None = None
    proxy: re.Pattern[str] | None = None
    proxy_question: re.Pattern[str] | None = None


@dataclass(frozen=True)
class GatingClass:
    name: str
    regex: re.Pattern[str]
    gates: frozenset[str]


@dataclass(frozen=True)
class ScreeningQuestion:
    id: str
    code: str
    signs: frozenset[str]
    codes: frozenset[str]
    unsure_is_yes: bool = False
    # Answers that say no in the question's own terms ("she can stand and walk on it" to the
    # weight-bearing question), found anywhere in the answer.
    no_when: re.Pattern[str] | None = None
    # The body site the question asks about (a gating class in sites.yml): a sentence of the
    # answer that names no site of its own is about it ("Yes, the right calf. It's swollen and
    # warm" to the calf question is no knee infection).
    site: str | None = None


@dataclass(frozen=True)
class RuleSet:
    targets: tuple[TargetSpec, ...]
    context: tuple[ContextSpec, ...]
    context_use_defaults: bool
    context_drop_defaults: frozenset[str]
    context_default_filters: Mapping[str, str]
    combinations: tuple[ComboSpec, ...]
    knee_region: re.Pattern[str]
    gating_classes: tuple[GatingClass, ...]
    never_gated_signs: frozenset[str]
    questions: Mapping[str, ScreeningQuestion]
    answers: Mapping[str, re.Pattern[str]]
    persons: PersonCues | None = None
    sign_labels: frozenset[str] = field(default_factory=frozenset)
    # names the knee region only where a sentence names no other site ("leg": sites.yml)
    vague_region: re.Pattern[str] | None = None


def _read(name: str) -> Any:  # parsed YAML: the loaders below check its shape
    path = RULES_DIR / name
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except yaml.YAMLError as error:
        raise RuleFileError(f"{name}: not valid YAML: {error}") from error


def fill_lists(pattern: str, vocab: Mapping[str, str], where: str) -> str:
    """The pattern with each {name} replaced by vocab.yml's list of that name."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in vocab:
            raise RuleFileError(f"{where}: unknown word list {{{name}}} (see vocab.yml)")
        return vocab[name]

    return _PLACEHOLDER.sub(fill, pattern)


def expand(pattern: str | Sequence[str], vocab: Mapping[str, str], where: str) -> str:
    """One regular expression from a pattern line or list of lines, with {name} lists filled in
    and word boundaries around each line."""
    lines = [pattern] if isinstance(pattern, str) else list(pattern)
    if not lines or not all(isinstance(line, str) and line.strip() for line in lines):
        raise RuleFileError(f"{where}: pattern must be a non-empty string or list of strings")

    parts = []
    for line in lines:
        body = fill_lists(line.strip(), vocab, where)
        parts.append(rf"(?<!\w)(?:{body})(?!\w)")
    regex = "|".join(parts)
    try:
        re.compile(regex, re.IGNORECASE)
    except re.error as error:
        raise RuleFileError(f"{where}: bad regular expression: {error}") from error
    return regex


def _require(mapping: Mapping, key: str, where: str):
    if key not in mapping:
        raise RuleFileError(f"{where}: missing key '{key}'")
    return mapping[key]


def _check_keys(mapping: Mapping, allowed: frozenset[str], where: str) -> None:
    unknown = set(mapping) - set(allowed)
    if unknown:
        raise RuleFileError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")


def _load_vocab() -> dict[str, str]:
    raw = _read("vocab.yml")
    if not isinstance(raw, dict):
        raise RuleFileError("vocab.yml: must map names to patterns")
    vocab = {str(k): str(v) for k, v in raw.items()}
    for name, body in vocab.items():
        if _PLACEHOLDER.search(body):
            raise RuleFileError(f"vocab.yml: {name}: a word list cannot use another list")
    return vocab


def _load_targets(vocab: Mapping[str, str]) -> tuple[list[TargetSpec], frozenset[str]]:
    raw = _read("targets.yml")
    if not isinstance(raw, dict):
        raise RuleFileError("targets.yml: must map labels to rule groups")
    specs: list[TargetSpec] = []
    signs = set()
    seen_ids = set()
    for label, group in raw.items():
        where = f"targets.yml: {label}"
        _check_keys(group, frozenset({"kind", "rules"}), where)
        kind = _require(group, "kind", where)
        if kind == "code":
            if label not in RED_FLAG_CODES:
                raise RuleFileError(f"{where}: '{label}' is not a contract red-flag code")
        elif kind == "sign":
            if label in RED_FLAG_CODES:
                raise RuleFileError(f"{where}: a sign cannot be named like a code")
            signs.add(label)
        else:
            raise RuleFileError(f"{where}: kind must be 'code' or 'sign'")
        for rule in _require(group, "rules", where):
            rule_where = f"{where}: {rule.get('id', '?')}"
            _check_keys(
                rule,
                frozenset({"id", "literal", "pattern", "level", "keep_when", "never_gated", "gated_by"}),
                rule_where,
            )
            rule_id = _require(rule, "id", rule_where)
            if rule_id in seen_ids:
                raise RuleFileError(f"{rule_where}: duplicate rule id")
            seen_ids.add(rule_id)
            level = rule.get("level")
            if level is not None and level not in TRIAGE_LEVELS:
                raise RuleFileError(f"{rule_where}: unknown level '{level}'")
            keep_when = frozenset(rule.get("keep_when") or ())
            if not keep_when <= MODIFIER_KEYS:
                raise RuleFileError(f"{rule_where}: keep_when must be among {sorted(MODIFIER_KEYS)}")
            specs.append(
                TargetSpec(
                    id=rule_id,
                    label=label,
                    kind=kind,
                    literal=str(_require(rule, "literal", rule_where)),
                    regex=expand(_require(rule, "pattern", rule_where), vocab, rule_where),
                    level=level,
                    keep_when=keep_when,
                    never_gated=bool(rule.get("never_gated", False)),
                    gated_by=frozenset(rule.get("gated_by") or ()),
                )
            )
    return specs, frozenset(signs)


def _load_context(vocab: Mapping[str, str]):
    raw = _read("context.yml")
    where = "context.yml"
    _check_keys(raw, frozenset({"use_defaults", "default_filters", "drop_defaults", "rules"}), where)
    default_filters = dict(raw.get("default_filters") or {})
    for category, name in default_filters.items():
        if category not in CONTEXT_CATEGORIES or name not in SCOPE_FILTERS:
            raise RuleFileError(f"{where}: default_filters: bad entry {category}: {name}")
    drops = set()
    for entry in raw.get("drop_defaults") or ():
        _require(entry, "why", f"{where}: drop_defaults {entry.get('literal')}")
        drops.add(_require(entry, "literal", f"{where}: drop_defaults"))
    specs = []
    for rule in raw.get("rules") or ():
        rule_where = f"{where}: {rule.get('literal', '?')}"
        _check_keys(
            rule,
            frozenset({"literal", "category", "direction", "pattern", "filter", "max_scope"}),
            rule_where,
        )
        category = _require(rule, "category", rule_where)
        direction = _require(rule, "direction", rule_where)
        if category not in CONTEXT_CATEGORIES:
            raise RuleFileError(f"{rule_where}: unknown category '{category}'")
        if direction not in DIRECTIONS:
            raise RuleFileError(f"{rule_where}: unknown direction '{direction}'")
        scope_filter = rule.get("filter")
        if scope_filter is not None and scope_filter not in SCOPE_FILTERS:
            raise RuleFileError(f"{rule_where}: unknown filter '{scope_filter}'")
        max_scope = rule.get("max_scope")
        if max_scope is not None and (not isinstance(max_scope, int) or max_scope <= 0):
            raise RuleFileError(f"{rule_where}: max_scope must be a positive whole number")
        specs.append(
            ContextSpec(
                literal=str(_require(rule, "literal", rule_where)),
                category=category,
                direction=direction,
                regex=expand(_require(rule, "pattern", rule_where), vocab, rule_where),
                filter=scope_filter,
                max_scope=max_scope,
            )
        )
    return specs, bool(raw.get("use_defaults", True)), frozenset(drops), default_filters


def _load_combinations(codes_and_signs: frozenset[str], signs: frozenset[str]) -> list[ComboSpec]:
    raw = _read("combinations.yml")
    combos = []
    for rule in raw or ():
        where = f"combinations.yml: {rule.get('id', '?')}"
        _check_keys(rule, frozenset({"id", "code", "all_of", "ignore_site", "same_person", "why"}), where)
        code = _require(rule, "code", where)
        if code not in RED_FLAG_CODES:
            raise RuleFileError(f"{where}: '{code}' is not a contract red-flag code")
        groups = _require(rule, "all_of", where)
        if not groups or not all(isinstance(g, list) and g for g in groups):
            raise RuleFileError(f"{where}: all_of must be a list of non-empty lists")
        for group in groups:
            for sign in group:
                if sign not in signs:
                    raise RuleFileError(f"{where}: unknown sign '{sign}' (define it in targets.yml)")
        combos.append(
            ComboSpec(
                id=_require(rule, "id", where),
                code=code,
                all_of=tuple(tuple(g) for g in groups),
                ignore_site=bool(rule.get("ignore_site", False)),
                same_person=bool(rule.get("same_person", False)),
                why=str(rule.get("why", "")),
            )
        )
    return combos


def _load_sites(vocab: Mapping[str, str]):
    raw = _read("sites.yml")
    where = "sites.yml"
    region = _require(raw, "knee_region", where)
    knee = expand(_require(region, "pattern", where), vocab, where)
    vague = expand(region["vague"], vocab, where) if region.get("vague") else None
    classes = []
    for name, spec in _require(raw, "gating_classes", where).items():
        class_where = f"{where}: {name}"
        gates = frozenset(_require(spec, "gates", class_where))
        bad = gates - set(RED_FLAG_CODES)
        if bad:
            raise RuleFileError(f"{class_where}: unknown codes {sorted(bad)}")
        if gates & {"cardiorespiratory", "self_harm"}:
            raise RuleFileError(f"{class_where}: chest and self-harm flags are never gated by site")
        regex = expand(_require(spec, "pattern", class_where), vocab, class_where)
        classes.append(GatingClass(name, re.compile(regex, re.IGNORECASE), gates))
    never_gated = frozenset(raw.get("never_gated_signs") or ())
    vague_region = re.compile(vague, re.IGNORECASE) if vague else None
    return re.compile(knee, re.IGNORECASE), vague_region, classes, never_gated


SCREENING_QUESTION_KEYS = frozenset({"code", "asks", "why", "signs", "codes", "unsure_is_yes", "no_when", "site"})


def _load_screening(signs: frozenset[str], site_classes: frozenset[str]):
    raw = _read("screening.yml")
    where = "screening.yml"
    questions = {}
    for qid, spec in _require(raw, "questions", where).items():
        q_where = f"{where}: {qid}"
        _check_keys(spec, SCREENING_QUESTION_KEYS, q_where)
        _require(spec, "why", q_where)
        code = _require(spec, "code", q_where)
        if code not in RED_FLAG_CODES:
            raise RuleFileError(f"{q_where}: '{code}' is not a contract red-flag code")
        q_signs = frozenset(spec.get("signs") or ())
        if not q_signs <= signs:
            raise RuleFileError(f"{q_where}: unknown signs {sorted(q_signs - signs)}")
        q_codes = frozenset(spec.get("codes") or ())
        if not q_codes <= set(RED_FLAG_CODES):
            raise RuleFileError(f"{q_where}: unknown codes {sorted(q_codes - set(RED_FLAG_CODES))}")
        no_when = None
        if spec.get("no_when"):
            try:
                no_when = re.compile("|".join(f"(?:{line})" for line in spec["no_when"]), re.IGNORECASE)
            except re.error as error:
                raise RuleFileError(f"{q_where}: no_when: {error}") from error
        site = spec.get("site")
        if site is not None and site not in site_classes:
            raise RuleFileError(f"{q_where}: site '{site}' is not a gating class in sites.yml")
        questions[qid] = ScreeningQuestion(qid, code, q_signs, q_codes, bool(spec.get("unsure_is_yes")), no_when, site)
    answers = {}
    for kind in ("unsure", "negative", "affirmative"):
        lines = _require(_require(raw, "answers", where), kind, f"{where}: answers")
        body = "|".join(f"(?:{line})" for line in lines)
        try:
            answers[kind] = re.compile(rf"(?:{body})(?!\w)", re.IGNORECASE)
        except re.error as error:
            raise RuleFileError(f"{where}: answers {kind}: {error}") from error
    return questions, answers


def _load_persons(vocab: Mapping[str, str]) -> PersonCues:
    where = "persons.yml"
    raw = {key: fill_lists(str(value), vocab, where) for key, value in (_read("persons.yml") or {}).items()}
    try:
        return PersonCues(
            self_words=re.compile(rf"(?<![\w'])(?:{_require(raw, 'self', where)})(?:'s)?(?![\w'])", re.IGNORECASE),
            other_words=re.compile(rf"(?<![\w'])(?:{_require(raw, 'other', where)})(?:'s)?(?![\w'])", re.IGNORECASE),
            self_child=re.compile(rf"^(?:{_require(raw, 'self_child', where)})", re.IGNORECASE),
            animal_words=re.compile(
                rf"(?<![\w'])(?:{raw['animal']})(?:'s|s)?(?![\w'])(?! (?:{raw.get('animal_compound') or '(?!)'})\b)",
                re.IGNORECASE,
            )
            if raw.get("animal")
            else None,
            asked_for=re.compile(rf"(?<![\w'])(?:{raw['asked_for']})(?:'s)?(?![\w'])", re.IGNORECASE)
            if raw.get("asked_for")
            else None,
            self_instead=re.compile(raw["self_instead"], re.IGNORECASE) if raw.get("self_instead") else None,
            proxy=re.compile(raw["proxy"], re.IGNORECASE) if raw.get("proxy") else None,
            proxy_question=re.compile(raw["proxy_question"], re.IGNORECASE) if raw.get("proxy_question") else None,
        )
    except re.error as error:
        raise RuleFileError(f"{where}: bad regular expression: {error}") from error


def load_rules() -> RuleSet:
    """Read, check and compile every rule file."""
    vocab = _load_vocab()
    targets, signs = _load_targets(vocab)
    context, use_defaults, drops, default_filters = _load_context(vocab)
    combinations = _load_combinations(frozenset(RED_FLAG_CODES) | signs, signs)
    knee_region, vague_region, gating, never_gated = _load_sites(vocab)
    class_names = {c.name for c in gating}
    for spec in targets:
        if not spec.gated_by <= class_names:
            raise RuleFileError(f"targets.yml: {spec.id}: gated_by names unknown site classes")
    if not never_gated <= signs:
        raise RuleFileError(f"sites.yml: never_gated_signs: unknown {sorted(never_gated - signs)}")
    questions, answers = _load_screening(signs, frozenset(class_names))
    for spec in targets:
        if spec.kind == "code" and spec.label not in RED_FLAG_MIN_LEVEL:
            raise RuleFileError(f"targets.yml: {spec.id}: no contract level for {spec.label}")
    return RuleSet(
        targets=tuple(targets),
        context=tuple(context),
        context_use_defaults=use_defaults,
        context_drop_defaults=drops,
        context_default_filters=default_filters,
        combinations=tuple(combinations),
        knee_region=knee_region,
        vague_region=vague_region,
        gating_classes=tuple(gating),
        never_gated_signs=never_gated,
        questions=questions,
        answers=answers,
        persons=_load_persons(vocab),
        sign_labels=signs,
    )
