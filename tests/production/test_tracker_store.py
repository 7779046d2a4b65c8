"""The production tracker store against this machine's PostgreSQL (components/durable_tracker_store.py):
a dropped connection is retried without writing anything twice, and an outage longer than the
retry budget is an error that Rasa's FailSafeTrackerStore cannot turn into a silent in-memory
save."""
from __future__ import annotations

import asyncio
import time

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.durable_tracker_store import DurableSQLTrackerStore, TrackerStoreUnavailable
from faults.postgres_restart import refuse_connections
from faults.production_stack import _admin_connection, create_database, database_url, drop_database

pytestmark = pytest.mark.production


@pytest.fixture
def database(services):  # the session's throwaway PostgreSQL (conftest.py)
    name = create_database("upwell_store")
    try:
        yield name
    finally:
        refuse_connections(name, False)
        drop_database(name)


def store_for(database: str, retry_seconds: float) -> DurableSQLTrackerStore:
    return DurableSQLTrackerStore(domain=Domain.empty(), host=database_url(database), retry_seconds=retry_seconds)


def conversation(sender: str, *texts: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker.from_events(sender, [SessionStarted(), ActionExecuted("action_listen")])
    for text in texts:
        tracker.update(UserUttered(text))
        tracker.update(ActionExecuted("action_listen"))
    return tracker


def stored_texts(store: DurableSQLTrackerStore, sender: str) -> list[str]:
    tracker = asyncio.run(store.retrieve_full_tracker(sender))
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]


def cut_connections(database: str) -> int:
    connection = _admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                           "where datname = %s and pid <> pg_backend_pid()", (database,))
            return cursor.rowcount
    finally:
        connection.close()


def test_after_the_database_drops_its_connections_the_next_save_works_and_nothing_is_stored_twice(database):
    store = store_for(database, retry_seconds=10)
    asyncio.run(store.save(conversation("p1", "my knee hurts on stairs")))
    assert cut_connections(database) >= 1  # the store's pooled connection is now dead

    asyncio.run(store.save(conversation("p1", "my knee hurts on stairs", "around the kneecap")))

    assert stored_texts(store, "p1") == ["my knee hurts on stairs", "around the kneecap"]


def test_an_outage_longer_than_the_budget_stops_the_message_instead_of_a_silent_in_memory_save(database):
    durable = store_for(database, retry_seconds=1.5)
    asyncio.run(durable.save(conversation("p2", "hello")))
    as_rasa_uses_it = FailSafeTrackerStore(durable)

    refuse_connections(database, True)
    try:
        started = time.monotonic()
        with pytest.raises(TrackerStoreUnavailable):
            asyncio.run(as_rasa_uses_it.save(conversation("p2", "hello", "my knee hurts")))
        with pytest.raises(TrackerStoreUnavailable):
            asyncio.run(as_rasa_uses_it.retrieve("p2"))
        assert time.monotonic() - started < 30
    finally:
        refuse_connections(database, False)

    assert not issubclass(TrackerStoreUnavailable, Exception), "Rasa's `except Exception` must not catch it"
    assert stored_texts(durable, "p2") == ["hello"]
    assert as_rasa_uses_it._fallback_tracker_store is None, "nothing went to the in-memory fallback"


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[dict] = []

    def publish(self, event: dict) -> None:
        self.published.append(event)


def test_staff_alert_broker_gets_each_new_event_once_without_the_conversation_being_loaded_again(database, monkeypatch):
    store = store_for(database, retry_seconds=10)
    store.event_broker = RecordingBroker()
    asyncio.run(store.save(conversation("p3", "my knee hurts on stairs")))
    first = [e.get("text") for e in store.event_broker.published if e["event"] == "user"]

    # Saving must not load and replay the stored conversation (Rasa's own save does, once per
    # message, only to find which events are new): a retrieve now fails the test.
    async def no_retrieve(*args, **kwargs):
        raise AssertionError("save loaded the whole conversation again")

    monkeypatch.setattr(store, "_retrieve", no_retrieve)
    store.event_broker.published.clear()
    assert cut_connections(database) >= 1  # and the first attempt's connection is dead
    asyncio.run(store.save(conversation("p3", "my knee hurts on stairs", "around the kneecap")))

    assert first == ["my knee hurts on stairs"]
    assert [e["event"] for e in store.event_broker.published] == ["user", "action"]
    assert store.event_broker.published[0]["text"] == "around the kneecap"
    assert all(e["sender_id"] == "p3" for e in store.event_broker.published)
    monkeypatch.undo()
    assert stored_texts(store, "p3") == ["my knee hurts on stairs", "around the kneecap"]
