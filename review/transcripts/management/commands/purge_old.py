"""Delete conversations older than the retention period: `manage.py purge_old --days N`.

A conversation is due when its latest event is older than N days (default: RETENTION_DAYS).
Its events are deleted from the tracker store (the only write this tool ever makes there, and
only from this command), then its staff data (index row, reviews, tags, notes, corrections).
Booking and call-back requests (name, phone, e-mail, triage summary) last updated before the
same cutoff are deleted from the booking store too.
The audit log keeps its entries: they hold conversation ids and actions, never patient text,
and record who saw the conversation while it existed.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from transcripts.models import (
    AuditEvent, ConversationSummary, ConversationTag, ConversationText, IntentCorrection, Note, ReviewEvent,
)
from transcripts.stores import (
    EVENTS, BookingStore, StoreUnavailable, _unavailable, iter_chunks, tracker_engine,
)

STAFF_TABLES = (ReviewEvent, ConversationTag, Note, IntentCorrection)


class Command(BaseCommand):
    help = "Delete conversations (tracker events and staff data) older than the retention period."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None,
                            help=f"retention in days (default RETENTION_DAYS, now {settings.RETENTION_DAYS})")
        parser.add_argument("--dry-run", action="store_true", help="count what is due, delete nothing")

    def handle(self, *args, days: int | None, dry_run: bool, **options) -> None:
        days = settings.RETENTION_DAYS if days is None else days
        if days < 1:
            raise CommandError("--days must be at least 1.")
        cutoff = datetime.now(timezone.utc) - timedelta(days=days)
        engine = tracker_engine(writable=True)
        try:
            due = self._due_in_tracker(engine, cutoff.timestamp())
        except StoreUnavailable:
            due = []
        # Conversations whose events are already gone but whose staff data is old.
        indexed_due = set(
            ConversationSummary.objects.filter(last_event_at__lt=cutoff).values_list("conversation_id", flat=True)
        )
        orphans = self._old_orphans(engine, cutoff)
        everything = sorted(set(due) | indexed_due | orphans)
        bookings = BookingStore()
        if dry_run:
            requests = bookings.purge_older_than(cutoff, dry_run=True)
            self.stdout.write(f"{len(due)} conversations in the tracker store and {len(everything)} in all are due, "
                              f"and {requests} booking or call-back requests (older than {days} days). "
                              f"Nothing deleted.")
            return
        deleted_events = 0
        if due:
            deleted_events = self._delete_events(engine, due, cutoff.timestamp())
        for chunk in iter_chunks(everything, 500):
            with transaction.atomic():
                ConversationSummary.objects.filter(conversation_id__in=chunk).delete()
                ConversationText.objects.filter(conversation_id__in=chunk).delete()
                for model in STAFF_TABLES:
                    model.objects.filter(conversation_id__in=chunk).delete()
        requests = bookings.purge_older_than(cutoff)
        AuditEvent.objects.create(
            action="purge", detail=f"{len(everything)} conversations, {deleted_events} events, "
                                   f"{requests} booking requests, older than {days} days"
        )
        self.stdout.write(f"Deleted {len(everything)} conversations ({deleted_events} tracker events) and "
                          f"{requests} booking or call-back requests older than {days} days.")

    @staticmethod
    def _due_in_tracker(engine, cutoff_ts: float) -> list[str]:
        query = (
            sa.select(EVENTS.c.sender_id)
            .group_by(EVENTS.c.sender_id)
            .having(sa.func.max(EVENTS.c.timestamp) < cutoff_ts)
        )
        try:
            with engine.connect() as connection:
                return [row[0] for row in connection.execute(query)]
        except sa.exc.SQLAlchemyError as error:
            if _unavailable(error):
                raise StoreUnavailable(str(error)) from error
            raise

    @staticmethod
    def _delete_events(engine, conversation_ids: list[str], cutoff_ts: float) -> int:
        """Delete the events of due conversations, in batches, each one atomic.

        A conversation that received a new event since it was found due is left whole: the
        statement itself re-checks that nothing of it is newer than the cutoff.
        """
        deleted = 0
        for chunk in iter_chunks(conversation_ids, 500):
            recent = (
                sa.select(EVENTS.c.sender_id)
                .where(EVENTS.c.sender_id.in_(chunk), EVENTS.c.timestamp >= cutoff_ts)
                .scalar_subquery()
            )
            statement = sa.delete(EVENTS).where(EVENTS.c.sender_id.in_(chunk), EVENTS.c.sender_id.not_in(recent))
            with engine.begin() as connection:
                deleted += connection.execute(statement).rowcount
        return deleted

    @staticmethod
    def _old_orphans(engine, cutoff: datetime) -> set[str]:
        """Staff data older than the cutoff for conversations no longer in the tracker store."""
        referenced: set[str] = set()
        for model, stamp in ((ReviewEvent, "at"), (ConversationTag, "added_at"), (Note, "created_at"),
                             (IntentCorrection, "corrected_at")):
            referenced |= set(
                model.objects.filter(**{f"{stamp}__lt": cutoff}).values_list("conversation_id", flat=True)
            )
        if not referenced:
            return set()
        present: set[str] = set()
        try:
            with engine.connect() as connection:
                for chunk in iter_chunks(sorted(referenced), 500):
                    query = sa.select(EVENTS.c.sender_id).where(EVENTS.c.sender_id.in_(chunk)).distinct()
                    present |= {row[0] for row in connection.execute(query)}
        except sa.exc.SQLAlchemyError as error:
            if _unavailable(error):
                return set()  # no tracker store to compare with: delete nothing on a guess
            raise
        return referenced - present - set(
            ConversationSummary.objects.filter(conversation_id__in=list(referenced)).values_list(
                "conversation_id", flat=True
            )
        )
