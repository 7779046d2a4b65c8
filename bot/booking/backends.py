"""Where a stored request goes: kept for staff (`local`), a signed webhook, or Cliniko.

Every backend is idempotent for one request id: delivering the same request twice (after a
crash, a timeout or a lease that ran out) never books twice. Backends never raise for network
or remote errors; they return a `DeliveryResult` whose `code` is short and free of personal
details, because it is stored in `last_error` and logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from bot.booking.store import BookingRequest
from bot.booking.webhook import post_signed_json

logger = logging.getLogger(__name__)

DELIVERED, RETRY, FAILED = "delivered", "retry", "failed"


@dataclass(frozen=True)
class DeliveryResult:
    outcome: str  # delivered | retry | failed
    code: str | None = None
    external_ref: str | None = None
    retry_after_seconds: float | None = None

    @classmethod
    def delivered(cls, external_ref: str | None = None) -> DeliveryResult:
        return cls(DELIVERED, external_ref=external_ref)

    @classmethod
    def retry(cls, code: str, after_seconds: float | None = None) -> DeliveryResult:
        return cls(RETRY, code=code, retry_after_seconds=after_seconds)

    @classmethod
    def failed(cls, code: str) -> DeliveryResult:
        return cls(FAILED, code=code)


class Backend(Protocol):
    name: str

    def deliver(self, request: BookingRequest) -> DeliveryResult: ...


def result_for_http_status(status: int, prefix: str, retry_after: float | None = None) -> DeliveryResult:
    """The usual meaning of an HTTP status for a delivery attempt."""
    if 200 <= status < 300:
        return DeliveryResult.delivered()
    if status in (401, 403):
        return DeliveryResult.failed(f"{prefix}_unauthorized")  # configuration: retrying won't help
    if status == 429:
        return DeliveryResult.retry(f"{prefix}_rate_limited", retry_after)
    if status in (408, 425) or status >= 500:
        return DeliveryResult.retry(f"{prefix}_http_{status}")
    if status == 422:
        return DeliveryResult.failed(f"{prefix}_validation")
    return DeliveryResult.failed(f"{prefix}_http_{status}")


class LocalBackend:
    """Keeps the request in the clinic database; staff see it in the review tool."""

    name = "local"

    def deliver(self, request: BookingRequest) -> DeliveryResult:
        return DeliveryResult.delivered()


def booking_payload(request: BookingRequest) -> dict[str, Any]:
    """What the clinic's own system receives: the request, without internal retry state."""
    return {
        "type": f"{request.kind}_request",
        "id": request.id,
        "kind": request.kind,
        "conversation_id": request.conversation_id,
        "created_at": request.created_at.isoformat(),
        "name": request.name,
        "phone": request.phone,
        "email": request.email,
        "preferred_times": request.preferred_times,
        "location": request.location,
        "slot_starts_at": request.slot_starts_at.isoformat() if request.slot_starts_at else None,
        "triage_level": request.triage_level,
        "triage_summary": request.triage_summary,
    }


class WebhookBackend:
    """POSTs the request as signed JSON; the request id is the `Idempotency-Key`."""

    name = "webhook"

    def __init__(self, url: str, secret: str, timeout_seconds: float = 10.0) -> None:
        self.url = url
        self.secret = secret
        self.timeout_seconds = timeout_seconds
        self.session = requests.Session()

    def deliver(self, request: BookingRequest) -> DeliveryResult:
        try:
            response = post_signed_json(
                self.url,
                self.secret,
                booking_payload(request),
                idempotency_key=request.id,
                event=f"{request.kind}_request",
                timeout=self.timeout_seconds,
                session=self.session,
            )
        except requests.Timeout:
            return DeliveryResult.retry("webhook_timeout")
        except requests.RequestException:
            return DeliveryResult.retry("webhook_connection_error")
        if response.status_code == 409:
            # The receiver already has this Idempotency-Key: a repeat of an earlier delivery.
            return DeliveryResult.delivered(_reference(response))
        result = result_for_http_status(response.status_code, "webhook", _retry_after(response))
        if result.outcome == DELIVERED:
            return DeliveryResult.delivered(_reference(response))
        return result


def _reference(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        for key in ("reference", "id"):
            if isinstance(body.get(key), (str, int)):
                return str(body[key])[:255]
    return None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None
