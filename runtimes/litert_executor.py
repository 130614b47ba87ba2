"""Which LiteRT executor this machine can run, decided before any LiteRT code is loaded.

ai-edge-litert's CompiledModel (one packed copy of the weights for every signature) builds a
LiteRT environment that always loads the WebGPU accelerator library shipped in the wheel,
``libLiteRtWebGpuAccelerator.so``, even for a model that runs on the CPU only. That library was
compiled for newer cores and checks them while the dynamic loader opens it: on a CPU without one
of the features in ``ACCELERATOR_NEEDS`` it prints "FATAL ERROR: This binary was compiled with
dotprod enabled, but this feature is not available on this processor" and raises SIGILL, which
kills the process with no Python exception to catch. ARMv8.0 cores lack those features
(Raspberry Pi 4/400/CM4: Cortex-A72; Pi 3 and Pi Zero 2 W: Cortex-A53; Jetson Nano: Cortex-A57),
and so do x86 CPUs without AVX (Atom, Celeron and Pentium Silver). The classic Interpreter never
loads that library and runs everywhere.

So the CompiledModel is used only where the library is absent (the device packages leave it out,
``edgeembed/host/wheel_slimming.py``) or the CPU has everything it needs; elsewhere the
Interpreter runs, whatever the caller or a tuned settings file asked for.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from pathlib import Path

from edgeembed.runtimes.cpu_features import cpu_features, machine_arch

ACCELERATOR_LIBRARY = "libLiteRtWebGpuAccelerator.so"
# The library's own load-time check (ai-edge-litert 2.3.0): its feature name -> the kernel's names.
ACCELERATOR_NEEDS: dict[str, dict[str, tuple[str, ...]]] = {
    "aarch64": {
        "aes": ("aes",),
        "lse": ("atomics",),
        "crc": ("crc32",),
        "dotprod": ("asimddp",),
        "fp16": ("fphp", "asimdhp"),
        "rdm": ("asimdrdm",),
        "rcpc": ("lrcpc",),
        "sha2": ("sha2",),
    },
    "x86_64": {
        "aes": ("aes",),
        "avx": ("avx",),
        "mmx": ("mmx",),
        "pclmul": ("pclmulqdq",),
        "popcnt": ("popcnt",),
        "sse": ("sse",),
        "sse2": ("sse2",),
        "sse3": ("pni",),
        "sse4.1": ("sse4_1",),
        "sse4.2": ("sse4_2",),
        "ssse3": ("ssse3",),
        "cmpxchg16b": ("cx16",),
    },
}


def accelerator_library() -> Path | None:
    """The installed ai-edge-litert's WebGPU accelerator library, or ``None`` if it has none.

    Found without importing ``ai_edge_litert`` (``find_spec`` runs no package code).
    """
    try:
        spec = importlib.util.find_spec("ai_edge_litert")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / ACCELERATOR_LIBRARY
        if candidate.is_file():
            return candidate
    return None


def missing_features(arch: str, features: frozenset[str]) -> list[str]:
    """The accelerator library's needs (by its names) that ``features`` lacks on ``arch``."""
    needs = ACCELERATOR_NEEDS.get(arch, {})
    return [name for name, kernel_names in needs.items() if not all(k in features for k in kernel_names)]


@functools.lru_cache(maxsize=1)
def compiled_model_blocker() -> str | None:
    """Why the CompiledModel must not be loaded on this machine, or ``None`` when it is safe."""
    library = accelerator_library()
    if library is None:
        return None
    arch = machine_arch()
    features = cpu_features()
    if features is None:
        if sys.platform.startswith("linux"):
            return f"this CPU's features cannot be read, and {ACCELERATOR_LIBRARY} may need ones it lacks"
        return None  # macOS and Windows wheels target CPUs that have them
    if arch not in ACCELERATOR_NEEDS:
        return f"{ACCELERATOR_LIBRARY} was not checked on {arch} CPUs"
    missing = missing_features(arch, features)
    if not missing:
        return None
    return (
        f"this CPU lacks {', '.join(missing)}, which {ACCELERATOR_LIBRARY} (loaded by LiteRT's "
        "CompiledModel) needs; loading it would kill the process with SIGILL"
    )


def executor_summary() -> str:
    """The executor TFLite bundles get here and why, for ``doctor`` and ``tune`` ("" without ai-edge-litert).

    Importing the CompiledModel API loads no accelerator (that happens when a model is built), so
    it is safe on every CPU; it fails where the install lacks what the API needs (the device
    packages leave out ``ml_dtypes``, which only it imports).
    """
    if importlib.util.find_spec("ai_edge_litert") is None:
        return ""
    blocker = compiled_model_blocker()
    if blocker is not None:
        return f"Interpreter: {blocker}"
    try:
        importlib.import_module("ai_edge_litert.compiled_model")
    except ImportError as error:
        return f"Interpreter: LiteRT's CompiledModel API cannot be imported ({error})"
    return "CompiledModel (shared weights)"
