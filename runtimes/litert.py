"""LiteRT executor: ``ai_edge_litert``, else ``tflite_runtime``, else ``tensorflow.lite``."""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from typing import Any

import numpy as np

from edgeembed.bundle import Bundle, Signature
from edgeembed.errors import BundleError, MissingDependencyError
from edgeembed.native_log import drop_native_noise
from edgeembed.runtimes import BackendTraits
from edgeembed.runtimes.batching import pad_rows, single_text_rows
from edgeembed.runtimes.litert_executor import compiled_model_blocker

logger = logging.getLogger("edgeembed")
_FIRST_INVOKE = [True]  # cleared after the first invoke of this process
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
        'no LiteRT interpreter found; install one with: pip install "edgeembed[litert]" '
        "(or edgeembed[tflite] for the older tflite-runtime)"
    )


class LiteRTBackend(BackendTraits):
    """Signature runners (one per sequence bucket and batch size) over the bundle's model.

    With ai-edge-litert's CompiledModel (the default where this CPU can load it, see
    ``runtimes/litert_executor.py``) every signature reads one packed copy of the weights
    (``runtimes/litert_compiled.py``); otherwise (``shared_weights=False``, a CPU that cannot
    load it, or that API missing or refusing the model) the classic Interpreter, one copy per
    signature. ``executor_reason`` says which runs and why.
    Either is not thread-safe. By default one is shared and calls are serialized with a lock;
    ``interpreter_per_thread=True`` gives each calling thread its own instead (more memory).
    """

    options = frozenset({"shared_weights", "interpreter_per_thread"})

    def __init__(
        self,
        bundle: Bundle,
        *,
        device: str = "CPU",
        threads: int | None = None,
        interpreter_per_thread: bool = False,
        shared_weights: bool | None = None,
    ) -> None:
        self._interpreter_class, self.runtime = load_interpreter_class()
        self.executor = "interpreter"  # "compiled-model" once a CompiledModel is in use
        self._shared_weights, self.executor_reason = self._choose_executor(shared_weights)
        manifest = bundle.manifest
        self._model_path = bundle.file(manifest.model_files[0])
        self._threads = threads
        self._by_length: dict[int, dict[int, Signature]] = {}
        for signature in manifest.signatures:
            self._by_length.setdefault(signature.seq_length, {})[signature.batch_size] = signature
        self._local = threading.local() if interpreter_per_thread else None
        self._shared = None if interpreter_per_thread else self._new_state()
        self._lock = contextlib.nullcontext() if interpreter_per_thread else threading.Lock()
        self.device = device
        # Every signature takes several texts per row (see ``edgeembed.embed.packing``).
        self.packed = all(s.packed for s in manifest.signatures)
        # Row length -> rows per call of the batched signatures.
        self.batched_rows = {n: max(by) for n, by in self._by_length.items() if max(by) > 1}

    def _choose_executor(self, asked: bool | None) -> tuple[bool, str]:
        """(use the CompiledModel, why): ``asked`` is the caller's or tuned choice, None for the default."""
        if asked is False:
            return False, "Interpreter: shared weights turned off (shared_weights=False)"
        if self.runtime != "ai_edge_litert":
            return False, f"Interpreter: {self.runtime} has no CompiledModel"
        blocker = compiled_model_blocker()
        if blocker is None:
            return True, "CompiledModel: one packed copy of the weights for every signature"
        if asked:  # asked for by name or by a settings file tuned on another board
            logger.warning("shared weights are not available here: %s; using the Interpreter", blocker)
        return False, f"Interpreter: {blocker}"

    def _new_state(self) -> tuple[Any, dict[str, Any]]:
        if self._shared_weights:
            try:
                from edgeembed.runtimes.litert_compiled import CompiledSignatures

                compiled = CompiledSignatures(str(self._model_path), self._threads)
                self.executor = "compiled-model"
                return compiled, {}
            except (ImportError, AttributeError, TypeError, ValueError, RuntimeError) as error:
                logger.debug("LiteRT CompiledModel unavailable (%s); using the Interpreter", error)
                self._shared_weights = False
                self.executor_reason = f"Interpreter: the CompiledModel is unavailable here ({error})"
        try:
            interpreter = self._interpreter_class(model_path=str(self._model_path), num_threads=self._threads)
        except (ValueError, RuntimeError) as error:
            raise BundleError(f"{self._model_path}: the runtime cannot load this model ({error}).") from None
        return interpreter, {}

    def _state(self) -> tuple[Any, dict[str, Any]]:
        if self._local is None:
            assert self._shared is not None  # made in __init__ when threads share one executor
            return self._shared
        state = getattr(self._local, "state", None)
        if state is None:
            state = self._local.state = self._new_state()
        return state

    @property
    def seq_buckets(self) -> tuple[int, ...]:
        return tuple(sorted(self._by_length))

    def _runner(self, signature: Signature) -> tuple[Any, tuple[float, int] | None]:
        interpreter, runners = self._state()
        if signature.name not in runners:
            try:
                runner = interpreter.get_signature_runner(signature.name)
                inputs, outputs = runner.get_input_details(), runner.get_output_details()
            except (ValueError, RuntimeError) as error:
                raise BundleError(f"{self._model_path}: no usable signature {signature.name!r} ({error})") from None
            _check_signature(self._model_path, signature, inputs, outputs)
            details = outputs[signature.output]
            scale, zero_point = details.get("quantization", (0.0, 0))
            quantization = (float(scale), int(zero_point)) if scale else None
            runners[signature.name] = (runner, quantization)
        return runners[signature.name]

    @staticmethod
    def _plan(rows: int, by_batch: dict[int, Signature]) -> list[tuple[Signature, int]]:
        """(signature, rows taken) chunks: full batched invokes, then pad or go row by row."""
        batch = max(by_batch)
        chunks: list[tuple[Signature, int]] = []
        start = 0
        while rows - start >= batch:
            chunks.append((by_batch[batch], batch))
            start += batch
        remainder = rows - start
        if remainder and ((batch > 1 and remainder > batch // 2) or 1 not in by_batch):
            chunks.append((by_batch[batch], remainder))  # padded up to the batch size
        else:
            chunks.extend((by_batch[1], 1) for _ in range(remainder))
        return chunks

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        seq_length = input_ids.shape[1]
        by_batch = self._by_length.get(seq_length)
        if by_batch is None:
            raise BundleError(f"no signature for sequence length {seq_length}; have {self.seq_buckets}")
        arrays = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.packed:
            arrays = single_text_rows(input_ids, attention_mask)
        outputs = []
        start = 0
        with self._lock:
            for signature, taken in LiteRTBackend._plan(input_ids.shape[0], by_batch):
                rows = {role: array[start : start + taken] for role, array in arrays.items()}
                if taken < signature.batch_size:
                    rows = {role: pad_rows(array, signature.batch_size) for role, array in rows.items()}
                outputs.append(self._invoke(signature, rows)[:taken])
                start += taken
        return np.concatenate(outputs) if len(outputs) > 1 else outputs[0]

    def run_packed(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """One call of the packed signature shaped like ``arrays`` (``[batch, seq_length]``)."""
        batch, seq_length = arrays["input_ids"].shape
        signature = self._by_length.get(seq_length, {}).get(batch)
        if signature is None:
            raise BundleError(f"no signature for {batch} rows of {seq_length} tokens")
        with self._lock:
            return self._invoke(signature, arrays)

    def _invoke(self, signature: Signature, arrays: dict[str, np.ndarray]) -> np.ndarray:
        runner, quantization = self._runner(signature)
        feeds = {name: arrays[role] for role, name in signature.inputs.items()}
        try:
            if _FIRST_INVOKE:  # XNNPACK announces itself once per process, on the first invoke
                with drop_native_noise():
                    output = runner(**feeds)[signature.output]
                _FIRST_INVOKE.clear()
            else:
                output = runner(**feeds)[signature.output]
        except (ValueError, RuntimeError) as error:
            raise BundleError(f"{self._model_path}: {signature.name} failed to run ({error})") from None
        return _dequantize(output, quantization)


def _check_signature(model_path, signature: Signature, inputs: dict, outputs: dict) -> None:
    """The manifest must describe the model as it is: tensor names and static shapes."""
    expected = [signature.batch_size, signature.seq_length]
    for role, name in signature.inputs.items():
        if name not in inputs:
            raise BundleError(f"{model_path}: signature {signature.name!r} has no input {name!r} ({role})")
        if list(inputs[name]["shape"]) != expected:
            raise BundleError(
                f"{model_path}: input {name!r} of {signature.name!r} has shape "
                f"{list(inputs[name]['shape'])}, the manifest says {expected}"
            )
    if signature.output not in outputs:
        raise BundleError(f"{model_path}: signature {signature.name!r} has no output {signature.output!r}")


def _dequantize(output: np.ndarray, quantization: tuple[float, int] | None) -> np.ndarray:
    if quantization is None:
        return output.astype(np.float32, copy=False)
    scale, zero_point = quantization
    return (output.astype(np.float32) - zero_point) * np.float32(scale)
