"""Calls to the action server are sent once more when the connection drops.

Rasa 3.6's `RemoteAction.run` posts the tracker to the action server once: when the connection
is dropped ("Cannot write to closing transport", `ServerDisconnectedError`, a connection reset
or refused), the action fails, Rasa logs it and carries on, and the patient gets the apology
instead of the next question. Such drops happen when the action server restarts or closes a
connection under load, and a second try a moment later usually goes through.

`install()` wraps the action endpoint of every `RemoteAction` (forms' validation actions
included) in `RetryOnDroppedConnection`, which sends the same request once more on a dropped
connection, and only then:

- the request is the same JSON (the same tracker, the same message id), and every action of this
  project can run twice for one message: the booking and call-back requests are stored under the
  confirming message's id (bot/booking/service.py `submit`, idempotency key), so a second call
  returns the request already stored, and every other action only reads the tracker and answers;
- a time-out is not retried (the action may still be running), and neither is any answer from
  the action server (an HTTP error means it was reached and decided).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import aiohttp
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

# Rasa's own constructor, for the tests to compare against.
RASA_INIT = RemoteAction.__init__


def is_dropped_connection(error: BaseException) -> bool:
    """A connection that failed or closed before an answer came; not a time-out."""
    return isinstance(error, aiohttp.ClientConnectionError) and not isinstance(error, aiohttp.ServerTimeoutError)


class RetryOnDroppedConnection(EndpointConfig):
    """The same endpoint; a request whose connection drops is sent once more."""

    @classmethod
    def wrap(cls, endpoint: Optional[EndpointConfig]) -> Optional[EndpointConfig]:
        if endpoint is None or isinstance(endpoint, cls):
            return endpoint
        wrapped = cls.__new__(cls)
        wrapped.__dict__.update(endpoint.__dict__)
        return wrapped

    async def request(self, *args: Any, **kwargs: Any) -> Optional[Any]:
        try:
            return await super().request(*args, **kwargs)
        except aiohttp.ClientConnectionError as error:
            if not is_dropped_connection(error):
                raise
            logger.warning(
                "action_server.connection_dropped error=%s: sending the call once more", type(error).__name__
            )
        return await super().request(*args, **kwargs)


def _init(self: RemoteAction, name: str, action_endpoint: Optional[EndpointConfig]) -> None:
    RASA_INIT(self, name, RetryOnDroppedConnection.wrap(action_endpoint))


def install() -> None:
    """Every RemoteAction made from now on retries a dropped call once."""
    RemoteAction.__init__ = _init
