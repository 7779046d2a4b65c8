"""Bring the conversation index up to date with the tracker store (all new events at once).

The queue page indexes a few thousand new events per request by itself; run this after a
restore, a large import, or with --watch as a companion process to keep the page instant.
"""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from transcripts.models import ConversationSummary, ConversationText, SyncState
from transcripts.sync import sync_index


class Command(BaseCommand):
    help = "Index new tracker-store events for the review queue."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rebuild", action="store_true",
                            help="forget the index and read every event again (staff data is kept)")
        parser.add_argument("--watch", type=float, metavar="SECONDS", default=0,
                            help="keep running, syncing every SECONDS")
        parser.add_argument("--batch-size", type=int, default=20000)

    def handle(self, *args, rebuild: bool, watch: float, batch_size: int, **options) -> None:
        if rebuild:
            ConversationSummary.objects.all().delete()
            ConversationText.objects.all().delete()
            SyncState.objects.all().delete()
        while True:
            result = sync_index(batch_size=batch_size)
            self.stdout.write(
                f"Indexed {result.events} events in {result.conversations} conversation updates "
                f"in {result.seconds:.2f} s."
            )
            if not watch:
                break
            time.sleep(watch)
