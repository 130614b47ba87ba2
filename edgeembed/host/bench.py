"""``edgeembed bench``: edgeembed against the tools a user would otherwise pick, in one run.

Every pipeline is measured in its own fresh process (cold start, peak RSS), round after round,
interleaved, on the same texts and thread count; each figure is the median over rounds.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgeembed.bundle import Bundle
from edgeembed.data import bench_texts
from edgeembed.errors import EdgeEmbedError, InputError
from edgeembed.texts import read_texts
from edgeembed.tools.charts import pyplot, save_png

# What a user would otherwise run: PyTorch FP32; ONNX Runtime dynamic INT8 (what fastembed ships);
# plain OpenVINO FP32 (the ONNX export read as it is, dynamic shapes, each batch padded to its
# longest text), the runtime an OpenVINO bundle must not be slower than.
BASELINES = ("torch", "onnxruntime", "openvino")
DEFAULT_BASELINES = ("torch", "onnxruntime")
REFERENCE = "torch"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _baseline_specs(bundle: Bundle, baselines: Sequence[str], model: str | None) -> dict[str, dict]:
    """Locate the FP32 source for ``torch``; export ONNX (cached), quantized for ``onnxruntime``,
    FP32 for ``openvino``."""
    if not baselines:
        return {}
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise InputError(f"unknown baseline(s) {unknown}; choose from {', '.join(BASELINES)}")
    from edgeembed.converters import require_convert_extra

    require_convert_extra(("torch", "transformers"))
    from edgeembed.converters.sources import source_for_bundle

    source = source_for_bundle(bundle.manifest.source, model)
    if not source.path:
        raise EdgeEmbedError("baselines need the source model as a folder; pass --model FOLDER")
    tokenizer = Path(source.path) / "tokenizer.json"
    model_dir = _transformer_dir(Path(source.path))
    specs: dict[str, dict] = {}
    if "torch" in baselines:
        size = sum(f.stat().st_size for f in model_dir.glob("*.safetensors")) or None
        specs["torch"] = {"model_dir": str(model_dir), "tokenizer": str(tokenizer), "size": size}
    if "onnxruntime" in baselines:
        require_convert_extra(("onnxruntime", "onnx"))
        onnx = _onnx_int8(source, model_dir)
        specs["onnxruntime"] = {"onnx": str(onnx), "tokenizer": str(tokenizer), "size": onnx.stat().st_size}
    if "openvino" in baselines:
        require_convert_extra(("openvino", "onnx"))
        onnx = _onnx_fp32(source)
        specs["openvino"] = {"onnx": str(onnx), "tokenizer": str(tokenizer), "size": onnx.stat().st_size}
    return specs


def _transformer_dir(folder: Path) -> Path:
    modules = folder / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text()):
            if str(module.get("type", "")).endswith("models.Transformer"):
                return folder / module.get("path", "")
    return folder


def _onnx_int8(source: Any, model_dir: Path) -> Path:
    from edgeembed.converters.onnx import quantize_dynamic_int8

    return _cached_onnx(
        source, "model-int8-dynamic.onnx", lambda fp32, out: quantize_dynamic_int8(fp32, out, plain=True)
    )


def _onnx_fp32(source: Any) -> Path:
    return _cached_onnx(source, "model-fp32.onnx", None)


def _cached_onnx(source: Any, name: str, finish: Callable[[Path, Path], Any] | None) -> Path:
    """The source exported to ONNX (then ``finish(fp32, out)``), cached by its weights' sha256."""
    from edgeembed.converters.onnx import export_onnx

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgeembed" / "bench"
    folder = cache / source.weights_sha256[:16]
    target = folder / name
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as work:
            fp32 = export_onnx(source.model, Path(work) / "model.onnx")
            made = Path(work) / "made.onnx"
            if finish is None:
                os.replace(fp32, made)
            else:
                finish(fp32, made)
            os.replace(made, target)
    return target


def _run_worker(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    spawned = time.time()
    process = subprocess.run(
        [sys.executable, "-m", "edgeembed.host.bench_worker", json.dumps(spec), repr(spawned)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TRANSFORMERS_VERBOSITY": "error"},
    )
    lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        tail = "\n".join(process.stderr.strip().splitlines()[-8:])
        raise EdgeEmbedError(f"benchmark of {spec['pipeline']} failed:\n{tail}")
    return json.loads(lines[-1])


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, (int, float)):
            merged[key] = statistics.median(run[key] for run in runs)
        elif isinstance(value, dict):
            merged[key] = {k: statistics.median(run[key][k] for run in runs) for k in value}
        else:
            merged[key] = value
    return merged


def run_bench(
    bundle_path: str | Path,
    baselines: Sequence[str] = DEFAULT_BASELINES,
    texts_file: str | Path | None = None,
    threads: int = 2,
    rounds: int = 3,
    model: str | None = None,
    min_seconds: float = 1.0,
    progress: Callable[[str], None] = lambda message: None,
    compare: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Interleaved rounds of the bundle, the baselines and any ``compare`` bundles (each run as
    edgeembed runs it, named by its folder), every pipeline in a fresh process per round."""
    for name, value in (("threads", threads), ("rounds", rounds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} (--{name}) must be a positive integer, got {value!r}")
    bundle = Bundle.load(bundle_path)
    others = {f"bundle {Path(path).name}": Bundle.load(path) for path in compare}
    texts = read_texts(texts_file) if texts_file else bench_texts()
    baseline_specs = _baseline_specs(bundle, baselines, model)
    with tempfile.TemporaryDirectory(prefix="edgeembed-bench-") as work:
        texts_path = Path(work) / "texts.txt"
        texts_path.write_text("\n".join(t.replace("\n", " ") for t in texts) + "\n", encoding="utf-8")
        common = {
            "texts": str(texts_path),
            "threads": threads,
            "min_seconds": min_seconds,
            "latency_calls": 100,
            "max_seq_length": bundle.manifest.max_seq_length,
        }
        specs = {"edgeembed": {"pipeline": "edgeembed", "bundle": str(bundle.path), **common}}
        for name, other in others.items():
            specs[name] = {"pipeline": "edgeembed", "bundle": str(other.path), **common}
        for name, extra in baseline_specs.items():
            specs[name] = {"pipeline": name, **common, **{k: v for k, v in extra.items() if k != "size"}}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in specs}
        for round_index in range(rounds):
            for name, spec in specs.items():  # interleaved: every pipeline once per round
                progress(f"round {round_index + 1}/{rounds}: {name}")
                runs[name].append(_run_worker(spec, timeout=600))
    sizes = {
        "edgeembed": _model_bytes(bundle),
        **{k: v["size"] for k, v in baseline_specs.items()},
        **{name: _model_bytes(other) for name, other in others.items()},
    }
    results = {name: {**_median(r), "model_mb": (sizes[name] or 0) / 1e6} for name, r in runs.items()}
    return {
        "machine": {"cpu": _cpu_name(), "cores": os.cpu_count(), "python": platform.python_version()},
        "bundle": str(bundle.path),
        "quantization": bundle.manifest.quantization,
        "texts": len(texts),
        "threads": threads,
        "rounds": rounds,
        "results": results,
        "ratios": _ratios(results),
    }


def _model_bytes(bundle: Bundle) -> int:
    return sum(bundle.file(name).stat().st_size for name in bundle.manifest.model_files)


def _ratios(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    ratios: dict[str, dict[str, float]] = {}
    ours = results["edgeembed"]
    for name, other in results.items():
        if name == "edgeembed":
            continue
        ratios[f"edgeembed_vs_{name}"] = {
            key: round(ours[key] / other[key], 2) for key in ("batch1_per_s", "batch32_per_s")
        }
    return ratios


def plot_bench(result: dict[str, Any], path: str | Path) -> Path:
    """Latency by sequence length and throughput bars (needs matplotlib: edgeembed[plot])."""
    plt = pyplot()
    results = result["results"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, values in results.items():
        lengths = sorted(values["latency_by_tokens_ms"], key=int)
        left.plot(
            [int(n) for n in lengths], [values["latency_by_tokens_ms"][n] for n in lengths], marker="o", label=name
        )
    left.set(xlabel="tokens", ylabel="latency, batch 1 (ms)", title="Latency vs sequence length")
    left.legend()
    names = list(results)
    positions = range(len(names))
    right.bar([p - 0.2 for p in positions], [results[n]["batch1_per_s"] for n in names], 0.4, label="batch 1")
    right.bar([p + 0.2 for p in positions], [results[n]["batch32_per_s"] for n in names], 0.4, label="batch 32")
    right.set_xticks(list(positions), names)
    right.set(ylabel="sentences / s", title=f"Throughput ({result['threads']} threads)")
    right.legend()
    figure.tight_layout()
    return save_png(figure, path)
