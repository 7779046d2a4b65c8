"""Crash tests: real processes are SIGKILLed mid-way; the request is still delivered exactly once."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from fakes.cliniko import cliniko_env, fake_cliniko, upcoming_starts  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]

# The booking form's last step, as a process of its own: store, maybe deliver, then hang.
CONFIRM = """
import json, sys, time
from bot.booking.service import BookingService
from bot.settings import load_settings
service = BookingService(load_settings())
stored = service.submit(json.loads(sys.argv[1]), idempotency_key="confirm-message-1")
print("stored", stored.id, flush=True)
if sys.argv[2] == "deliver":
    service.deliver(stored.id)
    print("delivered", flush=True)
time.sleep(600)
"""

# The delivery worker after a restart: runs until nothing is pending (or it gives up).
RESUME = """
import time
from bot.booking.service import BookingService
from bot.settings import load_settings
service = BookingService(load_settings())
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    service.deliver_pending()
    if not service.store.list(["pending"]):
        break
    time.sleep(0.2)
print(",".join(f"{r.id}:{r.status}:{r.external_ref}" for r in service.store.list()), flush=True)
"""


def _env(fake, tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOKING_", "CLINIKO_"))}
    env.update(cliniko_env(fake, BOOKING_DB_URL=f"sqlite:///{tmp_path / 'clinic.db'}", **extra))
    env["PYTHONPATH"] = str(ROOT)
    return env


def _read_line(proc: subprocess.Popen, timeout: float = 30.0) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the process printed nothing in time"
    return proc.stdout.readline().strip()


def _booking(slot) -> dict:
    return {"kind": "booking", "conversation_id": "crash-1", "name": "Jo Smith", "phone": "0491 570 156",
            "email": "jo@example.com", "triage_level": "consultation",
            "slot_starts_at": slot.isoformat()}


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL


def _resume(env: dict) -> list[tuple[str, str, str]]:
    done = subprocess.run([sys.executable, "-c", RESUME], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return [tuple(item.split(":")) for item in done.stdout.strip().split(",")]


def _status_in_db(tmp_path, request_id: str) -> str:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'clinic.db'}")
    with engine.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM booking_requests WHERE id = :id"),
                              {"id": request_id}).scalar()
    engine.dispose()
    return status


def test_killed_after_the_store_commit_the_booking_is_delivered_once_on_restart(fake_cliniko, tmp_path):
    slot = upcoming_starts()[0]
    env = _env(fake_cliniko, tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", CONFIRM, json.dumps(_booking(slot)), "store-only"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = _read_line(proc)
    finally:
        _kill(proc)
    assert line.startswith("stored ")
    request_id = line.split()[1]
    assert _status_in_db(tmp_path, request_id) == "pending"  # durable before any delivery
    assert fake_cliniko.appointments == {}

    assert _resume(env) == [(request_id, "delivered", str(next(iter(fake_cliniko.appointments))))]
    assert len(fake_cliniko.appointments) == 1
    assert _resume(env)[0][1] == "delivered"  # a second restart changes nothing
    assert fake_cliniko.count("POST", "/individual_appointments") == 1


def test_killed_after_cliniko_booked_but_before_recording_it_no_second_booking(fake_cliniko, tmp_path):
    slot = upcoming_starts()[0]
    env = _env(fake_cliniko, tmp_path, BOOKING_CLAIM_LEASE_SECONDS="1")
    fake_cliniko.hold_appointment_response = True  # Cliniko has booked; its answer never arrives
    proc = subprocess.Popen([sys.executable, "-c", CONFIRM, json.dumps(_booking(slot)), "deliver"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        request_id = _read_line(proc).split()[1]
        assert fake_cliniko.appointment_stored.wait(30)
    finally:
        _kill(proc)
    fake_cliniko.hold_appointment_response = False
    fake_cliniko.release_held()
    assert _status_in_db(tmp_path, request_id) == "pending"

    [(resumed_id, status, external_ref)] = _resume(env)

    [appointment_id] = fake_cliniko.appointments
    assert (resumed_id, status, external_ref) == (request_id, "delivered", str(appointment_id))
    assert fake_cliniko.count("POST", "/individual_appointments") == 1
    assert len(fake_cliniko.patients) == 1
