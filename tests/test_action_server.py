"""The action server answers only the Rasa server: loopback by default, and every call but the
health check must carry the shared secret (actions/server.py). A real server on a free port."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from actions.server import TOKEN_HEADER, create_app

ROOT = Path(__file__).resolve().parents[1]
SECRET = "the-shared-secret"
CALL_BACK = {"next_action": "action_submit_callback", "sender_id": "forged", "version": "3.6.21",
             "tracker": {"sender_id": "forged", "slots": {}, "events": [], "latest_message": {},
                         "active_loop": {}, "paused": False, "followup_action": None,
                         "latest_action_name": "action_listen"},
             "domain": {}}


@pytest.fixture(scope="module")
def server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ACTION_SERVER_TOKEN": SECRET, "PYTHONPATH": str(ROOT)}
    env.pop("ACTION_SERVER_HOST", None)
    proc = subprocess.Popen([sys.executable, "-m", "actions.server", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the action server did not start"
                time.sleep(0.3)
        yield port, url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def call(url: str, path: str, headers: dict, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_it_will_not_start_without_a_secret():
    with pytest.raises(ValueError, match="ACTION_SERVER_TOKEN"):
        create_app("")


@pytest.mark.parametrize("headers", [{}, {TOKEN_HEADER: "wrong"}, {TOKEN_HEADER: SECRET + "x"}])
def test_calls_without_the_secret_are_refused(server, headers):
    _, url = server
    assert call(url, "/actions", headers) == 401  # the list of actions is not for strangers
    assert call(url, "/webhook", headers, CALL_BACK) == 401  # a forged call-back is never run


def test_the_rasa_server_with_the_secret_is_served_and_health_is_open(server):
    _, url = server
    assert call(url, "/actions", {TOKEN_HEADER: SECRET}) == 200
    assert call(url, "/health", {}) == 200


def test_it_listens_on_loopback_only_by_default(server):
    port, _ = server
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
    local_addresses = {line.split()[3] for line in listening.splitlines() if line.strip()}
    assert local_addresses == {f"127.0.0.1:{port}"}  # not 0.0.0.0, not every interface


def test_the_rasa_servers_api_secrets_come_from_the_environment_not_the_command_line(tmp_path):
    from channels.serve import rasa_arguments

    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    assert rasa_arguments(["run", "--port", "5005"], {"RASA_API_TOKEN_FILE": str(token_file)}) == [
        "run", "--port", "5005", "--enable-api", "--auth-token=s3cret-token"]
    assert rasa_arguments(["run"], {}) == ["run"]  # no secret: the API stays off
    assert rasa_arguments(["shell"], {"RASA_API_TOKEN": "t"}) == ["shell"]  # only `run` serves the API
