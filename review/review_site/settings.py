"""Settings for the clinic staff's transcript review tool.

Every setting a deployment changes is read here, once, from an environment variable with a safe
local default (the house style): the tool runs on a laptop with no configuration at all.

    REVIEW_DB_URL      the tool's own database (default sqlite:///<repo>/var/review.db)
    TRACKER_DB_URL     Rasa's SQL tracker store, read only (default sqlite:///<repo>/var/transcripts.db)
    BOOKING_DB_URL     booking and call-back requests (default sqlite:///<repo>/var/clinic.db)
    RETENTION_DAYS     default age for `manage.py purge_old` (default 2555 days, seven years)
    REVIEW_SECRET_KEY  Django's signing key (default: generated once into var/review-secret-key)
    REVIEW_ALLOWED_HOSTS  comma separated host names (default 127.0.0.1,localhost)
    REVIEW_HTTPS       "1" behind HTTPS: secure cookies and HSTS
    REVIEW_DEBUG       "1" for Django's debug pages (never with real patient data)
    CLINIC_TIMEZONE    the clinic's time zone for dates on screen: the bot's own setting, read by
                       both (bot/settings.py; default Australia/Melbourne)
    REVIEW_LOW_CONFIDENCE  intent confidence below which a message counts as low confidence (0.6)
    REVIEW_PROXY_COUNT  reverse proxies in front of the tool that append X-Forwarded-For (default
                       0: the client address is the connection's own, and the header is ignored)
    REVIEW_SYNC_SECONDS  how often `manage.py serve` indexes new tracker events in the background (5)
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from sqlalchemy.engine import make_url

from bot.settings import Settings as BotSettings

REVIEW_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = REVIEW_DIR.parent
VAR_DIR = REPO_ROOT / "var"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """The signing key: from the environment, else one generated on first run and kept in var/."""
    from_env = os.environ.get("REVIEW_SECRET_KEY")
    if from_env:
        return from_env
    key_file = VAR_DIR / "review-secret-key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # Created with owner-only permissions: the key signs staff sessions.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def database_from_url(url: str) -> dict:
    """A Django DATABASES entry from an SQLAlchemy-style URL (the form the other services use)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parsed.database or ":memory:"}
    if backend in {"postgresql", "postgres"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parsed.database or "",
            "USER": parsed.username or "",
            "PASSWORD": parsed.password or "",
            "HOST": parsed.host or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": 60,
        }
    raise ValueError(f"REVIEW_DB_URL: unsupported database {backend!r}; use sqlite or postgresql")


SECRET_KEY = _secret_key()
DEBUG = _env_flag("REVIEW_DEBUG")
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("REVIEW_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "transcripts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "transcripts.middleware.PrivatePagesMiddleware",
]

ROOT_URLCONF = "review_site.urls"
WSGI_APPLICATION = "review_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "transcripts.roles.role_context",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        os.environ.get("REVIEW_DB_URL", f"sqlite:///{VAR_DIR / 'review.db'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The stores this tool reads (SQLAlchemy URLs, as the bot and the booking module configure them).
TRACKER_DB_URL = os.environ.get("TRACKER_DB_URL", f"sqlite:///{VAR_DIR / 'transcripts.db'}")
BOOKING_DB_URL = os.environ.get("BOOKING_DB_URL", f"sqlite:///{VAR_DIR / 'clinic.db'}")

RETENTION_DAYS = int(os.environ.get("RETENTION_DAYS", "2555"))
LOW_CONFIDENCE = float(os.environ.get("REVIEW_LOW_CONFIDENCE", "0.6"))
QUEUE_PAGE_SIZE = 25
# Events the queue page indexes per request before showing the page; a backlog larger than
# this is left to `manage.py sync_transcripts` so the page stays quick.
SYNC_EVENTS_PER_REQUEST = 5000
# `manage.py serve` (what ./dev run starts) indexes new events this often in a background
# thread, so a new conversation reaches the queue without a page load or a hand-run sync.
SYNC_EVERY_SECONDS = float(os.environ.get("REVIEW_SYNC_SECONDS", "5"))
# How long a missing event id is waited for (a PostgreSQL transaction still in flight can
# commit a lower id after a higher one is visible).
SYNC_GAP_WAIT_SECONDS = 120

# Sign-in: Django's password hashing (PBKDF2) and validators; sessions end with the browser
# and after a working day.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "queue"
LOGOUT_REDIRECT_URL = "login"
# Sign-in throttling (transcripts/signin.py), all counted over LOGIN_FAILURE_WINDOW:
# - one user name from one client address: LOGIN_FAILURE_LIMIT failures, then that pair waits;
# - one client address, whatever names it tries: LOGIN_ADDRESS_FAILURE_LIMIT (a clinic behind one
#   address has room for several people's typos);
# - one user name from everywhere: LOGIN_NAME_FAILURE_LIMIT, against guessing spread over many
#   addresses. It is above what one address can reach for one name (LOGIN_FAILURE_LIMIT), so
#   failures from one other place never lock the right person out, and a browser that has signed
#   in as that name before (a signed cookie kept LOGIN_KNOWN_BROWSER_DAYS) is never held by it.
LOGIN_FAILURE_LIMIT = 5
LOGIN_ADDRESS_FAILURE_LIMIT = 20
LOGIN_NAME_FAILURE_LIMIT = 30
LOGIN_FAILURE_WINDOW = 15 * 60
LOGIN_KNOWN_BROWSER_DAYS = 90
# Reverse proxies in front of the tool, each appending the address it saw to X-Forwarded-For;
# with 0 the header is ignored (anyone can write it).
PROXY_COUNT = int(os.environ.get("REVIEW_PROXY_COUNT", "0"))
SESSION_COOKIE_AGE = 8 * 60 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if _env_flag("REVIEW_HTTPS"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "en-au"
if os.environ.get("REVIEW_TIME_ZONE"):
    raise ImproperlyConfigured("REVIEW_TIME_ZONE is gone: the review tool reads CLINIC_TIMEZONE, as the bot does")
TIME_ZONE = os.environ.get("CLINIC_TIMEZONE") or BotSettings.clinic_timezone
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_DIR = REVIEW_DIR / "transcripts" / "static"
STATIC_ROOT = STATIC_DIR  # served by Django itself (review_site/urls.py): no collectstatic step

# Logs carry ids and codes only, never what a patient wrote.
# The access log (django.server) keeps paths and statuses, never query strings: searches are
# patients' words.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_query_strings": {"()": "review_site.log_filters.DropQueryStrings"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "access": {"class": "logging.StreamHandler", "filters": ["no_query_strings"]},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}
