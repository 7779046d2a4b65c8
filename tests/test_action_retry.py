"""A call to the action server whose connection drops is sent once more (components/action_retry.py).

The action server here is a real HTTP server on a free local port that drops connections on
purpose (closes them before answering), then answers as rasa_sdk does.
"""
from __future__ import annotations

import asyncio
import json

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

import components  # noqa: F401  (installs the retry, as loading the model does)
from components.action_retry import RetryOnDroppedConnection

ANSWER = {"events": [], "responses": [{"text": "Which part of the knee hurts?"}]}


class FlakyActionServer:
    """Answers HTTP requests after dropping the first `drops` connections.

    `when`: "at_once" closes a connection as soon as it is accepted; "after_request" reads the
    whole request first (the action server got it, then the connection went).
    """

    def __init__(self, drops: int, when: str = "after_request", status: int = 200) -> None:
        self.drops, self.when, self.status = drops, when, status
        self.connections = 0
        self.requests: list[dict] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        dropping = self.connections <= self.drops
        if dropping and self.when == "at_once":
            writer.transport.abort()
            return
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        body = json.loads(await reader.readexactly(length))
        self.requests.append(body)
        if dropping:
            writer.transport.abort()
            return
        payload = json.dumps(ANSWER if self.status == 200 else {"error": "boom"}).encode()
        writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode() + payload)
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/webhook"

    async def __aexit__(self, *_) -> None:
        self.server.close()
        await self.server.wait_closed()


async def run_action(url: str) -> list:
    domain = Domain.empty()
    action = RemoteAction("action_triage_summary", EndpointConfig(url))
    tracker = DialogueStateTracker("patient-1", domain.slots)
    return await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses),
                            tracker, domain)


@pytest.mark.parametrize("when", ["at_once", "after_request"])
async def test_a_dropped_connection_is_tried_once_more_and_the_patient_gets_the_answer(when):
    server = FlakyActionServer(drops=1, when=when)
    async with server as url:
        events = await run_action(url)
    assert [e.text for e in events if isinstance(e, BotUttered)] == ["Which part of the knee hurts?"]
    assert server.connections == 2
    if when == "after_request":  # the same call both times: same conversation, same message
        assert server.requests[0] == server.requests[1]


async def test_only_once_a_second_drop_fails_the_action_as_before():
    server = FlakyActionServer(drops=2)
    async with server as url:
        with pytest.raises(RasaException):
            await run_action(url)
    assert server.connections == 2


async def test_an_answer_from_the_action_server_is_never_retried():
    server = FlakyActionServer(drops=0, status=500)
    async with server as url:
        with pytest.raises(RasaException):
            await run_action(url)
    assert server.connections == 1


def test_every_remote_action_gets_the_retry_and_keeps_its_endpoint_settings():
    endpoint = EndpointConfig("http://actions:5055/webhook", headers={"X-Action-Token": "t"})
    action = RemoteAction("action_x", endpoint)
    assert isinstance(action.action_endpoint, RetryOnDroppedConnection)
    assert (action.action_endpoint.url, action.action_endpoint.headers) == (endpoint.url, endpoint.headers)
    assert RemoteAction("action_x", None).action_endpoint is None
