"""The conversation index follows the tracker store incrementally, whoever writes the events."""
from __future__ import annotations

import sqlite3
import time
from unittest import mock

import pytest
from django.test import override_settings
from review_fixtures import Conversation, Script, build_tracker_db

from transcripts.models import ConversationSummary, ConversationText, SyncState
from transcripts.stores import TrackerReader
from transcripts.sync import _LostRace, _sync_batch, sync_index


def stored_events(path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def summary(conversation_id: str) -> ConversationSummary:
    return ConversationSummary.objects.get(conversation_id=conversation_id)


def test_new_events_are_added_without_counting_twice(db, stores):
    tracker_path, _ = stores
    first = Script("a", start=1_780_000_000).user("knee hurts", "knee_pain_general").bot("Where?").done()
    build_tracker_db(tracker_path, [first])
    assert sync_index().events == stored_events(tracker_path) == len(first.events)
    assert summary("a").user_message_count == 1
    assert sync_index().events == 0  # nothing new: nothing read

    more = Script("a", start=1_780_000_100).user("on stairs", "pain_on_stairs", 0.4).slot("triage_level", "consultation")
    build_tracker_db(tracker_path, [Conversation("a", first.events + more.done().events[3:]),
                                    Script("b", start=1_780_000_200).user("hi", "greet").done()])
    result = sync_index()
    assert result.events == stored_events(tracker_path) - len(first.events) and not result.behind
    a = summary("a")
    assert (a.user_message_count, a.bot_message_count, a.triage_level) == (2, 1, "consultation")
    assert a.intents == ",knee_pain_general,pain_on_stairs," and a.min_confidence == pytest.approx(0.4)
    assert ConversationText.objects.get(conversation_id="a").text == "knee hurts\non stairs"
    assert a.first_message == "knee hurts"
    assert summary("b").user_message_count == 1


def test_a_page_request_indexes_a_bounded_batch(db, stores):
    tracker_path, _ = stores
    build_tracker_db(tracker_path, [Script(f"c{i}", start=1_780_000_000 + i).user("x", "greet").done()
                                    for i in range(10)])
    result = sync_index(max_events=7, batch_size=5)
    assert result.events == 7 and result.behind
    assert sync_index().events == 33 and ConversationSummary.objects.count() == 10


def test_an_escalation_after_review_puts_the_conversation_back_on_top(clinic, clinician, client_for):
    client = client_for(clinician)
    client.get("/")
    client.post("/conversation/review/", {"conversation_id": "conv-stairs"})
    assert not summary("conv-stairs").priority
    from django.conf import settings
    path = settings.TRACKER_DB_URL.removeprefix("sqlite:///")
    stairs = next(c for c in clinic if c.sender_id == "conv-stairs")
    later = (Script("conv-stairs", start=time.time()).user("now my calf is swollen and hot", "knee_pain_general")
             .slot("red_flags", ["dvt"]).slot("triage_level", "emergency").done())
    build_tracker_db(path, [Conversation("conv-stairs", stairs.events + later.events[3:])])
    html = client.get("/").content.decode()
    s = summary("conv-stairs")
    assert (s.reviewed, s.reopened, s.priority, s.triage_level) == (False, True, 1, "emergency")
    assert "Escalated after review" in html


def _insert_raw(path, rows) -> None:
    """Events written by something other than Rasa's store (a copy or a migration, say)."""
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO events (id, sender_id, type_name, timestamp, intent_name, action_name, data) "
            "VALUES (?, ?, 'user', ?, 'greet', NULL, ?)", rows)


def test_an_event_committed_late_below_the_bookmark_is_still_read(db, stores):
    tracker_path, _ = stores
    build_tracker_db(tracker_path, [Script("x", start=1_780_000_000).done()])  # ids 1-3
    data = '{"event": "user", "text": "hello", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}'
    _insert_raw(tracker_path, [(5, "late", 1_780_000_010.0, data)])
    sync_index()
    assert SyncState.objects.get().gaps[0][:2] == [4, 4]
    # A transaction that took id 4 commits now.
    _insert_raw(tracker_path, [(4, "late", 1_780_000_005.0, data)])
    sync_index()
    assert summary("late").user_message_count == 2
    assert SyncState.objects.get().gaps == []


def test_gaps_are_given_up_after_a_while(db, stores):
    tracker_path, _ = stores
    build_tracker_db(tracker_path, [Script("x", start=1_780_000_000).done()])
    _insert_raw(tracker_path, [(9, "y", 1_780_000_010.0, "{}")])
    sync_index()
    assert SyncState.objects.get().gaps
    with override_settings(SYNC_GAP_WAIT_SECONDS=0):
        sync_index()
    assert SyncState.objects.get().gaps == []


def test_two_syncs_at_once_never_count_an_event_twice(db, stores):
    tracker_path, _ = stores
    build_tracker_db(tracker_path, [Script("a", start=1_780_000_000).user("x", "greet").done()])
    reader = TrackerReader()
    real_events_after = reader.events_after

    def another_process_wins(last_id, limit):
        events = real_events_after(last_id, limit)
        SyncState.objects.filter(pk=1).update(last_event_id=events[-1].id)  # it committed first
        return events

    with mock.patch.object(reader, "events_after", side_effect=another_process_wins):
        with pytest.raises(_LostRace):
            _sync_batch(reader, 100)
    assert not ConversationSummary.objects.exists()  # our batch was rolled back whole


def test_a_request_stored_before_its_conversation_is_indexed_still_flags_it(db, stores, clinician, client_for):
    from review_fixtures import build_booking_db

    tracker_path, booking_path = stores
    build_tracker_db(tracker_path, [Script("a", start=1_780_000_000).user("x", "greet").done()])
    build_booking_db(booking_path, [{"kind": "callback", "conversation_id": "b", "name": "B"}])
    client = client_for(clinician)
    client.get("/")  # full booking pass: nothing to flag yet ("b" is not indexed)
    build_tracker_db(tracker_path, [Script("b", start=1_780_000_100).user("call me", "request_human").done()])
    html = client.get("/", {"booking": "callback"}).content.decode()
    assert 'href="/conversation/?id=b"' in html
    assert (summary("b").booking_kinds, summary("b").booking_status) == (",callback,", "pending")
    assert summary("a").booking_kinds == ""


# ---------------------------------------------------------------------------------------------
# Kept current in the background by what ./dev run starts

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _review_tool_command(port: int, production: bool) -> list[str]:
    import sys
    from pathlib import Path

    scripts = str(Path(__file__).resolve().parents[2] / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    import dev

    return dict((name, command) for name, command, _ in dev.service_commands(
        review_port=port, production=production))["staff review tool"]


def test_a_new_conversation_reaches_the_queue_with_nobody_syncing_by_hand(tmp_path):
    """The review tool as ./dev run starts it (both profiles) indexes new conversations itself:
    no page is loaded and no sync is run, yet the red-flag conversation heads the queue."""
    import os
    import signal
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    port = _free_port()
    command = _review_tool_command(port, production=False)
    assert command == _review_tool_command(port, production=True)
    review_db, tracker_db = tmp_path / "review.db", tmp_path / "transcripts.db"
    env = {**os.environ, "PYTHONPATH": str(root), "REVIEW_SECRET_KEY": "test-key-background-sync",
           "REVIEW_DB_URL": f"sqlite:///{review_db}", "TRACKER_DB_URL": f"sqlite:///{tracker_db}",
           "BOOKING_DB_URL": f"sqlite:///{tmp_path / 'clinic.db'}", "REVIEW_SYNC_SECONDS": "0.5"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([sys.executable, "review/manage.py", "migrate", "--noinput", "-v", "0"], cwd=root, env=env,
                   check=True, timeout=300)
    log = tmp_path / "review.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:  # the sign-in page (it indexes nothing) says the server is up
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, log.read_text()
                time.sleep(0.3)
        # The bot stores a conversation after the tool started (the store did not even exist).
        emergency = (Script("conv-background", start=time.time() - 60)
                     .user("my calf is swollen and hot", "knee_pain_general")
                     .slot("red_flags", ["dvt"]).slot("triage_level", "emergency").done())
        build_tracker_db(tracker_db, [emergency])
        queue: list = []
        deadline = time.monotonic() + 30
        while not queue:
            assert time.monotonic() < deadline and server.poll() is None, log.read_text()
            time.sleep(0.3)
            with sqlite3.connect(review_db) as connection:
                queue = connection.execute(
                    "SELECT conversation_id, triage_level FROM transcripts_conversationsummary "
                    "ORDER BY priority DESC, last_event_at DESC, id DESC").fetchall()
        assert queue[0] == ("conv-background", "emergency")
        assert server.poll() is None, "the server keeps serving"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_the_background_sync_carries_on_after_a_failed_round(db, stores):
    """A database restarting under the sync loses one round, not the following of the store."""
    import threading

    from django.db import OperationalError

    from transcripts import sync

    tracker_path, _ = stores
    build_tracker_db(tracker_path, [Script("a", start=1_780_000_000).user("x", "greet").done()])
    stop = threading.Event()
    calls = []
    real_sync_index = sync.sync_index

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        stop.set()
        return real_sync_index(*args, **kwargs)

    with mock.patch.object(sync, "sync_index", side_effect=flaky):
        sync.follow(0, stop)
    assert len(calls) == 2 and summary("a").user_message_count == 1
