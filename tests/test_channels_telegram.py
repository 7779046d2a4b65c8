"""Telegram: updates in (secret-token header checked), Bot API calls out to a local fake."""
from __future__ import annotations

import json

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from fakes.channels import CHEST_PAIN_ALERT, clinic_script, serve_bot

TOKEN = "123456789:AAH-test-token-for-the-fake-bot-api"
SECRET = "clinic-telegram-secret_1"
CHAT_ID = 987654321


class FakeBotApi:
    """Answers Bot API methods the way api.telegram.org does, recording every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    async def handle(self, request: web.Request) -> web.Response:
        assert request.match_info["token"] == TOKEN
        method = request.match_info["method"]
        fields = dict(await request.post()) if request.can_read_body else {}
        self.calls.append((method, fields))
        if method == "getMe":
            result = {"id": 123456789, "is_bot": True, "first_name": "Upwell",
                      "username": "upwell_knee_bot"}
        elif method == "sendMessage":
            result = {"message_id": len(self.calls), "date": 1700000000,
                      "chat": {"id": int(fields["chat_id"]), "type": "private"},
                      "text": fields.get("text", "")}
        else:
            result = True
        return web.json_response({"ok": True, "result": result})

    def sent(self, method: str) -> list[dict]:
        return [fields for name, fields in self.calls if name == method]


@pytest_asyncio.fixture
async def bot_api():
    fake = FakeBotApi()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    await runner.cleanup()


@pytest.fixture
def telegram_env(monkeypatch, bot_api):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "upwell_knee_bot")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://bot.clinic.example/webhooks/telegram/webhook")
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", SECRET)
    monkeypatch.setenv("TELEGRAM_API_URL", bot_api.url)


@pytest_asyncio.fixture
async def bot(telegram_env):
    async with serve_bot(clinic_script) as running:
        yield running.url, running.agent


def message_update(text: str, update_id: int = 10000) -> dict:
    person = {"id": CHAT_ID, "is_bot": False, "first_name": "Sam"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1365, "date": 1700000000, "text": text, "from": person,
            "chat": {"id": CHAT_ID, "type": "private", "first_name": "Sam"},
        },
    }


def button_update(payload: str) -> dict:
    person = {"id": CHAT_ID, "is_bot": False, "first_name": "Sam"}
    bot_message = {"message_id": 1366, "date": 1700000000, "text": "Does it hurt?",
                   "chat": {"id": CHAT_ID, "type": "private"}}
    return {
        "update_id": 10001,
        "callback_query": {"id": "4382bfdwdsb323b2d9", "from": person, "message": bot_message,
                           "chat_instance": "-12345", "data": payload},
    }


async def post_update(base_url: str, update: dict, secret: str | None = SECRET) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base_url}/webhooks/telegram/webhook", json=update,
                                headers=headers) as reply:
            return reply.status


async def test_webhook_is_registered_with_the_secret_token_at_start(bot, bot_api):
    assert bot_api.sent("setWebhook") == [
        {"url": "https://bot.clinic.example/webhooks/telegram/webhook", "secret_token": SECRET}
    ]


async def test_message_is_answered_through_the_bot_api(bot, bot_api):
    base_url, agent = bot
    assert await post_update(base_url, message_update("hello")) == 200

    assert [(m.text, m.sender_id) for m in agent.received] == [("hello", str(CHAT_ID))]
    assert [(m["chat_id"], m["text"]) for m in bot_api.sent("sendMessage")] == [
        (str(CHAT_ID), "You said hello")
    ]


async def test_buttons_stay_buttons_and_a_tap_sends_the_payload(bot, bot_api):
    base_url, agent = bot
    await post_update(base_url, message_update("my knee hurts"))
    keyboard = json.loads(bot_api.sent("sendMessage")[0]["reply_markup"])["inline_keyboard"]
    assert [(b["text"], b["callback_data"]) for row in keyboard for b in row] == [
        ("Yes", "/affirm"), ("No", "/deny"), ("Not sure", "/out_of_scope")
    ]

    await post_update(base_url, button_update("/deny"))
    assert agent.received[-1].text == "/deny"


async def test_alert_marker_is_not_sent_as_a_message(bot, bot_api):
    base_url, _ = bot
    await post_update(base_url, message_update("crushing chest pain"))
    # Rasa's Telegram output sends each paragraph as its own message.
    assert [m["text"] for m in bot_api.sent("sendMessage")] == CHEST_PAIN_ALERT["text"].split("\n\n")


@pytest.mark.parametrize("secret", [None, "", "wrong-secret"], ids=["missing", "empty", "wrong"])
async def test_update_without_the_secret_token_is_refused(bot, bot_api, secret):
    base_url, agent = bot
    assert await post_update(base_url, message_update("hello"), secret=secret) == 403
    assert agent.received == []
    assert bot_api.sent("sendMessage") == []


async def test_secret_check_guards_only_the_telegram_webhook(bot):
    base_url, agent = bot
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base_url}/webhooks/rest/webhook",
                                json={"sender": "s1", "message": "hello"}) as reply:
            assert reply.status == 200
    assert [m.text for m in agent.received] == ["hello"]


async def test_channel_is_off_until_its_variables_are_set(monkeypatch):
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_USERNAME", "TELEGRAM_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    async with serve_bot(clinic_script) as running:
        assert await post_update(running.url, message_update("hello")) == 503
    assert running.agent.received == []


async def test_only_telegram_posting_updates_is_served_and_nobody_can_re_register_the_webhook(bot, bot_api):
    base_url, agent = bot
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/webhooks/telegram/webhook") as reply:
            assert (reply.status, reply.headers.get("Allow")) == (405, "POST")
        for method in ("GET", "POST"):
            async with session.request(method, f"{base_url}/webhooks/telegram/set_webhook") as reply:
                assert reply.status == 404
    assert len(bot_api.sent("setWebhook")) == 1, "only the registration at start-up"
    assert await post_update(base_url, message_update("hello")) == 200, "updates still get through"


# --- fair use (channels/fair_use.py) -------------------------------------------------------------

async def test_past_the_limit_the_person_is_told_once_and_a_red_flag_still_goes_through(
        telegram_env, bot_api, monkeypatch):
    from bot.redflags import warm_up
    from channels.settings import RATE_LIMITED

    warm_up()  # as the Rasa server does when the model loads
    monkeypatch.setenv("FAIR_USE_CONVERSATION_LIMIT", "2/minute")
    async with serve_bot(clinic_script) as running:
        statuses = [await post_update(running.url, message_update(text, update_id=20000 + n))
                    for n, text in enumerate(("hello", "again", "and again", "once more", "crushing chest pain"))]

    assert statuses == [200] * 5  # Telegram delivers an update again until it gets a 2xx
    assert [m.text for m in running.agent.received] == ["hello", "again", "crushing chest pain"]
    assert [m["text"] for m in bot_api.sent("sendMessage")] == [
        "You said hello", "You said again", RATE_LIMITED, *CHEST_PAIN_ALERT["text"].split("\n\n")]


def photo_update(caption: str | None = None) -> dict:
    update = message_update("")
    message = update["message"]
    del message["text"]
    message["photo"] = [{"file_id": "AgACAgQAAxkBAAIB", "file_unique_id": "AQADx", "width": 90, "height": 67}]
    if caption is not None:
        message["caption"] = caption
    return update


async def test_a_photo_with_no_words_is_answered_with_how_to_reach_the_bot_not_silence(bot, bot_api, caplog):
    from channels.settings import TEXT_ONLY

    base_url, agent = bot
    assert await post_update(base_url, photo_update()) == 200
    assert agent.received == []
    assert [(m["chat_id"], m["text"]) for m in bot_api.sent("sendMessage")] == [(str(CHAT_ID), TEXT_ONLY)]
    assert "AgACAgQAAxkBAAIB" not in caplog.text  # the message itself is never logged


async def test_a_photo_with_words_under_it_is_read_as_a_message(bot, bot_api):
    base_url, agent = bot
    assert await post_update(base_url, photo_update(caption="my knee is swollen")) == 200
    assert [m.text for m in agent.received] == ["my knee is swollen"]
