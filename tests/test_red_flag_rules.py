"""The clinician-readable rule files: they load, they cover every code, a bad edit fails loudly,
and neither our vignettes nor the held-out external phrases leak where they must not."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.contract import RED_FLAG_CODES
from bot.redflags import rules as rules_module
from bot.redflags.rules import RuleFileError, load_rules

ROOT = Path(__file__).resolve().parent.parent
VIGNETTES = ROOT / "tests" / "vignettes" / "red_flags.yml"
EXTERNAL_DIR = ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def test_every_code_has_a_direct_rule_or_a_combination(rules):
    direct = {t.label for t in rules.targets if t.kind == "code"}
    combined = {c.code for c in rules.combinations}
    assert direct | combined == set(RED_FLAG_CODES)


def test_rule_ids_are_unique_and_named_after_their_code_or_sign(rules):
    ids = [t.id for t in rules.targets] + [c.id for c in rules.combinations]
    assert len(ids) == len(set(ids))
    prefixes = {"cardio", "self_harm", "fracture", "infection", "dvt", "neuro", "locked", "acute", "cancer", "sign"}
    assert {i.split(".")[0] for i in ids} - {"acute_injury", "child_hip"} <= prefixes


def test_screening_questions_match_the_triage_flow(rules):
    triage = pytest.importorskip("bot.triage")
    assert {q: spec.code for q, spec in rules.questions.items()} == dict(triage.SCREENING_QUESTIONS)


def test_every_combination_documents_why(rules):
    assert all(c.why for c in rules.combinations)


def _copy_rules(tmp_path: Path, monkeypatch) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(rules_module.RULES_DIR, target)
    monkeypatch.setattr(rules_module, "RULES_DIR", target)
    return target


@pytest.mark.parametrize(
    "file,edit,message",
    [
        ("targets.yml", lambda d: d["dvt"]["rules"][0].update(pattern="(unclosed"), "dvt.named: bad regular expression"),
        ("targets.yml", lambda d: d["dvt"]["rules"][0].update(pattern="{nosuchlist}"), "unknown word list {nosuchlist}"),
        ("targets.yml", lambda d: d.update(dvt_typo={"kind": "code", "rules": []}), "not a contract red-flag code"),
        ("targets.yml", lambda d: d["dvt"]["rules"][0].update(colour="red"), "unknown key(s) ['colour']"),
        ("combinations.yml", lambda d: d[0].update(all_of=[["reddd"]]), "unknown sign 'reddd'"),
        ("context.yml", lambda d: d["rules"][0].update(direction="SIDEWAYS"), "unknown direction 'SIDEWAYS'"),
        ("screening.yml", lambda d: d["questions"]["screen_calf"].update(code="clot"), "'clot' is not a contract"),
        ("sites.yml", lambda d: d["gating_classes"]["body_elsewhere"]["gates"].append("self_harm"), "never gated"),
    ],
)
def test_a_bad_edit_fails_naming_the_file_and_rule(tmp_path, monkeypatch, file, edit, message):
    folder = _copy_rules(tmp_path, monkeypatch)
    path = folder / file
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(RuleFileError) as error:
        load_rules()
    assert file in str(error.value) and message in str(error.value)


def _vignette_texts():
    """Symptom vignettes of four words or more (short small talk like "thanks heaps!" may
    coincide with training phrases without anything being copied)."""
    items = yaml.safe_load(VIGNETTES.read_text())
    return [i["text"] for i in items if i.get("kind") != "off_topic" and len((i.get("text") or "").split()) >= 4]


def test_vignettes_stay_out_of_training_data():
    # Not the spent blind batches (data/red_flag_blind/): their writers never saw the vignettes, and
    # a short phrase may coincide ("my dad had a DVT"); tests/test_red_flag_corpus.py checks them
    # against the held-out sets.
    files = [p for p in (ROOT / "data").rglob("*.yml") if "red_flag_blind" not in p.parts]
    training = "\n".join(p.read_text(errors="ignore").lower() for p in files)
    leaked = [t for t in _vignette_texts() if t.lower() in training]
    assert leaked == []


def test_vignette_set_covers_every_code_and_every_kind_of_quiet_message():
    items = yaml.safe_load(VIGNETTES.read_text())
    assert len(items) >= 150
    covered = {code for i in items for code in i.get("red_flags", [])}
    assert covered == set(RED_FLAG_CODES)
    kinds = {i["kind"] for i in items if i["expect"] == "none"}
    assert {"negated", "family", "hypothetical", "historical", "pfps", "off_topic"} <= kinds


def test_external_phrases_are_not_copied_into_the_rules():
    files = sorted(EXTERNAL_DIR.glob("*.yml")) if EXTERNAL_DIR.is_dir() else []
    if not files:
        pytest.skip("held-out external set not present")
    rule_text = "\n".join(p.read_text().lower() for p in rules_module.RULES_DIR.glob("*.yml"))
    for path in files:
        for item in yaml.safe_load(path.read_text()) or []:
            phrase = " ".join(str(item.get("text", "")).lower().split())
            if len(phrase.split()) >= 4:
                assert phrase not in rule_text, f"external phrase copied into rules: {path.name}"
