"""Cliniko client and booking backend, as documented at docs.api.cliniko.com.

HTTP Basic with the API key as user name and an empty password, `Accept: application/json`
and a `User-Agent: Vendor (email)` on every call. Times on the wire are UTC. Lists are paged
(follow `links.next`). 200 calls a minute, then 429 with `X-RateLimit-Reset` (a UNIX time).
"""

from __future__ import annotations

import logging
import re
import time as time_module
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import requests

from bot.booking.backends import DeliveryResult
from bot.booking.store import BookingRequest
from bot.booking.validation import split_name
from bot.settings import Settings

logger = logging.getLogger(__name__)

MAX_WINDOW_DAYS = 7  # Cliniko refuses an available_times window longer than this
PAGE_SIZE = 100
SINGLE_NAME_LAST_NAME = "(not given)"


class ClinikoError(Exception):
    """A call that did not work. `code` is short and safe to store and log."""

    code = "cliniko_error"
    retryable = False

    def __init__(self, detail: str = "", retry_after_seconds: float | None = None) -> None:
        super().__init__(detail or self.code)
        self.retry_after_seconds = retry_after_seconds


class ClinikoUnauthorized(ClinikoError):
    code = "cliniko_unauthorized"  # wrong key, key without permission, or User-Agent refused


class ClinikoNotFound(ClinikoError):
    code = "cliniko_not_found"  # wrong business, practitioner or appointment type id


class ClinikoRejected(ClinikoError):
    code = "cliniko_validation"  # 422: Cliniko refused the data (e.g. the time was taken)


class ClinikoRateLimited(ClinikoError):
    code = "cliniko_rate_limited"
    retryable = True


class ClinikoUnavailable(ClinikoError):
    code = "cliniko_unavailable"  # 5xx, timeout or no connection
    retryable = True


def format_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


@dataclass(frozen=True)
class ClinikoConfig:
    api_key: str
    base_url: str
    user_agent: str
    business_id: str
    practitioner_id: str
    appointment_type_id: str
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ClinikoConfig:
        return cls(
            api_key=settings.cliniko_api_key,
            base_url=settings.cliniko_api_base,
            user_agent=settings.cliniko_user_agent,
            business_id=settings.cliniko_business_id,
            practitioner_id=settings.cliniko_practitioner_id,
            appointment_type_id=settings.cliniko_appointment_type_id,
            timeout_seconds=settings.booking_http_timeout_seconds,
        )

    def __repr__(self) -> str:
        return f"ClinikoConfig(base_url={self.base_url!r}, business_id={self.business_id!r})"


class ClinikoClient:
    """The few Cliniko calls a booking needs. Raises `ClinikoError` subclasses."""

    def __init__(
        self,
        config: ClinikoConfig,
        max_rate_limit_wait_seconds: float = 60.0,
        sleep: Callable[[float], None] = time_module.sleep,
        clock: Callable[[], float] = time_module.time,
    ) -> None:
        self.config = config
        self.max_rate_limit_wait_seconds = max_rate_limit_wait_seconds
        self._sleep = sleep
        self._clock = clock
        self.session = requests.Session()
        self.session.auth = (config.api_key, "")
        self.session.headers.update({"Accept": "application/json", "User-Agent": config.user_agent})
        self._origin = urlsplit(config.base_url)[:2]

    # --- transport ---

    def _url(self, path: str) -> str:
        return self.config.base_url.rstrip("/") + path

    def request(self, method: str, url: str, *, params: Any = None, json: Any = None) -> Any:
        if urlsplit(url)[:2] != self._origin:
            # Never send the API key anywhere but the configured Cliniko host.
            raise ClinikoError("refusing to follow a link to another host")
        for _ in range(4):
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    timeout=self.config.timeout_seconds,
                    allow_redirects=False,
                )
            except requests.Timeout as error:
                raise ClinikoUnavailable("timeout") from error
            except requests.RequestException as error:
                raise ClinikoUnavailable("connection error") from error
            if response.status_code == 429:
                wait = self._rate_limit_wait(response)
                if wait > self.max_rate_limit_wait_seconds:
                    raise ClinikoRateLimited("rate limited", retry_after_seconds=wait)
                logger.info("cliniko rate limit: waiting %.1f s", wait)
                self._sleep(wait)
                continue
            return self._body(response)
        raise ClinikoRateLimited("still rate limited", retry_after_seconds=self.max_rate_limit_wait_seconds)

    def _rate_limit_wait(self, response: requests.Response) -> float:
        reset = response.headers.get("X-RateLimit-Reset", "")
        try:
            return max(0.0, float(reset) - self._clock()) + 0.5
        except ValueError:
            return 60.0  # header missing: Cliniko's limit is per minute

    @staticmethod
    def _body(response: requests.Response) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise ClinikoUnauthorized(f"http {status}")
        if status == 404:
            raise ClinikoNotFound("http 404")
        if status == 422 or status == 400:
            raise ClinikoRejected(f"http {status}")
        if status >= 500 or status == 408:
            raise ClinikoUnavailable(f"http {status}")
        if not 200 <= status < 300:
            raise ClinikoError(f"http {status}")
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise ClinikoUnavailable("response was not JSON") from error

    def _pages(self, path: str, key: str, params: list[tuple[str, str]]) -> Iterator[dict]:
        url: str | None = self._url(path)
        query: list[tuple[str, str]] | None = params + [("per_page", str(PAGE_SIZE))]
        while url:
            body = self.request("GET", url, params=query) or {}
            yield from body.get(key) or []
            next_link = (body.get("links") or {}).get("next")
            url = self._resolve_link(next_link) if next_link else None
            query = None  # the next link carries its own query string

    def _resolve_link(self, link: str) -> str:
        """Absolute links as they are; Cliniko's docs also show path-only ones without /v1."""
        if urlsplit(link).scheme:
            return link
        base = urlsplit(self.config.base_url)
        prefix = base.path.rstrip("/")
        path = link if link.startswith(prefix + "/") else prefix + "/" + link.lstrip("/")
        return f"{base.scheme}://{base.netloc}{path}"

    # --- patients ---

    def find_patient(self, first_name: str, last_name: str, email: str | None, phone: str | None) -> dict | None:
        """An existing patient with this name and the same email (or, without email, phone).

        Matching the name as well stops a parent's record being used for a child who shares
        the parent's email address.
        """
        if email:
            candidates = self._pages("/patients", "patients", [("q[]", f"email:={email}")])
        else:
            candidates = self._pages(
                "/patients",
                "patients",
                [
                    ("q[]", f"first_name:={first_name}"),
                    ("q[]", f"last_name:={last_name}"),
                ],
            )
        for patient in candidates:
            if not _same_name(patient, first_name, last_name):
                continue
            if email and (patient.get("email") or "").casefold() == email.casefold():
                return patient
            if not email and phone and _has_phone(patient, phone):
                return patient
        return None

    def create_patient(self, first_name: str, last_name: str, email: str | None, phone: str | None) -> dict:
        body: dict[str, Any] = {"first_name": first_name, "last_name": last_name}
        if email:
            body["email"] = email
        if phone:
            kind = "Mobile" if phone.startswith("+614") else "Home"
            body["patient_phone_numbers"] = [{"phone_type": kind, "number": phone}]
        return self.request("POST", self._url("/patients"), json=body)

    # --- times and appointments ---

    def available_times(self, from_date: date, to_date: date) -> list[datetime]:
        if (to_date - from_date).days > MAX_WINDOW_DAYS or to_date < from_date:
            raise ValueError("Cliniko windows are 0 to 7 days long")
        c = self.config
        path = (
            f"/businesses/{c.business_id}/practitioners/{c.practitioner_id}"
            f"/appointment_types/{c.appointment_type_id}/available_times"
        )
        params = [("from", from_date.isoformat()), ("to", to_date.isoformat())]
        return sorted(parse_utc(item["appointment_start"]) for item in self._pages(path, "available_times", params))

    def find_appointment(self, patient_id: str, starts_at: datetime) -> dict | None:
        """This patient's live appointment with our practitioner at this time, if any."""
        params = [("q[]", f"patient_id:={patient_id}"), ("q[]", f"starts_at:={format_utc(starts_at)}")]
        for appointment in self._pages("/individual_appointments", "individual_appointments", params):
            if appointment.get("cancelled_at") or appointment.get("deleted_at"):
                continue
            if parse_utc(appointment["starts_at"]) != starts_at.astimezone(timezone.utc):
                continue
            practitioner = ((appointment.get("practitioner") or {}).get("links") or {}).get("self", "")
            if practitioner and not practitioner.rstrip("/").endswith(f"/practitioners/{self.config.practitioner_id}"):
                continue
            return appointment
        return None

    def create_appointment(self, patient_id: str, starts_at: datetime, notes: str) -> dict:
        c = self.config
        return self.request(
            "POST",
            self._url("/individual_appointments"),
            json={
                "starts_at": format_utc(starts_at),
                "patient_id": str(patient_id),
                "practitioner_id": str(c.practitioner_id),
                "appointment_type_id": str(c.appointment_type_id),
                "business_id": str(c.business_id),
                "notes": notes,
            },
        )


def _same_name(patient: dict, first_name: str, last_name: str) -> bool:
    return (patient.get("first_name") or "").strip().casefold() == first_name.casefold() and (
        patient.get("last_name") or ""
    ).strip().casefold() == last_name.casefold()


def _has_phone(patient: dict, e164: str) -> bool:
    wanted = re.sub(r"\D", "", e164)  # 61412345678
    national = "0" + wanted[2:]
    for number in patient.get("patient_phone_numbers") or []:
        digits = re.sub(r"\D", "", str(number.get("number", "")))
        if digits in (wanted, national):
            return True
    return False


def appointment_notes(request: BookingRequest) -> str:
    """The note staff see on the appointment: where it came from and the triage summary."""
    lines = [f"Booked by the Upwell chatbot. Request {request.id}."]
    summary = request.triage_summary or {}
    labels = (
        ("triage_level", "Triage level"),
        ("red_flags", "Red flags"),
        ("pain_triggers", "Pain triggers"),
        ("pain_location", "Pain location"),
        ("onset", "Onset"),
        ("duration_weeks", "Duration (weeks)"),
    )
    for key, label in labels:
        value = summary.get(key, request.triage_level if key == "triage_level" else None)
        if value in (None, "", []):
            continue
        lines.append(f"{label}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    if request.conversation_id:
        lines.append(f"Conversation: {request.conversation_id}")
    return "\n".join(lines)


class ClinikoBackend:
    """Books the chosen slot in Cliniko, finding or creating the patient first.

    Idempotent: before booking it looks for this patient's appointment at the same time, so a
    retry after a crash (even one after Cliniko said yes but before our database heard it)
    returns the existing appointment instead of booking a second one.
    """

    name = "cliniko"

    def __init__(self, client: ClinikoClient) -> None:
        self.client = client

    def deliver(self, request: BookingRequest) -> DeliveryResult:
        if request.slot_starts_at is None:
            return DeliveryResult.failed("cliniko_no_slot_chosen")
        first_name, last_name = split_name(request.name or "")
        last_name = last_name or SINGLE_NAME_LAST_NAME
        try:
            patient = self.client.find_patient(first_name, last_name, request.email, request.phone)
            if patient is None:
                patient = self.client.create_patient(first_name, last_name, request.email, request.phone)
            patient_id = str(patient["id"])
            existing = self.client.find_appointment(patient_id, request.slot_starts_at)
            if existing is not None:
                logger.info("booking %s: appointment already in cliniko", request.id)
                return DeliveryResult.delivered(str(existing["id"]))
            appointment = self.client.create_appointment(patient_id, request.slot_starts_at, appointment_notes(request))
            return DeliveryResult.delivered(str(appointment["id"]))
        except ClinikoError as error:
            if error.retryable:
                return DeliveryResult.retry(error.code, error.retry_after_seconds)
            return DeliveryResult.failed(error.code)
        except (KeyError, TypeError):
            return DeliveryResult.retry("cliniko_unexpected_response")


def offer_times(
    client: ClinikoClient, zone: Any, now: datetime, limit: int = 3, days_ahead: int = 14
) -> list[datetime]:
    """Up to `limit` bookable starts after `now`, searching 7-day windows from today."""
    start = now.astimezone(zone).date()  # 'not in the past' is judged in the clinic's day
    found: list[datetime] = []
    window_start = start
    while window_start < start + timedelta(days=days_ahead) and len(found) < limit:
        window_end = window_start + timedelta(days=MAX_WINDOW_DAYS - 1)
        found.extend(t for t in client.available_times(window_start, window_end) if t > now)
        window_start = window_end + timedelta(days=1)
    return sorted(found)[:limit]
