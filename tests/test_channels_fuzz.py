"""Hypothesis-fuzzed requests against every public endpoint of the patient channels (issue 18).

The channels of credentials.yml (the same in both profiles) are served as `rasa run` serves them,
around a scripted agent (tests/fakes/channels.py). Whatever the body, headers, query string or method,
no request gets a 500, and the server keeps answering a plain message afterwards. (A channel whose
secrets are not set answers 503 on purpose: it is off.)
"""
from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.channels import clinic_script, serve_bot

PATHS = ["/webhooks/rest/webhook", "/webhooks/rest/", "/webhooks/twilio/webhook", "/webhooks/twilio/",
         "/webhooks/telegram/webhook", "/webhooks/telegram/", "/webhooks/facebook/webhook",
         "/webhooks/facebook/", "/socket.io/", "/"]
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data",
                 "application/json; charset=utf-16", ""]
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                       max_size=4), max_leaves=12)
BODIES = st.one_of(
    st.binary(max_size=400),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={"sender": JSON_VALUES, "message": JSON_VALUES, "metadata": JSON_VALUES})
    .map(lambda d: json.dumps(d).encode()),
)
QUERIES = st.dictionaries(st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=12), HEADER_TEXT,
                          max_size=3).map(urllib.parse.urlencode)


@pytest.fixture(scope="module")
def channels_url() -> Iterator[str]:
    """The channels served on a free port in a thread of their own, for every example."""
    ready, stop, holder = threading.Event(), None, {}
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with serve_bot(clinic_script) as bot:
            holder["url"] = bot.url
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(60), "the channels did not start"
    yield holder["url"]
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)


def status_of(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def still_serving(url: str) -> None:
    body = json.dumps({"sender": "fuzz-check", "message": "hello"}).encode()
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read())[0]["text"] == "You said hello"


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(path=st.sampled_from(PATHS), method=st.sampled_from(["POST", "GET", "PUT", "OPTIONS"]), body=BODIES,
       content_type=st.sampled_from(CONTENT_TYPES), query=QUERIES,
       headers=st.dictionaries(st.sampled_from(["X-Twilio-Signature", "X-Telegram-Bot-Api-Secret-Token",
                                                "X-Hub-Signature-256", "Origin", "X-Forwarded-For", "Cookie"]),
                               HEADER_TEXT, max_size=3))
def test_no_request_to_a_patient_channel_gets_a_500(channels_url, path, method, body, content_type, query, headers):
    request = urllib.request.Request(f"{channels_url}{path}" + (f"?{query}" if query else ""),
                                     data=body if method in ("POST", "PUT") else None, method=method,
                                     headers={**headers, **({"Content-Type": content_type} if content_type else {})})
    assert status_of(request) != 500


def test_the_channels_keep_serving_after_the_fuzzing(channels_url):
    still_serving(channels_url)
