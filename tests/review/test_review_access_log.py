"""The review tool's access log names the pages staff opened, never what they searched for."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_search_for_a_patients_words_does_not_reach_the_access_log(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REVIEW_SECRET_KEY": "test-key-access-log",
           "REVIEW_DB_URL": f"sqlite:///{tmp_path / 'review.db'}",
           "TRACKER_DB_URL": f"sqlite:///{tmp_path / 'transcripts.db'}",
           "BOOKING_DB_URL": f"sqlite:///{tmp_path / 'clinic.db'}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([sys.executable, "review/manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True, timeout=300)
    port = free_port()
    log = tmp_path / "access.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "review/manage.py", "runserver", "--noreload",
                                   f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                # Not signed in: the search redirects to the login page, and both are logged.
                urllib.request.urlopen(f"http://127.0.0.1:{port}/?q=Jane+Citizen+0412+345+678", timeout=10).read()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, log.read_text()
                time.sleep(0.3)
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    written = log.read_text()
    assert '"GET /?' in written and "/login/" in written, written
    assert "Jane" not in written and "0412" not in written, written
