#!/usr/bin/env bash
# Start the gateway on the embedded defaults: SQLite, in-process queue, offline speech and the
# outbox provider, with a demo commune. Open http://127.0.0.1:5000 (HOST and PORT change it).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/venv.sh requirements.txt
python -m gateway db upgrade
[ "${DEMO:-1}" = 1 ] && python -m gateway demo load
exec python -m gateway run --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
