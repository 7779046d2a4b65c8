"""The booking service: store first, deliver once, resume after restarts, never log contacts."""
from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta, timezone

import pytest

from bot.booking.backends import DeliveryResult
from bot.booking.service import (
    BookingService, DeliveryWorker, Slot, parse_slot_value, slot_label, triage_summary_from_slots,
)
from bot.booking.store import BookingRequest
from bot.settings import load_settings
from fakes.cliniko import wait_until

CALLBACK = {"kind": "callback", "conversation_id": "conv-1", "name": "Jo Smith", "phone": "0491 570 156",
            "preferred_times": "weekday mornings", "triage_level": "consultation"}


def settings_for(tmp_path, **env):
    return load_settings({"BOOKING_DB_URL": f"sqlite:///{tmp_path / 'clinic.db'}", **env})


class RecordingBackend:
    """A backend double for service logic only (real backends are tested at their network edge)."""

    name = "local"

    def __init__(self, *results: DeliveryResult, gate: threading.Event = None) -> None:
        self.results = list(results)
        self.delivered: list[str] = []
        self.gate = gate

    def deliver(self, request: BookingRequest) -> DeliveryResult:
        if self.gate is not None:
            self.gate.wait(10)
        self.delivered.append(request.id)
        return self.results.pop(0) if self.results else DeliveryResult.delivered("ok")


def test_submit_commits_before_any_delivery(tmp_path):
    service = BookingService(settings_for(tmp_path))
    stored = service.submit(CALLBACK)
    # A second service on the same database (another process after a crash) sees it pending.
    other = BookingService(settings_for(tmp_path))
    again = other.get(stored.id)
    assert (again.status, again.name, again.phone, again.location) == (
        "pending", "Jo Smith", "+61491570156", "Upwell Health")
    assert other.deliver_pending()[0].status == "delivered"


def test_the_same_confirmation_twice_is_one_request(tmp_path):
    service = BookingService(settings_for(tmp_path))
    first = service.submit(CALLBACK, idempotency_key="user-message-123")
    second = service.submit(CALLBACK, idempotency_key="user-message-123")
    assert first.id == second.id and len(service.store.list()) == 1
    assert service.submit(CALLBACK, idempotency_key="user-message-456").id != first.id


@pytest.mark.parametrize("change, message", [
    ({"kind": "visit"}, "kind"),
    ({"name": "<b>x</b>"}, "name"),
    ({"phone": "12"}, "phone"),
    ({"phone": None}, "phone is required"),
    ({"email": "not-an-email"}, "email"),
    ({"triage_level": "urgent"}, "triage_level"),
    ({"slot_starts_at": "2025-03-04 09:00"}, "slot_starts_at"),
    ({"favourite_colour": "blue"}, "unknown booking fields"),
])
def test_bad_fields_are_refused_by_name(tmp_path, change, message):
    service = BookingService(settings_for(tmp_path))
    with pytest.raises(ValueError, match=message):
        service.submit({**CALLBACK, **change})
    assert service.store.list() == []


def test_a_booking_with_only_an_email_is_accepted(tmp_path):
    service = BookingService(settings_for(tmp_path))
    stored = service.submit({"kind": "booking", "name": "Jo Smith", "email": "jo@example.com"})
    assert stored.email == "jo@example.com" and stored.phone is None


def test_retries_back_off_exponentially_then_give_up(tmp_path):
    backend = RecordingBackend(*[DeliveryResult.retry("down")] * 3)
    service = BookingService(settings_for(tmp_path, BOOKING_MAX_ATTEMPTS="3", BOOKING_RETRY_BASE_SECONDS="10"),
                             backends={"local": backend})
    now = datetime(2025, 3, 4, 0, 0, tzinfo=timezone.utc)
    stored = service.submit(CALLBACK, now=now)
    delays = []
    moment = now
    for _ in range(2):
        state = service.deliver(stored.id, moment)
        delays.append((state.next_attempt_at - moment).total_seconds())
        moment = state.next_attempt_at
    final = service.deliver(stored.id, moment)
    assert delays == [10, 20]
    assert (final.status, final.last_error, final.attempts) == ("failed", "gave_up:down", 3)
    assert len(backend.delivered) == 3


def test_a_request_for_an_unconfigured_backend_fails_visibly(tmp_path):
    service = BookingService(settings_for(tmp_path))
    stored = service.submit(CALLBACK)
    service.store.update(stored.id, backend="cliniko")  # e.g. switched off after it was stored
    assert service.deliver(stored.id).last_error == "backend_not_configured"


def test_a_backend_bug_is_retried_not_raised(tmp_path):
    class Broken:
        name = "local"

        def deliver(self, request):
            raise KeyError("Jo Smith")

    service = BookingService(settings_for(tmp_path), backends={"local": Broken()})
    state = service.deliver(service.submit(CALLBACK).id)
    assert (state.status, state.last_error) == ("pending", "internal_error")


def test_two_workers_deliver_each_request_once(tmp_path):
    gate = threading.Event()
    backend = RecordingBackend(gate=gate)
    settings = settings_for(tmp_path)
    first = BookingService(settings, backends={"local": backend})
    second = BookingService(settings, backends={"local": backend})
    ids = [first.submit({**CALLBACK, "conversation_id": f"c{i}"}).id for i in range(5)]
    threads = [threading.Thread(target=s.deliver_pending) for s in (first, second, first)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(20)
    assert sorted(backend.delivered) == sorted(ids)
    assert {r.status for r in first.store.list()} == {"delivered"}


def test_the_worker_resumes_pending_requests_and_delivers_new_ones_at_once(tmp_path):
    settings = settings_for(tmp_path, BOOKING_WORKER_INTERVAL_SECONDS="60")
    left_over = BookingService(settings).submit(CALLBACK)  # stored before a 'restart'

    service = BookingService(settings)
    worker = DeliveryWorker(service).start()
    try:
        assert wait_until(lambda: service.get(left_over.id).status == "delivered", 5)
        fresh = service.submit({**CALLBACK, "conversation_id": "conv-2"})
        # Woken by submit: no need to wait for the 60 s round.
        assert wait_until(lambda: service.get(fresh.id).status == "delivered", 5)
        assert DeliveryWorker(service).start() is not None and worker.running
    finally:
        worker.stop()
    assert not worker.running


async def test_submit_and_deliver_reports_a_quick_delivery(tmp_path):
    service = BookingService(settings_for(tmp_path))
    done = await service.submit_and_deliver(CALLBACK, idempotency_key="m1")
    assert done.status == "delivered"


async def test_a_slow_delivery_returns_pending_and_finishes_in_the_background(tmp_path):
    gate = threading.Event()
    backend = RecordingBackend(gate=gate)
    service = BookingService(settings_for(tmp_path), backends={"local": backend})
    state = await service.submit_and_deliver(CALLBACK, wait_seconds=0.2)
    assert state.status == "pending"
    gate.set()
    assert await asyncio.to_thread(wait_until, lambda: service.get(state.id).status == "delivered", 5)
    assert backend.delivered == [state.id]


def test_logs_carry_ids_and_codes_but_no_contact_details(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    service = BookingService(settings_for(tmp_path), backends={"local": RecordingBackend(
        DeliveryResult.retry("down"), DeliveryResult.failed("refused"))})
    now = datetime.now(timezone.utc)
    stored = service.submit({**CALLBACK, "email": "jo@example.com"}, now=now)
    service.deliver(stored.id, now)
    service.deliver(stored.id, now + timedelta(hours=1))
    text = caplog.text
    assert stored.id in text and "refused" in text
    for private in ("Jo Smith", "0491", "491570156", "jo@example.com", "weekday mornings"):
        assert private not in text


def test_slots_round_trip_through_button_payloads():
    settings = load_settings({})
    slot = Slot(datetime(2025, 3, 3, 22, 30, tzinfo=timezone.utc), "")
    assert slot.value == "2025-03-03T22:30:00Z"
    assert parse_slot_value(slot.value) == slot.starts_at
    assert slot_label(slot.starts_at, settings) == "Tuesday 4 March at 9:30 am"


def test_triage_summary_keeps_contract_slots_only():
    slots = {"triage_level": "consultation", "red_flags": [], "pain_triggers": ["stairs"], "phone": "x",
             "onset": None, "duration_weeks": 3.0}
    assert triage_summary_from_slots(slots) == {"triage_level": "consultation", "pain_triggers": ["stairs"],
                                                "duration_weeks": 3.0}


def test_the_action_server_gets_one_service_with_one_running_worker(monkeypatch, tmp_path, caplog):
    from bot.booking import service as service_module

    monkeypatch.setenv("BOOKING_DB_URL", f"sqlite:///{tmp_path / 'clinic.db'}")
    for key in ("CLINIC_PHONE", "BOOKING_BACKEND"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(service_module, "_service", None)
    caplog.set_level(logging.WARNING)
    first = service_module.get_booking_service()
    try:
        assert service_module.get_booking_service() is first
        assert first.worker is not None and first.worker.running
        assert "CLINIC_PHONE is still the demo value" in caplog.text
        stored = first.submit(CALLBACK)
        assert wait_until(lambda: first.get(stored.id).status == "delivered", 5)
    finally:
        first.worker.stop()


async def test_when_the_delivery_worker_claims_the_request_first_its_outcome_is_reported(tmp_path):
    # The worker's loop wakes for every new request, so it can win the claim: the patient must
    # still hear "sent" when the worker's attempt succeeds within the wait.
    gate = threading.Event()
    service = BookingService(settings_for(tmp_path), backends={"local": RecordingBackend(gate=gate)})
    stored = service.submit(CALLBACK, idempotency_key="m-race")
    worker = threading.Thread(target=service.deliver, args=(stored.id,))
    worker.start()  # the worker holds the claim, waiting on its backend
    assert await asyncio.to_thread(wait_until, lambda: service.get(stored.id).attempts == 1, 5)
    threading.Timer(0.5, gate.set).start()
    state = await service.submit_and_deliver(CALLBACK, idempotency_key="m-race", wait_seconds=5)
    worker.join(5)
    assert (state.id, state.status) == (stored.id, "delivered")
