"""Browser-test fixtures: Debian's chromium through Playwright, the demo page, a fake bot.

The fake bot is a python-socketio server that speaks exactly what the real bot's web chat
channel sends (`channels/webchat.py`): so the widget's rendering, history, alerts, keyboard use
and accessibility are tested without a trained model. The end-to-end tests use the lead's
`bot_stack` fixture instead.
"""
from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
import socketio
from aiohttp import web

from widget_support import CHROMIUM, CHROMIUM_ARGS, DESKTOP, load_serve_web


# ---------------------------------------------------------------- the fake bot

GREETING = {
    "text": "Hi, I'm the Upwell Health knee helper. I'm a chatbot, not a person. I'm not for "
            "emergencies: if you need urgent help, call 000.",
    "quick_replies": [
        {"content_type": "text", "title": "My knee hurts", "payload": "/knee_pain_general"},
        {"content_type": "text", "title": "What is runner's knee?", "payload": "/ask_what_is_pfps"},
    ],
}
STAIRS = {
    "text": "Thanks for telling me. Does it hurt more going down stairs than going up?",
    "quick_replies": [
        {"content_type": "text", "title": "Yes", "payload": "/affirm"},
        {"content_type": "text", "title": "No", "payload": "/deny"},
        {"content_type": "text", "title": "Not sure", "payload": "/out_of_scope"},
    ],
}
CHEST_PAIN = {
    "text": "This could be serious. Please call 000 now for an ambulance. Chest pain or pressure "
            "needs help straight away. Don't drive yourself.",
    "custom": {"alert": "emergency", "call": "000"},
}
CRISIS = {
    "text": "I'm really sorry you're feeling like this. If you might act on these thoughts, call "
            "000 now. You can talk to Lifeline any time on 13 11 14.",
    "custom": {"alert": "crisis", "call": "131114"},
}
WHERE = {
    "text": "Where on the knee is the pain? Tap one, or tell me in your own words.",
    "quick_replies": [
        {"content_type": "text", "title": title, "payload": f"/inform_location_{n}"}
        for n, title in enumerate(["Around the kneecap", "Behind the kneecap",
                                   "Just below the kneecap", "Inner side", "Outer side",
                                   "Back of the knee", "All over", "Skip"])
    ],
}
UNMARKED_ESCALATION = {"text": "Please call 000 now. Don't wait."}
TRICKY_TEXT = {
    "text": "<img src=x onerror=\"window.__xss=1\"> **Keep moving** gently. "
            "Read [our guide](https://upwell.example/knee) or [this](javascript:window.__xss=2). "
            "More at https://upwell.example/faq."
}


def fake_reply(text: str) -> list[dict]:
    """What the fake bot answers: the shapes the real bot's web chat channel sends."""
    lowered = text.lower()
    if text == "/greet":
        return [GREETING]
    if "knee" in lowered or text == "/knee_pain_general":
        return [STAIRS]
    if text == "/affirm":
        return [{"text": "That's a common pattern. Many people get better with exercise."},
                {"text": "How long has it been sore?"}]
    if "chest pain" in lowered:
        return [CHEST_PAIN]
    if "hurt myself" in lowered:
        return [CRISIS]
    if "where" in lowered:
        return [{"text": "Thanks. A few questions will help me understand."}, WHERE]
    if "unmarked" in lowered:
        return [UNMARKED_ESCALATION]
    if "tricky" in lowered:
        return [TRICKY_TEXT]
    return [{"text": f"You said: {text}"}]


@dataclass
class FakeBot:
    """A socket.io server speaking Rasa's web chat protocol, recording what the widget sends."""

    allowed_origins: list[str]
    reply_delay: float = 0.0
    received: list[tuple[str, str]] = field(default_factory=list)
    session_requests: list[Optional[str]] = field(default_factory=list)

    def build(self) -> web.Application:
        sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=self.allowed_origins)
        app = web.Application()
        sio.attach(app)

        @sio.on("session_request")
        async def session_request(sid: str, data: Any) -> None:
            requested = (data or {}).get("session_id")
            self.session_requests.append(requested)
            session_id = requested or f"fake-session-{len(self.session_requests)}"
            await sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on("user_uttered")
        async def user_uttered(sid: str, data: dict) -> None:
            self.received.append((data.get("session_id"), data.get("message")))
            if self.reply_delay:
                await asyncio.sleep(self.reply_delay)
            for reply in fake_reply(data.get("message", "")):
                await sio.emit("bot_uttered", reply, room=data.get("session_id"))

        return app

    def messages(self) -> list[str]:
        return [message for _, message in self.received]


# ---------------------------------------------------------------- servers in a background loop

def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class BackgroundLoop:
    """An asyncio loop in a thread, so aiohttp servers run beside Playwright's sync API."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runners: list[web.AppRunner] = []

    def run(self, coroutine) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def serve(self, app: web.Application, sock: socket.socket) -> None:
        async def start() -> None:
            runner = web.AppRunner(app)
            await runner.setup()
            await web.SockSite(runner, sock).start()
            self.runners.append(runner)

        self.run(start())

    def close(self) -> None:
        async def stop() -> None:
            for runner in self.runners:
                await runner.cleanup()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@dataclass
class DemoSite:
    web_url: str  # the demo page (scripts/serve_web.py), which also hosts the widget files
    bot_url: str
    bot: FakeBot
    other_site_url: str  # another website that embeds the widget with one script tag


def other_site(widget_host: str, bot_url: str) -> web.Application:
    """A clinic website elsewhere: one script tag, options as data attributes, nothing else."""
    page = (
        "<!doctype html><html lang=en><head><title>Upwell Health, Fitzroy</title></head>"
        "<body><h1>Welcome to our Fitzroy clinic</h1>"
        f'<script src="{widget_host}/widget/upwell-chat.js" data-socket-url="{bot_url}" '
        'data-title="Ask about your knee" data-clinic-phone="(03) 7010 9999" defer></script>'
        "</body></html>"
    )

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    return app


@pytest.fixture(scope="session")
def demo_site() -> Iterator[DemoSite]:
    """The demo clinic page (scripts/serve_web.py) wired to a fake bot."""
    web_sock, bot_sock, other_sock = _bound_socket(), _bound_socket(), _bound_socket()
    web_url, bot_url, other_url = (
        f"http://127.0.0.1:{sock.getsockname()[1]}" for sock in (web_sock, bot_sock, other_sock)
    )
    bot = FakeBot(allowed_origins=[web_url, other_url])
    loop = BackgroundLoop()
    loop.serve(bot.build(), bot_sock)
    loop.serve(load_serve_web().make_app(rasa_url=bot_url), web_sock)
    loop.serve(other_site(web_url, bot_url), other_sock)
    yield DemoSite(web_url=web_url, bot_url=bot_url, bot=bot, other_site_url=other_url)
    loop.close()


@pytest.fixture
def site(demo_site: DemoSite) -> Iterator[DemoSite]:
    """The shared demo site, with the fake bot's records reset for this test."""
    demo_site.bot.received.clear()
    demo_site.bot.session_requests.clear()
    demo_site.bot.reply_delay = 0.0
    yield demo_site


# ---------------------------------------------------------------- the browser

# Module scope, not session: while Playwright's sync API is running it owns the main thread's
# event loop, and every async test after it (pytest-asyncio) would fail to start its own.
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is missing: apt-get update && apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser) -> Iterator[Callable[..., Any]]:
    """Opens a page in a fresh browser context (fresh storage) at the given viewport."""
    contexts = []

    def open_page(url: str, viewport: dict = DESKTOP) -> Any:
        # Reduced motion: scrolling is instant, so screenshots show where a patient would land.
        context = browser.new_context(viewport=viewport, locale="en-AU", reduced_motion="reduce")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(url)
        if url != "about:blank":
            page.wait_for_selector(".upwell-chat .uc-launcher")
        return page

    yield open_page
    for context in contexts:
        context.close()
