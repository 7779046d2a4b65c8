"""Keeps the conversation index (ConversationSummary) in step with the tracker store.

Incremental: it reads only events with an id above the last one seen, so a queue request costs
one indexed query when nothing is new. Each batch is one transaction that also advances the
bookmark with a compare-and-set, so two processes syncing at once cannot count an event twice.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Optional

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Case, IntegerField, Q, Value, When
from sqlalchemy.exc import SQLAlchemyError

from .conversation import Digest, to_datetime
from .models import ConversationSummary, ConversationText, ReviewEvent, SyncState
from .stores import BookingStore, EventRow, StoreUnavailable, TrackerReader, iter_chunks

logger = logging.getLogger(__name__)

MAX_GAP_RANGES = 1000
BOOKING_SIGNATURE_KEY = "review-booking-signature"
ANALYZE_AFTER_EVENTS = 10_000
# Fields the sync owns; review fields (reviewed, reviewed_by, ...) are left to staff actions.
DERIVED_FIELDS = [
    "first_event_id", "last_event_id", "started_at", "last_event_at", "channel",
    "user_message_count", "bot_message_count", "first_message", "first_message_event_id",
    "triage_level", "level_rank", "red_flags", "intents", "min_confidence", "fallback_count",
    "staff_review_needed", "urgent",
]
PRIORITY = Case(When(Q(urgent=True, reviewed=False), then=Value(1)), default=Value(0), output_field=IntegerField())


class _LostRace(Exception):
    """Another process advanced the bookmark first: this batch is rolled back."""


@dataclass
class SyncResult:
    events: int = 0
    conversations: int = 0
    behind: bool = False
    store_unreachable: bool = False
    seconds: float = 0.0


def _joined(values: Iterable[str]) -> str:
    values = sorted(v for v in values if v)
    return "," + ",".join(values) + "," if values else ""


def _split(joined: str) -> set[str]:
    return {v for v in joined.split(",") if v}


def _timestamp(moment: Optional[datetime]) -> Optional[float]:
    return moment.timestamp() if moment else None


def digest_of(summary: ConversationSummary, patient_text: str) -> Digest:
    return Digest(
        conversation_id=summary.conversation_id,
        first_event_id=summary.first_event_id,
        last_event_id=summary.last_event_id,
        started_ts=_timestamp(summary.started_at),
        last_ts=_timestamp(summary.last_event_at),
        channel=summary.channel,
        user_message_count=summary.user_message_count,
        bot_message_count=summary.bot_message_count,
        first_message=summary.first_message,
        first_message_event_id=summary.first_message_event_id,
        level_rank=summary.level_rank,
        red_flags=_split(summary.red_flags),
        intents=_split(summary.intents),
        min_confidence=summary.min_confidence,
        fallback_count=summary.fallback_count,
        staff_review_needed=summary.staff_review_needed,
        patient_text=patient_text,
    )


def summary_of(digest: Digest) -> ConversationSummary:
    return ConversationSummary(
        conversation_id=digest.conversation_id,
        first_event_id=digest.first_event_id or 0,
        last_event_id=digest.last_event_id or 0,
        started_at=to_datetime(digest.started_ts),
        last_event_at=to_datetime(digest.last_ts),
        channel=digest.channel,
        user_message_count=digest.user_message_count,
        bot_message_count=digest.bot_message_count,
        first_message=digest.first_message,
        first_message_event_id=digest.first_message_event_id,
        triage_level=digest.triage_level,
        level_rank=digest.level_rank,
        red_flags=_joined(digest.red_flags),
        intents=_joined(digest.intents),
        min_confidence=digest.min_confidence,
        fallback_count=digest.fallback_count,
        staff_review_needed=digest.staff_review_needed,
        urgent=digest.urgent,
    )


def _escalated(before: ConversationSummary, after: Digest) -> bool:
    """A reviewed conversation that has since become more urgent needs another look."""
    return (
        after.level_rank > before.level_rank
        or not after.red_flags <= _split(before.red_flags)
        or (after.staff_review_needed and not before.staff_review_needed)
    )


def _close_gaps(gaps: list, found: set[int]) -> list:
    """Remove found ids from the [first, last, seen_at] ranges still awaited."""
    remaining = []
    for first, last, seen_at in gaps:
        start = first
        for event_id in sorted(i for i in found if first <= i <= last):
            if event_id > start:
                remaining.append([start, event_id - 1, seen_at])
            start = event_id + 1
        if start <= last:
            remaining.append([start, last, seen_at])
    return remaining


def _apply(events: list[EventRow]) -> tuple[int, list[str]]:
    """Fold events into their conversations' summaries (inside the caller's transaction).

    Returns how many conversations were touched and the ids of those new to the index."""
    by_conversation: dict[str, list[EventRow]] = {}
    for event in events:
        by_conversation.setdefault(event.sender_id, []).append(event)
    conversation_ids = list(by_conversation)
    created: list[str] = []
    for chunk in iter_chunks(conversation_ids, 500):
        existing = {s.conversation_id: s for s in ConversationSummary.objects.filter(conversation_id__in=chunk)}
        texts = dict(ConversationText.objects.filter(conversation_id__in=chunk).values_list("conversation_id", "text"))
        rows, text_rows, reopen = [], [], []
        for conversation_id in chunk:
            before = existing.get(conversation_id)
            digest = digest_of(before, texts.get(conversation_id, "")) if before else Digest(conversation_id)
            for event in by_conversation[conversation_id]:
                digest.add(event)
            if before is not None and before.reviewed and _escalated(before, digest):
                reopen.append(conversation_id)
            rows.append(summary_of(digest))
            if digest.patient_text != texts.get(conversation_id, ""):
                text_rows.append(ConversationText(conversation_id=conversation_id, text=digest.patient_text))
        ConversationSummary.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["conversation_id"], update_fields=DERIVED_FIELDS,
        )
        ConversationText.objects.bulk_create(
            text_rows, update_conflicts=True, unique_fields=["conversation_id"], update_fields=["text"],
        )
        if reopen:
            ConversationSummary.objects.filter(conversation_id__in=reopen).update(reviewed=False, reopened=True)
        new_ids = [c for c in chunk if c not in existing]
        if new_ids:
            _restore_reviews(new_ids)
            created += new_ids
        ConversationSummary.objects.filter(conversation_id__in=chunk).update(priority=PRIORITY)
    return len(conversation_ids), created


def _restore_reviews(conversation_ids: list[str]) -> None:
    """A conversation reviewed before the index reached it keeps its latest review."""
    latest: dict[str, ReviewEvent] = {}
    for review in ReviewEvent.objects.filter(conversation_id__in=conversation_ids).order_by("at", "id"):
        latest[review.conversation_id] = review
    for conversation_id, review in latest.items():
        if review.reviewed:
            ConversationSummary.objects.filter(conversation_id=conversation_id).update(
                reviewed=True, reviewed_at=review.at, reviewed_by=review.by
            )


def _sync_batch(reader: TrackerReader, batch_size: int) -> tuple[int, int, bool, list[str]]:
    """One batch: (events read, conversations touched, batch was full, conversations created)."""
    SyncState.objects.get_or_create(pk=1)
    with transaction.atomic():
        # On PostgreSQL a sync already running holds the row: skip rather than wait, its work
        # covers ours (SQLite has no row locks; the compare-and-set below settles it there).
        state = SyncState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
        if state is None:
            raise _LostRace()
        previous_last = state.last_event_id
        now = time.time()
        gaps = [g for g in state.gaps if now - g[2] < settings.SYNC_GAP_WAIT_SECONDS]
        new_events = reader.events_after(previous_last, batch_size)
        late_events = reader.events_in_ranges((g[0], g[1]) for g in gaps) if gaps else []
        gaps = _close_gaps(gaps, {e.id for e in late_events})
        expected = previous_last + 1
        for event in new_events:
            if event.id > expected:
                gaps.append([expected, event.id - 1, now])
            expected = event.id + 1
        gaps = gaps[-MAX_GAP_RANGES:]
        events = late_events + new_events
        touched, created = _apply(events) if events else (0, [])
        new_last = new_events[-1].id if new_events else previous_last
        if events or gaps != state.gaps:
            advanced = SyncState.objects.filter(pk=1, last_event_id=previous_last).update(
                last_event_id=new_last, gaps=gaps, synced_at=datetime.now(timezone.utc)
            )
            if advanced != 1:
                raise _LostRace()
    return len(events), touched, len(new_events) == batch_size, created


def sync_bookings(store: Optional[BookingStore] = None, created: Optional[list[str]] = None) -> int:
    """Copy booking and call-back flags onto the summaries; returns rows changed.

    While the booking table is as it was at the last full pass (in this process), only the
    conversations just added to the index (`created`) are looked up; otherwise a full pass.
    """
    store = store or BookingStore()
    try:
        signature = (settings.BOOKING_DB_URL, store.signature())
        if created is not None and len(created) <= 1000 and cache.get(BOOKING_SIGNATURE_KEY) == signature:
            return _set_booking_flags(store.flags_by_conversation(created)) if created else 0
        flags = store.flags_by_conversation()
    except SQLAlchemyError as error:
        logger.warning("booking flags not read: %s", type(error).__name__)
        return 0
    current = {
        conversation_id: (kinds, status)
        for conversation_id, kinds, status in ConversationSummary.objects.exclude(booking_kinds="").values_list(
            "conversation_id", "booking_kinds", "booking_status"
        )
    }
    wanted = {conversation_id: value for conversation_id, value in flags.items() if current.get(conversation_id) != value}
    wanted.update({conversation_id: ("", "") for conversation_id in current.keys() - flags.keys()})
    changed = _set_booking_flags(wanted)
    cache.set(BOOKING_SIGNATURE_KEY, signature, 600)
    return changed


def _set_booking_flags(flags: dict[str, tuple[str, str]]) -> int:
    by_value: dict[tuple[str, str], list[str]] = {}
    for conversation_id, value in flags.items():
        by_value.setdefault(value, []).append(conversation_id)
    changed = 0
    for (kinds, status), conversation_ids in by_value.items():
        for chunk in iter_chunks(conversation_ids, 500):
            changed += ConversationSummary.objects.filter(conversation_id__in=chunk).update(
                booking_kinds=kinds, booking_status=status
            )
    return changed


def _refresh_planner_statistics() -> None:
    """After a large import the query planner needs fresh statistics (SQLite has none until
    ANALYZE runs), or it sorts the whole table instead of walking the queue's index."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ConversationSummary._meta.db_table}")


def sync_index(
    reader: Optional[TrackerReader] = None, max_events: Optional[int] = None, batch_size: int = 2000,
) -> SyncResult:
    """Index new events (up to max_events), then refresh booking flags."""
    started = time.perf_counter()
    reader = reader or TrackerReader()
    result = SyncResult()
    created: list[str] = []
    while max_events is None or result.events < max_events:
        size = batch_size if max_events is None else max(1, min(batch_size, max_events - result.events))
        try:
            read, touched, full, new_ids = _sync_batch(reader, size)
        except StoreUnavailable:
            break
        except SQLAlchemyError as error:
            # The tracker store is down or refuses us: show the index as it is, say so.
            logger.warning("tracker store not readable: %s", type(error).__name__)
            result.store_unreachable = True
            break
        except (_LostRace, DatabaseError) as error:
            # Another process is syncing (or holds the write lock): its work covers ours.
            logger.info("index sync yielded to another process: %s", type(error).__name__)
            break
        result.events += read
        result.conversations += touched
        if len(created) <= 1000:
            created += new_ids
        if not full:
            break
    if result.events >= ANALYZE_AFTER_EVENTS:
        _refresh_planner_statistics()
    # New summaries may belong to requests stored before their conversation was indexed.
    sync_bookings(created=created)
    state = SyncState.objects.filter(pk=1).first()
    if not result.store_unreachable:
        result.behind = reader.max_event_id() > (state.last_event_id if state else 0)
    result.seconds = time.perf_counter() - started
    return result


def follow(every: float, stop: Optional[threading.Event] = None, report=None, batch_size: int = 2000) -> None:
    """Keep the index current: sync, wait `every` seconds, again, until `stop` is set.

    A round that fails (a database restarting, say) is logged by its error's class only and the
    next round tries again: the index must not stop following because of one bad moment."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            result = sync_index(batch_size=batch_size)
            if report is not None:
                report(result)
        except Exception as error:  # noqa: BLE001 - any failure: log its class, try next round
            logger.warning("index sync round failed: %s", type(error).__name__)
        finally:
            close_old_connections()
        stop.wait(every)


def start_background_sync(every: float) -> threading.Thread:
    """`follow` in a daemon thread of this process (manage.py serve); it ends with the process."""
    thread = threading.Thread(target=follow, args=(every,), name="transcript-index-sync", daemon=True)
    thread.start()
    return thread
