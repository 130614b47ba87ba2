"""OpenVINO executor: IR models on CPU, GPU, NPU or AUTO. Imports only ``openvino``.

The device comes from the bundle's target profile (or the caller). A device this machine does
not have falls back to CPU with a warning. GPU and NPU compiles are cached in OpenVINO's model
cache directory, so the cost is paid once per machine.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.bundle import Bundle, Signature
from edgeembed.errors import BundleError, EdgeEmbedError
from edgeembed.runtimes import BackendTraits, import_runtime
from edgeembed.runtimes import cache_dir as runtime_cache_dir
from edgeembed.runtimes.batching import run_in_chunks, signature_for

logger = logging.getLogger("edgeembed")
DEVICES = ("CPU", "GPU", "NPU", "AUTO")


def resolve_device(requested: str, available: list[str]) -> str:
    """``requested`` if this machine has it (``GPU`` matches ``GPU.0``), else ``CPU`` with a warning."""
    requested = requested.upper()
    if requested not in DEVICES:
        raise EdgeEmbedError(f"unknown OpenVINO device {requested!r}; choose one of {list(DEVICES)}")
    if requested in ("CPU", "AUTO") or any(d.split(".")[0] == requested for d in available):
        return requested
    logger.warning(
        "OpenVINO device %s is not available on this machine (found %s); running on CPU. "
        "Install the %s driver or pass device='CPU' to silence this.",
        requested,
        ", ".join(available) or "none",
        requested,
    )
    return "CPU"


# Bundles whose weights and activations stay float: no quantization step for a float
# difference to cross, so running at another length changes a vector only by float rounding.
FLOAT_QUANTIZATIONS = ("fp32", "fp16")


class OpenVINOBackend(BackendTraits):
    """Compiled IR model(s): one with dynamic batch and sequence, or one static model per bucket."""

    options = frozenset({"cache_dir", "performance_hint", "precision", "profile_operators"})

    def __init__(
        self,
        bundle: Bundle,
        *,
        device: str = "CPU",
        threads: int | None = None,
        performance_hint: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        precision: str = "f32",
        profile_operators: bool = False,
    ) -> None:
        ov = import_runtime("openvino", 'pip install "edgeembed[openvino]"')
        manifest = bundle.manifest
        self.runtime = "openvino"
        self._core = ov.Core()
        self.device = resolve_device(device, list(self._core.available_devices))
        hint = str(performance_hint or manifest.runtime.get("performance_hint") or "LATENCY").upper()
        config: dict[str, Any] = {"PERFORMANCE_HINT": hint}
        # Performance counters per node type, summed over calls (``edgeembed profile``).
        self._operator_seconds: dict[str, float] | None = {} if profile_operators else None
        if profile_operators:
            config["PERF_COUNT"] = True
        if self.device == "CPU":
            # f32 keeps the verified numbers; CPUs with AMX/BF16 would otherwise pick bf16.
            config["INFERENCE_PRECISION_HINT"] = precision
            if threads:
                config["INFERENCE_NUM_THREADS"] = int(threads)
        if self.device != "CPU" or cache_dir is not None:
            cache = Path(cache_dir) if cache_dir is not None else runtime_cache_dir("openvino")
            cache.mkdir(parents=True, exist_ok=True)
            self._core.set_property({"CACHE_DIR": str(cache)})
        self._signatures = {s.seq_length: s for s in manifest.signatures}
        self._default_file = manifest.model_files[0]
        self._compiled: dict[str, tuple[Any, np.dtype, bool]] = {}
        self._lock = threading.Lock()
        for signature in manifest.signatures:
            xml_name = signature.model_file or self._default_file
            if xml_name not in self._compiled:
                self._compiled[xml_name] = self._compile(bundle, xml_name, config)
        # A float model with dynamic shapes on the CPU runs each batch at its longest text's
        # length: less padding than a bucket, which pays for the new input shapes. INT8 models
        # keep the buckets: the plugin's kernels differ by sequence length, so at exact lengths a
        # text's vector would depend on the batch it arrived in (with buckets it is
        # bit-identical). GPUs keep the buckets too. Figures: the measurement log, OpenVINO.
        dynamic = not any(static for _, _, static in self._compiled.values())
        self.exact_lengths = dynamic and self.device == "CPU" and manifest.quantization in FLOAT_QUANTIZATIONS

    def _compile(self, bundle: Bundle, xml_name: str, config: dict[str, Any]):
        xml_path = bundle.file(xml_name)
        weights_path = xml_path.with_suffix(".bin")
        try:
            model = self._core.read_model(str(xml_path), str(weights_path))
        except RuntimeError as error:
            raise BundleError(f"{xml_path}: OpenVINO cannot read this model ({error}).") from None
        first = model.inputs[0]
        dtype = np.dtype(first.get_element_type().to_dtype())
        static = first.get_partial_shape().is_static
        if self.device == "NPU" and not static:
            raise BundleError(
                f"{xml_path} has dynamic shapes; the NPU compiles static shapes only. Convert "
                "for it with --target intel-npu (or --device NPU), or run this bundle on CPU/GPU."
            )
        try:
            compiled = self._core.compile_model(model, self.device, config)
        except RuntimeError as error:
            raise BundleError(f"{xml_path}: OpenVINO cannot compile this model for {self.device} ({error}).") from None
        return compiled.create_infer_request(), dtype, static

    @property
    def seq_buckets(self) -> tuple[int, ...]:
        return tuple(sorted(self._signatures))

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        signature = signature_for(self._signatures, input_ids.shape[1], self.exact_lengths)
        request, dtype, static = self._compiled[signature.model_file or self._default_file]

        def call(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            feeds = _feeds(signature, ids.astype(dtype, copy=False), mask.astype(dtype, copy=False))
            output = request.infer(feeds)[0]
            if self._operator_seconds is not None:
                for info in request.profiling_info:
                    seconds = info.real_time.total_seconds()
                    self._operator_seconds[info.node_type] = self._operator_seconds.get(info.node_type, 0.0) + seconds
            return output

        with self._lock:  # an infer request serves one call at a time
            return run_in_chunks(input_ids, attention_mask, signature.batch_size, static, call)

    def operator_times(self) -> dict[str, float] | None:
        """Seconds per node type since the last call (with ``profile_operators=True``), then zero."""
        if self._operator_seconds is None:
            return None
        times, self._operator_seconds = self._operator_seconds, {}
        return times


def _feeds(signature: Signature, ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    feeds = {signature.inputs["input_ids"]: ids}
    if "attention_mask" in signature.inputs:
        feeds[signature.inputs["attention_mask"]] = mask
    return feeds
