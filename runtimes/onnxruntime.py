"""ONNX Runtime executor. Imports only ``onnxruntime``.

``device="GPU"`` asks for TensorRT, then CUDA, then CPU execution providers, taking the first
this installation has (the usual stack on a Jetson); ``device="CPU"`` uses the CPU provider.
TensorRT engines are cached on disk so the build is paid once per machine.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.bundle import Bundle
from edgeembed.errors import BundleError, EdgeEmbedError
from edgeembed.runtimes import BackendTraits, import_runtime
from edgeembed.runtimes import cache_dir as runtime_cache_dir
from edgeembed.runtimes.batching import run_in_chunks, signature_for

logger = logging.getLogger("edgeembed")
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
_ORT_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


def choose_providers(device: str, available: list[str], cache_dir: Path) -> list[Any]:
    """Execution providers in preference order for ``device`` on this installation."""
    device = device.upper()
    if device not in ("CPU", "GPU"):
        raise EdgeEmbedError(f"unknown ONNX Runtime device {device!r}; choose CPU or GPU")
    chosen: list[Any] = []
    if device == "GPU":
        for provider in GPU_PROVIDERS:
            if provider not in available:
                continue
            if provider == "TensorrtExecutionProvider":
                cache_dir.mkdir(parents=True, exist_ok=True)
                options = {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache_dir)}
                chosen.append((provider, options))
            else:
                chosen.append(provider)
        if not chosen:
            logger.warning(
                "no GPU execution provider in this onnxruntime (have %s); running on CPU. "
                "On a Jetson install NVIDIA's onnxruntime-gpu wheel for your JetPack.",
                ", ".join(available),
            )
    chosen.append("CPUExecutionProvider")
    return chosen


class OnnxRuntimeBackend(BackendTraits):
    """One inference session over a model with dynamic batch and sequence dimensions."""

    options = frozenset({"cache_dir", "profile_operators"})

    def __init__(
        self,
        bundle: Bundle,
        *,
        device: str = "CPU",
        threads: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        profile_operators: bool = False,
    ) -> None:
        ort = import_runtime(
            "onnxruntime",
            'pip install "edgeembed[onnx]" (on a Jetson, NVIDIA\'s onnxruntime-gpu wheel for your JetPack)',
        )
        manifest = bundle.manifest
        self.runtime = "onnxruntime"
        cache = Path(cache_dir) if cache_dir else runtime_cache_dir("tensorrt")
        providers = choose_providers(device, list(ort.get_available_providers()), cache)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        # ONNX Runtime's profiler (``edgeembed profile --operators``) writes one trace per session.
        self._trace = OperatorTrace(options) if profile_operators else None
        model_path = bundle.file(manifest.model_files[0])
        try:
            self._session = ort.InferenceSession(str(model_path), options, providers=providers)
        except Exception as error:
            raise BundleError(f"{model_path}: ONNX Runtime cannot load this model ({error}).") from None
        used = self._session.get_providers()
        self.device = "CPU" if used[0] == "CPUExecutionProvider" else "GPU"
        self.providers = tuple(used)
        inputs = {i.name: i for i in self._session.get_inputs()}
        self._signatures = {s.seq_length: s for s in manifest.signatures}
        first = next(iter(self._signatures.values()))
        try:
            self._dtype = _ORT_TYPES[inputs[first.inputs["input_ids"]].type]
        except KeyError:
            raise BundleError(f"{model_path}: inputs do not match the manifest's signatures") from None
        self._static = all(isinstance(d, int) for d in inputs[first.inputs["input_ids"]].shape)
        # A dynamic-shape model on the CPU runs each batch at its longest text's length: padding
        # up to a bucket is pure waste there. GPUs keep the buckets (a TensorRT engine is built
        # per shape profile).
        self.exact_lengths = not self._static and self.device == "CPU"

    @property
    def seq_buckets(self) -> tuple[int, ...]:
        return tuple(sorted(self._signatures))

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        signature = signature_for(self._signatures, input_ids.shape[1], self.exact_lengths)

        def call(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            feeds = {signature.inputs["input_ids"]: ids.astype(self._dtype, copy=False)}
            if "attention_mask" in signature.inputs:
                feeds[signature.inputs["attention_mask"]] = mask.astype(self._dtype, copy=False)
            output = self._session.run([signature.output], feeds)[0]
            if self._trace is not None:
                self._trace.runs += 1
            return output

        # InferenceSession.run is thread-safe: no lock.
        return run_in_chunks(input_ids, attention_mask, signature.batch_size, self._static, call)

    def operator_times(self) -> dict[str, float] | None:
        """Seconds per operator type of the runs since :meth:`mark_operator_times` (with
        ``profile_operators=True``). ONNX Runtime writes its trace only when profiling ends, so
        the first read ends it: later reads return nothing new."""
        return None if self._trace is None else self._trace.read(self._session)

    def mark_operator_times(self) -> None:
        if self._trace is not None:
            self._trace.mark = self._trace.runs


class OperatorTrace:
    """ONNX Runtime's profiling trace of one session, summed by operator type."""

    def __init__(self, options: Any) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="edgeembed-ort-profile-")
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(self._folder.name) / "trace")
        self.runs = 0  # session.run calls so far
        self.mark = 0  # runs before the mark are left out
        self._ended = False

    def read(self, session: Any) -> dict[str, float]:
        if self._ended:
            return {}
        self._ended = True
        path = Path(session.end_profiling())
        try:
            events = json.loads(path.read_text(encoding="utf-8"))
        finally:
            self._folder.cleanup()
        runs = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
        if self.mark >= len(runs):
            return {}
        start = runs[self.mark]
        seconds: dict[str, float] = {}
        for event in events:
            if (
                event.get("cat") == "Node"
                and str(event.get("name", "")).endswith("_kernel_time")
                and event["ts"] >= start
            ):
                operator = event.get("args", {}).get("op_name", "?")
                seconds[operator] = seconds.get(operator, 0.0) + event["dur"] / 1e6
        return seconds
