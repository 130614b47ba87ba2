"""embed-corpus at scale: the local pool and a local Ray cluster on the same corpus, checked
against ``Embedder.encode_document``, plus a run killed mid-way and resumed.

    python scripts/corpus-scaling.py BUNDLE [--lines 100000] [--shard-size 5000] [--work DIR]

Needs ``edgeembed[corpus,ray]`` and the bundle's runtime. The corpus is built from the STS-B
sentences in ../shared/data (two sentences per line, every line distinct, deterministic). Each configuration runs
``edgeembed embed-corpus`` in a fresh process into a fresh folder; one JSON line per run, then
a table. Wall-clock includes start-up (loading the bundle; starting Ray).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def build_corpus(path: Path, lines: int) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from edgeembed.texts import read_texts

    sentences = read_texts(DATA / "stsb-en-train.csv") + read_texts(DATA / "stsb-en-dev.csv")
    count = len(sentences)
    # Line i pairs sentence i mod n with one that shifts every full pass: all lines differ, so
    # no run is helped by repeated texts.
    texts = [f"{sentences[i % count]} {sentences[(i % count + 1 + (i // count) * 977) % count]}" for i in range(lines)]
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return texts


def run(bundle: str, corpus: Path, out: Path, shard_size: int, extra: list[str]) -> float:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "edgeembed.cli", "embed-corpus", bundle, str(corpus), "--out", str(out),
         "--shard-size", str(shard_size), "--format", "npy", *extra],
        check=True, capture_output=True, text=True,
    )
    return time.perf_counter() - started


def killed_and_resumed(bundle: str, corpus: Path, out: Path, shard_size: int, extra: list[str]) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "edgeembed.cli", "embed-corpus", bundle, str(corpus), "--out", str(out),
               "--shard-size", str(shard_size), "--format", "npy", *extra]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while len(list(out.glob("shard-*.ids.json"))) < 4 and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the driver and every Ray process it started
    process.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.npy")}
    rerun = subprocess.run(command, check=True, capture_output=True, text=True)
    untouched = all((out / name).stat().st_mtime_ns == mtime for name, mtime in finished.items())
    return {"shards_before_kill": len(finished), "untouched_after_resume": untouched, "summary": rerun.stdout.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--shard-size", type=int, default=5_000)
    parser.add_argument("--work", type=Path, default=Path("/var/tmp/edgeembed-corpus-scaling"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    corpus = args.work / "corpus.txt"
    texts = build_corpus(corpus, args.lines)
    print(f"{len(set(texts))} distinct lines of {len(texts)}", flush=True)

    from edgeembed import Embedder
    from edgeembed.tools.corpus import load_corpus_vectors

    embedder = Embedder.load(args.bundle, embedding_cache_size=0)
    started = time.perf_counter()
    expected = embedder.encode_document(texts)
    reference_s = time.perf_counter() - started
    configurations = {
        "local pool, 1 process": [],
        "local pool, 2 processes": ["--workers", "2"],
        "local Ray cluster, 2 actors": ["--ray", "local", "--workers", "2"],
    }
    rows = [{"run": "Embedder.encode_document (in process, reference)", "workers": 1, "seconds": round(reference_s, 1),
             "texts_per_s": round(args.lines / reference_s), "max_abs_diff": 0.0}]
    for name, extra in configurations.items():
        out = args.work / name.replace(" ", "-").replace(",", "")
        seconds = run(args.bundle, corpus, out, args.shard_size, extra)
        _, vectors = load_corpus_vectors(out)
        workers = int(extra[extra.index("--workers") + 1]) if "--workers" in extra else 1
        rows.append({"run": name, "workers": workers, "seconds": round(seconds, 1),
                     "texts_per_s": round(args.lines / seconds),
                     "per_worker": round(args.lines / seconds / workers),
                     "max_abs_diff": float(np.abs(vectors - expected).max())})
        print(json.dumps(rows[-1]), flush=True)
    resume = killed_and_resumed(args.bundle, corpus, args.work / "killed", args.shard_size, ["--ray", "local", "--workers", "2"])
    _, vectors = load_corpus_vectors(args.work / "killed")
    resume["max_abs_diff"] = float(np.abs(vectors - expected).max())
    print(json.dumps({"kill_and_resume": resume}), flush=True)
    print(f"\n{args.lines} lines, shard size {args.shard_size}, {os.cpu_count()} CPUs")
    print(f"{'run':<52} {'s':>7} {'texts/s':>8} {'per worker':>10} {'max |diff|':>10}")
    for row in rows:
        print(f"{row['run']:<52} {row['seconds']:>7} {row['texts_per_s']:>8} {row.get('per_worker', ''):>10} {row['max_abs_diff']:>10.2g}")


if __name__ == "__main__":
    main()
