"""Signed JSON webhooks, shared by booking delivery and staff alerts.

The receiver checks `X-Upwell-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw request
body under the shared secret (compare in constant time: `verify_signature`), and uses
`Idempotency-Key` to drop repeats: a sender that crashed or timed out sends the same key again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import requests

SIGNATURE_HEADER = "X-Upwell-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-Upwell-Event"


def json_body(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def sign_body(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header_value: str | None) -> bool:
    return bool(header_value) and hmac.compare_digest(sign_body(secret, body), header_value or "")


def post_signed_json(
    url: str,
    secret: str,
    payload: Mapping[str, Any],
    *,
    idempotency_key: str,
    event: str,
    timeout: float,
    session: requests.Session | None = None,
) -> requests.Response:
    body = json_body(payload)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Accept": "application/json",
        SIGNATURE_HEADER: sign_body(secret, body),
        IDEMPOTENCY_HEADER: idempotency_key,
        EVENT_HEADER: event,
    }
    sender = session or requests
    # Redirects are not followed: a redirect could carry the body somewhere unsigned-for.
    return sender.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
