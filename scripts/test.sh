#!/usr/bin/env bash
# Installs everything and runs the whole test suite (tiny random models + one real conversion).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${EDGEEMBED_VENV:-.venv}"
"$VENV/bin/python" -m pytest "$@"
