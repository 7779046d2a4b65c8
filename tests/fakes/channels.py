"""Test doubles for exercising the channels without a trained model or a platform account.

- `ScriptedAgent` stands in for Rasa's `Agent`: it keeps a real in-memory tracker store (so a
  numbered reply is mapped from real tracker events) and answers each message from a script,
  through the channel's own output channel, the way the processor does.
- `serve_bot` builds the app the way `rasa run` does (credentials.yml, `configure_app`) around
  a `ScriptedAgent` and serves it on a free local port.
- `RecordingHTTPAdapter` is the network boundary of the SDKs built on `requests` (Twilio,
  fbmessenger): it records each outgoing call and answers as the platform would.
"""
from __future__ import annotations

import json
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Optional, Union
from urllib.parse import parse_qs, urlsplit

import requests
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.run import configure_app, create_http_input_channels
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Sanic

Reply = dict[str, Any]
CREDENTIALS_FILE = Path(__file__).resolve().parents[2] / "credentials.yml"

STAIRS_QUESTION: Reply = {
    "text": "Does it hurt more going down stairs?",
    "buttons": [
        {"title": "Yes", "payload": "/affirm"},
        {"title": "No", "payload": "/deny"},
        {"title": "Not sure", "payload": "/out_of_scope"},
    ],
}
CHEST_PAIN_ALERT: Reply = {
    "text": "This could be serious. Please call 000 now for an ambulance.\n\nDon't drive yourself.",
    "custom": {"alert": "emergency", "call": "000"},
}
TWO_PARAGRAPHS: Reply = {"text": "Runner's knee is common.\n\nIt often gets better with exercise."}


def clinic_script(text: str) -> list[Reply]:
    """Replies shaped like the real bot's: a question with buttons, alerts, plain answers."""
    if "knee" in text:
        return [STAIRS_QUESTION]
    if "chest" in text:
        return [CHEST_PAIN_ALERT]
    if "numb" in text:  # an alert marked in the response's metadata instead of `custom`
        return [{"text": "Please see a GP within 24 hours.", "metadata": {"alert": "urgent"}}]
    if "tell me more" in text:
        return [TWO_PARAGRAPHS]
    return [{"text": f"You said {text}"}]


class ScriptedAgent:
    """Answers every message with `script(text)`, recording the messages and the tracker."""

    def __init__(self, script: Callable[[str], list[Reply]]) -> None:
        self.script = script
        self.tracker_store = InMemoryTrackerStore(Domain.empty())
        self.received: list[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, input_channel=message.input_channel))
        for reply in self.script(message.text or ""):
            data = {key: reply.get(key) for key in ("buttons", "quick_replies", "custom")}
            tracker.update(BotUttered(reply.get("text"), data=data))
            # send_response pops keys, so it gets a copy.
            await message.output_channel.send_response(message.sender_id, dict(reply))
        await self.tracker_store.save(tracker)


@asynccontextmanager
async def serve_app(app: Sanic) -> AsyncIterator[str]:
    """Runs `app` on 127.0.0.1 on a free port and yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()
        sock.close()


@dataclass
class BotUnderTest:
    url: str
    agent: ScriptedAgent
    channels: list[InputChannel]
    app: Sanic


@asynccontextmanager
async def serve_bot(
    script: Callable[[str], list[Reply]],
    cors: Union[str, list[str], None] = None,
    tune: Optional[Callable[[list[InputChannel]], None]] = None,
) -> AsyncIterator[BotUnderTest]:
    """Serves the channels of credentials.yml, as `rasa run` would, around a scripted agent.

    Channels read their settings from the environment when they are created, so set it first.
    """
    Sanic.test_mode = True  # Rasa names every app alike; Sanic refuses that outside test mode.
    channels = create_http_input_channels(None, str(CREDENTIALS_FILE))
    app = configure_app(channels, cors=cors, enable_api=False)
    app.ctx.agent = ScriptedAgent(script)
    if tune is not None:
        tune(channels)
    async with serve_app(app) as url:
        yield BotUnderTest(url=url, agent=app.ctx.agent, channels=channels, app=app)


@dataclass
class RecordedCall:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


@dataclass
class RecordingHTTPAdapter(requests.adapters.BaseAdapter):
    """A `requests` transport that records calls and answers with a canned JSON body."""

    status: int = 201
    answer: Callable[["RecordedCall"], Any] = lambda call: {"sid": "SM00000000000000000000000000000000"}
    calls: list[RecordedCall] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        body = request.body or b""
        call = RecordedCall(
            method=request.method or "",
            url=request.url or "",
            headers=dict(request.headers),
            body=body.encode() if isinstance(body, str) else body,
        )
        self.calls.append(call)
        reply = requests.Response()
        reply.status_code = self.status
        reply._content = json.dumps(self.answer(call)).encode()
        reply.headers["Content-Type"] = "application/json"
        reply.url = call.url
        reply.request = request
        return reply

    def close(self) -> None:
        pass

    def install(self, monkeypatch: Any) -> "RecordingHTTPAdapter":
        """Routes every `requests` call in the process through this adapter for one test."""
        adapter = self

        def send(_self: Any, request: requests.PreparedRequest, **kwargs: Any) -> Any:
            return adapter.send(request, **kwargs)

        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
        return self
