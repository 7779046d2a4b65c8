"""Staff alerts inside the Rasa server: one per level rise, by real SMTP and webhook, no patient text."""
from __future__ import annotations

import asyncio
import email
import json
import logging
import socket
import time
from email import policy

import pytest
from aiosmtpd.controller import Controller
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Restarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from bot.alerts import AlertDispatcher, AlertLedger, AlertWatcher, StaffAlert, configured_channels
from bot.booking.store import utcnow
from bot.booking.webhook import verify_signature
from bot.settings import load_settings
from components.alert_broker import StaffAlertBroker
from fakes.webhook import WebhookReceiver

SECRET = "alert-secret"
PATIENT_TEXT = "my left knee is hot red and swollen and I have a fever since the injection"
PATIENT_WORDS = ("knee is hot", "swollen", "fever", "injection", "Jo Smith", "0491")
DOMAIN = Domain.from_dict({"slots": {
    "triage_level": {"type": "categorical", "values": ["emergency_ambulance", "emergency", "consultation_24",
                                                      "consultation", "self_care"], "mappings": [{"type": "custom"}]},
    "red_flags": {"type": "list", "mappings": [{"type": "custom"}]},
}})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def receiver():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def alert_env(monkeypatch, tmp_path, smtp, receiver):
    controller, _ = smtp
    env = {
        "BOOKING_DB_URL": f"sqlite:///{tmp_path / 'clinic.db'}",
        "ALERT_SMTP_HOST": "127.0.0.1", "ALERT_SMTP_PORT": str(controller.port), "ALERT_SMTP_SECURITY": "none",
        "ALERT_SMTP_FROM": "bot@upwell.example", "ALERT_SMTP_TO": "triage@upwell.example,lead@upwell.example",
        "ALERT_WEBHOOK_URL": receiver.url, "ALERT_WEBHOOK_SECRET": SECRET,
        "REVIEW_BASE_URL": "https://staff.upwell.example",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def turn(level: str, flags: list[str], text: str = PATIENT_TEXT) -> list:
    # The level is set before the red flags on purpose: the alert must still carry the flags.
    return [UserUttered(text, {"name": "knee_pain_general"}), SlotSet("triage_level", level),
            SlotSet("red_flags", flags), ActionExecuted("action_listen")]


async def save_turn(store: InMemoryTrackerStore, sender: str, events: list) -> None:
    tracker = await store.get_or_create_tracker(sender)
    for event in events:
        tracker.update(event)
    await store.save(tracker)


async def settle(broker: StaffAlertBroker) -> None:
    await asyncio.sleep(0)  # let the broker's call_soon flush run
    assert await asyncio.to_thread(broker.dispatcher.wait_idle, 20)


async def test_rasa_loads_the_broker_from_endpoints_yml(alert_env, tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("event_broker:\n  type: components.alert_broker.StaffAlertBroker\n")
    broker = await EventBroker.create(read_endpoint_config(str(endpoints), "event_broker"))
    try:
        assert isinstance(broker, StaffAlertBroker) and broker.is_ready()
        assert broker.dispatcher is not None
    finally:
        await broker.close()


async def test_an_urgent_conversation_alerts_staff_once_without_patient_details(alert_env, smtp, receiver):
    _, inbox = smtp
    broker = await EventBroker.create(EndpointConfig(type="components.alert_broker.StaffAlertBroker"))
    store = InMemoryTrackerStore(DOMAIN, event_broker=broker)
    try:
        await save_turn(store, "conv-red-1", turn("emergency", ["infection"]))
        await settle(broker)
        await save_turn(store, "conv-red-1", turn("emergency", ["infection"], "it is still hot"))
        await settle(broker)
    finally:
        await broker.close()

    [message] = inbox.messages
    [call] = receiver.received
    body = message.get_content()
    assert "conv-red-1" in message["Subject"] and "emergency" in message["Subject"]
    assert message["To"] == "triage@upwell.example, lead@upwell.example"
    assert "triage level emergency" in body and "Red-flag codes: infection" in body
    assert "https://staff.upwell.example/conversation/?id=conv-red-1" in body
    payload = json.loads(call.body)
    assert payload == {
        "type": "staff_alert", "clinic": "Upwell Health", "conversation_id": "conv-red-1",
        "triage_level": "emergency", "red_flags": ["infection"], "raised_at": payload["raised_at"],
        "review_url": "https://staff.upwell.example/conversation/?id=conv-red-1",
    }
    assert verify_signature(SECRET, call.body, call.headers["X-Upwell-Signature"])
    assert call.headers["X-Upwell-Event"] == "staff_alert" and call.headers["Idempotency-Key"]
    for text in (message.as_string(), call.body.decode()):
        for word in PATIENT_WORDS:
            assert word not in text


async def test_each_rise_in_level_alerts_again_and_lower_levels_do_not(alert_env, smtp):
    _, inbox = smtp
    broker = StaffAlertBroker()
    store = InMemoryTrackerStore(DOMAIN, event_broker=broker)
    try:
        await save_turn(store, "conv-2", turn("consultation", []))
        await settle(broker)
        assert inbox.messages == []  # below consultation_24: no alert
        await save_turn(store, "conv-2", turn("consultation_24", ["locked_knee"]))
        await settle(broker)
        await save_turn(store, "conv-2", turn("emergency_ambulance", ["locked_knee", "cardiorespiratory"]))
        await settle(broker)
        await save_turn(store, "conv-2", turn("consultation_24", ["locked_knee"]))
        await settle(broker)
        await save_turn(store, "conv-3", turn("consultation_24", ["child_hip"]))
        await settle(broker)
    finally:
        await broker.close()
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects == [
        "[Upwell Health] Triage alert: consultation_24 (conv-2)",
        "[Upwell Health] Triage alert: emergency_ambulance (conv-2)",
        "[Upwell Health] Triage alert: consultation_24 (conv-3)",
    ]
    assert "Red-flag codes: cardiorespiratory, locked_knee" in inbox.messages[1].get_content()


async def test_a_restarted_server_does_not_alert_twice(alert_env, smtp, receiver):
    _, inbox = smtp
    for _ in range(2):  # the same conversation seen by two server lives (or two workers)
        broker = StaffAlertBroker()
        store = InMemoryTrackerStore(DOMAIN, event_broker=broker)
        await save_turn(store, "conv-restart", turn("emergency", ["dvt"]))
        await settle(broker)
        await broker.close()
    assert len(inbox.messages) == 1 and len(receiver.received) == 1
    rows = AlertLedger(alert_env["BOOKING_DB_URL"]).rows()
    assert [(r["conversation_id"], r["triage_level"], r["status"], r["channels_sent"]) for r in rows] == [
        ("conv-restart", "emergency", "sent", "email,webhook")]


async def test_failures_never_block_or_break_the_conversation_and_log_ids_only(monkeypatch, tmp_path, caplog):
    # An SMTP server that accepts connections but never speaks, and a webhook nobody answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    monkeypatch.setenv("BOOKING_DB_URL", f"sqlite:///{tmp_path / 'clinic.db'}")
    settings = load_settings({
        "BOOKING_DB_URL": f"sqlite:///{tmp_path / 'clinic.db'}", "ALERT_SMTP_HOST": "127.0.0.1",
        "ALERT_SMTP_PORT": str(silent.getsockname()[1]), "ALERT_SMTP_SECURITY": "none",
        "ALERT_SMTP_FROM": "bot@upwell.example", "ALERT_SMTP_TO": "triage@upwell.example",
        "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hook", "ALERT_WEBHOOK_SECRET": SECRET,
    })
    channels = {name: (lambda send: lambda s, a: send(s, a, timeout=0.5))(send)
                for name, send in configured_channels(settings).items()}
    ledger = AlertLedger(settings.booking_db_url)
    dispatcher = AlertDispatcher(settings, ledger, channels=channels, retry_delays=(0.05,)).start()
    broker = StaffAlertBroker(settings, dispatcher)
    store = InMemoryTrackerStore(DOMAIN, event_broker=broker)
    caplog.set_level(logging.INFO)
    try:
        started = time.perf_counter()
        await save_turn(store, "conv-fail", turn("emergency", ["fracture_or_dislocation"]))
        assert time.perf_counter() - started < 0.2  # sending happens off the event loop
        tracker = await store.retrieve("conv-fail")
        assert tracker.get_slot("triage_level") == "emergency"
        await settle(broker)
    finally:
        await broker.close()
        silent.close()
    [row] = ledger.rows()
    assert row["status"] == "failed" and "email=smtp_" in row["last_error"] and "webhook=" in row["last_error"]
    assert "conv-fail" in caplog.text and "staff alert not sent" in caplog.text
    for word in PATIENT_WORDS:
        assert word not in caplog.text


async def test_a_broken_event_never_raises_into_rasa(alert_env):
    broker = StaffAlertBroker()
    try:
        broker.publish({"event": "slot", "name": "triage_level", "value": ["not", "a", "level"], "sender_id": "x"})
        broker.publish({"event": "slot"})
        broker.publish({})
    finally:
        await broker.close()


def test_without_channels_the_broker_does_nothing(monkeypatch, tmp_path):
    for key in ("ALERT_SMTP_HOST", "ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("BOOKING_DB_URL", f"sqlite:///{tmp_path / 'clinic.db'}")
    broker = StaffAlertBroker()
    broker.publish({"event": "slot", "name": "triage_level", "value": "emergency", "sender_id": "c"})
    assert broker.dispatcher is None and not (tmp_path / "clinic.db").exists()


def test_alerts_left_pending_by_a_crash_are_sent_on_start(alert_env, smtp):
    _, inbox = smtp
    settings = load_settings(alert_env)
    ledger = AlertLedger(settings.booking_db_url)
    alert = StaffAlert("conv-crash", "emergency", ("dvt",), utcnow())
    assert ledger.claim(alert)  # claimed, then the process died before sending
    dispatcher = AlertDispatcher(settings, ledger).start()
    assert dispatcher.wait_idle(20)
    dispatcher.stop()
    assert [m["Subject"] for m in inbox.messages] == ["[Upwell Health] Triage alert: emergency (conv-crash)"]
    assert ledger.rows()[0]["status"] == "sent"


def test_the_watcher_passes_only_red_flag_codes_and_forgets_on_restart():
    watcher = AlertWatcher()
    events = [
        {"event": "slot", "name": "red_flags", "value": ["dvt", "my calf is swollen"], "sender_id": "c"},
        {"event": "slot", "name": "triage_level", "value": "emergency", "sender_id": "c"},
    ]
    assert [watcher.observe(e) for e in events] == [None, "c"]
    assert watcher.alert_for("c").red_flags == ("dvt",)
    assert watcher.observe({"event": "slot", "name": "triage_level", "value": "emergency", "sender_id": "c"}) is None
    watcher.observe(Restarted().as_dict() | {"sender_id": "c"})
    assert watcher.alert_for("c") is None
    assert watcher.observe({"event": "slot", "name": "triage_level", "value": "consultation_24",
                            "sender_id": "c"}) == "c"


def test_the_ledger_refuses_a_level_at_or_below_one_already_raised(tmp_path):
    ledger = AlertLedger(f"sqlite:///{tmp_path / 'clinic.db'}")
    now = utcnow()
    assert ledger.claim(StaffAlert("c", "emergency", (), now))
    assert not ledger.claim(StaffAlert("c", "emergency", (), now))
    assert not ledger.claim(StaffAlert("c", "consultation_24", (), now))
    assert ledger.claim(StaffAlert("c", "emergency_ambulance", (), now))
    assert ledger.claim(StaffAlert("other", "consultation_24", (), now))
