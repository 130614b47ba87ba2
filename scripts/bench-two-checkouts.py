"""Two versions of edgeembed's code on one bundle, in one run: is a change faster or slower?

    python scripts/bench-two-checkouts.py BUNDLE --before ../edgeembed-old [--after .] [--rounds 3]

Each round runs ``edgeembed bench``'s measuring worker (texts/s at batch 1 and 32 on the built-in
texts, 2 threads, caches off) once per checkout, each in a fresh process, the order alternating
from round to round; it prints the medians and after/before ratios. A checkout is a source tree
of this repository (``git worktree add ../edgeembed-old REV``); its ``converters/``,
``runtimes/``, ``targets/`` and ``samples/`` are laid out as installed, in a temporary folder put
first on the worker's ``PYTHONPATH``, so the installed environment's packages serve both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBPACKAGES = ("converters", "runtimes", "targets", "samples")


def installed_layout(checkout: Path, into: Path) -> Path:
    """``into/edgeembed``: the checkout's package with its sub-packages where they install."""
    package = into / "edgeembed"
    package.mkdir()
    for entry in (checkout / "edgeembed").iterdir():
        (package / entry.name).symlink_to(entry.resolve())
    for name in SUBPACKAGES:
        if not (package / name).exists():
            (package / name).symlink_to((checkout / name).resolve())
    return into


def measure(layout: Path, spec: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(layout)}
    command = [sys.executable, "-m", "edgeembed.host.bench_worker", json.dumps(spec), str(time.time())]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=layout, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"worker failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--before", required=True, type=Path)
    parser.add_argument("--after", default=Path(__file__).resolve().parents[1], type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeembed-two-") as work:
        root = Path(work)
        texts = root / "texts.txt"
        sys.path.insert(0, str(args.after))
        from edgeembed.bundle import Bundle
        from edgeembed.data import bench_texts

        texts.write_text("\n".join(bench_texts()) + "\n", encoding="utf-8")
        spec = {
            "pipeline": "edgeembed", "bundle": str(Path(args.bundle).resolve()), "texts": str(texts),
            "threads": args.threads, "min_seconds": 1.0, "latency_calls": 100,
            "max_seq_length": Bundle.load(args.bundle).manifest.max_seq_length,
        }  # fmt: skip
        layouts = {}
        for name, checkout in (("before", args.before), ("after", args.after)):
            (root / name).mkdir()
            layouts[name] = installed_layout(checkout.resolve(), root / name)
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for round_index in range(args.rounds):
            order = ("before", "after") if round_index % 2 == 0 else ("after", "before")
            for name in order:
                print(f"round {round_index + 1}/{args.rounds}: {name}", file=sys.stderr)
                runs[name].append(measure(layouts[name], spec))
    result = {}
    for name, results in runs.items():
        result[name] = {key: statistics.median(r[key] for r in results) for key in ("batch1_per_s", "batch32_per_s")}
        result[name]["rounds"] = [{key: round(r[key], 1) for key in ("batch1_per_s", "batch32_per_s")} for r in results]
    result["after_vs_before"] = {
        key: round(result["after"][key] / result["before"][key], 3) for key in ("batch1_per_s", "batch32_per_s")
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
