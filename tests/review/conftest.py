"""Fixtures for the staff review tool (review/): Django with its test settings, a throw-away
database, tracker stores written by Rasa's own SQLTrackerStore, and a booking table written by
bot/booking/store.py. Plain Django test client; no pytest-django needed.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
for path in (str(REPO_ROOT / "review"), str(REPO_ROOT), str(Path(__file__).resolve().parent)):
    if path not in sys.path:
        sys.path.insert(0, path)
_settings_before = os.environ.get("DJANGO_SETTINGS_MODULE")
os.environ["DJANGO_SETTINGS_MODULE"] = "review_site.settings_test"

import django  # noqa: E402

django.setup()
# Settings are loaded now; processes other tests start must not inherit the test settings.
if _settings_before is None:
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
else:
    os.environ["DJANGO_SETTINGS_MODULE"] = _settings_before

from review_fixtures import (  # noqa: E402
    build_booking_db, build_tracker_db, clinic_conversations, make_staff,
)


@pytest.fixture(scope="session", autouse=True)
def django_test_databases():
    from django.test.runner import DiscoverRunner
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    runner = DiscoverRunner(verbosity=0, interactive=False)
    old_config = runner.setup_databases()
    yield
    runner.teardown_databases(old_config)
    teardown_test_environment()


@pytest.fixture
def db():
    """Each test's changes to the review database are rolled back afterwards."""
    from django.core.cache import cache
    from django.db import transaction

    cache.clear()
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture
def stores(tmp_path):
    """Empty tracker and booking stores in tmp_path, wired into the settings."""
    from django.test import override_settings

    tracker_path = tmp_path / "transcripts.db"
    booking_path = tmp_path / "clinic.db"
    with override_settings(
        TRACKER_DB_URL=f"sqlite:///{tracker_path}", BOOKING_DB_URL=f"sqlite:///{booking_path}"
    ):
        yield tracker_path, booking_path


@pytest.fixture
def clinic(db, stores):
    """A tracker store holding the clinic's sample conversations, and their booking requests."""
    tracker_path, booking_path = stores
    conversations = clinic_conversations()
    build_tracker_db(tracker_path, conversations)
    build_booking_db(booking_path, [
        {"kind": "callback", "conversation_id": "conv-stairs", "name": "Sam Lee", "phone": "0412 345 678",
         "status": "pending"},
        {"kind": "booking", "conversation_id": "conv-infection", "name": "Jo Smith", "phone": "0400 000 001",
         "status": "failed", "last_error": "timeout"},
    ])
    return conversations


@pytest.fixture
def clinician(db):
    return make_staff("casey", "clinician")


@pytest.fixture
def admin(db):
    return make_staff("alex", "admin")


@pytest.fixture
def client_for():
    from django.test import Client

    def signed_in(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return signed_in
