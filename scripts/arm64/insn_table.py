"""Turn insn_probe.py's marker counts into instructions per sentence (scripts/arm64-bench.sh).

``insn_table.py line NAME < probe-output``  prints one JSON result line.
``insn_table.py table RESULTS TEXTS``       prints the table and an ``ARM64_BENCH {...}`` line.
``insn_table.py buckets < probe-output``     insn_buckets.py's segments: a per-bucket table and
                                            an ``ARM64_BUCKETS {...}`` line.
"""

from __future__ import annotations

import json
import os
import re
import sys

CPU = os.environ.get("ARM64_CPU", "cortex-a76")  # the emulated core (scripts/arm64/emu.sh)

BASELINE = "onnxruntime int8 (exact lengths)"


def line(name: str, output: str) -> dict:
    marks = [int(m) for m in re.findall(r"^MARK (\d+)$", output, re.MULTILINE)]
    texts = int(re.search(r"^TEXTS (\d+)$", output, re.MULTILINE).group(1))
    if len(marks) != 3:
        raise SystemExit(f"expected 3 markers, got {len(marks)}")
    return {
        "pipeline": name,
        "batch1_minsn_per_text": round((marks[1] - marks[0]) / texts / 1e6, 2),
        "batch32_minsn_per_text": round((marks[2] - marks[1]) / texts / 1e6, 2),
    }


def table(path: str, texts: int) -> None:
    rows = [json.loads(text) for text in open(path, encoding="utf-8") if text.strip()]
    base = next((r for r in rows if r["pipeline"] == BASELINE), None)
    print(f"Emulated {CPU}, 1 thread, {texts} texts: million guest instructions per text")
    print(f"{'pipeline':40s} {'batch 1':>8s} {'batch 32':>9s} {'x ORT INT8 (b1 / b32)':>22s}")
    for row in rows:
        ratio = ""
        if base:
            row["x_ort_int8"] = [
                round(row["batch1_minsn_per_text"] / base["batch1_minsn_per_text"], 2),
                round(row["batch32_minsn_per_text"] / base["batch32_minsn_per_text"], 2),
            ]
            ratio = f"{row['x_ort_int8'][0]:.2f} / {row['x_ort_int8'][1]:.2f}"
        print(f"{row['pipeline']:40s} {row['batch1_minsn_per_text']:8.2f} {row['batch32_minsn_per_text']:9.2f} {ratio:>22s}")
    print("ARM64_BENCH " + json.dumps({"cpu": f"{CPU} (qemu)", "threads": 1, "texts": texts, "results": rows}))


def buckets(output: str) -> None:
    """Instructions per call and per token slot of one text filling each bucket."""
    segments, label = [], None
    for text in output.splitlines():  # each marker closes the segment announced before it
        if text.startswith("SEGMENT "):
            label = text[len("SEGMENT "):]
        elif re.fullmatch(r"MARK \d+", text) and label is not None:
            segments.append((label, text.split()[1]))
    calls = int(re.search(r"^CALLS (\d+)$", output, re.MULTILINE).group(1))
    if len(segments) < 2 or segments[0][0] != "warm":
        raise SystemExit(f"expected a warm-up marker and one per bucket, got {len(segments)}")
    rows = []
    for (_, before), (label, after) in zip(segments, segments[1:]):
        bucket = int(label.split()[-1])
        per_call = (int(after) - int(before)) / calls / 1e6
        rows.append({"bucket": bucket, "minsn_per_call": round(per_call, 2), "minsn_per_token": round(per_call / bucket, 3)})
    print(f"One text filling each bucket (batch 1, {calls} calls each): million guest instructions")
    print(f"{'bucket':>6s} {'per call':>9s} {'per token':>10s}")
    for row in rows:
        print(f"{row['bucket']:6d} {row['minsn_per_call']:9.2f} {row['minsn_per_token']:10.3f}")
    print("ARM64_BUCKETS " + json.dumps({"cpu": f"{CPU} (qemu)", "threads": 1, "calls": calls, "results": rows}))


if __name__ == "__main__":
    if sys.argv[1] == "line":
        print(json.dumps(line(sys.argv[2], sys.stdin.read())))
    elif sys.argv[1] == "buckets":
        buckets(sys.stdin.read())
    else:
        table(sys.argv[2], int(sys.argv[3]))
