"""How much faster a pruned bundle can be end to end: the tokenizer alone, the model call alone,
the two together (the least any pipeline does), and ``encode``, for two bundles, per text.

    python scripts/pruned-speed-floor.py FULL PRUNED [--rounds 5] [--threads 2]

``encode`` pays the same tokenizer and Python costs whatever the depth, so its speed-up sits
below the model call's; "tokenizer + model" is a pipeline with nothing else in it (no pooling,
no normalization, no Python glue), so its ratio bounds what any ``encode`` could reach. Batch 1
embeds the built-in bench texts one per call, each in its own bucket's signature; batch 32 makes
the calls ``encode(texts, batch_size=32)`` makes. Each bundle is measured in a fresh process, in
interleaved rounds (full, pruned; then pruned, full); figures are medians over rounds, and each
ratio is the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

KINDS = ("tokenizer alone", "model call", "tokenizer + model call", "encode")
REPEATS = 7  # timed passes of each kind per process, interleaved; the median counts
CHILD_TIMEOUT_S = 600  # one bundle's measurement takes seconds; a hung runtime must not hang the script


def model_call(backend: Any, arrays: dict) -> Callable[[], object]:
    """One signature call on ``arrays`` with nothing around it: for LiteRT's CompiledModel the
    bare run on buffers written once (the content does not change the cost); otherwise the
    backend's own call."""
    batch, seq_length = arrays["input_ids"].shape
    signature = backend._by_length[seq_length][batch]
    runner, _ = backend._runner(signature)
    feeds = {name: arrays[role] for role, name in signature.inputs.items()}
    runner(**feeds)  # writes the inputs, warms the signature
    if backend.executor != "compiled-model":
        return lambda: runner(**feeds)
    model, index = runner._model, runner._index
    inputs, outputs = runner._input_buffers, runner._output_buffers
    return lambda: model.run_by_index(index, inputs, outputs)


def measure(bundle: str, threads: int) -> dict[str, dict[str, float]]:
    """Microseconds per text of each kind at batch 1 and batch 32, in this process."""
    from edgeembed.embed.embedder import truncation_warnings_off

    with truncation_warnings_off():  # one bench text is truncated in every call that holds it
        return _measure(bundle, threads)


def _measure(bundle: str, threads: int) -> dict[str, dict[str, float]]:
    from edgeembed.data import bench_texts
    from edgeembed.embed.embedder import Embedder
    from edgeembed.embed.packing import single_text_inputs

    texts = bench_texts()
    embedder = Embedder.load(bundle, threads=threads, token_cache_size=0, embedding_cache_size=0, tuned=False)
    if not embedder.packs_texts:
        raise SystemExit(f"{bundle}: this script measures packed TFLite bundles (the rpi5 recipe)")
    backend, bucket_tokenizer = embedder.backend, embedder.tokenizer
    tokenizer = bucket_tokenizer._tokenizer
    pad = bucket_tokenizer.pad_id

    singles = []
    for text in texts:
        ids = tokenizer.encode(text).ids
        singles.append(model_call(backend, single_text_inputs(ids, bucket_tokenizer.bucket_for(len(ids)), pad)))
    recorded: list[dict] = []
    run_packed = backend.run_packed
    backend.run_packed = lambda arrays: recorded.append({k: v.copy() for k, v in arrays.items()}) or run_packed(arrays)
    embedder.encode(texts, batch_size=32)
    backend.run_packed = run_packed
    batched = [model_call(backend, arrays) for arrays in recorded]

    def b1_tokenizer() -> None:
        for text in texts:
            tokenizer.encode(text)

    def b1_model() -> None:
        for call in singles:
            call()

    def b1_floor() -> None:
        for text, call in zip(texts, singles, strict=True):
            tokenizer.encode(text)
            call()

    def b1_encode() -> None:
        for text in texts:
            embedder.encode([text], batch_size=1)

    def b32_model() -> None:
        for call in batched:
            call()

    def b32_floor() -> None:
        tokenizer.encode_batch(texts)
        for call in batched:
            call()

    passes = {
        "batch 1": dict(zip(KINDS, (b1_tokenizer, b1_model, b1_floor, b1_encode), strict=True)),
        "batch 32": dict(
            zip(
                KINDS,
                (
                    lambda: tokenizer.encode_batch(texts),
                    b32_model,
                    b32_floor,
                    lambda: embedder.encode(texts, batch_size=32),
                ),
                strict=True,
            )
        ),
    }
    timings: dict[str, dict[str, list[float]]] = {b: {k: [] for k in KINDS} for b in passes}
    for _ in range(REPEATS):
        for batch, kinds in passes.items():
            for kind, run in kinds.items():
                started = time.perf_counter()
                run()
                timings[batch][kind].append(1e6 * (time.perf_counter() - started) / len(texts))
    return {b: {k: statistics.median(v) for k, v in kinds.items()} for b, kinds in timings.items()}


def child(bundle: str, threads: int) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", bundle, "--threads", str(threads)],
        capture_output=True,
        text=True,
        check=False,
        timeout=CHILD_TIMEOUT_S,
    )
    if completed.returncode:
        raise SystemExit(f"{bundle}: measurement failed:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("full", nargs="?")
    parser.add_argument("pruned", nargs="?")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.threads)))
        return
    if not args.full or not args.pruned:
        parser.error("give two bundles: FULL PRUNED")
    rounds: list[dict[str, dict]] = []
    for number in range(args.rounds):
        order = (args.full, args.pruned) if number % 2 == 0 else (args.pruned, args.full)
        figures = {bundle: child(bundle, args.threads) for bundle in order}
        rounds.append({"full": figures[args.full], "pruned": figures[args.pruned]})
        print(f"round {number + 1} of {args.rounds} done", file=sys.stderr)
    summary = {
        batch: {
            kind: {
                "full_us": statistics.median(r["full"][batch][kind] for r in rounds),
                "pruned_us": statistics.median(r["pruned"][batch][kind] for r in rounds),
                "speedup": statistics.median(r["full"][batch][kind] / r["pruned"][batch][kind] for r in rounds),
                "speedup_range": [
                    min(r["full"][batch][kind] / r["pruned"][batch][kind] for r in rounds),
                    max(r["full"][batch][kind] / r["pruned"][batch][kind] for r in rounds),
                ],
            }
            for kind in KINDS
        }
        for batch in ("batch 1", "batch 32")
    }
    if args.json:
        print(json.dumps({"full": args.full, "pruned": args.pruned, "threads": args.threads, **summary}, indent=2))
        return
    print(f"us per text, {args.threads} threads, {args.rounds} rounds: {args.full} against {args.pruned}")
    print(f"{'':9} {'':24} {'full':>8} {'pruned':>8} {'speed-up':>9}  range")
    for batch, kinds in summary.items():
        for kind, row in kinds.items():
            low, high = row["speedup_range"]
            print(
                f"{batch:9} {kind:24} {row['full_us']:8.1f} {row['pruned_us']:8.1f} "
                f"{row['speedup']:8.2f}x  {low:.2f}-{high:.2f}"
            )


if __name__ == "__main__":
    main()
