"""All run-time configuration, read in one place from environment variables.

Every setting has a safe local default, so the bot and its tests run with no account anywhere
(the booking backend defaults to `local`: requests are kept in the clinic database for staff).
Secrets are never part of `repr(settings)`, so logging the settings object leaks nothing.

Call `load_settings()` once at start-up; it raises `ValueError` naming the bad variable, so a
misconfigured server stops at once instead of failing on the first patient.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parents[1]

# Demo defaults: obviously not a real clinic, so nobody mistakes a fresh install for a live one.
# (03) 9000 0000 is not a number any patient should rely on; `Settings.demo_values_in_use`
# lists the demo values still in force so start-up can warn about them.
DEMO_CLINIC_PHONE = "(03) 9000 0000"
DEMO_BOOKING_URL = "https://upwell.example/book"
DEMO_PRIVACY_URL = "https://upwell.example/privacy"
DEFAULT_HOURS = "mon-fri 07:00-19:00; sat 08:00-12:00"
DEFAULT_DB_URL = "sqlite:///var/clinic.db"

BOOKING_BACKENDS = ("local", "cliniko", "webhook")
SMTP_SECURITY_MODES = ("starttls", "ssl", "none")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_USER_AGENT = re.compile(r"^\S.*\s\([^()\s]+@[^()\s]+\.[^()\s]+\)$")


@dataclass(frozen=True)
class OpeningPeriod:
    """One opening period on one weekday (0 = Monday), in the clinic's own time zone."""

    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True)
class Settings:
    clinic_name: str = "Upwell Health"
    clinic_phone: str = DEMO_CLINIC_PHONE
    clinic_booking_url: str = DEMO_BOOKING_URL
    clinic_privacy_url: str = DEMO_PRIVACY_URL
    clinic_timezone: str = "Australia/Melbourne"
    clinic_hours_text: str = DEFAULT_HOURS
    clinic_hours: tuple[OpeningPeriod, ...] = ()
    clinic_locations: tuple[str, ...] = ("Upwell Health",)

    booking_db_url: str = ""
    booking_backend: str = "local"
    booking_http_timeout_seconds: float = 10.0
    booking_max_attempts: int = 8
    booking_retry_base_seconds: float = 30.0
    booking_claim_lease_seconds: float = 300.0
    booking_worker_interval_seconds: float = 30.0

    cliniko_api_key: str = field(default="", repr=False)
    cliniko_business_id: str = ""
    cliniko_practitioner_id: str = ""
    cliniko_appointment_type_id: str = ""
    cliniko_user_agent: str = ""
    cliniko_base_url: str = ""

    booking_webhook_url: str = ""
    booking_webhook_secret: str = field(default="", repr=False)

    alert_smtp_host: str = ""
    alert_smtp_port: int = 587
    alert_smtp_user: str = ""
    alert_smtp_password: str = field(default="", repr=False)
    alert_smtp_from: str = ""
    alert_smtp_to: tuple[str, ...] = ()
    alert_smtp_security: str = "starttls"
    alert_webhook_url: str = ""
    alert_webhook_secret: str = field(default="", repr=False)
    review_base_url: str = "http://localhost:8000"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.clinic_timezone)

    @property
    def cliniko_api_base(self) -> str:
        """Cliniko's API root for this key (or the test override)."""
        if self.cliniko_base_url:
            return self.cliniko_base_url.rstrip("/")
        return cliniko_base_url_for_key(self.cliniko_api_key)

    @property
    def email_alerts_on(self) -> bool:
        return bool(self.alert_smtp_host and self.alert_smtp_to)

    @property
    def webhook_alerts_on(self) -> bool:
        return bool(self.alert_webhook_url)

    @property
    def alerts_on(self) -> bool:
        return self.email_alerts_on or self.webhook_alerts_on

    @property
    def demo_values_in_use(self) -> tuple[str, ...]:
        """Names of the settings still at their demo value (worth a warning in production)."""
        demo = {
            "CLINIC_PHONE": self.clinic_phone == DEMO_CLINIC_PHONE,
            "CLINIC_BOOKING_URL": self.clinic_booking_url == DEMO_BOOKING_URL,
            "CLINIC_PRIVACY_URL": self.clinic_privacy_url == DEMO_PRIVACY_URL,
        }
        return tuple(name for name, in_use in demo.items() if in_use)


def cliniko_base_url_for_key(api_key: str) -> str:
    """Cliniko shards accounts; the shard is the key's suffix after the last '-' (none: au1)."""
    shard = "au1"
    if "-" in api_key:
        suffix = api_key.rsplit("-", 1)[1].strip().lower()
        if re.fullmatch(r"[a-z]{2}\d+", suffix):
            shard = suffix
    return f"https://api.{shard}.cliniko.com/v1"


def parse_clinic_hours(text: str) -> tuple[OpeningPeriod, ...]:
    """Parse "mon-fri 07:00-19:00; sat 08:00-12:00" (days: ranges or commas; times: commas)."""
    periods: list[OpeningPeriod] = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        try:
            days_text, times_text = part.split(None, 1)
        except ValueError as error:
            raise ValueError(f"CLINIC_HOURS: {part!r} needs days then times, like 'mon-fri 07:00-19:00'") from error
        days = _parse_days(days_text.lower())
        for span in times_text.split(","):
            match = _HOURS_RANGE.match(span.strip())
            if not match:
                raise ValueError(f"CLINIC_HOURS: {span.strip()!r} is not a time range like 07:00-19:00")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
                raise ValueError(f"CLINIC_HOURS: {span.strip()!r} has an impossible time")
            opens = time(h1, m1)
            closes = time(23, 59, 59) if h2 == 24 else time(h2, m2)
            if closes <= opens:
                raise ValueError(f"CLINIC_HOURS: {span.strip()!r} closes before it opens")
            periods.extend(OpeningPeriod(day, opens, closes) for day in days)
    return tuple(sorted(periods, key=lambda p: (p.weekday, p.opens)))


def _parse_days(text: str) -> list[int]:
    days: list[int] = []
    for item in text.split(","):
        if "-" in item:
            first, last = item.split("-", 1)
            start, end = _weekday(first), _weekday(last)
            days.extend(range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)])
        else:
            days.append(_weekday(item))
    return days


def _weekday(name: str) -> int:
    key = name.strip()[:3]
    if key not in WEEKDAYS:
        raise ValueError(f"CLINIC_HOURS: {name!r} is not a day (use mon, tue, wed, thu, fri, sat, sun)")
    return WEEKDAYS.index(key)


def absolute_db_url(url: str) -> str:
    """Make a relative SQLite path absolute against the repo root.

    The Rasa server, the action server and the staff tool start from different folders; a
    relative path would give each its own empty database.
    """
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == "sqlite://" or url.startswith("sqlite:////"):
        return url
    path, _, query = url[len(prefix) :].partition("?")
    if path in ("", ":memory:"):
        return url
    absolute = (REPO_ROOT / path).resolve()
    return prefix + str(absolute) + (f"?{query}" if query else "")


def load_settings(env: Mapping[str, str] = os.environ) -> Settings:
    """Read every setting from `env`, with safe local defaults; raise ValueError naming bad keys."""

    def text(key: str, default: str = "") -> str:
        return (env.get(key) or default).strip()

    def number(key: str, default: float, minimum: float = 0.0) -> float:
        raw = text(key)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError as error:
            raise ValueError(f"{key} must be a number, not {raw!r}") from error
        if value < minimum:
            raise ValueError(f"{key} must be at least {minimum}")
        return value

    def listing(key: str, default: str = "") -> tuple[str, ...]:
        return tuple(item.strip() for item in text(key, default).split(",") if item.strip())

    timezone = text("CLINIC_TIMEZONE", "Australia/Melbourne")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"CLINIC_TIMEZONE: {timezone!r} is not a known time zone") from error

    hours_text = text("CLINIC_HOURS", DEFAULT_HOURS)
    clinic_name = text("CLINIC_NAME", "Upwell Health")
    backend = text("BOOKING_BACKEND", "local").lower()
    if backend not in BOOKING_BACKENDS:
        raise ValueError(f"BOOKING_BACKEND must be one of {', '.join(BOOKING_BACKENDS)}, not {backend!r}")
    security = text("ALERT_SMTP_SECURITY", "starttls").lower()
    if security not in SMTP_SECURITY_MODES:
        raise ValueError(f"ALERT_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY_MODES)}")

    settings = Settings(
        clinic_name=clinic_name,
        clinic_phone=text("CLINIC_PHONE", DEMO_CLINIC_PHONE),
        clinic_booking_url=text("CLINIC_BOOKING_URL", DEMO_BOOKING_URL),
        clinic_privacy_url=text("CLINIC_PRIVACY_URL", DEMO_PRIVACY_URL),
        clinic_timezone=timezone,
        clinic_hours_text=hours_text,
        clinic_hours=parse_clinic_hours(hours_text),
        clinic_locations=listing("CLINIC_LOCATIONS") or (clinic_name,),
        booking_db_url=absolute_db_url(text("BOOKING_DB_URL", DEFAULT_DB_URL)),
        booking_backend=backend,
        booking_http_timeout_seconds=number("BOOKING_HTTP_TIMEOUT_SECONDS", 10.0, 0.1),
        booking_max_attempts=int(number("BOOKING_MAX_ATTEMPTS", 8, 1)),
        booking_retry_base_seconds=number("BOOKING_RETRY_BASE_SECONDS", 30.0),
        booking_claim_lease_seconds=number("BOOKING_CLAIM_LEASE_SECONDS", 300.0),
        booking_worker_interval_seconds=number("BOOKING_WORKER_INTERVAL_SECONDS", 30.0, 0.05),
        cliniko_api_key=text("CLINIKO_API_KEY"),
        cliniko_business_id=text("CLINIKO_BUSINESS_ID"),
        cliniko_practitioner_id=text("CLINIKO_PRACTITIONER_ID"),
        cliniko_appointment_type_id=text("CLINIKO_APPOINTMENT_TYPE_ID"),
        cliniko_user_agent=text("CLINIKO_USER_AGENT"),
        cliniko_base_url=text("CLINIKO_BASE_URL"),
        booking_webhook_url=text("BOOKING_WEBHOOK_URL"),
        booking_webhook_secret=text("BOOKING_WEBHOOK_SECRET"),
        alert_smtp_host=text("ALERT_SMTP_HOST"),
        alert_smtp_port=int(number("ALERT_SMTP_PORT", 587, 1)),
        alert_smtp_user=text("ALERT_SMTP_USER"),
        alert_smtp_password=text("ALERT_SMTP_PASSWORD"),
        alert_smtp_from=text("ALERT_SMTP_FROM"),
        alert_smtp_to=listing("ALERT_SMTP_TO"),
        alert_smtp_security=security,
        alert_webhook_url=text("ALERT_WEBHOOK_URL"),
        alert_webhook_secret=text("ALERT_WEBHOOK_SECRET"),
        review_base_url=text("REVIEW_BASE_URL", "http://localhost:8000").rstrip("/"),
    )
    _check_consistency(settings)
    return settings


def _check_consistency(s: Settings) -> None:
    """Refuse half-configured services at start-up rather than on the first patient."""
    if s.booking_backend == "cliniko":
        required = {
            "CLINIKO_API_KEY": s.cliniko_api_key,
            "CLINIKO_BUSINESS_ID": s.cliniko_business_id,
            "CLINIKO_PRACTITIONER_ID": s.cliniko_practitioner_id,
            "CLINIKO_APPOINTMENT_TYPE_ID": s.cliniko_appointment_type_id,
            "CLINIKO_USER_AGENT": s.cliniko_user_agent,
        }
        missing = [key for key, value in required.items() if not value]
        if missing:
            raise ValueError(f"BOOKING_BACKEND=cliniko needs {', '.join(missing)}")
        if not _USER_AGENT.match(s.cliniko_user_agent):
            raise ValueError("CLINIKO_USER_AGENT must look like 'Vendor name (contact@example.com)'")
    if s.booking_backend == "webhook":
        if not s.booking_webhook_url or not s.booking_webhook_secret:
            raise ValueError("BOOKING_BACKEND=webhook needs BOOKING_WEBHOOK_URL and BOOKING_WEBHOOK_SECRET")
        # Booking requests carry names and phone numbers: never over plain HTTP off this machine.
        _require_https_or_loopback("BOOKING_WEBHOOK_URL", s.booking_webhook_url)
    if s.alert_webhook_url:
        if not s.alert_webhook_secret:
            raise ValueError("ALERT_WEBHOOK_URL needs ALERT_WEBHOOK_SECRET to sign alerts")
        _require_http_url("ALERT_WEBHOOK_URL", s.alert_webhook_url)
    if s.alert_smtp_host and (not s.alert_smtp_from or not s.alert_smtp_to):
        raise ValueError("ALERT_SMTP_HOST needs ALERT_SMTP_FROM and ALERT_SMTP_TO")
    _require_http_url("REVIEW_BASE_URL", s.review_base_url)


def _require_http_url(key: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{key} must be an http(s) URL")


def _require_https_or_loopback(key: str, url: str) -> None:
    _require_http_url(key, url)
    parts = urlsplit(url)
    if parts.scheme != "https" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ValueError(f"{key} must use https (plain http only to localhost)")
