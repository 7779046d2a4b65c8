"""The widget's socket.io channel: sessions, allowed origins, buttons and red-flag alerts.

A real socket.io client talks to the app built from credentials.yml, as the widget does. It uses
HTTP long-polling: python-engineio 4.15's websocket client needs aiohttp 3.10+ (the lock has
3.9.5). The browser tests cover the websocket transport.
"""
from __future__ import annotations

import asyncio

import aiohttp
import pytest
import pytest_asyncio
import socketio

from fakes.channels import CHEST_PAIN_ALERT, clinic_script, serve_bot

PAGE = "http://localhost:8080"
def quick_hang_up(channels) -> None:
    """A long-poll ends at the next ping or its timeout: 1 s, not 25 + 20 s, per closed client."""
    for channel in channels:
        if channel.name() == "socketio":
            channel.sio.eio.ping_interval = channel.sio.eio.ping_timeout = 1


def start_bot(cors=None):
    return serve_bot(clinic_script, cors=cors, tune=quick_hang_up)


@pytest_asyncio.fixture
async def bot(monkeypatch):
    monkeypatch.delenv("ALLOWED_ORIGINS", raising=False)
    async with start_bot() as running:
        yield running.url, running.agent


class WidgetClient:
    """Speaks the widget's side of the protocol and collects what the bot sends."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.session_id: str | None = None
        self.received: asyncio.Queue = asyncio.Queue()
        self.sio.on("bot_uttered", self.received.put_nowait)
        self._confirmed = asyncio.Event()

        @self.sio.on("session_confirm")
        def confirm(session_id):
            self.session_id = session_id
            self._confirmed.set()

    async def open(self, base_url: str, origin: str = PAGE, session_id: str | None = None):
        await self.sio.connect(base_url, headers={"Origin": origin}, transports=["polling"])
        await self.sio.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(self._confirmed.wait(), 5)
        return self

    async def say(self, text: str) -> None:
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})

    async def replies(self, count: int) -> list[dict]:
        return [await asyncio.wait_for(self.received.get(), 5) for _ in range(count)]

    async def close(self) -> None:
        await self.sio.disconnect()


async def test_message_gets_a_reply_split_into_bubbles(bot):
    base_url, agent = bot
    widget = await WidgetClient().open(base_url)
    await widget.say("tell me more")

    assert await widget.replies(2) == [
        {"text": "Runner's knee is common."}, {"text": "It often gets better with exercise."}
    ]
    assert agent.received[0].sender_id == widget.session_id.split(".")[0]  # the token's conversation
    assert agent.received[0].input_channel == "socketio"
    await widget.close()


async def test_buttons_arrive_as_quick_replies(bot):
    base_url, _ = bot
    widget = await WidgetClient().open(base_url)
    await widget.say("my knee hurts going down stairs")

    [reply] = await widget.replies(1)
    assert reply["text"] == "Does it hurt more going down stairs?"
    assert [(q["title"], q["payload"]) for q in reply["quick_replies"]] == [
        ("Yes", "/affirm"), ("No", "/deny"), ("Not sure", "/out_of_scope")
    ]
    await widget.close()


async def test_red_flag_reply_arrives_as_one_marked_alert(bot):
    base_url, _ = bot
    widget = await WidgetClient().open(base_url)
    await widget.say("I have crushing chest pain")

    [reply] = await widget.replies(1)
    assert reply == CHEST_PAIN_ALERT  # one message, paragraphs kept together, marker included
    await asyncio.sleep(0.2)
    assert widget.received.empty()  # the marker is not sent again on its own
    await widget.close()


async def test_alert_marked_in_response_metadata_reaches_the_widget(bot):
    base_url, _ = bot
    widget = await WidgetClient().open(base_url)
    await widget.say("my foot is numb")
    assert await widget.replies(1) == [
        {"text": "Please see a GP within 24 hours.", "custom": {"alert": "urgent"}}
    ]
    await widget.close()


async def test_a_new_page_with_the_stored_session_id_continues_the_conversation(bot):
    base_url, agent = bot
    first = await WidgetClient().open(base_url)
    session_id = first.session_id
    await first.close()

    second = await WidgetClient().open(base_url, session_id=session_id)
    assert second.session_id == session_id
    await second.say("hello")
    assert (await second.replies(1))[0]["text"] == "You said hello"
    assert agent.received[-1].sender_id == session_id.split(".")[0]
    await second.close()


async def test_a_message_without_a_session_token_is_answered_in_a_new_conversation_of_its_own(bot):
    base_url, agent = bot
    widget = await WidgetClient().open(base_url)
    first = widget.session_id
    widget._confirmed.clear()
    await widget.sio.emit("user_uttered", {"message": "hello"})
    assert (await widget.replies(1))[0]["text"] == "You said hello"  # never silent
    await asyncio.wait_for(widget._confirmed.wait(), 5)
    assert widget.session_id != first and agent.received[-1].sender_id == widget.session_id.split(".")[0]
    await widget.close()


async def test_pages_from_other_origins_cannot_open_a_socket(bot):
    base_url, agent = bot
    widget = WidgetClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await widget.open(base_url, origin="https://copycat.example")
    assert agent.received == []


async def test_allowed_origins_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://upwell.example, https://www.upwell.example")
    async with start_bot() as running:
        widget = await WidgetClient().open(running.url, origin="https://www.upwell.example")
        await widget.close()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await WidgetClient().open(running.url, origin=PAGE)


async def test_rasa_cors_option_does_not_double_the_cors_header(monkeypatch):
    """`rasa run --cors "*"` must not break the widget's long-polling in browsers."""
    monkeypatch.delenv("ALLOWED_ORIGINS", raising=False)
    async with start_bot(cors="*") as running:
        async with aiohttp.ClientSession() as session:
            url = f"{running.url}/socket.io/?EIO=4&transport=polling"
            async with session.get(url, headers={"Origin": PAGE}) as reply:
                assert reply.status == 200
                assert reply.headers.getall("Access-Control-Allow-Origin") == [PAGE]
            async with session.get(url, headers={"Origin": "https://copycat.example"}) as reply:
                assert reply.status == 400
                assert "Access-Control-Allow-Origin" not in reply.headers


async def test_a_long_message_reaches_the_bot_whole_and_a_too_long_one_gets_split_it(bot):
    from channels.settings import MAX_MESSAGE_CHARS, TOO_LONG

    base_url, agent = bot
    widget = await WidgetClient().open(base_url)
    long_text = "my knee aches on stairs. " * 120 + "and my calf is swollen since the flight"
    assert 2000 < len(long_text) <= MAX_MESSAGE_CHARS
    await widget.say(long_text)
    await widget.replies(1)
    assert agent.received[-1].text == long_text  # not cut: the detector reads all of it

    seen = len(agent.received)
    await widget.say("x" * (MAX_MESSAGE_CHARS + 1))
    assert (await widget.replies(1))[0]["text"] == TOO_LONG
    assert len(agent.received) == seen  # refused whole, never handled cut short
    await widget.close()


def test_the_widget_holds_the_servers_message_limit():
    import re
    from pathlib import Path

    from channels.settings import MAX_MESSAGE_CHARS

    script = (Path(__file__).resolve().parents[1] / "web" / "widget" / "upwell-chat.js").read_text()
    assert int(re.search(r"var MAX_MESSAGE_CHARS = (\d+);", script).group(1)) == MAX_MESSAGE_CHARS
    assert "maxlength" not in script  # a paste is never cut by the browser


# --- fair use (channels/fair_use.py) and conversation ids ---------------------------------------

@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setenv("FAIR_USE_TRUSTED_ADDRESSES", "none")  # loopback is exempt by default
    monkeypatch.setenv("FAIR_USE_CONVERSATION_LIMIT", "2/2 seconds")
    monkeypatch.delenv("ALLOWED_ORIGINS", raising=False)
    from bot.redflags import warm_up

    warm_up()  # as the Rasa server does when the model loads; a window here is 2 seconds


async def test_past_the_limit_the_widget_is_told_to_wait_and_the_socket_stays_open(small_limits):
    from channels.settings import RATE_LIMITED

    async with start_bot() as running:
        widget = await WidgetClient().open(running.url)
        for text in ("hello one", "hello two", "hello three"):
            await widget.say(text)
        assert [r["text"] for r in await widget.replies(3)] == [
            "You said hello one", "You said hello two", RATE_LIMITED]
        assert [m.text for m in running.agent.received] == ["hello one", "hello two"]

        await asyncio.sleep(2.1)  # the window has passed: the same socket carries on
        await widget.say("hello four")
        assert (await widget.replies(1))[0]["text"] == "You said hello four"
        await widget.close()


async def test_a_red_flag_message_past_the_limit_reaches_the_bot_from_the_widget(small_limits):
    async with start_bot() as running:
        widget = await WidgetClient().open(running.url)
        for text in ("hello one", "hello two"):
            await widget.say(text)
        await widget.replies(2)
        await widget.say("I have crushing chest pain")
        assert await widget.replies(1) == [CHEST_PAIN_ALERT]
        await widget.close()


@pytest.mark.parametrize("session_id", ["s" * 300, "tab\tand\nnewline", "0123abcd", "0123abcd.forged"],
                         ids=["too-long", "unprintable", "a-bare-id", "a-forged-token"])
async def test_an_id_the_server_did_not_issue_starts_a_new_conversation(bot, session_id):
    base_url, agent = bot
    widget = await WidgetClient().open(base_url, session_id=session_id)
    assert widget.session_id != session_id and widget.session_id.count(".") == 1
    await widget.say("hello")
    assert (await widget.replies(1))[0]["text"] == "You said hello"
    assert agent.received[-1].sender_id == widget.session_id.split(".")[0]
    await widget.close()


async def test_another_patients_conversation_id_neither_receives_their_replies_nor_posts_into_their_chat(bot):
    base_url, agent = bot
    patient = await WidgetClient().open(base_url)
    conversation = patient.session_id.split(".")[0]  # what a log line or a review link could show
    intruder = await WidgetClient().open(base_url, session_id=conversation)
    assert intruder.session_id.split(".")[0] != conversation
    await intruder.sio.emit("user_uttered", {"message": "hello", "session_id": conversation})
    assert (await intruder.replies(1))[0]["text"] == "You said hello"
    assert all(m.sender_id != conversation for m in agent.received)
    await patient.say("my own message")
    assert (await patient.replies(1))[0]["text"] == "You said my own message"
    assert intruder.received.empty()  # the patient's reply went to the patient only
    await patient.close()
    await intruder.close()
