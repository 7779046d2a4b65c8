# syntax=docker/dockerfile:1
# The action server (rasa_sdk): form validation, summaries, booking. Scaled on its own: Rasa
# reaches it at ACTION_SERVER_URL, and any number of replicas can stand behind that URL.
#   docker build -f deploy/actions.Dockerfile -t upwell/actions .

FROM python:3.10.13-slim-bookworm AS dependencies
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# In case a locked package has no wheel for the platform (e.g. arm64) and builds from source.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential=12.9 \
 && rm -rf /var/lib/apt/lists/*
# The lock less the test and check tools (deploy/runtime_requirements.py).
COPY requirements.in requirements.lock deploy/runtime_requirements.py /tmp/
RUN python -m venv /opt/venv \
 && python /tmp/runtime_requirements.py /tmp/requirements.in /tmp/requirements.lock > /tmp/runtime.txt \
 && /opt/venv/bin/pip install --no-deps -r /tmp/runtime.txt \
 && /opt/venv/bin/pip check

FROM python:3.10.13-slim-bookworm
COPY --from=dependencies /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    RASA_TELEMETRY_ENABLED=false \
    SQLALCHEMY_SILENCE_UBER_WARNING=1
WORKDIR /app
COPY bot/ bot/
COPY actions/ actions/
COPY domain.yml ./
RUN python -m bot.spacy_model \
 && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin upwell
USER 10001:10001
EXPOSE 5055
# actions/server.py: rasa_sdk's app that serves only calls carrying ACTION_SERVER_TOKEN (set it
# from a secret). Inside the container it listens on every interface of the container's own
# network (ACTION_SERVER_HOST); publish no port: only the Rasa server should reach it.
ENV ACTION_SERVER_HOST=0.0.0.0
CMD ["python", "-m", "actions.server", "--port", "5055"]
