"""Project-wide checks that run the tools a Rasa user would run."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import dev  # noqa: E402

HELDOUT_TOOL = ROOT.parent / "shared" / "tools" / "heldout_overlap.py"


def run(*command: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=dev.env(), capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(not HELDOUT_TOOL.exists(), reason="../shared/tools/heldout_overlap.py is not beside this repo")
def test_training_data_holds_none_of_the_held_out_phrases():
    result = run(sys.executable, str(HELDOUT_TOOL), ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("changed", [
    "bot/entity_patterns.yml",  # the intent classifiers learn from the entity rules' facts
    "bot/redflags/rules/vocab.yml",  # the learned red-flag net reads the red-flag rules' facts
    "data/red_flag_corpus/writer1.yml",  # ... and learns from the corpus
])
def test_a_change_to_what_the_model_learns_from_retrains(tmp_path, monkeypatch, changed):
    """A model trained before such a change would read features it never saw: it is stale."""
    import shutil

    for name in dev.TRAINING_INPUTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, tmp_path / name)
    monkeypatch.setattr(dev, "ROOT", tmp_path)
    before = dev.training_fingerprint()
    path = tmp_path / changed
    path.write_text(path.read_text() + "\n# reviewed\n")
    assert dev.training_fingerprint() != before


# Rasa's validator only looks at stories and rules. These are used elsewhere, on purpose:
# the form asks utter_ask_<slot>; the in-server safety policy sends the red-flag replies;
# actions send the offers (and the policy the reply to a no); form slot mappings and the validation action read these intents.
USED_OUTSIDE_STORIES = re.compile(
    r"The (utterance 'utter_(ask_[a-z0-9_]+|red_flag_[a-z_]+|clarify_[a-z_]+|escalated_[a-z_]+|emergency_no_booking|offer_hip|skip_noted|stuck|booking_[a-z_]+|handoff_[a-z_]+|back_to_questions|which_clinic|noted_for_later|question_after_the_questions|offer_more_questions|no_more_questions)'"
    r"|intent '(skip|unsure|inform)') is not used in any story or rule"
    # set by components.language_guard.LanguageGuard, so on purpose no classifier learns it
    r"|The intent 'other_language' is listed in the domain file, but is not found in the NLU training data"
)


def test_rasa_data_validate_is_clean():
    result = run(str(dev.VENV_BIN / "rasa"), "data", "validate")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    warnings = [line for line in output.splitlines() if "UserWarning:" in line]
    unexpected = [w for w in warnings if not USED_OUTSIDE_STORIES.search(w)]
    assert not unexpected, "\n".join(unexpected)


def test_test_stories_pass_with_no_prediction_errors(tmp_path):
    model = dev.train()
    result = run(
        str(dev.VENV_BIN / "rasa"), "test", "core", "--model", str(model),
        "--stories", "tests/stories", "--out", str(tmp_path / "results"),
        "--fail-on-prediction-errors",
    )
    failed = tmp_path / "results" / "failed_test_stories.yml"
    detail = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:] + "\n" + detail[-4000:]


BLIND_INTENTS = ROOT / "tests" / "vignettes" / "intents_blind.yml"
# 135 of 138 were right when the set was written (2026-12-07); training is not bit-for-bit
# repeatable, so the test asks for 90%.
BLIND_TARGET = 0.90


def _normalised(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\{[^}]*\}|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or m.group(2), text)
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def test_the_blind_intent_set_stays_out_of_the_training_data():
    import yaml

    training = set()
    for path in (ROOT / "data").rglob("*.yml"):
        for block in (yaml.safe_load(path.read_text()) or {}).get("nlu", []) or []:
            examples = block.get("examples") if isinstance(block, dict) else None
            for line in (examples or "").splitlines():
                if line.strip().startswith("- "):
                    training.add(_normalised(line.strip()[2:]))
    blind = [item["text"] for item in yaml.safe_load(BLIND_INTENTS.read_text())]
    assert len(blind) >= 100
    assert [text for text in blind if _normalised(text) in training] == []


def test_the_bot_understands_phrases_written_blind():
    import asyncio

    import yaml
    from rasa.core.agent import Agent

    agent = Agent.load(str(dev.train()))
    items = yaml.safe_load(BLIND_INTENTS.read_text())
    wrong = []
    for item in items:
        intent = asyncio.run(agent.parse_message(item["text"]))["intent"]
        if intent["name"] != item["intent"]:
            wrong.append(f"{item['text']!r}: {item['intent']} -> {intent['name']} {intent['confidence']:.2f}")
    assert len(items) - len(wrong) >= BLIND_TARGET * len(items), "\n".join(wrong)


def test_var_holds_patient_data_readable_by_this_user_only(tmp_path, monkeypatch):
    monkeypatch.setattr(dev, "ROOT", tmp_path)
    (tmp_path / "var").mkdir(mode=0o755)
    leaky = tmp_path / "var" / "tracker.db"
    leaky.write_text("")
    leaky.chmod(0o644)  # as an older checkout left it
    dev.secure_var()
    assert (tmp_path / "var").stat().st_mode & 0o777 == 0o700
    assert leaky.stat().st_mode & 0o777 == 0o600
    # and ./dev runs everything under umask 077, so files the servers create later are private
    assert "umask 077" in (ROOT / "dev").read_text().split("ensure_venv\n", 1)[0]


def test_the_rasa_patches_refuse_another_rasa_version(monkeypatch):
    # components/ replaces private methods of Rasa 3.6; another version must stop with a plain error
    import importlib

    import rasa

    import components

    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    with pytest.raises(RuntimeError, match="patches Rasa 3.6"):
        importlib.reload(components)
    monkeypatch.setattr(rasa, "__version__", "3.6.21")
    importlib.reload(components)  # the installs are idempotent
