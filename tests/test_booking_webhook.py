"""The webhook backend against a real local HTTP receiver: signed, idempotent, retried."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from bot.booking.service import BookingService
from bot.booking.webhook import sign_body, verify_signature
from bot.settings import load_settings
from fakes.webhook import WebhookReceiver

SECRET = "test-webhook-secret"


@pytest.fixture
def receiver():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


def make_service(receiver: WebhookReceiver, tmp_path, **env) -> BookingService:
    return BookingService(load_settings({
        "BOOKING_BACKEND": "webhook", "BOOKING_WEBHOOK_URL": receiver.url, "BOOKING_WEBHOOK_SECRET": SECRET,
        "BOOKING_DB_URL": f"sqlite:///{tmp_path / 'clinic.db'}", **env,
    }))


CALLBACK = {"kind": "callback", "conversation_id": "conv-7", "name": "Jo Smith", "phone": "(03) 5550 1234",
            "preferred_times": "after 3 pm", "triage_level": "consultation_24",
            "triage_summary": {"triage_level": "consultation_24", "red_flags": ["locked_knee"]}}


def test_a_request_arrives_signed_with_its_idempotency_key(receiver, tmp_path):
    service = make_service(receiver, tmp_path)
    stored = service.submit(CALLBACK)
    done = service.deliver(stored.id)

    assert done.status == "delivered" and done.external_ref == "R1"
    [call] = receiver.received
    assert call.headers["Idempotency-Key"] == stored.id
    assert call.headers["X-Upwell-Signature"] == sign_body(SECRET, call.body)
    assert verify_signature(SECRET, call.body, call.headers["X-Upwell-Signature"])
    assert not verify_signature("another-secret", call.body, call.headers["X-Upwell-Signature"])
    body = json.loads(call.body)
    assert body["id"] == stored.id and body["kind"] == "callback" and body["type"] == "callback_request"
    assert body["phone"] == "+61355501234" and body["preferred_times"] == "after 3 pm"
    assert body["triage_summary"] == {"triage_level": "consultation_24", "red_flags": ["locked_knee"]}


def test_a_failed_delivery_is_resent_with_the_same_key(receiver, tmp_path):
    receiver.statuses = [502, 200]
    service = make_service(receiver, tmp_path, BOOKING_RETRY_BASE_SECONDS="10")
    now = datetime.now(timezone.utc)
    stored = service.submit(CALLBACK, now=now)
    first = service.deliver(stored.id, now)
    assert (first.status, first.last_error) == ("pending", "webhook_http_502")
    second = service.deliver_pending(now + timedelta(seconds=10))[0]
    assert second.status == "delivered"
    assert [r.headers["Idempotency-Key"] for r in receiver.received] == [stored.id, stored.id]
    assert receiver.received[0].body == receiver.received[1].body


def test_a_slow_receiver_is_retried_after_a_timeout(receiver, tmp_path):
    receiver.delay_seconds = 1.0
    service = make_service(receiver, tmp_path, BOOKING_HTTP_TIMEOUT_SECONDS="0.3")
    done = service.deliver(service.submit(CALLBACK).id)
    assert (done.status, done.last_error) == ("pending", "webhook_timeout")


@pytest.mark.parametrize("status, outcome, code", [
    (401, "failed", "webhook_unauthorized"),
    (422, "failed", "webhook_validation"),
    (409, "delivered", None),  # the receiver already had this key
    (429, "pending", "webhook_rate_limited"),
])
def test_receiver_answers_map_to_outcomes(receiver, tmp_path, status, outcome, code):
    receiver.statuses = [status]
    service = make_service(receiver, tmp_path)
    done = service.deliver(service.submit(CALLBACK).id)
    assert (done.status, done.last_error) == (outcome, code)


def test_an_unreachable_receiver_keeps_the_request_pending(tmp_path):
    service = BookingService(load_settings({
        "BOOKING_BACKEND": "webhook", "BOOKING_WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "BOOKING_WEBHOOK_SECRET": SECRET, "BOOKING_DB_URL": f"sqlite:///{tmp_path / 'clinic.db'}",
    }))
    done = service.deliver(service.submit(CALLBACK).id)
    assert (done.status, done.last_error) == ("pending", "webhook_connection_error")
    assert service.get(done.id).name == "Jo Smith"
