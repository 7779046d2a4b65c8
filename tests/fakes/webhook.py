"""A local HTTP receiver (aiohttp, 127.0.0.1, random port) that records signed webhook calls."""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Optional

from aiohttp import web


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict
    body: bytes


class WebhookReceiver:
    """Answers each POST with the next queued status (default 200) after an optional delay."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.delay_seconds = 0.0
        self.url = ""
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self.arrived = threading.Event()

    def start(self) -> "WebhookReceiver":
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_post("/{tail:.*}", self._handle)
            runner = web.AppRunner(app)
            self._loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}/hook"
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="webhook-receiver", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("receiver did not start")
        return self

    def stop(self) -> None:
        if self._loop:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.received.append(Received(request.path, dict(request.headers), body))
            status = self.statuses.pop(0) if self.statuses else 200
        self.arrived.set()
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        return web.json_response({"reference": f"R{len(self.received)}"}, status=status)
