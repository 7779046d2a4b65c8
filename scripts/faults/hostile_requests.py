"""Fault: malformed and hostile requests to every public endpoint get 4xx, never 500, and the
server keeps serving.

    python scripts/faults/hostile_requests.py [--examples 400]

Hypothesis draws requests across every route the Rasa server exposes (the channels' webhooks,
the socket.io endpoint, the health and version routes, and every HTTP API route without or with
a wrong token): random methods, content types, query strings and bodies (random bytes, random
JSON, message-shaped JSON with wrong types). Fixed cases add huge bodies, deep nesting, invalid
UTF-8, a very long URL and a garbage request line. Any answer of 500 or more (or no answer) is
a failure, reported with the smallest request Hypothesis could shrink it to. Afterwards a
patient's conversation must still work.

The messaging channels (Twilio, Telegram, Messenger) are switched on with made-up credentials,
so their real signature checks answer, not the "channel off" 503. Telegram's webhook
registration points at a closed local port: nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import string
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faults.production_stack import FaultResult, ProductionStack

# Made-up credentials that switch every messaging channel on (see module docstring).
CHANNELS_ON = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "hostile-test-twilio-token",
    "TWILIO_SMS_NUMBER": "+61400000000",
    "TELEGRAM_BOT_TOKEN": "123456:hostile-test",
    "TELEGRAM_BOT_USERNAME": "upwell_hostile_test_bot",
    "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/webhooks/telegram/webhook",
    "TELEGRAM_SECRET_TOKEN": "hostile-test-secret",
    "TELEGRAM_API_URL": "http://127.0.0.1:9",
    "FACEBOOK_VERIFY_TOKEN": "hostile-test-verify",
    "FACEBOOK_APP_SECRET": "hostile-test-app-secret",
    "FACEBOOK_PAGE_ACCESS_TOKEN": "hostile-test-page-token",
}

CONVERSATION = "<id>"  # replaced by a drawn conversation id
PUBLIC_ROUTES = (
    ("GET", "/"),
    ("GET", "/version"),
    ("GET", "/status"),
    ("GET", "/webhooks/rest/"),
    ("POST", "/webhooks/rest/webhook"),
    ("GET", "/webhooks/socketio/"),
    ("GET", "/socket.io/"),
    ("POST", "/socket.io/"),
    ("GET", "/webhooks/twilio/"),
    ("POST", "/webhooks/twilio/webhook"),
    ("GET", "/webhooks/telegram/"),
    ("POST", "/webhooks/telegram/webhook"),
    ("GET", "/webhooks/telegram/webhook"),
    ("GET", "/webhooks/facebook/"),
    ("GET", "/webhooks/facebook/webhook"),
    ("POST", "/webhooks/facebook/webhook"),
)
# The Rasa HTTP API (rasa/server.py): without the token every one must say 401/403.
API_ROUTES = (
    ("GET", f"/conversations/{CONVERSATION}/tracker"),
    ("POST", f"/conversations/{CONVERSATION}/tracker/events"),
    ("PUT", f"/conversations/{CONVERSATION}/tracker/events"),
    ("GET", f"/conversations/{CONVERSATION}/story"),
    ("POST", f"/conversations/{CONVERSATION}/execute"),
    ("POST", f"/conversations/{CONVERSATION}/trigger_intent"),
    ("POST", f"/conversations/{CONVERSATION}/predict"),
    ("POST", f"/conversations/{CONVERSATION}/messages"),
    ("POST", "/model/train"),
    ("POST", "/model/test/stories"),
    ("POST", "/model/test/intents"),
    ("POST", "/model/predict"),
    ("POST", "/model/parse"),
    ("PUT", "/model"),
    ("DELETE", "/model"),
    ("GET", "/domain"),
)
# Known server errors, each checked on its own and left out of the random search so that one
# known defect does not hide new ones; an entry goes when it is fixed. Empty: Rasa's Telegram
# channel answered 500 to GET /webhook and GET /set_webhook until channels/telegram.py took
# those routes over (405 and 404).
KNOWN_SERVER_ERRORS: tuple = ()
ROUTES = (
    PUBLIC_ROUTES + API_ROUTES + (("POST", "/webhooks/telegram/set_webhook"), ("GET", "/webhooks/telegram/set_webhook"))
)
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "text/html",
    "application/octet-stream",
    "",
)
HEADER_TEXT = string.ascii_letters + string.digits + " -_.;=/,:+*"


@dataclass
class Answer:
    status: int | None  # None: the connection closed without an answer
    body: bytes = b""


def http_request(
    base_url: str, method: str, path: str, body: bytes = b"", headers: dict | None = None, timeout: float = 60
) -> Answer:
    """One request with http.client (any method, any body); a server that answers early (413)
    and closes while the body is still being sent still counts as answering."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        try:
            connection.request(method, path, body=body, headers=headers or {})
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            response = connection.getresponse()
            return Answer(response.status, response.read())
        except (http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine):
            return Answer(None)
    finally:
        connection.close()


def raw_request(base_url: str, data: bytes, timeout: float = 30) -> Answer:
    """Bytes straight onto the socket (for request lines http.client refuses to send)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        try:
            while b"\r\n" not in received and len(received) < 65536:  # the status line is enough
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    try:
        return Answer(int(received.split(b" ", 2)[1]), received)
    except (IndexError, ValueError):
        return Answer(None, received)


def server_error(answer: Answer) -> bool:
    return answer.status is None or answer.status >= 500


def fixed_cases(stack: ProductionStack) -> list[str]:
    """Hand-made hostile requests; a list of what went wrong (empty when all got 4xx)."""
    url = stack.rasa_url
    json_type = {"Content-Type": "application/json"}
    cases = [
        (
            "2 MB JSON message",
            "POST",
            "/webhooks/rest/webhook",
            json.dumps({"sender": "big", "message": "knee " * 400_000}).encode(),
            json_type,
        ),
        ("20 MB body to /model/parse", "POST", "/model/parse", b"x" * 20_000_000, json_type),
        (
            "20 MB body to socket.io",
            "POST",
            "/socket.io/?EIO=4&transport=polling",
            b"x" * 20_000_000,
            {"Content-Type": "text/plain"},
        ),
        ("JSON nested 100,000 deep", "POST", "/webhooks/rest/webhook", b"[" * 100_000 + b"]" * 100_000, json_type),
        (
            "JSON object nested 50,000 deep",
            "POST",
            "/webhooks/rest/webhook",
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            json_type,
        ),
        ("invalid UTF-8", "POST", "/webhooks/rest/webhook", b'{"sender": "x", "message": "\xff\xfe"}', json_type),
        (
            "sender of 10,000 characters",
            "POST",
            "/webhooks/rest/webhook",
            json.dumps({"sender": "s" * 10_000, "message": "hi"}).encode(),
            json_type,
        ),
        (
            "message with NUL bytes",
            "POST",
            "/webhooks/rest/webhook",
            json.dumps({"sender": f"nul-{uuid.uuid4().hex[:8]}", "message": "knee\x00pain"}).encode(),
            json_type,
        ),
        (
            "form-encoded message",
            "POST",
            "/webhooks/rest/webhook",
            b"sender=x&message=hi",
            {"Content-Type": "application/x-www-form-urlencoded"},
        ),
        ("no body at all", "POST", "/webhooks/rest/webhook", b"", json_type),
        (
            "Twilio webhook, unsigned",
            "POST",
            "/webhooks/twilio/webhook",
            b"From=%2B61400000001&Body=hi",
            {"Content-Type": "application/x-www-form-urlencoded"},
        ),
        (
            "Messenger webhook, unsigned",
            "POST",
            "/webhooks/facebook/webhook",
            json.dumps({"object": "page", "entry": []}).encode(),
            json_type,
        ),
        (
            "Telegram webhook, no secret",
            "POST",
            "/webhooks/telegram/webhook",
            json.dumps({"update_id": 1, "message": {"text": "hi"}}).encode(),
            json_type,
        ),
        ("API with a wrong token", "GET", "/status?token=wrong", b"", {}),
        ("API with a wrong bearer JWT", "GET", "/status", b"", {"Authorization": "Bearer not.a.jwt"}),
        ("very long URL", "GET", "/webhooks/rest/" + "a" * 100_000, b"", {}),
        ("path traversal", "GET", "/../../../../etc/passwd", b"", {}),
    ]
    problems = []
    for label, method, path, body, headers in cases:
        answer = http_request(url, method, path, body, headers)
        if server_error(answer):
            problems.append(f"{label}: {method} {path[:60]} answered {answer.status}")
    for label, data in (
        ("a TLS handshake sent to the plain HTTP port", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"),
        (
            "a broken chunked body",
            b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n",
        ),
    ):
        answer = raw_request(url, data)
        if answer.status is not None and answer.status >= 500:
            problems.append(f"{label}: answered {answer.status}")
    return problems


def fuzz(stack: ProductionStack, examples: int) -> list[str]:
    """Hypothesis over every route; a list with the (shrunk) failing request, else empty."""
    from hypothesis import HealthCheck, assume, given, settings
    from hypothesis import strategies as st

    json_values = st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=40),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )
    message_shaped = st.fixed_dictionaries(
        {},
        optional={
            "sender": json_values | st.text(min_size=1, max_size=300),
            "message": json_values | st.text(max_size=400),
            "metadata": json_values,
            "input_channel": json_values,
            "text": st.text(max_size=50),
            "name": st.text(max_size=50),
            "event": st.text(max_size=20),
        },
    )
    bodies = st.one_of(
        st.binary(max_size=2048),
        json_values.map(lambda v: json.dumps(v).encode()),
        message_shaped.map(lambda v: json.dumps(v).encode()),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )
    header_text = st.text(alphabet=HEADER_TEXT, max_size=40)
    base = stack.rasa_url
    seen: list[tuple[str, str, int]] = []

    @settings(
        max_examples=examples, deadline=None, database=None, print_blob=True, suppress_health_check=list(HealthCheck)
    )
    @given(
        route=st.sampled_from(ROUTES),
        other_method=st.none() | st.sampled_from(METHODS),
        conversation=st.text(alphabet=string.ascii_letters + string.digits + "-_.~", min_size=1, max_size=40),
        query=st.dictionaries(
            st.text(alphabet=string.ascii_letters, min_size=1, max_size=8), st.text(max_size=20), max_size=3
        ),
        content_type=st.sampled_from(CONTENT_TYPES) | header_text,
        body=bodies,
        auth=st.sampled_from(["none", "wrong token", "wrong bearer"]),
    )
    def request_gets_no_server_error(route, other_method, conversation, query, content_type, body, auth):
        method, path = route
        method = other_method or method
        assume((method, path) not in KNOWN_SERVER_ERRORS)
        path = path.replace(CONVERSATION, quote(conversation, safe=""))
        if auth == "wrong token":
            query = {**query, "token": "not-the-token"}
        if query:
            path += "?" + urlencode(query)
        headers = {"Content-Type": content_type} if content_type else {}
        if auth == "wrong bearer":
            headers["Authorization"] = "Bearer " + conversation
        answer = http_request(base, method, path, body, headers)
        seen.append((method, path.split("?")[0], answer.status or 0))
        assert not server_error(answer), (
            f"{method} {path[:120]} ({content_type!r}, {len(body)} bytes) answered {answer.status}: "
            f"{answer.body[:200]!r}"
        )

    try:
        request_gets_no_server_error()
    except AssertionError as failure:
        return [f"Hypothesis found a request answered with a server error (shrunk): {failure}"]
    statuses = sorted({s for _, _, s in seen})
    return [f"(info) {len(seen)} random requests over {len(ROUTES)} routes; statuses seen: {statuses}"]


def known_server_errors(stack: ProductionStack) -> list[str]:
    """Which of KNOWN_SERVER_ERRORS still answer with a server error."""
    still = []
    for method, path in KNOWN_SERVER_ERRORS:
        answer = http_request(stack.rasa_url, method, path)
        if server_error(answer):
            still.append(f"{method} {path} answered {answer.status}")
    return still


def still_serving(stack: ProductionStack) -> list[str]:
    sender = f"after-hostile-{uuid.uuid4().hex[:8]}"
    status, answer = stack.send(sender, "hi")
    if status != 200 or not isinstance(answer, list) or not answer:
        return [f"after the hostile requests a greeting got {status}: {str(answer)[:200]}"]
    status, answer = stack.send(sender, "my knee hurts when I go down stairs")
    if status != 200 or "knee" not in json.dumps(answer).lower():
        return [f"after the hostile requests the triage did not start: {status} {str(answer)[:200]}"]
    return []


def check(stack: ProductionStack, examples: int = 200) -> FaultResult:
    """Runs the fixed cases and the Hypothesis search against a running stack."""
    started = time.monotonic()
    problems = fixed_cases(stack)
    fuzz_notes = fuzz(stack, examples)
    problems += [n for n in fuzz_notes if not n.startswith("(info)")]
    serving = still_serving(stack)
    findings = problems + serving
    ok = not findings
    findings += [n for n in fuzz_notes if n.startswith("(info)")]
    findings += [f"(info) known defect, left out of the search: {d}" for d in known_server_errors(stack)]
    findings.append(
        f"(info) took {time.monotonic() - started:.0f} s; the server still answers a patient: "
        f"{'yes' if not serving else 'NO'}"
    )
    return FaultResult("hostile requests", ok, findings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=400, help="random requests Hypothesis tries")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with ProductionStack(workers=args.workers, extra_env=CHANNELS_ON) as stack:
        result = check(stack, args.examples)
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
