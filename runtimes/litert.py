"""LiteRT executor: ``ai_edge_litert``, else ``tflite_runtime``, else ``tensorflow.lite``."""

from __future__ import annotations

import importlib
import threading
from typing import Any

import numpy as np

from edgeembed.bundle import Bundle, Signature
from edgeembed.errors import BundleError, MissingDependencyError

_INTERPRETER_MODULES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")


def load_interpreter_class() -> tuple[type, str]:
    """The first importable LiteRT interpreter class and the module it came from."""
    for module_name in _INTERPRETER_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        return module.Interpreter, module_name.split(".")[0]
    raise MissingDependencyError(
        "no LiteRT interpreter found; install one with: pip install \"edgeembed[litert]\" "
        "(or edgeembed[tflite] for the older tflite-runtime)"
    )


class LiteRTBackend:
    """One interpreter for the model file; one signature runner per sequence bucket.

    Interpreters are not thread-safe, so calls are serialized with a lock.
    """

    def __init__(self, bundle: Bundle, *, device: str = "CPU", threads: int | None = None) -> None:
        interpreter_class, self.runtime = load_interpreter_class()
        manifest = bundle.manifest
        model_path = bundle.file(manifest.model_files[0])
        try:
            self._interpreter = interpreter_class(model_path=str(model_path), num_threads=threads)
        except (ValueError, RuntimeError) as error:
            raise BundleError(f"{model_path}: the runtime cannot load this model ({error}).") from None
        self._signatures = {s.seq_length: s for s in manifest.signatures}
        self._runners: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.device = device

    @property
    def seq_buckets(self) -> tuple[int, ...]:
        return tuple(sorted(self._signatures))

    def _runner(self, signature: Signature) -> tuple[Any, tuple[float, int] | None]:
        if signature.seq_length not in self._runners:
            try:
                runner = self._interpreter.get_signature_runner(signature.name)
            except ValueError as error:
                raise BundleError(f"model has no signature {signature.name!r} ({error})") from None
            details = runner.get_output_details()[signature.output]
            scale, zero_point = details.get("quantization", (0.0, 0))
            quantization = (float(scale), int(zero_point)) if scale else None
            self._runners[signature.seq_length] = (runner, quantization)
        return self._runners[signature.seq_length]

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        seq_length = input_ids.shape[1]
        signature = self._signatures.get(seq_length)
        if signature is None:
            raise BundleError(f"no signature for sequence length {seq_length}; have {self.seq_buckets}")
        rows = []
        step = signature.batch_size
        with self._lock:
            runner, quantization = self._runner(signature)
            for start in range(0, input_ids.shape[0], step):
                feeds = {signature.inputs["input_ids"]: input_ids[start : start + step]}
                if "attention_mask" in signature.inputs:
                    feeds[signature.inputs["attention_mask"]] = attention_mask[start : start + step]
                rows.append(runner(**feeds)[signature.output])
        output = np.concatenate(rows) if len(rows) > 1 else rows[0]
        if quantization is None:
            return output.astype(np.float32, copy=False)
        scale, zero_point = quantization
        return (output.astype(np.float32) - zero_point) * np.float32(scale)
