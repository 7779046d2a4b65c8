"""Booking and call-back requests that are never lost and never sent twice.

    submit()          -> the request is committed to the store (status `pending`)
    deliver()         -> one attempt now, if it is due and nobody else holds it
    deliver_pending() -> every due request (the worker calls this; so can a cron job)

A failed attempt is retried with exponential backoff until `BOOKING_MAX_ATTEMPTS`; then the
request is `failed` and stays in the table for staff to call the patient. The `DeliveryWorker`
thread resumes whatever was pending when the process last stopped.

Logs carry request ids, states and error codes only: never names, numbers or symptoms.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.booking.backends import DELIVERED, FAILED, Backend, DeliveryResult, LocalBackend, WebhookBackend
from bot.booking.cliniko import ClinikoBackend, ClinikoClient, ClinikoConfig, ClinikoError, offer_times
from bot.booking.hours import is_open_now, next_opening, opening_hours_sentence, time_words
from bot.booking.store import KINDS, BookingRequest, BookingStore, new_request, utcnow
from bot.booking.validation import (
    Checked,
    validate_email,
    validate_location,
    validate_name,
    validate_phone,
    validate_preferred_times,
)
from bot.contract import TRIAGE_LEVELS
from bot.settings import Settings, load_settings

__all__ = [
    "BookingService",
    "DeliveryWorker",
    "Slot",
    "get_booking_service",
    "is_open_now",
    "next_opening",
    "opening_hours_sentence",
    "triage_summary_from_slots",
]

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600.0
# The triage record slots worth passing to the clinic (names from the triage contract).
TRIAGE_SUMMARY_SLOTS = ("triage_level", "red_flags", "pain_triggers", "pain_location", "onset", "duration_weeks")
SUBMIT_FIELDS = (
    "kind",
    "conversation_id",
    "name",
    "phone",
    "email",
    "preferred_times",
    "location",
    "triage_level",
    "triage_summary",
    "slot_starts_at",
)


@dataclass(frozen=True)
class Slot:
    """An appointment time to offer: `value` goes in a button payload, `label` is what people read."""

    starts_at: datetime  # UTC
    label: str  # e.g. "Tuesday 4 March at 9:30 am" in the clinic's time zone

    @property
    def value(self) -> str:
        return self.starts_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def slot_label(starts_at: datetime, settings: Settings) -> str:
    local = starts_at.astimezone(settings.zone)
    return f"{local:%A} {local.day} {local:%B} at {time_words(local.time().replace(tzinfo=None))}"


def parse_slot_value(value: str | datetime | None) -> datetime | None:
    """A slot from a button payload (ISO 8601, UTC) back to an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as error:
            raise ValueError("slot_starts_at is not an ISO 8601 time") from error
    if moment.tzinfo is None:
        raise ValueError("slot_starts_at must carry a time zone")
    return moment.astimezone(timezone.utc)


def triage_summary_from_slots(slots: Mapping[str, Any]) -> dict[str, Any]:
    """The triage record (contract slot names) with empty values left out."""
    return {name: slots[name] for name in TRIAGE_SUMMARY_SLOTS if slots.get(name) not in (None, "", [])}


def build_backends(settings: Settings) -> dict[str, Backend]:
    backends: dict[str, Backend] = {"local": LocalBackend()}
    if settings.booking_backend == "webhook":
        backends["webhook"] = WebhookBackend(
            settings.booking_webhook_url, settings.booking_webhook_secret, settings.booking_http_timeout_seconds
        )
    if settings.booking_backend == "cliniko":
        backends["cliniko"] = ClinikoBackend(ClinikoClient(ClinikoConfig.from_settings(settings)))
    return backends


class BookingService:
    def __init__(
        self,
        settings: Settings,
        store: BookingStore | None = None,
        backends: Mapping[str, Backend] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.store = store or BookingStore(settings.booking_db_url)
        self.store.create_all()
        self.backends = dict(backends) if backends is not None else build_backends(settings)
        self.clock = clock
        self.worker: DeliveryWorker | None = None

    # --- intake ---

    def backend_for(self, kind: str, slot_starts_at: datetime | None) -> str:
        """Cliniko books a chosen time; a call-back (or a booking with no time) is for staff."""
        if self.settings.booking_backend == "cliniko" and (kind != "booking" or slot_starts_at is None):
            return "local"
        return self.settings.booking_backend

    def submit(
        self, fields: Mapping[str, Any], idempotency_key: str | None = None, now: datetime | None = None
    ) -> BookingRequest:
        """Validate and commit a confirmed request; delivery follows (worker or `deliver`).

        `idempotency_key` (e.g. the confirming message's `message_id`) makes a repeated call
        return the request already stored instead of storing a second one.
        Raises ValueError naming the first bad field (the form should have validated it).
        """
        values = self._clean(fields)
        now = now or self.clock()
        request = new_request(
            values.pop("kind"),
            self.backend_for(fields["kind"], values["slot_starts_at"]),
            now,
            BookingRequest.new_id(idempotency_key),
            **values,
        )
        stored, created = self.store.insert(request)
        logger.info("booking %s stored (%s, backend %s, new=%s)", stored.id, stored.kind, stored.backend, created)
        if self.worker is not None:
            self.worker.wake()
        return stored

    def _clean(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(fields) - set(SUBMIT_FIELDS)
        if unknown:
            raise ValueError(f"unknown booking fields: {', '.join(sorted(unknown))}")
        kind = fields.get("kind")
        if kind not in KINDS:
            raise ValueError("kind must be 'booking' or 'callback'")
        values: dict[str, Any] = {"kind": kind, "conversation_id": fields.get("conversation_id")}
        checks: dict[str, Callable[[Any], Checked]] = {
            "name": validate_name,
            "phone": validate_phone,
            "email": validate_email,
            "preferred_times": validate_preferred_times,
            "location": lambda v: validate_location(v, self.settings.clinic_locations),
        }
        for name, check in checks.items():
            if fields.get(name) in (None, ""):
                values[name] = None
                continue
            checked = check(fields[name])
            if not checked.ok:
                raise ValueError(f"{name} is not valid")
            values[name] = checked.value
        if values["location"] is None and len(self.settings.clinic_locations) == 1:
            values["location"] = self.settings.clinic_locations[0]
        if not values["name"]:
            raise ValueError("name is required")
        if kind == "callback" and not values["phone"]:
            raise ValueError("phone is required for a call-back")
        if not values["phone"] and not values["email"]:
            raise ValueError("phone or email is required")
        level = fields.get("triage_level")
        if level is not None and level not in TRIAGE_LEVELS:
            raise ValueError("triage_level is not a contract level")
        values["triage_level"] = level
        summary = fields.get("triage_summary")
        if isinstance(summary, str):
            summary = json.loads(summary)
        if summary is not None and not isinstance(summary, dict):
            raise ValueError("triage_summary must be a mapping")
        values["triage_summary"] = summary
        values["slot_starts_at"] = parse_slot_value(fields.get("slot_starts_at"))
        return values

    # --- delivery ---

    def deliver(self, request_id: str, now: datetime | None = None) -> BookingRequest | None:
        """Try one request now if it is due and free; return its state afterwards."""
        now = now or self.clock()
        lease = timedelta(seconds=self.settings.booking_claim_lease_seconds)
        claimed = self.store.claim(request_id, now, lease)
        if claimed is None:
            return self.store.get(request_id)
        backend = self.backends.get(claimed.backend)
        if backend is None:
            result = DeliveryResult.failed("backend_not_configured")
        else:
            try:
                result = backend.deliver(claimed)
            except Exception as error:  # a bug must not stop the worker; the type says enough
                logger.error("booking %s: backend %s raised %s", claimed.id, claimed.backend, type(error).__name__)
                result = DeliveryResult.retry("internal_error")
        return self._record(claimed, result, now)

    def _record(self, request: BookingRequest, result: DeliveryResult, now: datetime) -> BookingRequest:
        if result.outcome == DELIVERED:
            updated = self.store.update(
                request.id,
                status="delivered",
                delivered_at=now,
                updated_at=now,
                external_ref=result.external_ref,
                last_error=None,
                next_attempt_at=None,
            )
        elif result.outcome == FAILED:
            updated = self.store.update(
                request.id, status="failed", last_error=result.code, updated_at=now, next_attempt_at=None
            )
        elif request.attempts >= self.settings.booking_max_attempts:
            updated = self.store.update(
                request.id, status="failed", last_error=f"gave_up:{result.code}", updated_at=now, next_attempt_at=None
            )
        else:
            delay = result.retry_after_seconds or min(
                self.settings.booking_retry_base_seconds * 2 ** (request.attempts - 1), MAX_BACKOFF_SECONDS
            )
            updated = self.store.update(
                request.id,
                status="pending",
                last_error=result.code,
                updated_at=now,
                next_attempt_at=now + timedelta(seconds=delay),
            )
        log = logger.warning if updated.status == "failed" else logger.info
        log(
            "booking %s: %s after attempt %d (%s)",
            request.id,
            updated.status,
            request.attempts,
            updated.last_error or "ok",
        )
        return updated

    def deliver_pending(self, now: datetime | None = None, limit: int = 50) -> list[BookingRequest]:
        """One attempt for every due request; requests held by another worker are skipped."""
        now = now or self.clock()
        results = []
        for request_id in self.store.due_ids(now, limit):
            updated = self.deliver(request_id, now)
            if updated is not None:
                results.append(updated)
        return results

    def get(self, request_id: str) -> BookingRequest | None:
        return self.store.get(request_id)

    # --- slots ---

    def offer_slots(self, now: datetime | None = None, limit: int = 3) -> list[Slot]:
        """Up to `limit` free Cliniko times; [] without Cliniko or when Cliniko can't answer.

        An empty list means: ask for preferred times instead (a call-back request).
        """
        if self.settings.booking_backend != "cliniko":
            return []
        now = now or self.clock()
        # A patient is waiting: do not sit out a long rate-limit window.
        client = ClinikoClient(ClinikoConfig.from_settings(self.settings), max_rate_limit_wait_seconds=3.0)
        try:
            times = offer_times(client, self.settings.zone, now, limit)
        except ClinikoError as error:
            logger.warning("offer_slots: %s", error.code)
            return []
        return [Slot(t, slot_label(t, self.settings)) for t in times]

    # --- for async callers (rasa_sdk actions) ---

    async def submit_and_deliver(
        self, fields: Mapping[str, Any], idempotency_key: str | None = None, wait_seconds: float = 8.0
    ) -> BookingRequest:
        """Store the request, then give delivery up to `wait_seconds` so the bot can say
        "booked". A slower delivery carries on in the background; the stored request is
        returned with status `pending` (tell the patient the clinic will confirm)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        stored = await asyncio.to_thread(self.submit, fields, idempotency_key)
        attempt = asyncio.ensure_future(asyncio.to_thread(self.deliver, stored.id))
        try:
            state = await asyncio.wait_for(asyncio.shield(attempt), timeout=wait_seconds) or stored
        except asyncio.TimeoutError:
            return stored
        # The delivery worker may have claimed the request first (its loop wakes on every new
        # request): then the outcome is its attempt's, so wait for that within the same budget
        # rather than tell the patient it could not be sent.
        while _in_flight(state) and loop.time() < deadline:
            await asyncio.sleep(0.1)
            latest = await asyncio.to_thread(self.store.get, stored.id)
            state = latest or state
        return state

    async def offer_slots_async(self, limit: int = 3) -> list[Slot]:
        return await asyncio.to_thread(self.offer_slots, None, limit)


def _in_flight(request: BookingRequest) -> bool:
    """Claimed for its first attempt by some worker, with no outcome recorded yet."""
    return request.status == "pending" and request.attempts > 0 and not request.last_error


class DeliveryWorker:
    """A daemon thread that delivers due requests every `interval_seconds`, and at once when
    woken. Started once per process; on start it picks up whatever a crash left pending."""

    def __init__(self, service: BookingService, interval_seconds: float | None = None) -> None:
        self.service = service
        self.interval_seconds = interval_seconds or service.settings.booking_worker_interval_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> DeliveryWorker:
        with self._lock:
            if not self.running:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="booking-delivery", daemon=True)
                self._thread.start()
                self.service.worker = self
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.service.worker is self:
            self.service.worker = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.service.deliver_pending()
            except Exception as error:  # e.g. the database is briefly away: try again next round
                logger.error("booking worker round failed: %s", type(error).__name__)
            self._wake.wait(self.interval_seconds)


_service: BookingService | None = None
_service_lock = threading.Lock()


def get_booking_service(settings: Settings | None = None, start_worker: bool = True) -> BookingService:
    """The process-wide service (for actions), with its delivery worker started once."""
    global _service
    with _service_lock:
        if _service is None:
            settings = settings or load_settings()
            for name in settings.demo_values_in_use:
                logger.warning("%s is still the demo value: set it before going live", name)
            _service = BookingService(settings)
        if start_worker and (_service.worker is None or not _service.worker.running):
            DeliveryWorker(_service).start()
        return _service
