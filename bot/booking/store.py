"""The durable record of every booking and call-back request (table `booking_requests`).

A request is committed here before anyone tries to deliver it, so a crash, a restart or an
outage never loses one; delivery then moves it from `pending` to `delivered` (or `failed`, for
staff to follow up), and staff mark it `handled`. The staff review tool reads the same table:
keep the column names.

Works on SQLite (the default, `var/clinic.db`) and PostgreSQL. All times are stored and
returned as UTC.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

KINDS = ("booking", "callback")
STATUSES = ("pending", "delivered", "failed", "handled")
TABLE_NAME = "booking_requests"
# The review tool and logs show last_error: keep it a short code, never a response body.
LAST_ERROR_MAX = 120


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes in and out, whatever the database does with time zones.

    SQLite has no time zone type, so values are stored there as naive UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store times must be timezone-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def booking_requests_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        TABLE_NAME,
        metadata,
        sa.Column("id", sa.String(32), primary_key=True),  # uuid hex; also the idempotency key
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=True, index=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True, index=True),
        sa.Column("last_error", sa.String(LAST_ERROR_MAX), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("preferred_times", sa.Text, nullable=True),
        sa.Column("location", sa.String(255), nullable=True),
        sa.Column("triage_level", sa.String(32), nullable=True),
        sa.Column("triage_summary", sa.Text, nullable=True),  # JSON text
        # The appointment start the patient chose from offered slots (Cliniko bookings only).
        sa.Column("slot_starts_at", UTCDateTime(), nullable=True),
        sa.Column("external_ref", sa.String(255), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("handled_by", sa.String(255), nullable=True),
        sa.Column("handled_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(f"kind IN {KINDS!r}", name="booking_requests_kind"),
        sa.CheckConstraint(f"status IN {STATUSES!r}", name="booking_requests_status"),
    )


@dataclass(frozen=True)
class BookingRequest:
    """One row of `booking_requests`. `triage_summary` is the decoded JSON (a dict)."""

    id: str
    kind: str
    conversation_id: str | None
    created_at: datetime
    updated_at: datetime
    status: str
    backend: str
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    preferred_times: str | None = None
    location: str | None = None
    triage_level: str | None = None
    triage_summary: dict | None = None
    slot_starts_at: datetime | None = None
    external_ref: str | None = None
    delivered_at: datetime | None = None
    handled_by: str | None = None
    handled_at: datetime | None = None

    def __repr__(self) -> str:  # ids and states only: the default repr would print contact details
        return (
            f"BookingRequest(id={self.id!r}, kind={self.kind!r}, status={self.status!r}, "
            f"backend={self.backend!r}, attempts={self.attempts})"
        )

    @staticmethod
    def new_id(idempotency_key: str | None = None) -> str:
        """A fresh uuid4 hex, or a stable uuid5 hex for a caller's idempotency key."""
        if idempotency_key:
            return uuid.uuid5(uuid.NAMESPACE_URL, f"upwell-booking:{idempotency_key}").hex
        return uuid.uuid4().hex


_COLUMNS = tuple(f.name for f in fields(BookingRequest))


def _to_row(request: BookingRequest) -> dict:
    row = {name: getattr(request, name) for name in _COLUMNS}
    if request.triage_summary is not None:
        row["triage_summary"] = json.dumps(request.triage_summary, sort_keys=True, ensure_ascii=False)
    return row


def _from_row(row: Mapping[str, Any]) -> BookingRequest:
    values = {name: row[name] for name in _COLUMNS}
    if values["triage_summary"]:
        values["triage_summary"] = json.loads(values["triage_summary"])
    return BookingRequest(**values)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # The Rasa server (alerts), the action server (bookings) and the staff tool share the
        # file: wait for a lock instead of failing, and let readers work while one writes.
        engine = sa.create_engine(url, future=True, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return sa.create_engine(url, future=True, pool_pre_ping=True)


class BookingStore:
    """Reads and writes `booking_requests`. Every method commits before it returns."""

    def __init__(self, url: str, schema: str | None = None, engine: Engine | None = None) -> None:
        self.engine = engine or make_engine(url)
        self.metadata = sa.MetaData(schema=schema)
        self.table = booking_requests_table(self.metadata)

    def create_all(self) -> None:
        if self.engine.url.get_backend_name() == "sqlite" and self.engine.url.database:
            from pathlib import Path

            Path(self.engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        self.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    def insert(self, request: BookingRequest) -> tuple[BookingRequest, bool]:
        """Store a new request; with an id already stored, return the stored one (and False)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(self.table.insert().values(**_to_row(request)))
            return request, True
        except IntegrityError:
            existing = self.get(request.id)
            if existing is None:
                raise
            return existing, False

    def get(self, request_id: str) -> BookingRequest | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self.table).where(self.table.c.id == request_id)).mappings().first()
        return _from_row(row) if row else None

    def list(self, statuses: Iterable[str] = STATUSES, limit: int = 500) -> list[BookingRequest]:
        query = (
            sa.select(self.table)
            .where(self.table.c.status.in_(list(statuses)))
            .order_by(self.table.c.created_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_from_row(row) for row in conn.execute(query).mappings()]

    # builtins.list: inside this class `list` is the method above.
    def due_ids(self, now: datetime, limit: int = 50) -> builtins.list[str]:
        t = self.table
        query = (
            sa.select(t.c.id)
            .where(t.c.status == "pending")
            .where(sa.or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now))
            .order_by(t.c.created_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(query)]

    def claim(self, request_id: str, now: datetime, lease: timedelta) -> BookingRequest | None:
        """Take one due request for delivery, or None if it is not due or someone else has it.

        A compare-and-set on `next_attempt_at`: the winner pushes it out by the lease, so a
        second worker (another thread, process or server) finds nothing due. If the winner
        dies mid-delivery the lease runs out and the request is tried again; the backends'
        own idempotency checks stop that retry from booking twice.
        """
        t = self.table
        with self.engine.begin() as conn:
            result = conn.execute(
                t.update()
                .where(t.c.id == request_id)
                .where(t.c.status == "pending")
                .where(sa.or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now))
                .values(attempts=t.c.attempts + 1, next_attempt_at=now + lease, updated_at=now)
            )
            if result.rowcount != 1:
                return None
            row = conn.execute(sa.select(t).where(t.c.id == request_id)).mappings().first()
        return _from_row(row)

    def update(self, request_id: str, **values: Any) -> BookingRequest:
        if "last_error" in values and values["last_error"]:
            values["last_error"] = str(values["last_error"])[:LAST_ERROR_MAX]
        with self.engine.begin() as conn:
            conn.execute(self.table.update().where(self.table.c.id == request_id).values(**values))
            row = conn.execute(sa.select(self.table).where(self.table.c.id == request_id)).mappings().first()
        return _from_row(row)

    def mark_handled(self, request_id: str, handled_by: str, now: datetime | None = None) -> BookingRequest:
        now = now or utcnow()
        return self.update(
            request_id, status="handled", handled_by=handled_by, handled_at=now, next_attempt_at=None, updated_at=now
        )


def new_request(kind: str, backend: str, now: datetime, request_id: str, **values: Any) -> BookingRequest:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    return replace(
        BookingRequest(
            id=request_id,
            kind=kind,
            conversation_id=None,
            created_at=now,
            updated_at=now,
            status="pending",
            backend=backend,
            attempts=0,
            next_attempt_at=now,
        ),
        **values,
    )
