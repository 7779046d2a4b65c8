"""Sign-in throttling: by user name and client address together, by address, and by name.

Failed sign-ins are rows in the review database (SignInFailure), so every server process and
worker counts the same failures and a restart forgets none. The rows hold keyed hashes of the
name and the address, never either as typed. The limits and the window are in settings.py.

Why three counts (what is safe):
- name and address together (LOGIN_FAILURE_LIMIT): someone typing a clinician's name wrong from
  elsewhere holds that name only at that address; the clinician signs in from their own place;
- the address (LOGIN_ADDRESS_FAILURE_LIMIT): one place cannot try many names;
- the name from everywhere (LOGIN_NAME_FAILURE_LIMIT): guessing spread over many addresses still
  stops. This one could be used to keep a clinician out, so it needs failures from several
  addresses (one address reaches at most LOGIN_FAILURE_LIMIT for one name), and it never holds a
  browser that has signed in as that name before (a signed cookie set at sign-in).
Refused attempts are not counted: the password is not checked while a limit holds.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .models import SignInFailure

KNOWN_BROWSER_COOKIE = "review_known_browser"
_COOKIE_SALT = "transcripts.signin.known-browser"
_KNOWN_NAMES_KEPT = 5  # a shared clinic computer remembers this many staff


def _digest(kind: str, value: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{kind}:{value}".encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:40]


def name_key(username: str) -> str:
    return _digest("name", username.strip().lower())


def client_address(request: HttpRequest) -> str:
    """The client's address: the connection's, or with REVIEW_PROXY_COUNT proxies in front the
    address the outermost trusted proxy saw (X-Forwarded-For, counted from the right). An IPv6
    address stands for its /64 network, which one household or one attacker usually has whole."""
    candidate = request.META.get("REMOTE_ADDR") or ""
    hops = settings.PROXY_COUNT
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= hops and forwarded[-hops]:
            candidate = forwarded[-hops]
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def address_key(request: HttpRequest) -> str:
    return _digest("address", client_address(request))


def _known_names(request: HttpRequest) -> list[str]:
    value = request.get_signed_cookie(
        KNOWN_BROWSER_COOKIE, default="", salt=_COOKIE_SALT,
        max_age=timedelta(days=settings.LOGIN_KNOWN_BROWSER_DAYS),
    )
    return [part for part in value.split(",") if part]


def is_refused(request: HttpRequest, username: str) -> bool:
    """True while one of the three limits holds for this name from this client."""
    since = timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW)
    recent = SignInFailure.objects.filter(at__gte=since)
    name, address = name_key(username), address_key(request)
    if recent.filter(address=address).count() >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
        return True
    if recent.filter(name=name, address=address).count() >= settings.LOGIN_FAILURE_LIMIT:
        return True
    if name in _known_names(request):
        return False
    return recent.filter(name=name).count() >= settings.LOGIN_NAME_FAILURE_LIMIT


def record_failure(request: HttpRequest, username: str) -> None:
    now = timezone.now()
    SignInFailure.objects.filter(at__lt=now - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW)).delete()
    SignInFailure.objects.create(name=name_key(username), address=address_key(request), at=now)


def record_success(request: HttpRequest, username: str) -> None:
    """A right password clears this name's failures from this address (not from elsewhere)."""
    SignInFailure.objects.filter(name=name_key(username), address=address_key(request)).delete()


def remember_browser(request: HttpRequest, response: HttpResponse, username: str) -> None:
    """Mark this browser as one that has signed in as `username` (see LOGIN_NAME_FAILURE_LIMIT)."""
    name = name_key(username)
    names = [name] + [n for n in _known_names(request) if n != name]
    response.set_signed_cookie(
        KNOWN_BROWSER_COOKIE, ",".join(names[:_KNOWN_NAMES_KEPT]), salt=_COOKIE_SALT,
        max_age=settings.LOGIN_KNOWN_BROWSER_DAYS * 24 * 3600, httponly=True, samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
