"""WSGI entry point (for a production server such as gunicorn: `review_site.wsgi:application`)."""
import os
import sys
from pathlib import Path

REVIEW_DIR = Path(__file__).resolve().parents[1]
for path in (str(REVIEW_DIR), str(REVIEW_DIR.parent)):
    if path not in sys.path:
        sys.path.insert(0, path)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_site.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
