"""The production setup: Rasa's tracker store on PostgreSQL (TRACKER_DB_URL), read only."""
from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from django.core.management import call_command
from django.test import override_settings
from review_fixtures import Script, _slots, clinic_conversations

from transcripts.models import ConversationSummary
from transcripts.stores import tracker_engine

psycopg2 = pytest.importorskip("psycopg2")


@pytest.fixture
def server(local_postgres):
    """The session's throwaway PostgreSQL (tests/conftest.py), never the machine's."""
    return dict(host="127.0.0.1", port=local_postgres.port, user="postgres")


@pytest.fixture
def postgres_tracker(db, server):
    SERVER = server  # noqa: N806 - the same name the fixture had as a module constant
    admin = psycopg2.connect(dbname="postgres", connect_timeout=10, **SERVER)
    admin.autocommit = True
    name = f"review_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    store = SQLTrackerStore(dialect="postgresql", host="127.0.0.1", port=SERVER["port"], db=name, username="postgres")
    old = Script("pg-old", start=1_600_000_000).user("old knee pain", "knee_pain_general").done()

    async def save_all() -> None:
        for conversation in clinic_conversations() + [old]:
            await store.save(DialogueStateTracker.from_events(conversation.sender_id, conversation.events,
                                                              slots=_slots()))

    asyncio.run(save_all())
    store.engine.dispose()
    url = f"postgresql://postgres@127.0.0.1:{SERVER['port']}/{name}"
    try:
        with override_settings(TRACKER_DB_URL=url):
            yield url
    finally:
        for writable in (False, True):
            tracker_engine(writable).dispose()
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_queue_and_transcript_read_postgresql(postgres_tracker, clinician, client_for):
    client = client_for(clinician)
    html = client.get("/").content.decode()
    assert html.index("conv-infection") < html.index("conv-stairs")
    assert ConversationSummary.objects.count() == 6
    page = client.get("/conversation/", {"id": "conv-stairs"}).content.decode()
    assert "fever: negated" in page


def test_the_web_app_connection_is_read_only(postgres_tracker):
    with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
        with tracker_engine().begin() as connection:
            connection.execute(sa.text("DELETE FROM events"))


def test_purge_works_on_postgresql(postgres_tracker, clinician, client_for):
    client_for(clinician).get("/")
    call_command("purge_old", days=365)
    with tracker_engine().connect() as connection:
        senders = {row[0] for row in connection.execute(sa.text("SELECT DISTINCT sender_id FROM events"))}
    assert senders == {"conv-infection", "conv-stairs", "conv-fallback", "conv-xss", "conv-sqli"}
    assert not ConversationSummary.objects.filter(conversation_id="pg-old").exists()
