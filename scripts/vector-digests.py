"""The sha256 of ``Embedder.encode``'s output for bundles, at batch 1 and batch 32, on 200
held-out texts (the 100 built-in held-out sentences and 100 pairs of them): a fingerprint that
changes with a single bit of any vector. ``tests/data/vector-digests.json`` keeps the digests of
the default rpi5, x86-64 and intel-cpu bundles, and a test holds the code to them.

    python scripts/vector-digests.py out/minilm-rpi5 out/minilm-x86-64 out/minilm-intel-cpu

prints one JSON object: ``{"machine": ..., "bundles": {folder name: {"b1": sha, "b32": sha}}}``.
The digests depend on the CPU's instruction set (XNNPACK picks kernels by it), so they are
stored with the CPU features that decide the kernels, and compared only on a matching CPU.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

# x86 and ARM features that change which XNNPACK kernels (and so which rounding) run.
KERNEL_FEATURES = (
    "avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16", "f16c", "fma",
    "asimddp", "asimdhp", "i8mm", "sve", "bf16",
)  # fmt: skip


def digest_texts() -> list[str]:
    from edgeembed.data import builtin_texts, distinct_texts

    return builtin_texts("holdout") + distinct_texts(100)


def machine() -> dict[str, object]:
    """What decides the kernels: the CPU features above, the runtime's version, the thread count."""
    from importlib.metadata import PackageNotFoundError, version

    flags: set[str] = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.split(":")[0].strip() in ("flags", "Features"):
                flags |= set(line.split(":", 1)[1].split())
    try:
        litert = version("ai-edge-litert")
    except PackageNotFoundError:
        litert = None
    return {"features": sorted(flags & set(KERNEL_FEATURES)), "ai_edge_litert": litert, "threads": 2}


def digests(bundle: str | Path) -> dict[str, str]:
    from edgeembed import Embedder

    embedder = Embedder.load(bundle, threads=2, embedding_cache_size=0, token_cache_size=0, tuned=False)
    texts = digest_texts()
    one_by_one = [embedder.encode([text], batch_size=1) for text in texts]
    return {
        "b1": hashlib.sha256(b"".join(vectors.tobytes() for vectors in one_by_one)).hexdigest(),
        "b32": hashlib.sha256(embedder.encode(texts, batch_size=32).tobytes()).hexdigest(),
    }


def main(bundles: list[str]) -> None:
    result = {"machine": machine(), "bundles": {Path(b).name: digests(b) for b in bundles}}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
