"""``edgeembed tune``: time a bundle's run-time options on the device itself, keep the fastest.

The target profile's defaults are a guess made on the build machine; the Pi is not that
machine. Tuning loads the bundle once per thread count (and, for TFLite bundles, once per LiteRT
executor: the CompiledModel sharing one packed copy of the weights, or the classic Interpreter;
for bucketed bundles it also tries batch sizes), measures single-text latency and bulk
throughput in interleaved rounds, and writes the winner to a local settings file keyed by the
bundle's manifest digest. ``Embedder.load`` then
uses it for any option the caller leaves unset; the bundle itself is never modified.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgeembed.atomic import atomic_write
from edgeembed.bundle import Bundle
from edgeembed.embed.embedder import truncation_warnings_off
from edgeembed.embed.tuned import SETTINGS, SWITCHES, settings_path
from edgeembed.errors import InputError

GOALS = ("latency", "throughput")


def tune(
    bundle_path: str | os.PathLike[str],
    texts: Sequence[str],
    threads: Sequence[int] | None = None,
    batch_sizes: Sequence[int] = (8, 16, 32, 64),
    goal: str = "latency",
    rounds: int = 3,
    min_seconds: float = 0.5,
    progress: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Measure every option, write the fastest for ``goal``, return all measurements."""
    if goal not in GOALS:
        raise InputError(f"goal must be one of {GOALS}, got {goal!r}")
    if len(texts) < 2:
        raise InputError("tuning needs at least 2 texts")
    bundle = Bundle.load(Path(bundle_path))
    cores = os.cpu_count() or 1
    threads = sorted({t for t in (threads or _thread_options(cores)) if t >= 1})
    if not threads or max(threads) > cores:
        raise InputError(f"thread counts must be between 1 and this machine's {cores} cores")
    with truncation_warnings_off():
        runs = _interleaved_rounds(bundle, list(texts), threads, batch_sizes, rounds, min_seconds, progress)
    measured = [_median(option, results) for option, results in runs.items()]
    best = max(measured, key=lambda m: m["batch1_per_s"] if goal == "latency" else m["bulk_per_s"])
    chosen = {key: best[key] for key in (*SETTINGS, *SWITCHES) if key in best}
    result = {
        "bundle": str(bundle.path),
        "goal": goal,
        "cores": cores,
        "texts": len(texts),
        "chosen": chosen,
        "measured": measured,
    }
    if bundle.manifest.format == "tflite":
        from edgeembed.runtimes.litert_executor import executor_summary

        result["litert_executor"] = executor_summary()
    result["settings_file"] = str(
        atomic_write(settings_path(bundle), lambda stream: stream.write(json.dumps(result, indent=1).encode()))
    )
    return result


def _executors(bundle: Bundle) -> tuple[bool | None, ...]:
    """LiteRT executors worth timing: shared weights (CompiledModel) and the Interpreter."""
    from edgeembed.runtimes import backend_for
    from edgeembed.runtimes.litert_executor import compiled_model_blocker

    if "shared_weights" not in backend_for(bundle, None).options:
        return (None,)
    if (
        importlib.util.find_spec("ai_edge_litert") is None
        or importlib.util.find_spec("ai_edge_litert.compiled_model") is None
    ):
        return (None,)
    if compiled_model_blocker() is not None:  # this CPU cannot load it: only the Interpreter is timed
        return (None,)
    return (True, False)


def _interleaved_rounds(
    bundle: Bundle,
    texts: list[str],
    threads: list[int],
    batch_sizes: Sequence[int],
    rounds: int,
    min_seconds: float,
    progress: Callable[[str], None],
) -> dict[tuple[int, bool | None], list[dict[str, Any]]]:
    from edgeembed.embed.embedder import Embedder

    options = [(count, shared) for count in threads for shared in _executors(bundle)]
    runs: dict[tuple[int, bool | None], list[dict[str, Any]]] = {option: [] for option in options}
    for round_index in range(max(1, rounds)):
        for count, shared in options:  # every option once per round
            executor = "" if shared is None else (", shared weights" if shared else ", Interpreter")
            progress(f"round {round_index + 1}/{rounds}: {count} thread(s){executor}")
            embedder = Embedder(
                bundle,
                threads=count,
                token_cache_size=0,
                embedding_cache_size=0,
                tuned=False,
                backend_options=None if shared is None else {"shared_weights": shared},
            )
            sizes = (embedder.batch_size,) if embedder.packs_texts else tuple(batch_sizes)
            runs[count, shared].append(_measure(embedder, texts, sizes, min_seconds))
    return runs


def reset(bundle_path: str | os.PathLike[str]) -> bool:
    """Forget this bundle's tuned settings; ``True`` if there were any."""
    path = settings_path(Bundle.load(Path(bundle_path)))
    existed = path.is_file()
    path.unlink(missing_ok=True)
    return existed


def _thread_options(cores: int) -> list[int]:
    options, count = [], 1
    while count < cores:
        options.append(count)
        count *= 2
    return [*options, cores]


def _measure(embedder: Any, texts: list[str], batch_sizes: Sequence[int], min_seconds: float) -> dict[str, Any]:
    embedder.encode(texts)  # warm-up: every signature the texts reach
    for text in texts:
        embedder.encode(text)
    latencies = []
    started = time.perf_counter()
    while time.perf_counter() - started < min_seconds:
        for text in texts:
            begin = time.perf_counter()
            embedder.encode(text)
            latencies.append(time.perf_counter() - begin)
    bulk = {}
    for size in batch_sizes:
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < min_seconds:
            embedder.encode(texts, batch_size=size)
            done += len(texts)
        bulk[size] = done / (time.perf_counter() - started)
    return {"batch1_per_s": 1.0 / statistics.mean(latencies), "bulk_per_s": bulk}


def _median(option: tuple[int, bool | None], results: list[dict[str, Any]]) -> dict[str, Any]:
    threads, shared = option
    sizes = results[0]["bulk_per_s"]
    bulk = {size: statistics.median(r["bulk_per_s"][size] for r in results) for size in sizes}
    batch_size = max(bulk, key=bulk.__getitem__)
    return {
        "threads": threads,
        **({} if shared is None else {"shared_weights": shared}),
        "batch1_per_s": statistics.median(r["batch1_per_s"] for r in results),
        "bulk_per_s": bulk[batch_size],
        "batch_size": batch_size,
    }
