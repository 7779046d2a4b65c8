"""The real product started on free local ports, for the tests and the patient simulator: the
trained model in a Rasa server (REST and socket.io channels, HTTP API with a token), the action
server over real HTTP, the web chat page, and an SQLite tracker store in a given folder."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dev
from bot.triage import EMERGENCY_QUESTIONS

ROOT = dev.ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A typical picture, answered in the order the bot asks (which depends on what the first message
# said: one trigger named brings "does anything else bring it on?").
TYPICAL_ANSWERS = {
    "pain_location": '/inform{"pain_location":"around_kneecap"}',
    "pain_triggers": '/inform{"pain_trigger":"stairs"}',
    "more_triggers": "/deny",
    "onset": '/inform{"onset":"gradual"}',
    "duration_weeks": '/inform{"duration_weeks":6}',
    "under_16": "/deny",  # not under 16
}


@dataclass
class BotStack:
    rasa_url: str
    actions_url: str
    web_url: str | None
    token: str
    tracker_db: Path
    booking_db: Path | None = None  # the booking store the action server writes (SQLite)
    env: dict = field(default_factory=dict)  # extra environment for every process of the stack
    procs: dict = field(default_factory=dict)
    commands: dict = field(default_factory=dict)
    logs: Path = Path(".")

    def send(self, text: str, sender: str | None = None, metadata: dict | None = None) -> list[dict]:
        """Post one message to the REST channel; the bot's replies."""
        body = {"sender": sender or uuid.uuid4().hex, "message": text}
        if metadata:
            body["metadata"] = metadata
        request = urllib.request.Request(
            f"{self.rasa_url}/webhooks/rest/webhook",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def tracker(self, sender: str) -> dict:
        request = urllib.request.Request(f"{self.rasa_url}/conversations/{sender}/tracker?token={self.token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def slots(self, sender: str) -> dict[str, Any]:
        return self.tracker(sender)["slots"]

    def answer_the_emergency_questions(self, sender: str) -> list[dict]:
        """After a first message about the knee: tap "No" to the emergency questions asked first
        (chest, a hot swollen knee, the calf, the foot). The replies to the last tap: the first
        routine question."""
        replies: list[dict] = []
        for _ in EMERGENCY_QUESTIONS:
            replies = self.send("/deny", sender)
        return replies

    def answer_up_to_the_safety_questions(self, sender: str) -> list[dict]:
        """After a first message about the knee: "No" to the emergency questions, then the
        answers of a typical picture (around the kneecap, came on slowly, 6 weeks, not under 16).
        The replies to the last tap: the locking question."""
        replies = self.answer_the_emergency_questions(sender)
        for _ in range(len(TYPICAL_ANSWERS) + 1):
            asked = self.tracker(sender)["slots"].get("requested_slot")
            if asked not in TYPICAL_ANSWERS:
                break
            replies = self.send(TYPICAL_ANSWERS[asked], sender)
        return replies

    def _start(self, name: str) -> None:
        command, ready = self.commands[name]
        log = open(self.logs / f"{name.replace(' ', '_')}.log", "ab")
        proc = subprocess.Popen(
            command, cwd=ROOT, env=dev.env(**self.env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        if not dev.wait_for(ready, 240, proc):
            raise RuntimeError(f"{name} did not start; log: {log.name}\n" + Path(log.name).read_text()[-3000:])

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def start(self, name: str) -> None:
        if name not in self.procs:
            self._start(name)

    def close(self) -> None:
        for name in list(self.procs)[::-1]:
            self.stop(name)


@contextmanager
def running_stack(folder: Path, model: Path | None = None) -> Iterator[BotStack]:
    """Start the product (trained model, action server, web chat page) with its databases in
    `folder`; stop every process on exit."""
    if model is None:
        model = dev.train()
    else:
        dev.prepare()  # what the model needs that the project builds (the spaCy pipeline)
    folder = Path(folder)
    tracker_db = folder / "transcripts.db"
    booking_db = folder / "clinic.db"  # never the developer's var/clinic.db
    endpoints = folder / "endpoints.yml"
    rasa_port, actions_port, web_port = free_port(), free_port(), free_port()
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n'
        "  headers:\n    X-Action-Token: ${ACTION_SERVER_TOKEN}\n"
        f'tracker_store:\n  type: SQL\n  dialect: "sqlite"\n  db: "{tracker_db}"\n'
        'lock_store:\n  type: "in_memory"\n'
        "event_broker:\n  type: components.alert_broker.StaffAlertBroker\n"
    )
    commands = {
        name: (command, ready)
        for name, command, ready in dev.service_commands(
            rasa_port=rasa_port,
            actions_port=actions_port,
            web_port=web_port,
            review_port=free_port(),
            endpoints=str(endpoints),
            model=model,
        )
        if name != "staff review tool"
    }
    stack = BotStack(
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        actions_url=f"http://127.0.0.1:{actions_port}",
        web_url=f"http://127.0.0.1:{web_port}" if "web chat page" in commands else None,
        token=dev.api_token(),
        tracker_db=tracker_db,
        commands=commands,
        logs=folder,
        booking_db=booking_db,
        env={"BOOKING_DB_URL": f"sqlite:///{booking_db}"},
    )
    try:
        for name in commands:
            stack.start(name)
        yield stack
    finally:
        stack.close()
