#!/usr/bin/env bash
# Starts the whole product on one machine: web server, a real Celery worker and Celery beat.
# Embedded default: SQLite + kombu's filesystem transport. With DATABASE_URL and REDIS_URL set
# it uses PostgreSQL and Redis instead. Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-energytrack.settings.local}"
PORT="${PORT:-8000}"
mkdir -p var/celery/queue var/celery/processed var/log

$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput -v 0
$PY manage.py seed_demo

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

concurrency=2
[ -z "${REDIS_URL:-}" ] && concurrency=1  # SQLite: one writer at a time
.venv/bin/celery -A energytrack worker --loglevel INFO --concurrency "$concurrency" \
  >var/log/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A energytrack beat --loglevel INFO --schedule var/celerybeat-schedule \
  >var/log/beat.log 2>&1 &
pids+=($!)
# Two sync workers per core: a request spends much of its time waiting on PostgreSQL/Redis.
.venv/bin/gunicorn energytrack.wsgi --bind "127.0.0.1:${PORT}" --workers "${WEB_WORKERS:-4}" \
  --access-logfile - &
pids+=($!)

echo
echo "  energytrack is running:  http://127.0.0.1:${PORT}/app/"
echo "  API docs:                http://127.0.0.1:${PORT}/api/v1/docs/"
echo "  demo login:              demo@energytrack.local / energy-demo-2026"
echo "  worker and beat logs:    var/log/"
echo "  Ctrl-C stops everything."
echo
wait -n "${pids[@]}"
