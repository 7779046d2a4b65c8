"""Contract tests: the Cliniko backend against a fake Cliniko speaking the documented API."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from bot.booking.cliniko import ClinikoClient, ClinikoConfig, ClinikoError, ClinikoUnauthorized
from bot.booking.service import BookingService
from bot.settings import load_settings
from fakes.cliniko import (  # noqa: F401  (fake_cliniko is a fixture)
    FakeCliniko, cliniko_env, fake_cliniko, upcoming_starts,
)

SUMMARY = {"triage_level": "consultation", "red_flags": [], "pain_triggers": ["stairs", "sitting"],
           "pain_location": "around_kneecap", "onset": "gradual", "duration_weeks": 6.0}


def make_service(fake: FakeCliniko, tmp_path, **env) -> BookingService:
    settings = load_settings(cliniko_env(fake, BOOKING_DB_URL=f"sqlite:///{tmp_path / 'clinic.db'}", **env))
    return BookingService(settings)


def booking(slot: datetime, **values) -> dict:
    fields = {"kind": "booking", "conversation_id": "conv-42", "name": "Jo Smith", "phone": "0491 570 156",
              "email": "jo@example.com", "triage_level": "consultation", "triage_summary": SUMMARY,
              "slot_starts_at": slot.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    fields.update(values)
    return fields


def test_offers_the_three_earliest_free_times_across_pages(fake_cliniko, tmp_path):
    starts = upcoming_starts(days=9)
    fake_cliniko.add_available(*starts)
    fake_cliniko.page_size_cap = 2  # forces links.next (path-only links, as in Cliniko's docs)
    service = make_service(fake_cliniko, tmp_path)

    slots = service.offer_slots(limit=3)

    assert [s.starts_at for s in slots] == sorted(starts)[:3]
    assert fake_cliniko.count("GET", "/businesses/101/practitioners/202/appointment_types/303/available_times") >= 2
    local = sorted(starts)[0]
    assert slots[0].label == f"{local:%A} {local.day} {local:%B} at 9 am"
    assert slots[0].value.endswith("Z")


def test_offers_skip_times_already_gone_and_look_past_the_first_week(fake_cliniko, tmp_path):
    future = upcoming_starts(days=10, hours=(10,))[-1]  # 10 days away: second 7-day window
    fake_cliniko.add_available(datetime.now(timezone.utc) - timedelta(hours=1), future)
    service = make_service(fake_cliniko, tmp_path)
    assert [s.starts_at for s in service.offer_slots()] == [future]


def test_offers_nothing_when_cliniko_is_down_so_the_bot_asks_for_times(fake_cliniko, tmp_path):
    fake_cliniko.add_available(*upcoming_starts())
    fake_cliniko.fail("GET", "available_times", 503, times=5)
    assert make_service(fake_cliniko, tmp_path).offer_slots() == []


def test_offers_nothing_without_cliniko(tmp_path):
    settings = load_settings({"BOOKING_DB_URL": f"sqlite:///{tmp_path / 'clinic.db'}"})
    assert BookingService(settings).offer_slots() == []


def test_a_confirmed_booking_creates_the_patient_and_the_appointment(fake_cliniko, tmp_path):
    slot = upcoming_starts()[0]
    fake_cliniko.add_available(slot)
    service = make_service(fake_cliniko, tmp_path)

    stored = service.submit(booking(slot))
    assert stored.status == "pending" and stored.backend == "cliniko"
    done = service.deliver(stored.id)

    assert done.status == "delivered" and done.attempts == 1
    [patient] = fake_cliniko.patients.values()
    assert (patient["first_name"], patient["last_name"], patient["email"]) == ("Jo", "Smith", "jo@example.com")
    assert patient["patient_phone_numbers"] == [{"phone_type": "Mobile", "number": "+61491570156"}]
    [appointment] = fake_cliniko.appointments.values()
    assert done.external_ref == str(appointment["id"])
    assert appointment["starts_at"] == slot.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert appointment["_practitioner_id"] == "202" and appointment["_business_id"] == "101"
    assert stored.id in appointment["notes"]
    assert "Pain triggers: stairs, sitting" in appointment["notes"]
    assert "Triage level: consultation" in appointment["notes"]


def test_an_existing_patient_is_found_by_email_and_name(fake_cliniko, tmp_path):
    slot = upcoming_starts()[0]
    existing = fake_cliniko.add_patient("Jo", "Smith", "JO@example.com")
    service = make_service(fake_cliniko, tmp_path)
    service.deliver(service.submit(booking(slot)).id)
    assert len(fake_cliniko.patients) == 1
    [appointment] = fake_cliniko.appointments.values()
    assert appointment["_patient_id"] == str(existing["id"])


def test_a_child_sharing_a_parents_email_gets_their_own_record(fake_cliniko, tmp_path):
    parent = fake_cliniko.add_patient("Sam", "Smith", "jo@example.com")
    service = make_service(fake_cliniko, tmp_path)
    service.deliver(service.submit(booking(upcoming_starts()[0], name="Alex Smith")).id)
    assert len(fake_cliniko.patients) == 2
    [appointment] = fake_cliniko.appointments.values()
    assert appointment["_patient_id"] != str(parent["id"])


def test_without_email_the_patient_is_matched_by_name_and_phone(fake_cliniko, tmp_path):
    existing = fake_cliniko.add_patient("Jo", "Smith", phones=("61491570156",))
    fake_cliniko.add_patient("Jo", "Smith", phones=("61491570999",))
    service = make_service(fake_cliniko, tmp_path)
    service.deliver(service.submit(booking(upcoming_starts()[0], email=None)).id)
    [appointment] = fake_cliniko.appointments.values()
    assert appointment["_patient_id"] == str(existing["id"])


def test_a_wrong_api_key_fails_at_once_with_a_config_code(fake_cliniko, tmp_path):
    service = make_service(fake_cliniko, tmp_path, CLINIKO_API_KEY="wrong-key-au2")
    done = service.deliver(service.submit(booking(upcoming_starts()[0])).id)
    assert (done.status, done.last_error, done.attempts) == ("failed", "cliniko_unauthorized", 1)
    assert service.deliver_pending(datetime.now(timezone.utc) + timedelta(days=1)) == []
    assert fake_cliniko.appointments == {}


def test_the_client_sends_basic_auth_accept_and_user_agent(fake_cliniko):
    config = ClinikoConfig(fake_cliniko.api_key, fake_cliniko.base_url, "Upwell (it@upwell.example)",
                           "101", "202", "303")
    assert ClinikoClient(config).find_patient("Jo", "Smith", "nobody@example.com", None) is None
    with pytest.raises(ClinikoUnauthorized):
        ClinikoClient(ClinikoConfig("other-key", fake_cliniko.base_url, "Upwell (it@upwell.example)",
                                    "101", "202", "303")).find_patient("Jo", "Smith", "a@b.co", None)
    with pytest.raises(ClinikoUnauthorized):  # Cliniko blocks clients without 'Vendor (email)'
        ClinikoClient(ClinikoConfig(fake_cliniko.api_key, fake_cliniko.base_url, "python-requests/2",
                                    "101", "202", "303")).find_patient("Jo", "Smith", "a@b.co", None)


def test_the_api_key_never_goes_to_another_host(fake_cliniko):
    config = ClinikoConfig(fake_cliniko.api_key, fake_cliniko.base_url, "Upwell (it@upwell.example)",
                           "101", "202", "303")
    with pytest.raises(ClinikoError):
        ClinikoClient(config).request("GET", "http://evil.example/v1/patients")


def test_a_refused_appointment_fails_with_a_validation_code(fake_cliniko, tmp_path):
    fake_cliniko.fail("POST", "/individual_appointments", 422)
    service = make_service(fake_cliniko, tmp_path)
    done = service.deliver(service.submit(booking(upcoming_starts()[0])).id)
    assert (done.status, done.last_error) == ("failed", "cliniko_validation")


def test_a_short_rate_limit_is_waited_out_within_the_attempt(fake_cliniko, tmp_path):
    reset = str(int(time.time()) + 1)
    fake_cliniko.fail("GET", "/patients", 429, headers={"X-RateLimit-Reset": reset})
    service = make_service(fake_cliniko, tmp_path)
    stored = service.submit(booking(upcoming_starts()[0]))
    started = time.monotonic()
    done = service.deliver(stored.id)
    assert done.status == "delivered" and done.attempts == 1
    assert time.monotonic() - started >= 0.4
    assert fake_cliniko.count("GET", "/patients") == 2


def test_a_long_rate_limit_reschedules_for_the_reset_time(fake_cliniko, tmp_path):
    reset = int(time.time()) + 600
    fake_cliniko.fail("GET", "/patients", 429, headers={"X-RateLimit-Reset": str(reset)})
    service = make_service(fake_cliniko, tmp_path)
    done = service.deliver(service.submit(booking(upcoming_starts()[0])).id)
    assert (done.status, done.last_error) == ("pending", "cliniko_rate_limited")
    waited = (done.next_attempt_at - datetime.now(timezone.utc)).total_seconds()
    assert 590 <= waited <= 610


def test_server_errors_are_retried_with_backoff_and_book_once(fake_cliniko, tmp_path):
    fake_cliniko.fail("POST", "/individual_appointments", 503, times=2)
    service = make_service(fake_cliniko, tmp_path, BOOKING_RETRY_BASE_SECONDS="30")
    now = datetime.now(timezone.utc)
    stored = service.submit(booking(upcoming_starts()[0]), now=now)

    first = service.deliver(stored.id, now)
    assert (first.status, first.last_error, first.next_attempt_at) == (
        "pending", "cliniko_unavailable", now + timedelta(seconds=30))
    assert service.deliver_pending(now + timedelta(seconds=29)) == []  # not due yet
    second = service.deliver_pending(now + timedelta(seconds=30))[0]
    assert second.status == "pending" and second.next_attempt_at == now + timedelta(seconds=30 + 60)
    third = service.deliver_pending(now + timedelta(seconds=90))[0]
    assert third.status == "delivered" and third.attempts == 3
    assert len(fake_cliniko.appointments) == 1 and len(fake_cliniko.patients) == 1


def test_a_timeout_after_cliniko_booked_does_not_book_twice(fake_cliniko, tmp_path):
    # Cliniko answers too late: the client gives up, but the appointment was made.
    fake_cliniko.slow("POST", "/individual_appointments", seconds=1.5)
    service = make_service(fake_cliniko, tmp_path, BOOKING_HTTP_TIMEOUT_SECONDS="0.5")
    now = datetime.now(timezone.utc)
    stored = service.submit(booking(upcoming_starts()[0]), now=now)

    first = service.deliver(stored.id, now)
    assert (first.status, first.last_error) == ("pending", "cliniko_unavailable")
    assert fake_cliniko.appointment_stored.wait(5)
    retried = service.deliver_pending(first.next_attempt_at)[0]

    [appointment] = fake_cliniko.appointments.values()
    assert retried.status == "delivered" and retried.external_ref == str(appointment["id"])
    assert fake_cliniko.count("POST", "/individual_appointments") == 1
    assert len(fake_cliniko.patients) == 1


def test_requests_give_up_after_the_last_attempt_and_stay_for_staff(fake_cliniko, tmp_path):
    fake_cliniko.fail("GET", "/patients", 500, times=10)
    service = make_service(fake_cliniko, tmp_path, BOOKING_MAX_ATTEMPTS="2", BOOKING_RETRY_BASE_SECONDS="1")
    now = datetime.now(timezone.utc)
    stored = service.submit(booking(upcoming_starts()[0]), now=now)
    service.deliver(stored.id, now)
    done = service.deliver_pending(now + timedelta(seconds=1))[0]
    assert (done.status, done.last_error, done.attempts) == ("failed", "gave_up:cliniko_unavailable", 2)
    assert service.store.list(["failed"])[0].phone == "+61491570156"


def test_a_callback_with_cliniko_configured_is_kept_for_staff(fake_cliniko, tmp_path):
    service = make_service(fake_cliniko, tmp_path)
    stored = service.submit({"kind": "callback", "name": "Jo Smith", "phone": "0491 570 156",
                             "preferred_times": "weekday mornings"})
    assert stored.backend == "local"
    assert service.deliver(stored.id).status == "delivered"
    assert fake_cliniko.requests == []
