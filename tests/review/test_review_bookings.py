"""Booking and call-back requests: staff see them and mark them handled."""
from __future__ import annotations

import os
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from bot.booking.store import BookingStore
from transcripts.models import AuditEvent, StaffMember


def test_requests_are_listed_with_contact_details(clinic, clinician, client_for):
    html = client_for(clinician).get("/bookings/").content.decode()
    assert "Sam Lee" in html and "0412 345 678" in html and "Jo Smith" in html
    assert "timeout" in html  # the failed delivery says why
    assert AuditEvent.objects.filter(username="casey", action="view_bookings").exists()
    only_callbacks = client_for(clinician).get("/bookings/", {"kind": "callback"}).content.decode()
    assert "Sam Lee" in only_callbacks and "Jo Smith" not in only_callbacks


def test_marking_a_request_handled(clinic, stores, clinician, client_for):
    _, booking_path = stores
    store = BookingStore(f"sqlite:///{booking_path}")
    callback = next(r for r in store.list() if r.kind == "callback")
    client = client_for(clinician)
    response = client.post("/bookings/handle/", {"request_id": callback.id})
    assert response.status_code == 302
    handled = store.get(callback.id)
    assert (handled.status, handled.handled_by) == ("handled", "casey")
    assert handled.handled_at is not None and handled.next_attempt_at is None
    assert AuditEvent.objects.filter(action="booking_handled", conversation_id="conv-stairs").exists()
    # Open requests no longer list it; the queue's booking status follows.
    assert "Sam Lee" not in client.get("/bookings/").content.decode()
    client.get("/")
    html = client.get("/", {"booking": "callback"}).content.decode()
    assert '<span class="status status-handled">handled</span>' in html
    assert client.post("/bookings/handle/", {"request_id": "no-such-id"}).status_code == 404
    store.dispose()


def test_conversation_page_shows_its_requests(clinic, clinician, client_for):
    html = client_for(clinician).get("/conversation/", {"id": "conv-infection"}).content.decode()
    section = re.search(r'<section id="bookings".*?</section>', html, re.S).group(0)
    assert "Jo Smith" in section and "failed" in section and "Mark as handled" in section


def test_create_staff_command(db, monkeypatch):
    monkeypatch.setenv("REVIEW_STAFF_PASSWORD", "correct horse battery staple")
    out = StringIO()
    call_command("create_staff", username="pat", role="admin", stdout=out)
    user = get_user_model().objects.get(username="pat")
    assert user.check_password("correct horse battery staple")
    assert StaffMember.objects.get(user=user).role == "admin"
    assert "Created admin account pat" in out.getvalue()
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_staff", username="pat", role="admin")
    monkeypatch.setenv("REVIEW_STAFF_PASSWORD", "short")
    with pytest.raises(CommandError, match="Password not accepted"):
        call_command("create_staff", username="kim", role="clinician")


def test_create_staff_asks_for_the_password_twice(db, monkeypatch):
    monkeypatch.delenv("REVIEW_STAFF_PASSWORD", raising=False)
    answers = iter(["correct horse battery staple", "correct horse battery stapler"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="differ"):
        call_command("create_staff", username="lee", role="clinician")
    assert not get_user_model().objects.filter(username="lee").exists()
    assert os.environ.get("REVIEW_STAFF_PASSWORD") is None
