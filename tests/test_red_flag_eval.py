"""scripts/eval_red_flags.py: the safety targets hold, and the script fails when they do not."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def eval_script():
    spec = importlib.util.spec_from_file_location("eval_red_flags", ROOT / "scripts" / "eval_red_flags.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_targets_hold_on_our_vignettes_and_the_external_set(eval_script, capsys):
    # generous time limit: the full test suite may share the machine's two cores
    assert eval_script.main(["--quiet", "--huge-limit", "15"]) == 0
    out = capsys.readouterr().out
    assert "[FAIL]" not in out and "[PASS]" in out
    if (ROOT.parent / "shared" / "eval").is_dir():
        assert "external set" in out


def test_the_script_fails_when_a_red_flag_is_missed(eval_script, monkeypatch, capsys):
    real_detect = eval_script.detect

    def detector_that_ignores_calves(text, **kwargs):
        return [f for f in real_detect(text, **kwargs) if f.code != "dvt"]

    monkeypatch.setattr(eval_script, "detect", detector_that_ignores_calves)
    assert eval_script.main(["--quiet", "--external-dir", str(ROOT / "no-such-dir")]) == 1
    out = capsys.readouterr().out
    assert "MISSED" in out and "[FAIL]" in out


def test_the_script_fails_when_quiet_messages_raise_flags(eval_script, monkeypatch, capsys):
    real_detect = eval_script.detect
    from bot.redflags import Finding

    def detector_that_flags_everything(text, **kwargs):
        alarm = Finding("infection", "emergency", "x", 0, 1, (), True, "test.alarm")
        return list(real_detect(text, **kwargs)) + [alarm]

    monkeypatch.setattr(eval_script, "detect", detector_that_flags_everything)
    assert eval_script.main(["--quiet", "--external-dir", str(ROOT / "no-such-dir")]) == 1
    assert "must-stay-quiet messages flagged" in capsys.readouterr().out
