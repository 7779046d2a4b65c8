"""Settings for the review tool's tests: a throw-away database and fast password hashing.

The environment is only borrowed while settings.py reads it, so processes that tests start
(for example `manage.py runserver` in an end-to-end test) never inherit test values.
"""
import os
import tempfile

_BORROWED = {"REVIEW_SECRET_KEY": "test-only-key-not-secret", "REVIEW_DB_URL": "sqlite:///:memory:"}
_saved = {name: os.environ.get(name) for name in _BORROWED}
for _name, _value in _BORROWED.items():
    os.environ.setdefault(_name, _value)
try:
    from .settings import *  # noqa: E402,F401,F403
finally:
    for _name, _value in _saved.items():
        if _value is None:
            os.environ.pop(_name, None)

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
# Hashing strength is not under test; speed is worth having (production keeps PBKDF2).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Each test points these at the stores it builds; the defaults name files that do not exist.
_EMPTY_DIR = tempfile.mkdtemp(prefix="review-test-")
TRACKER_DB_URL = f"sqlite:///{_EMPTY_DIR}/no-tracker.db"
BOOKING_DB_URL = f"sqlite:///{_EMPTY_DIR}/no-clinic.db"
LOGGING = {"version": 1, "disable_existing_loggers": False}
