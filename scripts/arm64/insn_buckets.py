"""Guest side of scripts/arm64-bench.sh: the cost of one text in each bucket of a bundle.

Usage: python insn_buckets.py BUNDLE [CALLS]
For every sequence bucket of the bundle, embeds (batch 1, caches off) a text whose tokens fill
that bucket exactly, CALLS times between two markers of the counting plugin (insn_marks.c), so
the host can print guest instructions per call and per token slot: the profile that shows how
a text's cost grows with its bucket (and whether a finer bucket would save anything).
"""

from __future__ import annotations

import sys

from insn_probe import mark  # copied beside this script


def main() -> None:
    from edgeembed.embed.embedder import Embedder
    from edgeembed.host.bench_worker import bucket_filling_texts

    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    embedder = Embedder.load(sys.argv[1], threads=1, token_cache_size=0, embedding_cache_size=0)
    texts = bucket_filling_texts(embedder.tokenizer)  # the texts `edgeembed bench` times
    if not texts:
        raise SystemExit("no probe text fills this bundle's buckets exactly")
    for text in texts.values():  # warm-up: every bucket once
        embedder.encode(text)
    mark("warm")
    for bucket, text in texts.items():
        for _ in range(calls):
            embedder.encode(text)
        mark(f"bucket {bucket}")
    print(f"CALLS {calls}", flush=True)


if __name__ == "__main__":
    main()
