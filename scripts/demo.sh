#!/usr/bin/env bash
# The main job on the default model: convert all-MiniLM-L6-v2 for a Raspberry Pi 5 (int8-dynamic
# TFLite), print the accuracy table, embed two sentences and show their similarity.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${EDGEEMBED_VENV:-.venv}"
OUT="${1:-out/all-minilm-l6-v2-rpi5}"
"$VENV/bin/edgeembed" convert --target rpi5 --out "$OUT" --overwrite
"$VENV/bin/edgeembed" embed "$OUT" "A man is playing a guitar." "Someone is playing an instrument." \
  --similarity
"$VENV/bin/edgeembed" info "$OUT"
