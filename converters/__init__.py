"""Conversion: PyTorch model -> verified bundle. Needs the ``convert`` extra.

Routes are a table of strings resolved on first use, so listing them imports nothing heavy.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Callable

from edgeembed.errors import ConversionError, MissingDependencyError

ROUTES: dict[str, str] = {
    "tflite": "edgeembed.converters.litert_torch:convert_tflite",
}
CONVERT_EXTRA_MODULES = ("torch", "transformers", "litert_torch", "ai_edge_quantizer")


def require_convert_extra(modules: tuple[str, ...] = CONVERT_EXTRA_MODULES) -> None:
    """Fail early, naming the install command, when conversion packages are missing."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingDependencyError(
            f"conversion needs {', '.join(missing)}; install them with: "
            'pip install "edgeembed[convert]" (on CPU-only machines install torch first from '
            "the CPU wheel index)"
        )


def resolve_route(fmt: str) -> Callable[..., Any]:
    if fmt not in ROUTES:
        raise ConversionError(f"no converter for format {fmt!r}; available: {', '.join(ROUTES)}")
    module_name, function_name = ROUTES[fmt].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def convert(*args: Any, **kwargs: Any):
    """Convert a model to a bundle; see :func:`edgeembed.converters.pipeline.convert`."""
    require_convert_extra()
    from edgeembed.converters.pipeline import convert as run

    return run(*args, **kwargs)
