"""The review tool's web server (Django's runserver, no auto-reload) with the transcript index
kept current in a background thread, so a new conversation reaches the staff queue within
REVIEW_SYNC_SECONDS without anyone loading a page or running `sync_transcripts`.

This is what ./dev run starts (scripts/dev.py service_commands), in both profiles.
"""
from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from transcripts.sync import start_background_sync


class Command(BaseCommand):
    help = "Serve the review tool and keep its conversation index current in the background."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000",
                            help="address and port to listen on (default 127.0.0.1:8000)")
        parser.add_argument("--sync-every", type=float, metavar="SECONDS", default=settings.SYNC_EVERY_SECONDS,
                            help="index new tracker events this often (0: not in the background)")

    def handle(self, *args, addrport: str, sync_every: float, **options) -> None:
        if sync_every > 0:
            start_background_sync(sync_every)
        call_command("runserver", addrport, use_reloader=False)
