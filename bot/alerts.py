"""Staff alerts for urgent conversations (`bot/policy.py`: `consultation_24` or above).

One alert per conversation per rise in level, by email (SMTP) and/or a signed webhook, carrying
only the conversation id, the level, the red-flag codes and a link to the staff review tool:
never the patient's words, name or contact details (the link is where staff read those).

    AlertWatcher     follows tracker events and says when a conversation's level has risen
    AlertLedger      remembers (in the clinic database) which alerts were raised, so a restart
                     or a second server process never alerts twice
    AlertDispatcher  a background thread that sends, retries and records; never blocks a caller

`components/alert_broker.py` plugs these into the Rasa server as an event broker.
"""

from __future__ import annotations

import json
import logging
import queue
import smtplib
import ssl
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any, TypeGuard
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot import policy
from bot.booking.store import UTCDateTime, make_engine, utcnow
from bot.booking.webhook import post_signed_json
from bot.contract import RED_FLAG_CODES, level_rank
from bot.settings import Settings

logger = logging.getLogger(__name__)

LEVEL_WORDS = {
    "emergency_ambulance": "call an ambulance now",
    "emergency": "go to an emergency department now",
    "consultation_24": "see a doctor within 24 hours",
}
SEND_ATTEMPTS = 3
RESUME_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class StaffAlert:
    conversation_id: str
    triage_level: str
    red_flags: tuple[str, ...]
    raised_at: datetime

    @property
    def key(self) -> str:
        """Stable per conversation and level: the webhook's Idempotency-Key."""
        return uuid.uuid5(uuid.NAMESPACE_URL, f"upwell-alert:{self.conversation_id}:{self.triage_level}").hex


def is_alert_level(level: str | None) -> TypeGuard[str]:
    return policy.is_urgent(level)


def safe_red_flags(value: Any) -> tuple[str, ...]:
    """Only contract codes pass: whatever else a slot holds never reaches an alert."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, set)):
        return ()
    return tuple(sorted({code for code in value if code in RED_FLAG_CODES}))


# --- watching events -------------------------------------------------------------------------


@dataclass
class _Conversation:
    level: str | None = None
    red_flags: set = field(default_factory=set)
    alerted_rank: int = -1


class AlertWatcher:
    """Follows Rasa tracker events (dicts) per conversation; pure logic, no I/O.

    `observe` returns the conversation id when its `triage_level` slot has just risen to an
    alert level above any level already alerted in this process.
    """

    def __init__(self, max_conversations: int = 10_000) -> None:
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()
        self.max_conversations = max_conversations

    def _state(self, conversation_id: str) -> _Conversation:
        state = self._conversations.pop(conversation_id, None) or _Conversation()
        self._conversations[conversation_id] = state  # most recent last
        while len(self._conversations) > self.max_conversations:
            self._conversations.popitem(last=False)
        return state

    def observe(self, event: Mapping[str, Any]) -> str | None:
        conversation_id = event.get("sender_id")
        if not conversation_id:
            return None
        kind = event.get("event")
        if kind == "restart":
            self._conversations.pop(conversation_id, None)
            return None
        if kind != "slot":
            return None
        state = self._state(conversation_id)
        if event.get("name") == "red_flags":
            state.red_flags.update(safe_red_flags(event.get("value")))
        elif event.get("name") == "triage_level":
            level = event.get("value")
            state.level = level
            if is_alert_level(level) and level_rank(level) > state.alerted_rank:
                state.alerted_rank = level_rank(level)
                return conversation_id
        return None

    def alert_for(self, conversation_id: str, now: datetime | None = None) -> StaffAlert | None:
        state = self._conversations.get(conversation_id)
        if state is None or not is_alert_level(state.level):
            return None
        return StaffAlert(conversation_id, state.level, tuple(sorted(state.red_flags)), now or utcnow())


# --- what staff receive ----------------------------------------------------------------------


def review_url(settings: Settings, conversation_id: str) -> str:
    return f"{settings.review_base_url}/conversation/?id={quote(conversation_id, safe='')}"


def alert_payload(settings: Settings, alert: StaffAlert) -> dict[str, Any]:
    return {
        "type": "staff_alert",
        "clinic": settings.clinic_name,
        "conversation_id": alert.conversation_id,
        "triage_level": alert.triage_level,
        "red_flags": list(alert.red_flags),
        "review_url": review_url(settings, alert.conversation_id),
        "raised_at": alert.raised_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def alert_email(settings: Settings, alert: StaffAlert) -> EmailMessage:
    local = alert.raised_at.astimezone(settings.zone)
    message = EmailMessage()
    message["Subject"] = f"[{settings.clinic_name}] Triage alert: {alert.triage_level} ({alert.conversation_id})"
    message["From"] = settings.alert_smtp_from
    message["To"] = ", ".join(settings.alert_smtp_to)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "\n".join(
            [
                f"A chat reached triage level {alert.triage_level} ({LEVEL_WORDS.get(alert.triage_level, '')}).",
                f"Red-flag codes: {', '.join(alert.red_flags) or 'none recorded'}",
                f"Conversation: {alert.conversation_id}",
                f"Raised: {local:%Y-%m-%d %H:%M} {local.tzname()}",
                f"Open it in the staff review tool: {review_url(settings, alert.conversation_id)}",
                "",
                "This alert holds no patient details. Read the conversation in the review tool.",
            ]
        )
    )
    return message


class SendError(Exception):
    """A channel did not take the alert. The message is a short code, safe to log."""


def send_email(settings: Settings, alert: StaffAlert, timeout: float = 10.0) -> None:
    try:
        if settings.alert_smtp_security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.alert_smtp_host,
                settings.alert_smtp_port,
                timeout=timeout,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(settings.alert_smtp_host, settings.alert_smtp_port, timeout=timeout)
        with client:
            if settings.alert_smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.alert_smtp_user:
                client.login(settings.alert_smtp_user, settings.alert_smtp_password)
            client.send_message(alert_email(settings, alert))
    except smtplib.SMTPAuthenticationError as error:
        raise SendError("smtp_auth_refused") from error
    except smtplib.SMTPException as error:
        raise SendError(f"smtp_{type(error).__name__}") from error
    except (OSError, ssl.SSLError) as error:
        raise SendError(f"smtp_{type(error).__name__}") from error


def send_webhook(settings: Settings, alert: StaffAlert, timeout: float = 10.0) -> None:
    import requests

    try:
        response = post_signed_json(
            settings.alert_webhook_url,
            settings.alert_webhook_secret,
            alert_payload(settings, alert),
            idempotency_key=alert.key,
            event="staff_alert",
            timeout=timeout,
        )
    except requests.RequestException as error:
        raise SendError(f"webhook_{type(error).__name__}") from error
    if not (200 <= response.status_code < 300 or response.status_code == 409):
        raise SendError(f"webhook_http_{response.status_code}")


def configured_channels(settings: Settings) -> dict[str, Callable[[Settings, StaffAlert], None]]:
    channels: dict[str, Callable[[Settings, StaffAlert], None]] = {}
    if settings.email_alerts_on:
        channels["email"] = send_email
    if settings.webhook_alerts_on:
        channels["webhook"] = send_webhook
    return channels


# --- remembering what was raised --------------------------------------------------------------


def staff_alerts_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "staff_alerts",
        metadata,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
        sa.Column("triage_level", sa.String(32), nullable=False),
        sa.Column("red_flags", sa.Text, nullable=False),  # JSON list of codes
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # pending | sent | failed
        sa.Column("channels_sent", sa.String(64), nullable=False, default=""),
        sa.Column("last_error", sa.String(120), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("conversation_id", "triage_level", name="staff_alerts_once_per_level"),
    )


class AlertLedger:
    """Which alerts were raised. Shared by every server process through the clinic database."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.engine = make_engine(url)
        self.metadata = sa.MetaData(schema=schema)
        self.table = staff_alerts_table(self.metadata)
        if self.engine.url.get_backend_name() == "sqlite" and self.engine.url.database:
            from pathlib import Path

            Path(self.engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        self.metadata.create_all(self.engine)

    def claim(self, alert: StaffAlert) -> bool:
        """Record the alert; False when this level, or a higher one, was already raised."""
        t = self.table
        with self.engine.begin() as conn:
            levels = conn.execute(sa.select(t.c.triage_level).where(t.c.conversation_id == alert.conversation_id))
            if any(level_rank(level) >= level_rank(alert.triage_level) for (level,) in levels):
                return False
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.insert().values(
                        id=alert.key,
                        conversation_id=alert.conversation_id,
                        triage_level=alert.triage_level,
                        red_flags=json.dumps(list(alert.red_flags)),
                        created_at=alert.raised_at,
                        status="pending",
                        channels_sent="",
                    )
                )
        except IntegrityError:
            return False  # another process raised it first
        return True

    def record(
        self, alert: StaffAlert, status: str, channels_sent: Iterable[str], last_error: str | None = None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                self.table.update()
                .where(self.table.c.id == alert.key)
                .values(
                    status=status,
                    channels_sent=",".join(sorted(channels_sent)),
                    last_error=(last_error or None) and last_error[:120],
                    sent_at=utcnow() if status == "sent" else None,
                )
            )

    def unfinished(self, since: datetime) -> list[tuple[StaffAlert, set[str]]]:
        """Alerts a stopped process left pending (recent ones only: old news helps nobody)."""
        t = self.table
        query = sa.select(t).where(t.c.status == "pending").where(t.c.created_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            (
                StaffAlert(r["conversation_id"], r["triage_level"], tuple(json.loads(r["red_flags"])), r["created_at"]),
                set(filter(None, r["channels_sent"].split(","))),
            )
            for r in rows
        ]

    def rows(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(self.table)).mappings()]

    def dispose(self) -> None:
        self.engine.dispose()


# --- sending in the background ---------------------------------------------------------------


class AlertDispatcher:
    """Sends alerts on its own thread: `submit` returns at once and never raises."""

    def __init__(
        self,
        settings: Settings,
        ledger: AlertLedger | None = None,
        channels: Mapping[str, Callable[[Settings, StaffAlert], None]] | None = None,
        retry_delays: tuple[float, ...] = (2.0, 10.0),
        max_queue: int = 1000,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.channels = dict(channels) if channels is not None else configured_channels(settings)
        self.retry_delays = retry_delays
        self._queue: queue.Queue[tuple[StaffAlert, set[str], bool] | None] = queue.Queue(max_queue)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._claimed_here: set[tuple[str, str]] = set()  # dedupe when the ledger is unavailable

    def start(self, resume: bool = True) -> AlertDispatcher:
        """Start the sending thread, first queueing recent alerts a stopped process left unsent."""
        if self._thread is None or not self._thread.is_alive():
            if resume:
                self._queue_unfinished()
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="staff-alerts", daemon=True)
            self._thread.start()
        return self

    def _queue_unfinished(self) -> None:
        if self.ledger is None:
            return
        try:
            for alert, sent in self.ledger.unfinished(utcnow() - RESUME_WINDOW):
                self._queue.put_nowait((alert, sent, True))
        except (SQLAlchemyError, queue.Full) as error:
            logger.warning("staff alerts: could not resume unsent alerts (%s)", type(error).__name__)

    def submit(self, alert: StaffAlert) -> None:
        try:
            self._queue.put_nowait((alert, set(), False))
        except queue.Full:
            logger.error("staff alert dropped, queue full: conversation %s", alert.conversation_id)

    def stop(self, timeout: float = 5.0) -> None:
        """Finish what is queued (up to `timeout`), then stop."""
        if self._thread is None:
            return
        self._stopping.set()
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests and shutdown: True once everything submitted has been handled."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                alert, sent, claimed = item
                self._handle(alert, sent, claimed)
            except Exception as error:  # keep the thread alive whatever happens
                logger.error("staff alert failed unexpectedly: %s", type(error).__name__)
            finally:
                self._queue.task_done()

    def _claim(self, alert: StaffAlert) -> bool:
        key = (alert.conversation_id, alert.triage_level)
        if self.ledger is not None:
            try:
                return self.ledger.claim(alert)
            except SQLAlchemyError as error:
                logger.warning(
                    "staff alerts: ledger unavailable (%s); deduplicating in memory only", type(error).__name__
                )
        if key in self._claimed_here:
            return False
        self._claimed_here.add(key)
        return True

    def _handle(self, alert: StaffAlert, sent: set[str], claimed: bool) -> None:
        if not claimed and not self._claim(alert):
            logger.info(
                "staff alert already raised: conversation %s level %s", alert.conversation_id, alert.triage_level
            )
            return
        errors: dict[str, str] = {}
        for attempt in range(len(self.retry_delays) + 1):
            errors = {}
            for name, send in self.channels.items():
                if name in sent:
                    continue
                try:
                    send(self.settings, alert)
                    sent.add(name)
                except SendError as error:
                    errors[name] = str(error)
                except Exception as error:
                    errors[name] = type(error).__name__
            if not errors or attempt == len(self.retry_delays) or self._stopping.is_set():
                break
            time.sleep(self.retry_delays[attempt])
        status = "failed" if errors else "sent"
        if errors:
            logger.error(
                "staff alert not sent: conversation %s level %s (%s)",
                alert.conversation_id,
                alert.triage_level,
                ", ".join(f"{k}={v}" for k, v in sorted(errors.items())),
            )
        else:
            logger.info(
                "staff alert sent: conversation %s level %s via %s",
                alert.conversation_id,
                alert.triage_level,
                ",".join(sorted(sent)),
            )
        if self.ledger is not None:
            try:
                self.ledger.record(alert, status, sent, "; ".join(f"{k}={v}" for k, v in sorted(errors.items())))
            except SQLAlchemyError as error:
                logger.warning("staff alerts: could not record the result (%s)", type(error).__name__)
