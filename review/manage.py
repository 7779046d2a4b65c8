#!/usr/bin/env python
"""Command line for the clinic staff's transcript review tool.

Run from the repository root, for example:
    python review/manage.py migrate
    python review/manage.py create_staff --username alex --role admin
    python review/manage.py runserver 127.0.0.1:8000
"""
import os
import sys
from pathlib import Path

REVIEW_DIR = Path(__file__).resolve().parent
REPO_ROOT = REVIEW_DIR.parent

if __name__ == "__main__":
    # The review project lives in review/; the triage contract's names live in bot/contract.py.
    for path in (str(REVIEW_DIR), str(REPO_ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
