"""Facebook Messenger: signed webhook events in, Graph API calls out (faked at the transport)."""
from __future__ import annotations

import hashlib
import hmac
import json

import aiohttp
import pytest
import pytest_asyncio

from fakes.channels import RecordingHTTPAdapter, serve_bot

APP_SECRET = "messenger-app-secret"
PSID = "6789012345678901"
PAGE_ID = "1234567890"

TWO_CHOICES = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
FIVE_CHOICES = [{"title": f"Week {n}", "payload": f"/weeks_{n}"} for n in range(1, 6)]
MANY_CHOICES = [{"title": f"Option {n}", "payload": f"/option_{n}"} for n in range(1, 16)]


def bot_script(text: str) -> list[dict]:
    for word, buttons in (("two", TWO_CHOICES), ("five", FIVE_CHOICES), ("many", MANY_CHOICES)):
        if word in text:
            return [{"text": "Pick one", "buttons": buttons}]
    if "chest" in text:
        return [{"text": "Please call 000 now.", "custom": {"alert": "emergency", "call": "000"}}]
    return [{"text": f"You said {text}"}]


@pytest.fixture
def facebook_env(monkeypatch):
    monkeypatch.setenv("FACEBOOK_VERIFY_TOKEN", "clinic-verify-token")
    monkeypatch.setenv("FACEBOOK_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("FACEBOOK_PAGE_ACCESS_TOKEN", "EAAB-page-token")


@pytest.fixture
def graph_api(monkeypatch) -> RecordingHTTPAdapter:
    answer = lambda call: {"recipient_id": PSID, "message_id": "m_1"}  # noqa: E731
    return RecordingHTTPAdapter(status=200, answer=answer).install(monkeypatch)


@pytest_asyncio.fixture
async def bot(facebook_env, graph_api):
    async with serve_bot(bot_script) as running:
        yield running.url, running.agent


def event(messaging: dict) -> dict:
    return {
        "object": "page",
        "entry": [{
            "id": PAGE_ID, "time": 1700000000000,
            "messaging": [{"sender": {"id": PSID}, "recipient": {"id": PAGE_ID},
                           "timestamp": 1700000000000, **messaging}],
        }],
    }


def text_event(text: str) -> dict:
    return event({"message": {"mid": "m_abc", "text": text}})


def postback_event(payload: str) -> dict:
    return event({"postback": {"mid": "m_def", "title": "No", "payload": payload}})


def sha256_signature(body: bytes, secret: str = APP_SECRET) -> dict:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}


async def post_event(base_url: str, body: bytes, headers: dict) -> int:
    headers = {"Content-Type": "application/json", **headers}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base_url}/webhooks/facebook/webhook", data=body,
                                headers=headers) as reply:
            return reply.status


async def send_signed(base_url: str, payload: dict) -> int:
    body = json.dumps(payload).encode()
    return await post_event(base_url, body, sha256_signature(body))


def sent_messages(graph_api: RecordingHTTPAdapter) -> list[dict]:
    """The `message` objects posted to the Send API (sender actions left out)."""
    return [call.json["message"] for call in graph_api.calls
            if call.host == "graph.facebook.com" and "message" in call.json]


async def test_message_is_answered_through_the_send_api(bot, graph_api):
    base_url, agent = bot
    assert await send_signed(base_url, text_event("hello")) == 200

    assert [(m.text, m.sender_id) for m in agent.received] == [("hello", PSID)]
    assert sent_messages(graph_api) == [{"text": "You said hello"}]
    reply_call = next(c for c in graph_api.calls if "message" in c.json)
    assert reply_call.json["recipient"] == {"id": PSID}
    assert "/me/messages" in reply_call.url


async def test_up_to_three_buttons_are_a_button_template_and_a_tap_sends_the_payload(bot, graph_api):
    base_url, agent = bot
    await send_signed(base_url, text_event("two choices"))
    template = sent_messages(graph_api)[0]["attachment"]["payload"]
    assert template["template_type"] == "button"
    assert [(b["title"], b["payload"], b["type"]) for b in template["buttons"]] == [
        ("Yes", "/affirm", "postback"), ("No", "/deny", "postback")
    ]

    await send_signed(base_url, postback_event("/deny"))
    assert agent.received[-1].text == "/deny"


async def test_more_than_three_buttons_become_quick_replies_not_nothing(bot, graph_api):
    base_url, _ = bot
    await send_signed(base_url, text_event("five weeks"))
    message = sent_messages(graph_api)[0]
    assert message["text"] == "Pick one"
    assert [(q["title"], q["payload"]) for q in message["quick_replies"]] == [
        (b["title"], b["payload"]) for b in FIVE_CHOICES
    ]


async def test_too_many_buttons_become_numbered_choices_and_a_number_picks_one(bot, graph_api):
    base_url, agent = bot
    await send_signed(base_url, text_event("many options"))
    text = sent_messages(graph_api)[0]["text"]
    assert text.startswith("Pick one\n1. Option 1\n2. Option 2\n")
    assert text.endswith("15. Option 15\nReply with a number.")

    await send_signed(base_url, text_event("2"))
    assert agent.received[-1].text == "/option_2"


async def test_alert_marker_is_not_sent_as_a_message(bot, graph_api):
    base_url, _ = bot
    await send_signed(base_url, text_event("crushing chest pain"))
    assert sent_messages(graph_api) == [{"text": "Please call 000 now."}]


def _legacy_sha1_only(body: bytes) -> dict:
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha1).hexdigest()
    return {"X-Hub-Signature": f"sha1={digest}"}


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda body: {},
        lambda body: sha256_signature(body, secret="another-apps-secret"),
        lambda body: sha256_signature(body + b" "),
        lambda body: {"X-Hub-Signature-256": "md5=" + hashlib.md5(body).hexdigest()},
        _legacy_sha1_only,
    ],
    ids=["missing", "wrong-secret", "tampered-body", "weak-algorithm", "sha1-only"],
)
async def test_unsigned_or_badly_signed_events_are_refused(bot, graph_api, make_headers):
    base_url, agent = bot
    body = json.dumps(text_event("hello")).encode()
    assert await post_event(base_url, body, make_headers(body)) == 403
    assert agent.received == []
    assert graph_api.calls == []


async def test_webhook_verification_needs_the_verify_token(bot):
    base_url, _ = bot
    url = f"{base_url}/webhooks/facebook/webhook"
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    async with aiohttp.ClientSession() as session:
        async with session.get(url, params={**query, "hub.verify_token": "clinic-verify-token"}) as r:
            assert (r.status, await r.text()) == (200, "1158201444")
        async with session.get(url, params={**query, "hub.verify_token": "guess"}) as r:
            assert r.status == 403


async def test_channel_is_off_until_its_variables_are_set(graph_api, monkeypatch):
    for name in ("FACEBOOK_VERIFY_TOKEN", "FACEBOOK_APP_SECRET", "FACEBOOK_PAGE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    async with serve_bot(bot_script) as running:
        assert await send_signed(running.url, text_event("hello")) == 503
    assert running.agent.received == []


# --- fair use (channels/fair_use.py) and conversation ids ---------------------------------------

def _warm_up_red_flag_rules() -> None:
    from bot.redflags import warm_up

    warm_up()  # as the Rasa server does when the model loads


async def test_past_the_limit_the_person_is_told_once_and_a_red_flag_still_goes_through(
        facebook_env, graph_api, monkeypatch):
    from channels.settings import RATE_LIMITED

    _warm_up_red_flag_rules()
    monkeypatch.setenv("FAIR_USE_CONVERSATION_LIMIT", "2/minute")
    async with serve_bot(bot_script) as running:
        statuses = [await send_signed(running.url, text_event(text))
                    for text in ("hello", "again", "and again", "once more", "crushing chest pain")]

    assert statuses == [200] * 5  # Meta re-delivers, then turns the webhook off, on errors
    assert [m.text for m in running.agent.received] == ["hello", "again", "crushing chest pain"]
    assert [m.get("text") for m in sent_messages(graph_api)] == [
        "You said hello", "You said again", RATE_LIMITED, "Please call 000 now."]


async def test_one_delivery_carrying_two_peoples_messages_refuses_only_the_one_past_the_limit(
        facebook_env, graph_api, monkeypatch):
    _warm_up_red_flag_rules()
    monkeypatch.setenv("FAIR_USE_CONVERSATION_LIMIT", "1/minute")
    async with serve_bot(bot_script) as running:
        await send_signed(running.url, text_event("hello"))
        both = text_event("me again")
        other = {**both["entry"][0]["messaging"][0], "sender": {"id": "1111222233334444"},
                 "message": {"mid": "m_xyz", "text": "hi there"}}
        both["entry"][0]["messaging"].append(other)
        assert await send_signed(running.url, both) == 200
    assert [(m.sender_id, m.text) for m in running.agent.received] == [
        (PSID, "hello"), ("1111222233334444", "hi there")]


async def test_a_sender_id_the_store_cannot_keep_is_refused_not_lost_in_the_store(bot, graph_api):
    # Meta's ids are short numbers; a longer one could be neither stored nor answered.
    base_url, agent = bot
    long_id = event({"message": {"mid": "m_long", "text": "hello"}})
    long_id["entry"][0]["messaging"][0]["sender"]["id"] = "9" * 300
    assert await send_signed(base_url, long_id) == 200
    assert agent.received == []
    assert sent_messages(graph_api) == []


async def test_a_photo_or_sticker_gets_a_reply_saying_the_bot_reads_text_only(bot, graph_api, caplog):
    from channels.settings import TEXT_ONLY

    base_url, agent = bot
    photo = {"type": "image", "payload": {"url": "https://scontent.example/knee-photo.jpg"}}
    assert await send_signed(base_url, event({"message": {"mid": "m_img", "attachments": [photo]}})) == 200
    sticker = {"type": "image", "payload": {"sticker_id": 369239263222822}}
    assert await send_signed(base_url, event({"message": {"mid": "m_st", "sticker_id": 369239263222822,
                                                          "attachments": [sticker]}})) == 200
    assert agent.received == []  # a photo's address is not a message to the bot
    assert sent_messages(graph_api) == [{"text": TEXT_ONLY}, {"text": TEXT_ONLY}]
    assert "knee-photo" not in caplog.text  # nor is the event logged whole


async def test_the_pages_own_messages_echoed_back_are_not_answered(bot, graph_api):
    base_url, agent = bot
    echo = {"message": {"mid": "m_echo", "is_echo": True, "app_id": 1517776481860111, "text": "You said hello"}}
    assert await send_signed(base_url, event(echo)) == 200
    assert agent.received == [] and sent_messages(graph_api) == []
