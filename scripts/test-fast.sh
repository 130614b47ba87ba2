#!/usr/bin/env bash
# The fast test tier in a venv without torch, tensorflow or any runtime wheel: numpy, tokenizers,
# the CLI's, the server's, the framework adapters' and Ray's packages, pytest. A hand-built bundle runs in a numpy backend
# (tests/fakes.py); everything that needs a real conversion is marked `convert`, `routes` or
# `slow` and left to scripts/test.sh. About two minutes on 2 cores, install included.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${EDGEEMBED_FAST_VENV:-.venv-fast}"
source scripts/lib/venv.sh
ensure_venv "$VENV"
"$VENV/bin/python" -m pip install -q -e ".[serve,redis,langchain,llama-index,corpus,ray,docs,lint]" "pytest>=8" "hypothesis>=6.100" "httpx>=0.27"
"$VENV/bin/python" -m pytest -m "not convert and not slow and not routes" "$@"
