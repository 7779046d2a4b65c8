"""Benchmark the staff review tool on a large tracker store.

Seeds N conversations (default 100,000; 10-20 events each, as the bot stores them) into a
temporary SQLite tracker store whose `events` table is created by Rasa's own SQLTrackerStore,
indexes them, then times the queue and transcript pages with Django's test client.

    /tmp/probe-venv/bin/python scripts/bench_review.py               # 100,000 conversations
    /tmp/probe-venv/bin/python scripts/bench_review.py --conversations 5000 --repeat 10

Target: queue page, transcript page and an incremental sync each under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 300.0


def _event_templates() -> list[tuple[float, list[tuple[str, str, str, str]]]]:
    """Conversation shapes as (share, [(type_name, intent_name, action_name, data JSON)]).

    The JSON comes from Rasa's own events (`Event.as_dict()`); "__TS__" marks the timestamp and
    "__N__" a number that varies the text between conversations.
    """
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

    def user(text, intent, confidence, entities=(), red_flags=()):
        parse = {
            "intent": {"name": intent, "confidence": confidence},
            "entities": list(entities),
            "intent_ranking": [{"name": intent, "confidence": confidence}],
            "red_flags": list(red_flags),
        }
        return UserUttered(text, parse["intent"], list(entities), parse, input_channel="socketio")

    start = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    listen = ActionExecuted("action_listen")
    stairs = (
        "my knee hurts around the kneecap on stairs, worse going down and after sitting through "
        "a long film; it started about __N__ weeks ago when I ran more"
    )
    ordinary = start + [
        user("hi there", "greet", 0.98),
        BotUttered("Hi! What's going on with your knee?"),
        listen,
        user(
            stairs,
            "pain_on_stairs",
            0.91,
            entities=[{"entity": "pain_trigger", "value": "stairs", "start": 34, "end": 40}],
            red_flags=[
                {
                    "code": "infection",
                    "level": "emergency",
                    "matched": "fever",
                    "start": 0,
                    "end": 5,
                    "modifiers": ["negated"],
                    "asserted": False,
                    "rule": "infection.fever",
                }
            ],
        ),
        SlotSet("pain_triggers", ["stairs"]),
        SlotSet("pain_location", "around_kneecap"),
        SlotSet("duration_weeks", 6.0),
        SlotSet("onset", "gradual"),
        SlotSet("triage_level", "consultation"),
        BotUttered(
            "That fits a common pattern. A physio visit is a good next step.",
            {"buttons": [{"title": "Book", "payload": "/book_appointment"}]},
        ),
        listen,
    ]
    hot = (
        "my knee is hot red and swollen and I have a fever since day __N__, I feel shivery and "
        "unwell and it hurts to put any weight on it"
    )
    emergency = start + [
        user(
            hot,
            "knee_pain_general",
            0.83,
            red_flags=[
                {
                    "code": "infection",
                    "level": "emergency",
                    "matched": "hot red and swollen",
                    "start": 11,
                    "end": 30,
                    "modifiers": [],
                    "asserted": True,
                    "rule": "infection.hot_swollen",
                }
            ],
        ),
        SlotSet("red_flags", ["infection"]),
        SlotSet("triage_level", "emergency"),
        SlotSet("staff_review_needed", True),
        ActionExecuted("action_escalate"),
        BotUttered("Please go to an emergency department now."),
        listen,
        user("ok thanks, I will get my partner to drive me there now", "thank", 0.97),
        BotUttered("Take care."),
        listen,
    ]
    fallback = start + [
        user("asdf __N__ qwer", "nlu_fallback", 0.22),
        ActionExecuted("action_default_fallback"),
        BotUttered("Sorry, I didn't get that."),
        listen,
        user(
            "my knee gets sore after running __N__ km, mostly on hills, and it aches for a day after",
            "pain_when_running",
            0.58,
        ),
        SlotSet("pain_triggers", ["running"]),
        SlotSet("triage_level", "self_care"),
        BotUttered("Here is some advice for running."),
        listen,
    ]
    question = start + [
        user("what is runner's knee exactly? my coach said I might have it after run __N__", "ask_what_is_pfps", 0.94),
        BotUttered("Runner's knee is pain around or behind the kneecap."),
        listen,
        user("how long does it usually take to get better if I do the exercises every day", "ask_recovery_time", 0.9),
        BotUttered("Most people improve over 6 to 12 weeks with exercise."),
        listen,
        user("bye", "goodbye", 0.99),
        BotUttered("Bye!"),
        listen,
    ]
    shapes = []
    for share, events in ((0.55, ordinary), (0.10, emergency), (0.15, fallback), (0.20, question)):
        rows = []
        for event in events:
            data = event.as_dict()
            data["timestamp"] = "__TS__"
            intent = data.get("parse_data", {}).get("intent", {}).get("name")
            rows.append((event.type_name, intent, data.get("name"), json.dumps(data)))
        shapes.append((share, rows))
    return shapes


def seed(tracker_path: Path, conversations: int, first_ts: float, span_days: int) -> int:
    """Bulk-insert conversations into the events table; returns the number of events."""
    from rasa.core.tracker_store import SQLTrackerStore

    SQLTrackerStore(dialect="sqlite", db=str(tracker_path)).engine.dispose()  # Rasa creates the schema
    shapes = _event_templates()
    weights = [share for share, _ in shapes]
    rng = random.Random(7)
    connection = sqlite3.connect(tracker_path)
    connection.execute("PRAGMA synchronous=OFF")
    total = 0
    batch: list[tuple] = []
    step = span_days * 86400 / conversations
    for number in range(conversations):
        _, rows = rng.choices(shapes, weights)[0]
        clock = first_ts + number * step
        sender = f"{rng.getrandbits(64):016x}"
        n = str(rng.randint(1, 52))
        for type_name, intent, action, data in rows:
            clock += rng.uniform(0.2, 20.0)
            batch.append(
                (sender, type_name, clock, intent, action, data.replace('"__TS__"', repr(clock)).replace("__N__", n))
            )
        if len(batch) >= 50_000:
            connection.executemany(
                "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                batch,
            )
            total += len(batch)
            batch.clear()
    if batch:
        connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            batch,
        )
        total += len(batch)
    connection.commit()
    connection.close()
    return total


def seed_bookings(booking_path: Path, conversation_ids: list[str], count: int) -> None:
    from datetime import datetime, timezone

    from bot.booking.store import BookingRequest, BookingStore, new_request

    store = BookingStore(f"sqlite:///{booking_path}")
    store.create_all()
    now = datetime.now(timezone.utc)
    rng = random.Random(11)
    for conversation_id in rng.sample(conversation_ids, min(count, len(conversation_ids))):
        store.insert(
            new_request(
                rng.choice(["booking", "callback"]),
                "local",
                now,
                BookingRequest.new_id(),
                conversation_id=conversation_id,
                name="Test Patient",
                phone="0400 000 000",
            )
        )
    store.dispose()


def timed(call, repeat: int) -> tuple[float, float]:
    """(median, p95) in milliseconds."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return statistics.median(samples), p95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30, help="requests per measured page")
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-review-"))
    tracker_path, booking_path, review_path = folder / "transcripts.db", folder / "clinic.db", folder / "review.db"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "review_site.settings",
            "REVIEW_SECRET_KEY": "bench-only",
            "REVIEW_ALLOWED_HOSTS": "testserver",
            "REVIEW_DB_URL": f"sqlite:///{review_path}",
            "TRACKER_DB_URL": f"sqlite:///{tracker_path}",
            "BOOKING_DB_URL": f"sqlite:///{booking_path}",
        }
    )
    for path in (str(REPO_ROOT / "review"), str(REPO_ROOT)):
        sys.path.insert(0, path)

    started = time.perf_counter()
    events = seed(tracker_path, args.conversations, time.time() - 365 * 86400, 364)
    seed_seconds = time.perf_counter() - started
    with sqlite3.connect(tracker_path) as connection:
        conversation_ids = [row[0] for row in connection.execute("SELECT DISTINCT sender_id FROM events")]
    seed_bookings(booking_path, conversation_ids, args.bookings)
    print(
        f"seeded {args.conversations:,} conversations, {events:,} events "
        f"({events / args.conversations:.1f} a conversation) in {seed_seconds:.1f} s"
    )

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from transcripts.models import StaffMember
    from transcripts.sync import sync_index

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    result = sync_index(batch_size=20_000)
    full_sync = time.perf_counter() - started
    print(
        f"full sync: {result.events:,} events into {args.conversations:,} conversations in {full_sync:.1f} s "
        f"({result.events / full_sync:,.0f} events/s)"
    )

    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bench", password="bench passphrase 123")
    StaffMember.objects.create(user=user, role=StaffMember.ADMIN)
    client = Client()
    client.force_login(user)

    def get(url, params=None):
        response = client.get(url, params or {})
        assert response.status_code == 200, (url, response.status_code)
        return response

    rows = []
    no_op = timed(lambda: sync_index(), args.repeat)
    rows.append(("sync, nothing new", *no_op))

    def add_one_conversation():
        connection = sqlite3.connect(tracker_path)
        template = connection.execute(
            "SELECT type_name, timestamp, intent_name, action_name, data FROM events WHERE sender_id = ? ORDER BY id",
            (conversation_ids[0],),
        ).fetchall()
        sender = f"new-{time.perf_counter_ns()}"
        connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(sender, t, time.time(), i, a, d) for t, _, i, a, d in template],
        )
        connection.commit()
        connection.close()

    samples = []
    for _ in range(args.repeat):
        add_one_conversation()
        started = time.perf_counter()
        sync_index()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    rows.append(
        (
            "sync, one new conversation",
            statistics.median(samples),
            samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))],
        )
    )

    get("/")  # warm up
    rows.append(("queue page", *timed(lambda: get("/"), args.repeat)))
    rows.append(("queue page 200", *timed(lambda: get("/", {"page": 200}), args.repeat)))
    rows.append(("queue, red flag filter", *timed(lambda: get("/", {"red_flag": "infection"}), args.repeat)))
    rows.append(
        (
            "queue, level + channel",
            *timed(lambda: get("/", {"level": "consultation", "channel": "socketio"}), args.repeat),
        )
    )
    rows.append(
        ("queue, fallback + not reviewed", *timed(lambda: get("/", {"fallback": "on", "reviewed": "no"}), args.repeat))
    )
    rows.append(("queue, booking filter", *timed(lambda: get("/", {"booking": "any"}), args.repeat)))
    rows.append(
        (
            "queue, date range",
            *timed(lambda: get("/", {"date_from": "2026-01-01", "date_to": "2026-03-31"}), args.repeat),
        )
    )
    rows.append(("queue, search text", *timed(lambda: get("/", {"q": "hot red and swollen"}), args.repeat)))
    rng = random.Random(3)
    rows.append(
        ("transcript page", *timed(lambda: get("/conversation/", {"id": rng.choice(conversation_ids)}), args.repeat))
    )

    print(f"\n{'measure':34} {'median ms':>10} {'p95 ms':>10}  target {TARGET_MS:.0f} ms")
    failed = False
    for name, median, p95 in rows:
        ok = p95 < TARGET_MS
        failed |= not ok
        print(f"{name:34} {median:10.1f} {p95:10.1f}  {'ok' if ok else 'SLOW'}")
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    else:
        print(f"\nkept {folder}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
