#!/usr/bin/env bash
# The embedded translator: one Daphne process serving the UI, the WebSocket and the models
# (SQLite in var/, in-memory channel layer, translation on an in-process worker thread).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
$BIN/python manage.py migrate --noinput -v 0
# First run: fetch Canary and Silero into the caches (needs internet once; later runs are
# offline). A failure is not fatal: the UI starts and says which model is missing.
if [ -z "${HF_HUB_OFFLINE:-}" ]; then
  $BIN/python manage.py fetch_models || echo "!! model download failed: translations will report it; see docs/RUNBOOK.md"
fi
echo "rutrans on http://$HOST:$PORT/ (admin: http://$HOST:$PORT/admin/, create a user with: $BIN/python manage.py createsuperuser)"
exec $BIN/python -m rutrans_site.server -b "$HOST" -p "$PORT"
