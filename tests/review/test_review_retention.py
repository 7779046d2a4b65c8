"""Retention (`manage.py purge_old`) and the rule that nothing else ever writes to the tracker store."""
from __future__ import annotations

import hashlib
import sqlite3
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from review_fixtures import Script, build_booking_db, build_tracker_db

from transcripts.models import (
    AuditEvent, ConversationSummary, ConversationTag, ConversationText, IntentCorrection, Note, ReviewEvent,
)
from transcripts.stores import tracker_engine

DAY = 86400


def event_counts(path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        return dict(connection.execute("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id"))


@pytest.fixture
def aged_store(db, stores, clinician, client_for):
    """Three conversations: all old, old but active again yesterday, and recent; staff data on each."""
    tracker_path, _ = stores
    now = time.time()
    old = Script("old", start=now - 400 * DAY).user("knee hurts", "knee_pain_general").bot("I see.").done()
    revived = Script("revived", start=now - 400 * DAY).user("knee hurts", "knee_pain_general").bot("I see.").done()
    recent = Script("recent", start=now - 10 * DAY).user("knee hurts", "knee_pain_general").bot("I see.").done()
    build_tracker_db(tracker_path, [old, revived, recent])
    # The revived conversation gets a message yesterday: it is not due.
    later = Script("revived", start=now - DAY).user("still hurts", "knee_pain_general").done()
    build_tracker_db(tracker_path, [type(later)(sender_id="revived", events=revived.events + later.events[3:])])
    client = client_for(clinician)
    client.get("/")
    for conversation_id in ("old", "revived", "recent"):
        client.post("/conversation/review/", {"conversation_id": conversation_id})
        client.post("/conversation/tag/", {"conversation_id": conversation_id, "tag": "seen"})
        client.post("/conversation/note/", {"conversation_id": conversation_id, "text": "note"})
        client.get("/conversation/", {"id": conversation_id})
    # A note about a conversation deleted long ago by other means.
    Note.objects.create(conversation_id="vanished", author="casey", text="old note")
    Note.objects.filter(conversation_id="vanished").update(created_at=timezone.now() - timedelta(days=500))
    return tracker_path


def staff_rows(conversation_id: str) -> int:
    return sum(model.objects.filter(conversation_id=conversation_id).count()
               for model in (ConversationSummary, ConversationText, ReviewEvent, ConversationTag, Note,
                             IntentCorrection))


def test_purge_deletes_exactly_what_is_due(aged_store):
    before = event_counts(aged_store)
    assert set(before) == {"old", "revived", "recent"}
    call_command("purge_old", days=365)
    after = event_counts(aged_store)
    assert after == {"revived": before["revived"], "recent": before["recent"]}
    assert staff_rows("old") == 0 and staff_rows("vanished") == 0
    assert staff_rows("revived") == staff_rows("recent") == 5  # summary, search text, review, tag, note
    # The audit log keeps who saw the deleted conversation, and records the purge.
    assert AuditEvent.objects.filter(conversation_id="old", action="view").exists()
    assert AuditEvent.objects.filter(action="purge", detail__startswith="2 conversations").exists()


def test_purge_reads_its_default_from_the_settings(aged_store):
    with override_settings(RETENTION_DAYS=9):
        call_command("purge_old")
    # At 9 days "recent" (10 days old) is due too; "revived" (yesterday) is not.
    assert set(event_counts(aged_store)) == {"revived"}


def test_dry_run_deletes_nothing(aged_store):
    before = event_counts(aged_store)
    call_command("purge_old", days=365, dry_run=True)
    assert event_counts(aged_store) == before and staff_rows("old") == 5


def test_old_booking_requests_go_with_their_conversations(aged_store, stores):
    # A booking or call-back request holds a name, a phone number and the triage summary.
    _, booking_path = stores
    build_booking_db(booking_path, [
        {"kind": "booking", "conversation_id": "old", "name": "Old Patient", "phone": "0400 000 009"},
        {"kind": "callback", "conversation_id": "recent", "name": "New Patient", "phone": "0400 000 008",
         "status": "handled"},
    ])
    with sqlite3.connect(booking_path) as connection:
        connection.execute("UPDATE booking_requests SET created_at = datetime('now', '-400 days'), "
                           "updated_at = datetime('now', '-399 days') WHERE conversation_id = 'old'")

    def names() -> set[str]:
        with sqlite3.connect(booking_path) as connection:
            return {row[0] for row in connection.execute("SELECT name FROM booking_requests")}

    call_command("purge_old", days=365, dry_run=True)
    assert names() == {"Old Patient", "New Patient"}
    call_command("purge_old", days=365)
    assert names() == {"New Patient"}
    assert AuditEvent.objects.filter(action="purge", detail__contains="1 booking requests").exists()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_web_app_never_writes_to_the_tracker_store(clinic, stores, admin, client_for):
    tracker_path, _ = stores
    before = digest(tracker_path)
    client = client_for(admin)
    client.get("/")
    client.get("/", {"q": "'; DELETE FROM events; --", "intent": "x' OR 1=1", "red_flag": "x%"})
    client.get("/conversation/", {"id": "conv-stairs"})
    client.get("/conversation/pdf/", {"id": "conv-stairs"})
    client.post("/conversation/review/", {"conversation_id": "conv-stairs"})
    client.post("/conversation/note/", {"conversation_id": "conv-stairs", "text": "'); DROP TABLE events;--"})
    b"".join(client.get("/export/conversations.csv").streaming_content)
    assert digest(tracker_path) == before
    assert sum(event_counts(tracker_path).values()) > 0


def test_the_reader_cannot_write_even_if_asked(clinic):
    with pytest.raises(sa.exc.OperationalError, match="readonly"):
        with tracker_engine().begin() as connection:
            connection.execute(sa.text("DELETE FROM events"))


def test_reading_a_missing_store_creates_nothing(db, stores, clinician, client_for):
    tracker_path, _ = stores
    assert client_for(clinician).get("/").status_code == 200
    assert not tracker_path.exists()


def test_injection_in_filters_is_just_a_search(clinic, clinician, client_for):
    client = client_for(clinician)
    response = client.get("/", {"q": "' OR '1'='1", "date_from": "2020-01-01'; --", "level": "x' OR 1=1 --"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "were not understood" in html  # the bad date and level are refused, not run
    assert 'href="/conversation/' not in html  # and no list stands in for the one asked for
    assert "No conversations match." in client.get("/", {"q": "' OR '1'='1"}).content.decode()
    # The SQL-looking message is found as text, like any other.
    assert "conv-sqli" in client.get("/", {"q": "drop table events"}).content.decode()
