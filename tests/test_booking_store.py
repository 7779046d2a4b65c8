"""The request store on SQLite (default) and PostgreSQL: durable, UTC, one claim per attempt."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.booking.store import BookingRequest, BookingStore, new_request

NOW = datetime(2025, 3, 4, 22, 30, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        store = BookingStore(f"sqlite:///{tmp_path / 'clinic.db'}")
        store.create_all()
        yield store
        store.dispose()
        return
    PG_URL = request.getfixturevalue("local_postgres").admin_url  # noqa: N806 - was a module constant
    schema = f"test_booking_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_URL, future=True)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    store = BookingStore(PG_URL, schema=schema)
    store.create_all()
    try:
        yield store
    finally:
        store.dispose()
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def _request(**values) -> BookingRequest:
    fields = dict(conversation_id="conv-1", name="Jo Smith", phone="+61491570156", email="jo@example.com",
                  triage_level="consultation", triage_summary={"red_flags": [], "pain_triggers": ["stairs"]},
                  slot_starts_at=NOW + timedelta(days=1))
    fields.update(values)
    return new_request("booking", "local", NOW, BookingRequest.new_id(), **fields)


def test_a_stored_request_reads_back_whole_with_utc_times(store):
    melbourne_now = NOW.astimezone(timezone(timedelta(hours=11)))
    stored, created = store.insert(_request(created_at=melbourne_now))
    assert created
    again = store.get(stored.id)
    assert again.created_at == NOW and again.created_at.tzinfo is not None
    assert again.created_at.utcoffset() == timedelta(0)
    assert again.slot_starts_at == NOW + timedelta(days=1)
    assert again.triage_summary == {"red_flags": [], "pain_triggers": ["stairs"]}
    assert (again.name, again.phone, again.status, again.attempts) == ("Jo Smith", "+61491570156", "pending", 0)


def test_the_same_id_is_stored_once(store):
    first, created = store.insert(_request())
    second, created_again = store.insert(_request(id=first.id, name="Someone Else"))
    assert created and not created_again
    assert second.name == "Jo Smith"
    assert len(store.list()) == 1


def test_the_review_tool_schema_keeps_its_column_names(store):
    columns = set(store.table.c.keys())
    assert {"id", "kind", "conversation_id", "created_at", "updated_at", "status", "backend", "attempts",
            "next_attempt_at", "last_error", "name", "phone", "email", "preferred_times", "location",
            "triage_level", "triage_summary", "external_ref", "delivered_at", "handled_by",
            "handled_at"} <= columns
    inspector = sa.inspect(store.engine)
    assert "booking_requests" in inspector.get_table_names(schema=store.metadata.schema)


def test_a_due_request_is_claimed_once_and_pushed_out_by_the_lease(store):
    stored, _ = store.insert(_request())
    assert store.due_ids(NOW) == [stored.id]
    claimed = store.claim(stored.id, NOW, timedelta(minutes=5))
    assert claimed.attempts == 1 and claimed.next_attempt_at == NOW + timedelta(minutes=5)
    assert store.claim(stored.id, NOW, timedelta(minutes=5)) is None
    assert store.due_ids(NOW + timedelta(minutes=1)) == []
    # A worker that died mid-delivery: its lease runs out and the request is due again.
    assert store.due_ids(NOW + timedelta(minutes=6)) == [stored.id]
    assert store.claim(stored.id, NOW + timedelta(minutes=6), timedelta(minutes=5)).attempts == 2


def test_concurrent_claims_have_exactly_one_winner(store):
    stored, _ = store.insert(_request())
    winners, barrier = [], threading.Barrier(6)

    def race() -> None:
        barrier.wait()
        if store.claim(stored.id, NOW, timedelta(minutes=5)) is not None:
            winners.append(1)

    threads = [threading.Thread(target=race) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_finished_requests_are_never_claimed(store):
    delivered, _ = store.insert(_request())
    store.update(delivered.id, status="delivered", delivered_at=NOW, next_attempt_at=None)
    handled, _ = store.insert(_request())
    store.mark_handled(handled.id, "reception", NOW)
    assert store.claim(delivered.id, NOW, timedelta(minutes=5)) is None
    assert store.due_ids(NOW + timedelta(days=1)) == []
    assert store.get(handled.id).handled_by == "reception"


def test_last_error_is_cut_short(store):
    stored, _ = store.insert(_request())
    assert len(store.update(stored.id, last_error="x" * 500).last_error) == 120


def test_idempotency_keys_give_stable_uuid_hex_ids():
    assert BookingRequest.new_id("message-1") == BookingRequest.new_id("message-1")
    assert BookingRequest.new_id("message-1") != BookingRequest.new_id("message-2")
    assert len(BookingRequest.new_id()) == 32 and uuid.UUID(BookingRequest.new_id()).version == 4


def test_repr_hides_contact_details():
    text = repr(_request())
    assert "Jo Smith" not in text and "+61491570156" not in text and "jo@example.com" not in text
