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


# Rasa's validator only looks at stories and rules. These are used elsewhere, on purpose:
# the form asks utter_ask_<slot>; the in-server safety policy sends the red-flag replies;
# actions send the offers; form slot mappings and the validation action read these intents.
USED_OUTSIDE_STORIES = re.compile(
    r"The (utterance 'utter_(ask_[a-z0-9_]+|red_flag_[a-z_]+|clarify_[a-z_]+|emergency_no_booking|offer_hip|skip_noted)'"
    r"|intent '(skip|unsure|inform)') is not used in any story or rule"
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
