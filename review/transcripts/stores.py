"""Access to the two stores this tool does not own: Rasa's SQL tracker store and the booking table.

The tracker store is opened read only: SQLite with `mode=ro`, PostgreSQL with
`default_transaction_read_only`, so a bug here cannot change a patient's conversation. The one
writer is `manage.py purge_old`, which asks for `tracker_engine(writable=True)` explicitly.

Only the `events` table's columns are relied on (Rasa 3.6 `SQLTrackerStore.SQLEvent`), so the
tool works the same whoever wrote the events: the running bot, a test, or a seeding script.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional

import sqlalchemy as sa
from django.conf import settings
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

_metadata = sa.MetaData()
# Rasa 3.6's `events` table, column for column (rasa/core/tracker_store.py, SQLEvent).
EVENTS = sa.Table(
    "events",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)

_engines: dict[tuple[str, bool], Engine] = {}
_engines_lock = threading.Lock()


class StoreUnavailable(Exception):
    """The store's database or table is not there (yet): show an empty list, not an error."""


def _build_engine(url: str, writable: bool) -> Engine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if not writable:
            # A read-only SQLite URI: the driver refuses every write, and a missing file is
            # reported rather than silently created.
            parsed = parsed.set(database=f"file:{database}?mode=ro", query={"uri": "true"})
        # NullPool: a connection per use, so a file replaced or deleted underneath is noticed.
        # The timeout waits out another process's write lock instead of failing at once.
        return sa.create_engine(parsed, poolclass=NullPool, future=True, connect_args={"timeout": 30})
    connect_args: dict[str, Any] = {}
    if backend in {"postgresql", "postgres"} and not writable:
        connect_args["options"] = "-c default_transaction_read_only=on"
    return sa.create_engine(parsed, connect_args=connect_args, pool_pre_ping=True, future=True)


def engine_for(url: str, writable: bool = False) -> Engine:
    key = (url, writable)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _build_engine(url, writable)
        return engine


def tracker_engine(writable: bool = False) -> Engine:
    return engine_for(settings.TRACKER_DB_URL, writable=writable)


def _unavailable(error: Exception) -> bool:
    """True when the error means 'no database or no table yet' rather than a real fault."""
    text = str(getattr(error, "orig", error)).lower()
    return any(
        phrase in text
        for phrase in ("no such table", "unable to open database", "does not exist", "undefinedtable")
    )


@dataclass(frozen=True)
class EventRow:
    """One row of the tracker store's `events` table, with `data` decoded on demand."""

    id: int
    sender_id: str
    type_name: str
    timestamp: Optional[float]
    intent_name: Optional[str]
    action_name: Optional[str]
    data: Optional[str]

    def payload(self) -> dict:
        if not self.data:
            return {}
        try:
            decoded = json.loads(self.data)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}


class TrackerReader:
    """Read-only queries on the tracker store."""

    def __init__(self, engine: Optional[Engine] = None) -> None:
        self.engine = engine or tracker_engine()

    def _rows(self, query) -> list[EventRow]:
        try:
            with self.engine.connect() as connection:
                return [EventRow(*row) for row in connection.execute(query)]
        except sa.exc.SQLAlchemyError as error:
            if _unavailable(error):
                raise StoreUnavailable(str(error)) from error
            raise

    def conversation_events(self, conversation_id: str) -> list[EventRow]:
        """Every event of one conversation, in the order Rasa stored them (by id)."""
        query = sa.select(*EVENTS.c).where(EVENTS.c.sender_id == conversation_id).order_by(EVENTS.c.id)
        try:
            return self._rows(query)
        except StoreUnavailable:
            return []

    def events_after(self, last_id: int, limit: int) -> list[EventRow]:
        query = sa.select(*EVENTS.c).where(EVENTS.c.id > last_id).order_by(EVENTS.c.id).limit(limit)
        return self._rows(query)

    def events_in_ranges(self, ranges: Iterable[tuple[int, int]]) -> list[EventRow]:
        conditions = [EVENTS.c.id.between(first, last) for first, last in ranges]
        if not conditions:
            return []
        query = sa.select(*EVENTS.c).where(sa.or_(*conditions)).order_by(EVENTS.c.id)
        return self._rows(query)

    def max_event_id(self) -> int:
        try:
            with self.engine.connect() as connection:
                return int(connection.execute(sa.select(sa.func.max(EVENTS.c.id))).scalar() or 0)
        except sa.exc.SQLAlchemyError as error:
            if _unavailable(error):
                return 0
            raise


# ---------------------------------------------------------------------------------------------
# Booking and call-back requests (bot/booking/store.py owns the table; staff may mark handled).

BOOKING_COLUMNS = (
    "id", "kind", "conversation_id", "created_at", "updated_at", "status", "backend", "attempts",
    "next_attempt_at", "last_error", "name", "phone", "email", "preferred_times", "location",
    "triage_level", "triage_summary", "external_ref", "delivered_at", "handled_by", "handled_at",
)
BOOKING_STATUSES = ("pending", "delivered", "failed", "handled")
BOOKING_KINDS = ("booking", "callback")


def booking_engine() -> Engine:
    return engine_for(settings.BOOKING_DB_URL, writable=True)


_booking_tables: dict[str, sa.Table] = {}


def _booking_table(engine: Engine) -> Optional[sa.Table]:
    """The booking table as it exists (reflected, so a column added later is harmless).

    Kept once found; a missing table is looked for again next time (the bot may create it).
    """
    key = str(engine.url)
    if key in _booking_tables:
        return _booking_tables[key]
    try:
        table = sa.Table("booking_requests", sa.MetaData(), autoload_with=engine)
    except sa.exc.NoSuchTableError:
        return None
    except sa.exc.SQLAlchemyError as error:
        if _unavailable(error):
            return None
        raise
    _booking_tables[key] = table
    return table


class BookingStore:
    """Booking and call-back requests. A missing table reads as no requests."""

    def __init__(self, engine: Optional[Engine] = None) -> None:
        self.engine = engine or booking_engine()
        self.table = _booking_table(self.engine)

    def _select(self, *conditions, limit: Optional[int] = None, offset: int = 0) -> list[dict]:
        if self.table is None:
            return []
        order = self.table.c.created_at if "created_at" in self.table.c else self.table.c.id
        query = sa.select(self.table).where(*conditions).order_by(order.desc())
        if limit is not None:
            query = query.limit(limit).offset(offset)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def _conditions(self, status: str = "", kind: str = "") -> list:
        conditions = []
        if status == "open":
            conditions.append(self.table.c.status != "handled")
        elif status in BOOKING_STATUSES:
            conditions.append(self.table.c.status == status)
        if kind in BOOKING_KINDS:
            conditions.append(self.table.c.kind == kind)
        return conditions

    def requests(self, status: str = "", kind: str = "", limit: int = 50, offset: int = 0) -> list[dict]:
        if self.table is None:
            return []
        return self._select(*self._conditions(status, kind), limit=limit, offset=offset)

    def count(self, status: str = "", kind: str = "") -> int:
        if self.table is None:
            return 0
        query = sa.select(sa.func.count()).select_from(self.table).where(*self._conditions(status, kind))
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar() or 0)

    def for_conversation(self, conversation_id: str) -> list[dict]:
        if self.table is None:
            return []
        return self._select(self.table.c.conversation_id == conversation_id)

    def get(self, request_id: str) -> Optional[dict]:
        if self.table is None:
            return None
        rows = self._select(self.table.c.id == request_id)
        return rows[0] if rows else None

    def signature(self) -> tuple:
        """Changes whenever a request is added, removed or updated (a cheap change check)."""
        if self.table is None:
            return ()
        columns = self.table.c
        stamp = columns.updated_at if "updated_at" in columns else columns.id
        query = sa.select(sa.func.count(), sa.func.max(stamp))
        with self.engine.connect() as connection:
            return tuple(connection.execute(query.select_from(self.table)).one())

    def flags_by_conversation(self, conversation_ids: Optional[list[str]] = None) -> dict[str, tuple[str, str]]:
        """conversation id -> (",kinds,", most pressing status) for the queue's filters, for
        every request or only those of the given conversations."""
        if self.table is None:
            return {}
        columns = self.table.c
        query = sa.select(columns.conversation_id, columns.kind, columns.status)
        rows = []
        with self.engine.connect() as connection:
            if conversation_ids is None:
                rows = connection.execute(query).all()
            for chunk in iter_chunks(conversation_ids or [], 500):
                rows += connection.execute(query.where(columns.conversation_id.in_(chunk))).all()
        kinds: dict[str, set[str]] = {}
        statuses: dict[str, set[str]] = {}
        for conversation_id, kind, status in rows:
            if not conversation_id:
                continue
            kinds.setdefault(conversation_id, set()).add(kind or "")
            statuses.setdefault(conversation_id, set()).add(status or "")
        return {
            conversation_id: (
                "," + ",".join(sorted(k for k in kinds[conversation_id] if k)) + ",",
                most_pressing_status(statuses[conversation_id]),
            )
            for conversation_id in kinds
        }

    def _stamp(self, moment: datetime) -> datetime:
        moment = moment.astimezone(timezone.utc)
        if self.engine.dialect.name == "sqlite":  # stored there as naive UTC (the store's rule)
            moment = moment.replace(tzinfo=None)
        return moment

    def purge_older_than(self, cutoff: datetime, dry_run: bool = False) -> int:
        """Delete (or with dry_run only count) the requests last updated before `cutoff`: the
        name, phone and triage summary a patient left go when their conversation does."""
        if self.table is None:
            return 0
        columns = self.table.c
        stamp = columns.updated_at if "updated_at" in columns else columns.created_at
        due = stamp < self._stamp(cutoff)
        with self.engine.begin() as connection:
            if dry_run:
                return int(connection.execute(sa.select(sa.func.count()).select_from(self.table).where(due)).scalar() or 0)
            return int(connection.execute(sa.delete(self.table).where(due)).rowcount or 0)

    def mark_handled(self, request_id: str, username: str, now: datetime) -> bool:
        """Set one request handled; False when it does not exist or was already handled.

        Same columns as bot/booking/store.py's own mark_handled: no further delivery attempt.
        """
        if self.table is None:
            return False
        columns = self.table.c
        now = self._stamp(now)
        values: dict[str, Any] = {"status": "handled"}
        for name, value in (
            ("handled_by", username), ("handled_at", now), ("updated_at", now), ("next_attempt_at", None),
        ):
            if name in columns:
                values[name] = value
        statement = (
            sa.update(self.table)
            .where(columns.id == request_id, columns.status != "handled")
            .values(**values)
        )
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount == 1


def most_pressing_status(statuses: Iterable[str]) -> str:
    """The status staff must act on first: a failed delivery, then pending, delivered, handled."""
    for status in ("failed", "pending", "delivered", "handled"):
        if status in statuses:
            return status
    return ""


def iter_chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
