"""One benchmark measurement of one pipeline, in a fresh process.

Run by ``edgeembed bench`` as ``python -m edgeembed.host.bench_worker SPEC_JSON SPAWN_TIME``; prints
one JSON line. A fresh process is what makes cold start (spawn to first embedding) and peak RSS
honest. Each pipeline imports only what it needs: the edgeembed one never imports torch.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SHORT_SENTENCE = "How do I reset my wifi router?"
SEQUENCE_LENGTHS = (16, 32, 64, 128)

Encode = Callable[[list[str], int], np.ndarray]
# Tokens each pipeline hands its model (padding included) and the texts' own tokens.
TOKENS = {"fed": 0, "real": 0}


class _PaddedTokenizer:
    """Baselines tokenize like sentence-transformers: pad each batch to its longest text."""

    def __init__(self, tokenizer_file: str, max_length: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(tokenizer_file)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = self._tokenizer.encode_batch(texts)
        length = max(len(e.ids) for e in encodings)
        TOKENS["fed"] += len(texts) * length
        TOKENS["real"] += sum(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        return ids, mask


def _sorted_encode(tokenize: Callable[[list[str]], tuple[np.ndarray, np.ndarray]], run: Callable[..., Any]) -> Encode:
    """``encode(texts, batch_size)`` over length-sorted batches: ``run(ids, mask)`` gives token
    embeddings, mean-pooled and normalized here, rows back in input order."""

    def encode(texts: list[str], batch_size: int) -> np.ndarray:
        result: np.ndarray | None = None
        for index in _sorted_batches(texts, batch_size):
            ids, mask = tokenize([texts[i] for i in index])
            pooled = _mean_normalize(np.asarray(run(ids, mask)), mask)
            if result is None:
                result = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            result[index] = pooled
        assert result is not None  # texts is never empty
        return result

    return encode


def _sorted_batches(texts: list[str], batch_size: int):
    order = np.argsort([-len(t) for t in texts], kind="stable")
    for start in range(0, len(texts), batch_size):
        yield order[start : start + batch_size]


def _mean_normalize(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


@dataclass
class BenchPipeline:
    """A pipeline under measurement: ``encode(texts, batch_size)``, and what only edgeembed offers:
    ``count_tokens(run)`` (token slots and real tokens while ``run()`` embeds, from the pipeline's
    observer) and ``bucket_texts()`` (a text filling each of its buckets)."""

    encode: Encode
    count_tokens: Callable[[Callable[[], None]], tuple[int, int]] | None = None
    bucket_texts: Callable[[], dict[int, str]] | None = None


class _TokenCounter:
    """An observer of edgeembed's pipeline that counts what reached the model."""

    def __init__(self) -> None:
        self.slots = self.real = 0

    def step(self, name: str, seconds: float) -> None:
        pass

    def model_call(self, token_slots: int) -> None:
        self.slots += token_slots

    def tokenized(self, real_tokens: int) -> None:
        self.real += real_tokens


def edgeembed_pipeline(spec: dict[str, Any]) -> BenchPipeline:
    from edgeembed.embed.embedder import Embedder

    embedder = Embedder.load(spec["bundle"], threads=spec["threads"], token_cache_size=0, embedding_cache_size=0)

    def encode(texts: list[str], batch_size: int) -> np.ndarray:
        return embedder.encode(texts, batch_size=batch_size)

    def count_tokens(run: Callable[[], None]) -> tuple[int, int]:
        # Repeated texts are embedded once per call, so only a call's distinct texts count.
        with embedder.pipeline.observed(_TokenCounter()) as counter:
            run()
        return counter.slots, counter.real

    return BenchPipeline(encode, count_tokens, lambda: bucket_filling_texts(embedder.tokenizer))


def bucket_filling_texts(tokenizer: Any) -> dict[int, str]:
    """A text whose tokens fill each bucket exactly (buckets this vocabulary cannot fill with
    one-token words are left out): a bucket's cost, not its padding, is then what is timed."""
    texts = {}
    for bucket in tokenizer.seq_buckets:
        text = " ".join(["edge"] * (bucket - 2))
        if len(tokenizer.encode([text])[0].ids) == bucket:
            texts[bucket] = text
    return texts


def padding_waste(pipeline: BenchPipeline, texts: list[str], batch_size: int) -> float:
    """Tokens the model ran (padding included) per token of text, over one pass."""

    def one_pass() -> None:
        if batch_size == 1:
            for text in texts:
                pipeline.encode([text], 1)
        else:
            pipeline.encode(texts, batch_size)

    if pipeline.count_tokens is not None:
        fed, real = pipeline.count_tokens(one_pass)
    else:  # the baselines' tokenizer counts both sides as it pads
        TOKENS["fed"] = TOKENS["real"] = 0
        one_pass()
        fed, real = TOKENS["fed"], TOKENS["real"]
    return fed / max(real, 1)


def torch_pipeline(spec: dict[str, Any]) -> BenchPipeline:
    import torch
    from transformers import AutoModel

    torch.set_num_threads(spec["threads"])
    model = AutoModel.from_pretrained(spec["model_dir"], local_files_only=True).eval()
    tokenize = _PaddedTokenizer(spec["tokenizer"], spec["max_seq_length"])

    def encode(texts: list[str], batch_size: int) -> np.ndarray:
        result = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for index in _sorted_batches(texts, batch_size):
                ids, mask = tokenize([texts[i] for i in index])
                hidden = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
                result[index] = _mean_normalize(hidden.last_hidden_state.numpy(), mask)
        return result

    return BenchPipeline(encode)


def onnxruntime_pipeline(spec: dict[str, Any]) -> BenchPipeline:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = spec["threads"]
    session = onnxruntime.InferenceSession(spec["onnx"], options, providers=["CPUExecutionProvider"])
    tokenize = _PaddedTokenizer(spec["tokenizer"], spec["max_seq_length"])

    return BenchPipeline(
        _sorted_encode(tokenize, lambda ids, mask: session.run(None, {"input_ids": ids, "attention_mask": mask})[0])
    )


def openvino_pipeline(spec: dict[str, Any]) -> BenchPipeline:
    """Plain OpenVINO on the CPU: the FP32 ONNX export read as it is (dynamic shapes), f32 as
    edgeembed's OpenVINO bundles run (CPUs with bf16 would otherwise pick bf16)."""
    import openvino

    core = openvino.Core()
    config = {"INFERENCE_NUM_THREADS": spec["threads"], "INFERENCE_PRECISION_HINT": "f32"}
    request = core.compile_model(core.read_model(spec["onnx"]), "CPU", config).create_infer_request()
    tokenize = _PaddedTokenizer(spec["tokenizer"], spec["max_seq_length"])

    return BenchPipeline(
        _sorted_encode(tokenize, lambda ids, mask: request.infer({"input_ids": ids, "attention_mask": mask})[0])
    )


PIPELINES = {
    "edgeembed": edgeembed_pipeline,
    "torch": torch_pipeline,
    "onnxruntime": onnxruntime_pipeline,
    "openvino": openvino_pipeline,
}


def _throughput(encode: Encode, texts: list[str], batch_size: int, min_seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while True:
        if batch_size == 1:
            for text in texts:
                encode([text], 1)
        else:
            encode(texts, batch_size)
        done += len(texts)
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return done / elapsed


def _latencies_ms(encode: Encode, text: str, calls: int) -> list[float]:
    for _ in range(5):
        encode([text], 1)
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        encode([text], 1)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _cache_hit_us(spec: dict[str, Any]) -> float:
    from edgeembed.embed.embedder import Embedder

    embedder = Embedder.load(spec["bundle"], threads=spec["threads"])
    embedder.encode(SHORT_SENTENCE)
    calls = 5000
    started = time.perf_counter()
    for _ in range(calls):
        embedder.encode(SHORT_SENTENCE)
    return (time.perf_counter() - started) / calls * 1e6


def peak_rss_mb() -> float:
    """Peak resident memory of this process image. ``ru_maxrss`` would include the high-water
    mark of the forking parent, which Linux carries across exec; ``VmHWM`` does not."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(spec: dict[str, Any], spawned_at: float) -> dict[str, Any]:
    pipeline = PIPELINES[spec["pipeline"]](spec)
    encode = pipeline.encode
    encode([SHORT_SENTENCE], 1)
    cold_start = time.time() - spawned_at
    with open(spec["texts"], encoding="utf-8") as handle:
        texts = [line.rstrip("\n") for line in handle if line.strip()]
    # Warm-up, untimed: first use of each shape builds runtime state (XNNPACK packs weights per
    # signature, ORT and torch allocate); steady state is what the figures describe.
    encode(texts, 32)
    for text in texts:
        encode([text], 1)
    waste = {"batch1": padding_waste(pipeline, texts, 1), "batch32": padding_waste(pipeline, texts, 32)}
    latencies = _latencies_ms(encode, SHORT_SENTENCE, spec["latency_calls"])
    result: dict[str, Any] = {
        "cold_start_s": cold_start,
        "batch1_per_s": _throughput(encode, texts, 1, spec["min_seconds"]),
        "batch32_per_s": _throughput(encode, texts, 32, spec["min_seconds"]),
        "padding_waste": waste,
        "latency_p50_ms": statistics.median(latencies),
        "latency_p95_ms": float(np.percentile(latencies, 95)),
        "latency_by_tokens_ms": {
            str(n): statistics.median(_latencies_ms(encode, " ".join(["edge"] * (n - 2)), 15)) for n in SEQUENCE_LENGTHS
        },
    }
    if pipeline.bucket_texts is not None:  # edgeembed: what one text costs in each of its buckets
        result["latency_by_bucket_ms"] = {
            str(bucket): statistics.median(_latencies_ms(encode, text, 15))
            for bucket, text in pipeline.bucket_texts().items()
        }
    result["peak_rss_mb"] = peak_rss_mb()
    result["heavy_modules"] = sorted({"torch", "tensorflow", "jax"} & set(sys.modules))
    if spec["pipeline"] == "edgeembed":  # after RSS: it loads a second embedder
        result["cache_hit_us"] = _cache_hit_us(spec)
    return result


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]), float(sys.argv[2]))), flush=True)
