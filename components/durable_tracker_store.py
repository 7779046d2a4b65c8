"""Rasa's SQL tracker store, made safe for production: a message is stored, or nobody is told it was.

Rasa 3.6 wraps every tracker store in `FailSafeTrackerStore`, which catches any `Exception`:

- a failed `retrieve` returns None, so the message is handled as the first of a *new*
  conversation (the triage record, red flags included, is forgotten for that turn);
- a failed `save` is written to a per-process in-memory store instead, and the channel still
  answers 200. The message is acknowledged and never reaches PostgreSQL.

Both happen on every PostgreSQL restart or fail-over. This store:

- checks connections before use (`pool_pre_ping`), so the first request after a database
  restart does not fail on a dead pooled connection;
- retries transient database errors (connection refused, connection dropped mid-query) with
  backoff for up to `TRACKER_STORE_RETRY_SECONDS` (default 20), without blocking the event loop
  between attempts, so a restart of a few seconds only delays replies;
- after that, raises `TrackerStoreUnavailable`. It derives from `BaseException` on purpose: it
  is the only way through `FailSafeTrackerStore`'s `except Exception`. Message handling stops,
  nothing is half-saved, and the REST channel (`channels.rest.AcknowledgedRestInput`) answers
  503 so the client knows to send the message again.

A retried save is idempotent: like Rasa's own store it counts the events already stored for the
conversation and inserts only the rest, so a commit that succeeded just before the connection
dropped is not written twice. Conversations are never saved concurrently: the Redis lock store
serialises messages of one conversation across workers and instances.

Configure in endpoints.production.yml (every key of Rasa's `type: SQL` store works; `url` may
be a full SQLAlchemy URL):

    tracker_store:
      type: components.durable_tracker_store.DurableSQLTrackerStore
      url: ${TRACKER_DB_URL}

Logs carry conversation ids and error class names only, never SQL parameters (which hold what
patients wrote).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Optional, TypeVar

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import exc as sa_exc

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_RETRY_SECONDS = 20.0
# Upper bound between two attempts: a restarted PostgreSQL is noticed within this much.
MAX_BACKOFF_SECONDS = 1.0
# A hung database must not freeze the worker: SQLAlchemy calls block the event loop.
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 15000

# Errors that mean "the database is (briefly) not there", worth another attempt. A programming
# error or a constraint violation is not: retrying would only hide a bug.
TRANSIENT_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError)


class TrackerStoreUnavailable(BaseException):
    """The tracker store could not be reached within the retry budget.

    A `BaseException` so that Rasa's `FailSafeTrackerStore` cannot turn it into a silent
    in-memory fallback; channels that acknowledge messages catch it (see module docstring).
    """

    code = "tracker_store_unavailable"

    def __init__(self, operation: str, sender_id: Optional[str], cause: BaseException) -> None:
        super().__init__(f"{operation} failed for conversation {sender_id!r}: {type(cause).__name__}")
        self.operation = operation
        self.sender_id = sender_id
        self.cause_name = type(cause).__name__


def retry_budget_seconds(environ: Mapping[str, str] = os.environ) -> float:
    raw = environ.get("TRACKER_STORE_RETRY_SECONDS", "").strip()
    if not raw:
        return DEFAULT_RETRY_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"TRACKER_STORE_RETRY_SECONDS must be a number of seconds, not {raw!r}") from None
    if value < 0:
        raise ValueError("TRACKER_STORE_RETRY_SECONDS must be 0 or more")
    return value


def is_transient(error: BaseException) -> bool:
    if isinstance(error, TRANSIENT_ERRORS):
        return True
    return isinstance(error, sa_exc.DBAPIError) and bool(error.connection_invalidated)


def durable_engine_kwargs(url: Any) -> dict[str, Any]:
    """Rasa's engine settings (pool size, PostgreSQL schema) plus pre-ping and timeouts."""
    kwargs = create_engine_kwargs(url)
    kwargs["pool_pre_ping"] = True
    if sa.engine.make_url(url).get_backend_name() in {"postgresql", "postgres"}:
        connect_args = dict(kwargs.get("connect_args") or {})
        options = connect_args.get("options", "")
        connect_args["options"] = f"{options} -c statement_timeout={STATEMENT_TIMEOUT_MS}".strip()
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        kwargs["connect_args"] = connect_args
    return kwargs


class DurableSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that retries transient database errors and never fails silently."""

    engine: Any  # SQLAlchemy's Engine: Rasa's first, rebuilt below (SQLAlchemy 1.4 has no types)

    def __init__(self, *args: Any, retry_seconds: Optional[float] = None, **kwargs: Any) -> None:
        # Rasa's constructor waits (blocking, at start-up only) until the database answers and
        # creates the `events` table; the engine is then rebuilt with production settings.
        super().__init__(*args, **kwargs)
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, **durable_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        self.retry_seconds = retry_budget_seconds() if retry_seconds is None else float(retry_seconds)

    async def _with_retries(self, operation: str, sender_id: Optional[str], attempt: Callable[[], Awaitable[T]]) -> T:
        deadline = time.monotonic() + self.retry_seconds
        backoff = 0.05
        tries = 0
        while True:
            tries += 1
            try:
                result = await attempt()
            except Exception as error:  # any error: sorted into transient or not below
                if not is_transient(error):
                    raise
                if time.monotonic() + backoff > deadline:
                    logger.error(
                        "tracker_store.unavailable operation=%s conversation=%s attempts=%d error=%s",
                        operation,
                        sender_id,
                        tries,
                        type(error).__name__,
                    )
                    raise TrackerStoreUnavailable(operation, sender_id, error) from None
                logger.warning(
                    "tracker_store.retry operation=%s conversation=%s attempt=%d error=%s",
                    operation,
                    sender_id,
                    tries,
                    type(error).__name__,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if tries > 1:
                logger.info(
                    "tracker_store.recovered operation=%s conversation=%s attempts=%d", operation, sender_id, tries
                )
            return result

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        parent = super()._retrieve
        return await self._with_retries(
            "retrieve", sender_id, lambda: parent(sender_id, fetch_events_from_all_sessions)
        )

    async def save(self, tracker: DialogueStateTracker) -> None:
        # Rasa's SQLTrackerStore.save first calls `stream_events`, which, with an event broker
        # configured (staff alerts are), retrieves the whole stored conversation again and
        # replays every event into a tracker only to learn how many events are new. The same
        # answer is the number of stored events of the current session, which the insert needs
        # anyway: one COUNT instead of a second full load, in the same transaction. New events
        # still go to the broker once, before they are stored (as in Rasa); only the database
        # part is retried.
        published = False

        async def attempt() -> None:
            nonlocal published
            with self.session_scope() as session:
                new_events = list(self._additional_events(session, tracker))
                if not published:
                    published = True
                    if self.event_broker is not None:
                        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
                for event in new_events:
                    data = event.as_dict()
                    session.add(
                        self.SQLEvent(
                            sender_id=tracker.sender_id,
                            type_name=event.type_name,
                            timestamp=data.get("timestamp"),
                            intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                            action_name=data.get("name"),
                            data=json.dumps(data),
                        )
                    )
                session.commit()

        await self._with_retries("save", tracker.sender_id, attempt)

    async def keys(self) -> Iterable[str]:
        parent = super().keys
        return await self._with_retries("keys", None, parent)
