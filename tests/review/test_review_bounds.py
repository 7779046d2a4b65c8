"""Dates and ids from a request are bounded: what no conversation or account could have gets a
400 with a plain message (never a 500), and every id a channel can give a conversation still
opens it."""
from __future__ import annotations

import html
import json
import re
import sqlite3
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from review_fixtures import Script, build_tracker_db

from transcripts.models import Note

RANGE = "Enter a date between 2000 and 2099."
MALFORMED = "Enter a valid date."


@pytest.mark.parametrize("query, message", [
    ({"date_from": "0001-01-01"}, RANGE),
    ({"date_to": "9999-12-31"}, RANGE),
    ({"date_from": "0001-01-01", "date_to": "9999-12-31"}, RANGE),
    ({"date_from": "1999-12-31"}, RANGE),
    ({"date_to": "2026-02-30"}, MALFORMED),
    ({"date_from": "next tuesday"}, MALFORMED),
    ({"date_from": "99999-01-01"}, MALFORMED),
])
def test_a_date_filter_out_of_range_or_malformed_is_a_400_with_a_plain_message(
        clinic, admin, client_for, query, message):
    client = client_for(admin)
    queue = client.get("/", query)
    assert queue.status_code == 400
    html = queue.content.decode()
    assert message in html and "no list is shown" in html
    assert 'href="/conversation/' not in html  # no list pretending to answer the question asked
    export = client.get("/export/conversations.csv", query)
    assert export.status_code == 400 and "nothing was exported" in export.content.decode()
    # The first and last days the filters accept work.
    ok = client.get("/", {"date_from": "2000-01-01", "date_to": "2099-12-31"})
    assert ok.status_code == 200 and 'href="/conversation/?id=conv-infection"' in ok.content.decode()


def test_a_huge_account_number_is_a_400_and_an_unknown_one_a_404(clinic, admin, client_for):
    client = client_for(admin)
    response = client.get("/users/99999999999999999999/")
    assert response.status_code == 400 and "No account has a number that large." in response.content.decode()
    assert client.post("/users/99999999999999999999/", {"form": "edit", "role": "admin"}).status_code == 400
    assert client.get("/users/0/").status_code == 404
    assert client.get(f"/users/{2**63 - 1}/").status_code == 404


@pytest.mark.parametrize("bad_id, message", [
    ("x" * 256, "A conversation id is at most 255 characters."),
    ("conv-stairs" + "\x00", "A conversation id cannot contain a NUL character."),
])
def test_a_conversation_id_no_conversation_can_have_is_a_400(clinic, admin, client_for, bad_id, message):
    client = client_for(admin)
    for response in (
        client.get("/conversation/", {"id": bad_id}),
        client.get("/conversation/pdf/", {"id": bad_id}),
        client.post("/conversation/note/", {"conversation_id": bad_id, "text": "call back"}),
        client.post("/conversation/review/", {"conversation_id": bad_id}),
        client.get("/audit/", {"conversation": bad_id}),
    ):
        assert response.status_code == 400
        assert message in response.content.decode()
    assert not Note.objects.exists()
    too_long_name = client.get("/audit/", {"user": "u" * 151})
    assert too_long_name.status_code == 400
    assert "A user name is at most 150 characters." in too_long_name.content.decode()


_inserted = iter(range(10**9))


def _insert_conversation(tracker_path, conversation_id: str) -> str:
    """One user message under `conversation_id`, as Rasa's SQL tracker store writes it, with a
    word of its own to search for (returned)."""
    word = f"kneecap{next(_inserted)}"
    data = json.dumps({"event": "user", "timestamp": 1780000000.0, "text": f"my {word} hurts",
                       "input_channel": "rest",
                       "parse_data": {"intent": {"name": "knee_pain_general", "confidence": 0.9}}})
    with sqlite3.connect(tracker_path) as connection:
        connection.execute(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
            "VALUES (?, 'user', 1780000000.0, 'knee_pain_general', NULL, ?)", (conversation_id, data))
    return word


# The REST channel takes any sender id of up to 255 printable characters (channels/rest.py).
PRINTABLE_IDS = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=255,
).filter(lambda text: text.isprintable() and text.strip())


@pytest.fixture
def tracker_with_schema(db, stores):
    build_tracker_db(stores[0], [Script("conv-first").user("hi", "greet").done()])
    return stores[0]


@pytest.mark.parametrize("conversation_id", [
    "y" * 255, "😀" * 255, "a b&c=d#e?f%20g+h", "ünï/cødé\\'\"<>", "+", "%", " x ", "漢字" * 127,
], ids=["255 letters", "255 emoji", "url characters", "accents and quotes", "plus", "percent", "spaces", "cjk"])
def test_every_printable_id_up_to_255_characters_opens_its_conversation(
        tracker_with_schema, admin, client_for, conversation_id):
    client = client_for(admin)
    _opens(tracker_with_schema, client, conversation_id)
    assert client.get("/conversation/pdf/", {"id": conversation_id}).status_code == 200


@hypothesis_settings(max_examples=60, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conversation_id=PRINTABLE_IDS)
def test_any_printable_id_opens_its_conversation(tracker_with_schema, admin, client_for, conversation_id):
    _opens(tracker_with_schema, client_for(admin), conversation_id)


def _opens(tracker_path, client, conversation_id: str) -> None:
    word = _insert_conversation(tracker_path, conversation_id)
    assert client.get("/conversation/", {"id": conversation_id}).status_code == 200
    note = client.post("/conversation/note/", {"conversation_id": conversation_id, "text": "called"})
    assert note.status_code == 302 and client.get(note["Location"]).status_code == 200
    assert Note.objects.filter(conversation_id=conversation_id).exists()
    # The queue's link opens it too.
    queue = client.get("/", {"q": word}).content.decode()
    links = re.findall(r'href="(/conversation/\?id=[^"]*)"', queue)
    assert len(links) == 1
    link = html.unescape(links[0])
    assert parse_qs(urlsplit(link).query, keep_blank_values=True)["id"] == [conversation_id]
    assert client.get(link).status_code == 200
