#!/usr/bin/env bash
# Run the whole test suite: installs Python packages into .venv, the Debian packages the tests
# use (ffmpeg, espeak-ng, chromium, redis-server, postgresql, kannel, kannel-extras, gammu,
# gammu-smsd) when missing, and starts Redis and PostgreSQL when they are down. Extra
# arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/services.sh
. scripts/venv.sh requirements-dev.txt
exec python -m pytest "$@"
