# syntax=docker/dockerfile:1
# The Rasa server: NLU, dialogue policies (the safety layer runs here), the channels.
# Build from the repository root (the model is trained during the build):
#   docker build -f deploy/rasa.Dockerfile -t upwell/rasa .
# Run with the variables of endpoints.production.yml (docs/production.md); see deploy/compose.yaml.

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

FROM python:3.10.13-slim-bookworm AS project
COPY --from=dependencies /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    TF_CPP_MIN_LOG_LEVEL=2 \
    RASA_TELEMETRY_ENABLED=false \
    SQLALCHEMY_SILENCE_UBER_WARNING=1
WORKDIR /app
COPY bot/ bot/
COPY components/ components/
COPY channels/ channels/
COPY config.yml domain.yml endpoints.production.yml ./
COPY deploy/credentials.production.yml deploy/rasa-entrypoint.sh deploy/
# The spaCy pipeline is built from spacy-lookups-data: nothing is downloaded.
RUN python -m bot.spacy_model

FROM project AS training
COPY data/ data/
RUN rasa train --fixed-model-name triage --out models

FROM project
COPY --from=training /app/models/triage.tar.gz models/triage.tar.gz
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin upwell
USER 10001:10001
EXPOSE 5005
# deploy/rasa-entrypoint.sh builds `rasa run ...` from the environment: the HTTP API only with
# RASA_API_TOKEN or RASA_JWT_SECRET. Any other arguments are passed to `rasa` unchanged.
ENTRYPOINT ["/app/deploy/rasa-entrypoint.sh"]
CMD ["serve"]
