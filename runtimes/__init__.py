"""Light executors behind one protocol. Backends are looked up by name and imported on first use."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

from edgeembed.errors import EdgeEmbedError, MissingDependencyError
from edgeembed.formats import FORMATS, RUNTIMES, default_backend

if TYPE_CHECKING:
    from edgeembed.bundle import Bundle

# Data, not imports: listing backends must not import any runtime (from edgeembed.formats.RUNTIMES).
BACKENDS: dict[str, str] = {runtime.backend: runtime.backend_class for runtime in RUNTIMES.values()}
FORMAT_DEFAULT_BACKEND: dict[str, str | None] = {
    name: default_backend(name) for name in FORMATS
}  # from edgeembed.formats


class Backend(Protocol):
    """Runs a bundle's model on one device, and declares what it can do: the core reads these
    attributes and never probes a backend (``BackendTraits`` gives every one a default)."""

    options: ClassVar[frozenset[str]]  # the ``backend_options`` keys it accepts (tuned ones included)
    runtime: str  # the runtime package that executes the model
    device: str  # where it runs: CPU, GPU, NPU
    executor: str | None  # which of the runtime's executors runs (LiteRT: "compiled-model" or "interpreter")
    executor_reason: str | None  # why that executor, for doctor
    packed: bool  # rows carry several texts: call ``run_packed`` (see ``edgeembed.embed.packing``)
    batched_rows: Mapping[int, int]  # packed: row length -> rows per call of its batched signatures
    exact_lengths: bool  # takes any sequence length: pad a batch to its longest text, not to a bucket

    def __init__(self, bundle: Bundle, *, device: str, threads: int | None) -> None: ...

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Token embeddings ``[batch, seq, dim]`` (float32) or pooled ``[batch, dim]``."""
        ...

    def run_packed(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Packed bundles only: token embeddings of rows holding several texts each."""
        ...

    def operator_times(self) -> dict[str, float] | None: ...

    def mark_operator_times(self) -> None: ...

    @property
    def seq_buckets(self) -> tuple[int, ...]: ...


class BackendTraits:
    """The defaults of :class:`Backend`'s declarations: a plain runtime that pads each batch to a
    bucket, one text per row, no options. A backend overrides what differs."""

    options: ClassVar[frozenset[str]] = frozenset()
    runtime: str = ""
    device: str = "CPU"
    executor: str | None = None
    executor_reason: str | None = None
    packed: bool = False
    batched_rows: Mapping[int, int] = MappingProxyType({})
    exact_lengths: bool = False

    def operator_times(self) -> dict[str, float] | None:
        """Seconds per operator type since the last call or mark, where the runtime reports them
        (``profile_operators=True``); None where it does not."""
        return None

    def mark_operator_times(self) -> None:
        """Start counting :meth:`operator_times` from here (e.g. after a warm-up)."""
        self.operator_times()

    def run_packed(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} runs one text per row; this bundle is not packed")


def backend_for(bundle: Bundle, name: str | None = None) -> type[Backend]:
    """The backend class for ``name``, or the default one for the bundle's format."""
    name = name or FORMAT_DEFAULT_BACKEND.get(bundle.manifest.format)
    if name not in BACKENDS:
        raise EdgeEmbedError(
            f"no runtime backend {name!r} for format {bundle.manifest.format!r}; known backends: {', '.join(BACKENDS)}"
        )
    module_name, class_name = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def import_runtime(module: str, install: str) -> ModuleType:
    """Import a runtime package, or fail naming how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(f"this bundle needs {module}; install it with: {install}") from None


def cache_dir(kind: str) -> Path:
    """Where compiled models of one runtime are cached (``$XDG_CACHE_HOME/edgeembed/<kind>``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgeembed" / kind
