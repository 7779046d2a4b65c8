"""The website widget's channel: Rasa's socket.io channel with allowed origins and alerts.

Three things Rasa 3.6's `SocketIOInput` gets wrong with the locked packages or for a clinic:

- Its `session_request` handler calls `sio.enter_room(...)` without `await`; since
  python-socketio 5.10 that is a coroutine, so the socket never joins its session's room and,
  with `session_persistence: true`, the widget never gets a reply. Here the room is joined.

- It creates its socket.io server with `cors_allowed_origins=[]`, which turns Engine.IO's origin
  check off: any web page can open a socket to the bot, and Rasa's `--cors` only adds headers
  for the HTTP long-polling transport. Here the server checks the `Origin` of every connection
  (both transports) against `ALLOWED_ORIGINS` and sends the CORS headers itself.
  Rasa's `--cors` (Sanic-Cors) would add a second `Access-Control-Allow-Origin` header to the
  socket's responses, which browsers reject, so socket requests are marked as answered already.
- Its output channel sends only a message's text and buttons, and its `send_custom_json` spreads
  the payload into `sio.emit(...)` as keyword arguments. Here a red-flag response marked with
  `custom: {alert: ...}` (or `metadata: {alert: ...}`) reaches the widget as one message,
  `{"text": ..., "quick_replies": [...], "custom": {"alert": "emergency"}}`.

And two for fair use: a message past a rate limit or the cap on a conversation's length
(channels/fair_use.py) gets a `bot_uttered` event with a plain sentence instead of an answer (the
socket stays open; a red-flag message always goes through), and a `session_id` the tracker store
could not keep (over 255 characters, or unprintable) is mapped to `webchat-<hash>`
(channels/senders.py), so the conversation is stored and staff see it.

Sessions are issued and signed by the server (channels/sessions.py): the widget's `session_id` is
a token, and a conversation id alone (from a log line or a guess) neither receives that patient's
replies nor posts into their chat.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic_cors.core import SANIC_CORS_EVALUATED

from channels import fair_use as fair
from channels.alerts import alert_level, is_alert_marker
from channels.senders import storable_id
from channels.sessions import SessionSigner, log_id
from channels.settings import MAX_MESSAGE_CHARS, TOO_LONG, allowed_origins

logger = logging.getLogger(__name__)


class WebChatOutput(SocketIOOutput):
    """Sends bot messages to the widget's socket room, alerts as one marked message."""

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        level = alert_level(message)
        if level is None:
            await super().send_response(recipient_id, message)
            return

        custom = message.pop("custom", None)
        marker = dict(custom) if isinstance(custom, dict) else {}
        marker["alert"] = level
        alert: dict[str, Any] = {"text": (message.pop("text", None) or "").strip()}
        buttons = message.pop("quick_replies", None) or message.pop("buttons", None)
        if buttons:
            alert["quick_replies"] = [
                {"content_type": "text", "title": b["title"], "payload": b["payload"]} for b in buttons
            ]
        alert["custom"] = marker
        # One message, not one per paragraph: the widget shows an alert as a single card.
        await self._send_message(recipient_id, alert)

        message.pop("metadata", None)
        await super().send_response(recipient_id, message)  # any image or attachment

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        if is_alert_marker(json_message):
            return
        await super().send_custom_json(recipient_id, json_message, **kwargs)


class WebChatInput(SocketIOInput):
    """Socket.io input for the widget; allowed origins come from `ALLOWED_ORIGINS`."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            credentials.get("session_persistence", False),
            credentials.get("socketio_path", "/socket.io"),
            credentials.get("jwt_key"),
            credentials.get("jwt_method", "HS256"),
            credentials.get("metadata_key", "metadata"),
            origins=allowed_origins(),
        )

    def __init__(self, *args: Any, origins: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.origins = list(origins) if origins is not None else allowed_origins()

    def get_output_channel(self) -> OutputChannel | None:
        if self.sio is None:
            return super().get_output_channel()
        return WebChatOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        socketio_webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None  # set by super().blueprint

        sio.eio.cors_allowed_origins = "*" if "*" in self.origins else self.origins
        logger.info(f"Web chat accepts sockets from: {', '.join(self.origins)}.")
        socketio_path = self.socketio_path or "/socket.io"
        fair_use = fair.attach(socketio_webhook)

        def address_of(sid: str) -> str | None:
            environ = sio.get_environ(sid, namespace=self.namespace) or {}
            request = environ.get("sanic.request")  # the request that opened the socket
            return fair.network_address(request) if request is not None else None

        async def join(sid: str, session_id: str) -> None:
            joined = sio.enter_room(sid, session_id, namespace=self.namespace)
            if inspect.isawaitable(joined):
                await joined

        async def leave_cors_to_engineio(request: Request) -> None:
            if request.path.startswith(socketio_path):
                setattr(request.ctx, SANIC_CORS_EVALUATED, "1")

        @socketio_webhook.listener("before_server_start")
        async def register_cors_marker(app: Sanic, _loop: Any) -> None:
            app.register_middleware(leave_cors_to_engineio, "request")

        # Replaces Rasa's handler, which does not await the room join (see the module doc).
        signer = SessionSigner.from_env()

        async def new_session(sid: str) -> str:
            """A new conversation for this socket: its room joined, its signed token confirmed."""
            conversation_id, token = signer.new_token()
            if self.session_persistence:
                await join(sid, conversation_id)
            await sio.emit("session_confirm", token, room=sid, namespace=self.namespace)
            return conversation_id

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            conversation_id = signer.conversation_of(data.get("session_id"))
            if conversation_id is None:  # none, or not one this server issued: a new conversation
                await new_session(sid)
                return
            if self.session_persistence:
                await join(sid, conversation_id)
            await sio.emit("session_confirm", data["session_id"], room=sid, namespace=self.namespace)

        # Replaces Rasa's handler of the same event, which hard-wires its own output channel.
        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any) -> None:
            if not isinstance(data, dict):
                return
            if self.session_persistence:
                conversation_id = signer.conversation_of(data.get("session_id"))
                if conversation_id is None:
                    # Not a token this server issued (a guessed or copied id, or a secret that
                    # changed): the message is answered in a new conversation of its own.
                    conversation_id = await new_session(sid)
                    logger.warning("webchat.unsigned_session new=%s", log_id(conversation_id))
                sender_id = storable_id(conversation_id, "webchat")
            else:
                sender_id = sid

            text = data.get("message")
            if not isinstance(text, str):
                return
            if len(text) > MAX_MESSAGE_CHARS:
                # Refused whole with a plain "please split it", never cut (the widget keeps it).
                await sio.emit(self.bot_message_evt, {"text": TOO_LONG}, room=sender_id, namespace=self.namespace)
                return
            metadata = data.get(self.metadata_key) or {}
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = {}
            message = UserMessage(
                text,
                WebChatOutput(sio, self.bot_message_evt),
                sender_id,
                input_channel=self.name(),
                metadata=metadata if isinstance(metadata, dict) else {},
            )
            if await fair_use().gate(message, address_of(sid), tell_every_time=True):
                await on_new_message(message)

        return socketio_webhook
