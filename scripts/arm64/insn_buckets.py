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
    from edgeembed.embedder import Embedder

    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    embedder = Embedder.load(sys.argv[1], threads=1, token_cache_size=0, embedding_cache_size=0)
    # "hello" is one token for BERT-family vocabularies; [CLS] and [SEP] take two more.
    texts = {bucket: " ".join(["hello"] * (bucket - 2)) for bucket in embedder.tokenizer.seq_buckets}
    for bucket, text in texts.items():  # warm-up: every bucket once, and check the fill
        length = len(embedder.tokenizer.encode([text])[0].ids)
        if length != bucket:
            raise SystemExit(f"a probe text for bucket {bucket} has {length} tokens")
        embedder.encode(text)
    mark("warm")
    for bucket, text in texts.items():
        for _ in range(calls):
            embedder.encode(text)
        mark(f"bucket {bucket}")
    print(f"CALLS {calls}", flush=True)


if __name__ == "__main__":
    main()
