#!/bin/sh
# Entry point of the Rasa image: `serve` (the default) builds the production `rasa run` command
# from the environment, like ./dev run --production does on one machine:
#   RASA_ENDPOINTS     endpoints file (default endpoints.production.yml; Rasa's Helm chart
#                      mounts its own at /app/endpoints.yml)
#   RASA_CREDENTIALS   channels file (default deploy/credentials.production.yml)
#   PORT               default 5005
#   ALLOWED_ORIGINS    comma separated web origins for CORS and the chat socket
#   RASA_API_TOKEN, RASA_JWT_SECRET (RASA_JWT_METHOD, default HS256): the HTTP API is on only
#                      when one of them is set
# Anything other than `serve` is passed to `rasa` unchanged (e.g. `shell`, `--version`).
# The secrets never go on the command line (readable in the process list): channels/serve.py
# reads RASA_API_TOKEN and RASA_JWT_SECRET from the environment inside the server.
set -eu
if [ "${1:-serve}" != "serve" ]; then
    exec rasa "$@"
fi
set -- run \
    --model models/triage.tar.gz \
    --endpoints "${RASA_ENDPOINTS:-endpoints.production.yml}" \
    --credentials "${RASA_CREDENTIALS:-deploy/credentials.production.yml}" \
    --port "${PORT:-5005}"
if [ -n "${ALLOWED_ORIGINS:-}" ]; then
    set -- "$@" --cors
    old_ifs=$IFS
    IFS=,
    for origin in $ALLOWED_ORIGINS; do
        set -- "$@" "$origin"
    done
    IFS=$old_ifs
fi
if [ -z "${RASA_API_TOKEN:-}" ] && [ -z "${RASA_JWT_SECRET:-}" ]; then
    echo "rasa-entrypoint: the Rasa HTTP API is off (set RASA_API_TOKEN or RASA_JWT_SECRET to turn it on)" >&2
fi
exec python -m channels.serve "$@"
