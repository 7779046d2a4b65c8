"""Staff review a conversation the running bot produced: a red flag typed to the real bot, then
the review tool (its own server, reading the same SQLite tracker store) in a real browser."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The review tool's browser helper and scripts/dev.py, imported as the other tests do.
for folder in (ROOT / "tests" / "review", ROOT / "scripts"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_staff_review_a_red_flag_conversation_from_the_running_bot(bot, tmp_path):
    import dev
    from test_review_browser import review_in_browser

    sender = "bot-" + uuid.uuid4().hex[:10]
    patient_text = "my calf is swollen and sore since my long flight"
    replies = bot.send(patient_text, sender)
    assert any("blood clot" in (r.get("text") or "") for r in replies)

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**dev.env(), "TRACKER_DB_URL": f"sqlite:///{bot.tracker_db}",
           "REVIEW_DB_URL": f"sqlite:///{tmp_path / 'review.db'}", "REVIEW_STAFF_PASSWORD": "a long test passphrase 42"}
    manage = [sys.executable, "review/manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "create_staff", "--username", "nurse", "--role", "clinician"], cwd=ROOT, env=env,
                   check=True, stdin=subprocess.DEVNULL)
    server = subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert dev.wait_for(f"http://127.0.0.1:{port}/", 120, server)
        review_in_browser(f"http://127.0.0.1:{port}", "nurse", "a long test passphrase 42", sender,
                          patient_text, "review-bot-conversation")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
