"""Settings for the review tool's tests: a throw-away database and fast password hashing."""
import os
import tempfile

os.environ.setdefault("REVIEW_SECRET_KEY", "test-only-key-not-secret")
os.environ.setdefault("REVIEW_DB_URL", "sqlite:///:memory:")

from .settings import *  # noqa: E402,F401,F403

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
# Hashing strength is not under test; speed is worth having (production keeps PBKDF2).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Each test points these at the stores it builds; the defaults name files that do not exist.
_EMPTY_DIR = tempfile.mkdtemp(prefix="review-test-")
TRACKER_DB_URL = f"sqlite:///{_EMPTY_DIR}/no-tracker.db"
BOOKING_DB_URL = f"sqlite:///{_EMPTY_DIR}/no-clinic.db"
LOGGING = {"version": 1, "disable_existing_loggers": False}
