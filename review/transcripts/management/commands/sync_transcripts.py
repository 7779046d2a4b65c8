"""Bring the conversation index up to date with the tracker store (all new events at once).

`manage.py serve` (what ./dev run starts) keeps the index current in the background by itself,
and the queue page indexes a few thousand new events per request; run this after a restore, a
large import, or with --watch as a companion process beside a server that does not (gunicorn).
"""
from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from transcripts.models import ConversationSummary, ConversationText, SyncState
from transcripts.sync import follow, sync_index


class Command(BaseCommand):
    help = "Index new tracker-store events for the review queue."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rebuild", action="store_true",
                            help="forget the index and read every event again (staff data is kept)")
        parser.add_argument("--watch", type=float, metavar="SECONDS", nargs="?", default=0,
                            const=settings.SYNC_EVERY_SECONDS,
                            help="keep running, syncing every SECONDS (default REVIEW_SYNC_SECONDS)")
        parser.add_argument("--batch-size", type=int, default=20000)

    def handle(self, *args, rebuild: bool, watch: float, batch_size: int, **options) -> None:
        if rebuild:
            ConversationSummary.objects.all().delete()
            ConversationText.objects.all().delete()
            SyncState.objects.all().delete()
        if watch:
            # Until stopped; only rounds that found something are reported.
            follow(watch, batch_size=batch_size, report=lambda result: result.events and self._report(result))
            return
        self._report(sync_index(batch_size=batch_size))

    def _report(self, result) -> None:
        self.stdout.write(
            f"Indexed {result.events} events in {result.conversations} conversation updates "
            f"in {result.seconds:.2f} s."
        )
