#!/usr/bin/env bash
# Installs everything and runs the whole test suite (tiny random models + one real conversion).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The shared-cache tests start a real redis-server (Debian's package); without one they skip.
if ! command -v redis-server >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; }; } >/dev/null 2>&1 \
    || echo "redis-server could not be installed: the shared-cache tests will skip"
fi
VENV="${EDGEEMBED_VENV:-.venv}"
"$VENV/bin/python" -m pytest "$@"
