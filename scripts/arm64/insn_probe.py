"""Guest side of scripts/arm64-bench.sh: run one pipeline on the emulated Pi between markers.

Usage: python insn_probe.py SPEC_JSON TEXTS_FILE [MAPS_OUT]
SPEC_JSON is a bench_worker pipeline spec (edgeembed, onnxruntime). The marker plugin
(insn_marks.c) prints the guest instruction count at each ``os.lseek(-4242, 0, 0)``; this
script prints which segment each marker closes, so the host can turn counts into
instructions per sentence: warm-up, then every text alone (batch 1), then all texts at batch 32.
"""

from __future__ import annotations

import json
import os
import sys


def mark(label: str) -> None:
    sys.stdout.write(f"SEGMENT {label}\n")
    sys.stdout.flush()
    try:
        os.lseek(-4242, 0, 0)  # the plugin's marker; fails with EBADF, changes nothing
    except OSError:
        pass


def main() -> None:
    from edgeembed.host.bench_worker import PIPELINES

    spec = json.loads(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as handle:
        texts = [line.rstrip("\n") for line in handle if line.strip()]
    encode = PIPELINES[spec["pipeline"]](spec).encode
    encode(texts, 32)  # warm-up: every shape once
    for text in texts:
        encode([text], 1)
    mark("warm")
    for text in texts:
        encode([text], 1)
    mark("batch1")
    encode(texts, 32)
    mark("batch32")
    print(f"TEXTS {len(texts)}", flush=True)
    if len(sys.argv) > 3:  # the guest's memory map, to attribute a profile to libraries
        with open("/proc/self/maps", encoding="ascii") as maps, open(sys.argv[3], "w") as out:
            out.write(maps.read())


if __name__ == "__main__":
    main()
