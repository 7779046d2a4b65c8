# syntax=docker/dockerfile:1
# The demo clinic page with the chat widget (scripts/serve_web.py). A clinic's own website
# embeds the widget instead; this is for trying the whole product.
#   docker build -f deploy/web.Dockerfile -t upwell/web .

FROM python:3.10.13-slim-bookworm
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 HOME=/tmp
WORKDIR /app
COPY requirements.lock /tmp/requirements.lock
# aiohttp and its dependencies, at the locked versions.
RUN grep -iE '^(aiohttp|aiosignal|async-timeout|attrs|frozenlist|multidict|yarl|idna|propcache|typing.extensions)==' \
        /tmp/requirements.lock > /tmp/web-requirements.txt \
 && pip install --no-deps -r /tmp/web-requirements.txt \
 && pip check
COPY scripts/serve_web.py scripts/
COPY web/ web/
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin upwell
USER 10001:10001
EXPOSE 8080
# RASA_PUBLIC_URL: where browsers reach the Rasa server (not the compose-internal name).
CMD ["sh", "-c", "exec python scripts/serve_web.py --host 0.0.0.0 --port 8080 --rasa-url \"${RASA_PUBLIC_URL:-http://localhost:5005}\""]
