"""Light executors behind one protocol. Backends are looked up by name and imported on first use."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

import numpy as np

from edgeembed.errors import EdgeEmbedError, MissingDependencyError
from edgeembed.formats import FORMATS, default_backend

if TYPE_CHECKING:
    from edgeembed.bundle import Bundle

# Data, not imports: listing backends must not import any runtime.
BACKENDS: dict[str, str] = {
    "litert": "edgeembed.runtimes.litert:LiteRTBackend",
    "openvino": "edgeembed.runtimes.openvino:OpenVINOBackend",
    "onnxruntime": "edgeembed.runtimes.onnxruntime:OnnxRuntimeBackend",
    "static": "edgeembed.runtimes.static:StaticBackend",
}
FORMAT_DEFAULT_BACKEND: dict[str, str] = {name: default_backend(name) for name in FORMATS}  # from edgeembed.formats


class Backend(Protocol):
    """Runs a bundle's model on one device."""

    def __init__(self, bundle: Bundle, *, device: str, threads: int | None) -> None: ...

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Token embeddings ``[batch, seq, dim]`` (float32) or pooled ``[batch, dim]``."""
        ...

    @property
    def seq_buckets(self) -> tuple[int, ...]: ...


def backend_for(bundle: Bundle, name: str | None = None) -> type[Backend]:
    """The backend class for ``name``, or the default one for the bundle's format."""
    name = name or FORMAT_DEFAULT_BACKEND.get(bundle.manifest.format)
    if name not in BACKENDS:
        raise EdgeEmbedError(
            f"no runtime backend {name!r} for format {bundle.manifest.format!r}; "
            f"known backends: {', '.join(BACKENDS)}"
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
