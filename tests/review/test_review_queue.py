"""The review queue: urgent conversations first, filters, search, paging."""
from __future__ import annotations

import re

import pytest
from review_fixtures import Script, build_tracker_db


def queue_ids(response) -> list[str]:
    """Conversation ids in the order the queue shows them."""
    html = response.content.decode()
    return re.findall(r'href="/conversation/\?id=([^"]+)"', html)


def test_urgent_conversations_come_first_until_reviewed(clinic, clinician, client_for):
    client = client_for(clinician)
    ids = queue_ids(client.get("/"))
    # conv-infection reached "emergency": it heads the queue although it is the oldest.
    assert ids[0] == "conv-infection"
    assert sorted(ids) == sorted(c.sender_id for c in clinic)
    # Everything else is newest first.
    assert ids[1:] == ["conv-sqli", "conv-xss", "conv-fallback", "conv-stairs"]

    response = client.post("/conversation/review/", {"conversation_id": "conv-infection", "reviewed": "1"})
    assert response.status_code == 302
    ids = queue_ids(client.get("/"))
    assert ids == ["conv-sqli", "conv-xss", "conv-fallback", "conv-stairs", "conv-infection"]


def test_urgent_rows_stand_out(clinic, clinician, client_for):
    html = client_for(clinician).get("/").content.decode()
    row = re.search(r'<tr class="urgent">(.*?)</tr>', html, re.S).group(1)
    assert "conv-infection" in row and "Red flag: infection" in row and "Needs review" in row


@pytest.mark.parametrize("query, expected", [
    ({"level": "emergency"}, {"conv-infection"}),
    ({"red_flag": "infection"}, {"conv-infection"}),   # conv-stairs only had "no fever": negated
    ({"channel": "twilio"}, {"conv-fallback"}),
    ({"intent": "pain_on_stairs"}, {"conv-stairs"}),
    ({"booking": "callback"}, {"conv-stairs"}),
    ({"booking": "any"}, {"conv-stairs", "conv-infection"}),
    ({"booking": "none"}, {"conv-fallback", "conv-xss", "conv-sqli"}),
    ({"fallback": "on"}, {"conv-fallback"}),
    ({"q": "KNEECAP on stairs"}, {"conv-stairs"}),
    ({"q": "hot, red"}, {"conv-infection"}),
    ({"reviewed": "yes"}, set()),
])
def test_filters(clinic, clinician, client_for, query, expected):
    assert set(queue_ids(client_for(clinician).get("/", query))) == expected


def test_date_filters_use_the_clinic_day(db, stores, clinician, client_for):
    tracker_path, _ = stores
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.conf import settings

    from bot.settings import load_settings

    # The review tool's day is the clinic's, as the bot keeps it (CLINIC_TIMEZONE, one setting).
    assert settings.TIME_ZONE == load_settings({}).clinic_timezone
    clinic = ZoneInfo(settings.TIME_ZONE)
    early = datetime(2026, 3, 2, 8, 0, tzinfo=clinic).timestamp()
    late = datetime(2026, 3, 4, 23, 0, tzinfo=clinic).timestamp()
    build_tracker_db(tracker_path, [
        Script("march-2", start=early).user("knee hurts", "knee_pain_general").done(),
        Script("march-4", start=late).user("knee hurts", "knee_pain_general").done(),
    ])
    client = client_for(clinician)
    assert queue_ids(client.get("/", {"date_from": "2026-03-03"})) == ["march-4"]
    assert queue_ids(client.get("/", {"date_to": "2026-03-02"})) == ["march-2"]
    assert set(queue_ids(client.get("/", {"date_from": "2026-03-02", "date_to": "2026-03-04"}))) == {"march-2", "march-4"}


def test_queue_is_paged(db, stores, clinician, client_for):
    tracker_path, _ = stores
    build_tracker_db(tracker_path, [
        Script(f"c{i:02d}", start=1_780_000_000 + i * 60).user("sore knee", "knee_pain_general").done()
        for i in range(30)
    ])
    client = client_for(clinician)
    first = queue_ids(client.get("/"))
    second = queue_ids(client.get("/", {"page": 2}))
    assert len(first) == 25 and len(second) == 5
    assert first[0] == "c29" and second[-1] == "c00"
    assert "Page 1 of 2" in client.get("/").content.decode()
    # A search pages the same way, in the same order.
    searched = client.get("/", {"q": "sore", "page": 2})
    assert queue_ids(searched) == second and "Page 2 of 2" in searched.content.decode()
    assert "30 conversations" in searched.content.decode()


def test_empty_stores_show_an_empty_queue(db, stores, clinician, client_for):
    response = client_for(clinician).get("/")
    assert response.status_code == 200
    assert "No conversations match." in response.content.decode()
    assert client_for(clinician).get("/bookings/").status_code == 200


def test_an_unreachable_tracker_store_is_reported_not_crashed(clinic, clinician, client_for):
    from django.test import override_settings

    client = client_for(clinician)
    client.get("/")  # indexed while the store was up
    with override_settings(TRACKER_DB_URL="postgresql://postgres@127.0.0.1:1/nowhere"):
        response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "could not be read just now" in html and "conv-infection" in html
