# syntax=docker/dockerfile:1
# The staff review tool (Django) on the same PostgreSQL as the tracker store.
#   docker build -f deploy/review.Dockerfile -t upwell/review .
# Needs REVIEW_DB_URL, TRACKER_DB_URL, BOOKING_DB_URL, REVIEW_SECRET_KEY, REVIEW_ALLOWED_HOSTS
# (docs/review.md). Migrations run at start-up; Django's own server is for development only,
# so this runs gunicorn.

FROM python:3.10.13-slim-bookworm
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app:/app/review \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    DJANGO_SETTINGS_MODULE=review_site.settings
WORKDIR /app
COPY requirements.lock /tmp/requirements.lock
# Only what the review tool imports, at the versions locked for the whole project; gunicorn is
# the one package not in the lock (a WSGI server for this image only).
RUN grep -iE '^(django|asgiref|sqlparse|sqlalchemy|greenlet|typing.extensions|psycopg2-binary|fpdf2|defusedxml|pillow|fonttools)==' \
        /tmp/requirements.lock > /tmp/review-requirements.txt \
 && pip install --no-deps -r /tmp/review-requirements.txt gunicorn==23.0.0 \
 && pip check
COPY bot/__init__.py bot/contract.py bot/policy.py bot/settings.py bot/
COPY review/ review/
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin upwell
USER 10001:10001
EXPOSE 8000
CMD ["sh", "-c", "python review/manage.py migrate --noinput && exec gunicorn --bind 0.0.0.0:8000 --workers 2 --chdir review review_site.wsgi:application"]
