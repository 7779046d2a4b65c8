"""Signing out takes a POST; sign-in throttling holds the place the failures came from, not the
clinician whose name was typed."""
from __future__ import annotations

from django.conf import settings
from django.test import Client, override_settings
from review_fixtures import PASSWORD

from transcripts.models import AuditEvent, SignInFailure

REFUSED = "Too many failed sign-ins"


# ---------------------------------------------------------------------------------------------
# Signing out

def test_a_get_to_the_sign_out_address_signs_nobody_out_and_shows_a_button(clinic, clinician, client_for):
    client = client_for(clinician)
    # What a link or an <img src="/logout/"> on another site would make the browser do:
    response = client.get("/logout/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<form method="post" action="/logout/">' in html and "csrfmiddlewaretoken" in html
    assert '<button type="submit" class="primary">Sign out</button>' in html
    assert client.get("/").status_code == 200, "still signed in"
    assert not AuditEvent.objects.filter(action="sign_out").exists()

    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/").status_code == 302, "signed out"
    assert AuditEvent.objects.filter(username="casey", action="sign_out").exists()


def test_sign_out_needs_the_pages_csrf_token(clinic, clinician):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)
    assert client.post("/logout/").status_code == 403  # a form on another site has no token
    assert client.get("/").status_code == 200
    page = client.get("/logout/")
    token = page.cookies["csrftoken"].value
    assert client.post("/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_signed_out_visitors_at_the_sign_out_address_go_to_sign_in(clinic):
    response = Client().get("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"


# ---------------------------------------------------------------------------------------------
# Throttling

def sign_in(client: Client, username: str, password: str, address: str, **headers):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/"


def fail(times: int, username: str, address: str, **headers) -> None:
    for _ in range(times):
        response = sign_in(Client(), username, "wrong password", address, **headers)
        assert response.status_code == 200


def test_failures_from_elsewhere_do_not_lock_the_clinician_out(clinic, clinician):
    # Someone types casey's name wrong many times from another address ...
    fail(settings.LOGIN_FAILURE_LIMIT + 3, "casey", "203.0.113.7")
    assert REFUSED in sign_in(Client(), "casey", PASSWORD, "203.0.113.7").content.decode()
    # ... and casey, from the clinic, signs in at once.
    assert signed_in(sign_in(Client(), "casey", PASSWORD, "198.51.100.20"))


def test_one_address_trying_many_names_is_held_whatever_name_it_tries(clinic, clinician):
    names = [f"guess{i}" for i in range(settings.LOGIN_ADDRESS_FAILURE_LIMIT)]
    for name in names:  # one failure each: no single name comes near its own limit
        fail(1, name, "203.0.113.8")
    response = sign_in(Client(), "casey", PASSWORD, "203.0.113.8")
    assert response.status_code == 200 and REFUSED in response.content.decode()
    # The limit belongs to the address: casey elsewhere is not held.
    assert signed_in(sign_in(Client(), "casey", PASSWORD, "198.51.100.20"))


def test_guessing_spread_over_many_addresses_stops_except_in_a_browser_that_signed_in_before(clinic, clinician):
    own_browser = Client()
    assert signed_in(sign_in(own_browser, "casey", PASSWORD, "198.51.100.20"))
    own_browser.post("/logout/")
    per_address = settings.LOGIN_FAILURE_LIMIT
    addresses = -(-settings.LOGIN_NAME_FAILURE_LIMIT // per_address)
    assert addresses > 1, "one address alone can never reach the name's own limit"
    for i in range(addresses):
        fail(per_address, "casey", f"203.0.113.{100 + i}")
    # A browser that never signed in as casey, at a fresh address: held.
    stranger = sign_in(Client(), "casey", PASSWORD, "192.0.2.50")
    assert stranger.status_code == 200 and REFUSED in stranger.content.decode()
    # casey's own browser, even from a new address: in.
    assert signed_in(sign_in(own_browser, "casey", PASSWORD, "192.0.2.51"))


def test_a_forged_forwarded_for_header_does_not_buy_more_guesses(clinic, clinician):
    for i in range(settings.LOGIN_FAILURE_LIMIT):
        fail(1, "casey", "203.0.113.9", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
    response = sign_in(Client(), "casey", PASSWORD, "203.0.113.9", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert REFUSED in response.content.decode()


@override_settings(PROXY_COUNT=1)
def test_behind_a_proxy_the_address_it_saw_is_the_clients(clinic, clinician):
    proxy = "10.0.0.2"  # every request arrives from the proxy
    fail(settings.LOGIN_FAILURE_LIMIT, "casey", proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.10")
    held = sign_in(Client(), "casey", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert REFUSED in held.content.decode()
    # Another client through the same proxy (a spoofed left-hand entry changes nothing).
    assert signed_in(sign_in(Client(), "casey", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="203.0.113.10, 198.51.100.20"))


def test_an_ipv6_client_is_counted_by_its_network(clinic, clinician):
    # One household or attacker usually holds a whole /64: new addresses in it are no fresh start.
    for i in range(settings.LOGIN_FAILURE_LIMIT):
        fail(1, "casey", f"2001:db8:1:2::{i + 1:x}")
    assert REFUSED in sign_in(Client(), "casey", PASSWORD, "2001:db8:1:2::ffff").content.decode()
    assert signed_in(sign_in(Client(), "casey", PASSWORD, "2001:db8:1:3::1"))


def test_failures_are_kept_in_the_database_without_the_name_or_address_as_typed(clinic, clinician):
    fail(2, "Casey", "203.0.113.11")
    rows = list(SignInFailure.objects.values_list("name", "address"))
    assert len(rows) == 2
    assert not any("casey" in value.lower() or "203.0.113" in value for row in rows for value in row)
    # A right password from that address clears them; they are kept apart from other addresses'.
    fail(1, "casey", "203.0.113.12")
    assert signed_in(sign_in(Client(), "casey", PASSWORD, "203.0.113.11"))
    assert SignInFailure.objects.count() == 1
