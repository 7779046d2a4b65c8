"""Fuzzing the review tool's endpoints with Hypothesis: any query string, form body or header
gets an answer below 500 (a plain 400 at worst), and the tool keeps serving afterwards."""
from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import quote_from_bytes, urlencode

import pytest
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

# The fixtures' database is rolled back after each test, not each example: examples add up, as
# requests do on a real server. No example database is written into the working tree.
FUZZ = hypothesis_settings(max_examples=100, deadline=None, database=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Each endpoint with the fields it reads; any other field may come too.
QUEUE_FIELDS = ["q", "date_from", "date_to", "level", "red_flag", "channel", "intent", "booking", "fallback",
                "reviewed", "page"]
GET_FIELDS = {
    "/": QUEUE_FIELDS, "/users/<n>/": ["page"], "/export/conversations.csv": QUEUE_FIELDS, "/conversation/": ["id"],
    "/conversation/pdf/": ["id"], "/corrections/": ["page"], "/bookings/": ["status", "kind", "page"],
    "/users/": ["page"], "/audit/": ["user", "conversation", "page"], "/login/": ["next"], "/logout/": ["next"],
    "/static/review/review.css": ["v"],
}
POST_FIELDS = {
    "/conversation/review/": ["conversation_id", "reviewed", "next"],
    "/conversation/tag/": ["conversation_id", "tag", "remove"],
    "/conversation/note/": ["conversation_id", "text"],
    "/conversation/correct/": ["conversation_id", "event_id", "intent"],
    "/bookings/handle/": ["request_id", "next"],
    "/corrections/export/": ["only_new"],
    "/users/": ["username", "role", "password1", "password2"],
    "/users/<n>/": ["form", "role", "is_active", "new_password1", "new_password2"],
    "/login/": ["username", "password", "next"],
    "/logout/": ["next"],
}
# Values that have broken web tools before: calendar ends, huge numbers, ids near the limits,
# NUL, injection, and values the tool knows.
EDGES = ["0001-01-01", "9999-12-31", "2026-02-30", "1999-12-31", "20260101", "9" * 40, "-1", "0", "1e309", "NaN",
         "inf", "conv-stairs", "conv-infection", "x" * 255, "x" * 256, "\x00", "a\x00b", "' OR '1'='1", "<script>",
         "emergency", "infection", "twilio", "on", "open", "all", "handled", "callback", "queue", "conversation",
         "edit", "password", "admin", "greet", "nlu_fallback", "\u202e", "😀" * 100, " ", "%", "+"]
# What a query string or form can carry (no lone surrogates: a browser cannot send them).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
ANY_VALUE = st.one_of(st.sampled_from(EDGES), TEXT)
NUMBER = st.one_of(st.integers().map(str), st.floats().map(str))
# Calendar dates, the calendar's ends more often than chance would pick them.
DATE = st.one_of(st.dates(), st.sampled_from([date.min, date.min + timedelta(days=1), date.max,
                                              date.max - timedelta(days=1)])).map(str)
CONVERSATION_ID = st.one_of(
    st.sampled_from(["conv-stairs", "conv-infection", "conv-fallback"]),
    st.integers(min_value=0, max_value=600).map(lambda n: "c" * n),
    TEXT,
)
FIELD_VALUES = {
    "date_from": st.one_of(DATE, ANY_VALUE), "date_to": st.one_of(DATE, ANY_VALUE),
    "page": NUMBER, "event_id": NUMBER, "id": CONVERSATION_ID, "conversation_id": CONVERSATION_ID,
    "conversation": CONVERSATION_ID, "user": st.one_of(st.sampled_from(["alex", "casey"]), ANY_VALUE),
    "request_id": ANY_VALUE,
}
# /users/<n>/: the path itself carries a number.
USER_PATHS = st.integers(min_value=0, max_value=10**30).map(lambda n: f"/users/{n}/")


def _path(paths: dict) -> st.SearchStrategy:
    return st.sampled_from(sorted(paths)).flatmap(lambda path: USER_PATHS if "<n>" in path else st.just(path))


def _fields(data, path: str, paths: dict) -> dict:
    """Mostly the fields this endpoint reads, each with values of its kind, plus any others."""
    known = paths.get(path) or paths["/users/<n>/"]
    key = st.one_of(st.sampled_from(known), st.sampled_from(known), st.sampled_from(sorted(FIELD_VALUES)), TEXT)
    keys = data.draw(st.lists(key, max_size=6, unique=True), label="fields")
    return {k: data.draw(st.lists(FIELD_VALUES.get(k, ANY_VALUE), min_size=1, max_size=2), label=k) for k in keys}


# Header values as a WSGI server hands them over (latin-1).
HEADER_TEXT = st.one_of(st.sampled_from([e for e in EDGES if max(map(ord, e)) < 256]),
                        st.text(st.characters(max_codepoint=255), max_size=200))
HEADERS = st.fixed_dictionaries({}, optional={
    "HTTP_HOST": st.one_of(st.sampled_from(["testserver", "localhost", "127.0.0.1:8000"]), HEADER_TEXT),
    "HTTP_X_FORWARDED_FOR": st.one_of(
        st.lists(st.sampled_from(["203.0.113.7", "2001:db8::1", "::ffff:10.0.0.1", "unknown", "", " "]),
                 max_size=4).map(", ".join),
        HEADER_TEXT),
    "HTTP_X_FORWARDED_PROTO": HEADER_TEXT,
    "HTTP_COOKIE": st.one_of(HEADER_TEXT, HEADER_TEXT.map(lambda v: f"sessionid={v}; csrftoken={v}"),
                             HEADER_TEXT.map(lambda v: f"review_known_browser={v}")),
    "HTTP_REFERER": HEADER_TEXT,
    "HTTP_ACCEPT_LANGUAGE": HEADER_TEXT,
    "HTTP_USER_AGENT": HEADER_TEXT,
    "REMOTE_ADDR": st.one_of(st.sampled_from(["127.0.0.1", "::1", "2001:db8::2"]), HEADER_TEXT),
})


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _answer(response) -> int:
    if response.streaming:
        b"".join(response.streaming_content)  # a CSV export fails while it streams, if at all
    else:
        assert response.content is not None  # rendered in full
    assert response.status_code < 500, response.status_code
    return response.status_code


def _still_serving(admin) -> None:
    assert _client(admin).get("/").status_code == 200
    assert Client().get("/login/").status_code == 200


@pytest.fixture
def people(clinic, admin, clinician):
    return {"admin": admin, "clinician": clinician, "nobody": None}


@FUZZ
@given(path=_path(GET_FIELDS), who=st.sampled_from(["admin", "clinician", "nobody"]), data=st.data())
def test_any_query_string_gets_an_answer(people, path, who, data):
    params = _fields(data, path, GET_FIELDS)
    _answer(_client(people[who]).get(path + "?" + urlencode(params, doseq=True)))
    _still_serving(people["admin"])


@FUZZ
@given(path=st.sampled_from(["/", "/export/conversations.csv"]), data=st.data())
def test_any_queue_filter_gets_an_answer(people, path, data):
    # The queue's filters turn dates into times and reach every query: the most exposed form.
    _answer(_client(people["admin"]).get(path, _fields(data, path, GET_FIELDS)))
    _still_serving(people["admin"])


@FUZZ
@given(path=_path(GET_FIELDS), raw=st.binary(max_size=300))
def test_any_bytes_in_a_query_string_get_an_answer(people, path, raw):
    # Percent-encoded bytes that are not UTF-8, stray "&" and "=", and so on.
    _answer(_client(people["admin"]).get(path + "?" + quote_from_bytes(raw, safe="=&;%+")))
    _still_serving(people["admin"])


@FUZZ
@given(path=_path(POST_FIELDS), who=st.sampled_from(["admin", "clinician", "nobody"]), data=st.data())
def test_any_form_body_gets_an_answer(people, path, who, data):
    _answer(_client(people[who]).post(path, _fields(data, path, POST_FIELDS)))
    _still_serving(people["admin"])


@FUZZ
@given(path=_path(POST_FIELDS), body=st.binary(max_size=500),
       content_type=st.sampled_from([
           "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "multipart/form-data",
           "application/json", "text/plain", "", "multipart/form-data; boundary=",
       ]))
def test_any_raw_body_gets_an_answer(people, path, body, content_type):
    _answer(_client(people["admin"]).generic("POST", path, body, content_type=content_type))
    _still_serving(people["admin"])


@FUZZ
@given(path=_path(GET_FIELDS), who=st.sampled_from(["admin", "nobody"]),
       headers=HEADERS, proxies=st.sampled_from([0, 1, 2]), sign_in=st.booleans())
def test_any_headers_get_an_answer(people, path, who, headers, proxies, sign_in):
    with override_settings(PROXY_COUNT=proxies):
        client = _client(people[who])
        if sign_in:
            _answer(client.post("/login/", {"username": "casey", "password": "wrong password"}, **headers))
        else:
            _answer(client.get(path, **headers))
    _still_serving(people["admin"])
