"""The offline speed ``bench-serve`` holds the server against: ``Embedder.encode`` at batch 32 on
the same texts, in a fresh process, with the server's thread count and no caches.

Run as ``python -m edgeembed.tools.offline_rate`` with a JSON spec on stdin (``bundle``, ``texts``,
``threads``, ``batch_size``, ``min_seconds``; stdin, since thousands of texts overflow a command
line); prints one JSON line with ``texts_per_s`` and ``cpu_ms_per_text`` (the model's own CPU
per text, every thread of the process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from edgeembed.errors import EdgeEmbedError

OFFLINE_BATCH = 32
TIMEOUT_S = 300.0


def measure(bundle: str, texts: list[str], threads: int | None, batch_size: int, min_seconds: float) -> dict[str, Any]:
    """Passes of ``encode(texts, batch_size)`` until ``min_seconds`` have run, after one warm-up pass."""
    from edgeembed.embed.embedder import Embedder, truncation_warnings_off

    embedder = Embedder.load(Path(bundle), threads=threads, token_cache_size=0, embedding_cache_size=0)
    with truncation_warnings_off():
        embedder.encode(texts, batch_size=batch_size)
        passes, wall_start, cpu_start = 0, time.perf_counter(), time.process_time()
        while passes == 0 or time.perf_counter() - wall_start < min_seconds:
            embedder.encode(texts, batch_size=batch_size)
            passes += 1
        wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    count = passes * len(texts)
    return {
        "batch_size": batch_size,
        "threads": embedder.threads,
        "texts_per_s": count / wall,
        "cpu_ms_per_text": 1000 * cpu / count,
    }


def offline_rate(
    bundle: str | Path,
    texts: list[str],
    threads: int | None = None,
    batch_size: int = OFFLINE_BATCH,
    min_seconds: float = 1.0,
) -> dict[str, Any]:
    """:func:`measure` in a fresh process (nothing this process loaded or warmed helps it)."""
    spec = {
        "bundle": str(bundle),
        "texts": texts,
        "threads": threads,
        "batch_size": batch_size,
        "min_seconds": min_seconds,
    }
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "edgeembed.tools.offline_rate"],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise EdgeEmbedError(f"the offline encode baseline took over {TIMEOUT_S:.0f} s") from None
    if finished.returncode != 0:
        raise EdgeEmbedError(f"the offline encode baseline failed:\n{finished.stderr[-2000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> None:
    spec = json.loads(sys.stdin.read())
    result = measure(spec["bundle"], spec["texts"], spec["threads"], spec["batch_size"], spec["min_seconds"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
