"""The conversion routes: one table of import strings (resolved on first use, so listing the routes
imports nothing heavy), what each route needs installed, and the ``--converter`` spellings."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from edgeembed.errors import ConversionError, MissingDependencyError

ROUTES: dict[str, str] = {
    "tflite": "edgeembed.converters.litert_torch:convert_tflite",
    "tflite/onnx2tf": "edgeembed.converters.onnx2tf:convert_tflite_onnx2tf",
    "openvino": "edgeembed.converters.openvino:convert_openvino",
    "onnx": "edgeembed.converters.onnx:convert_onnx",
    "static": "edgeembed.converters.static:convert_static",
}
CONVERT_EXTRA_MODULES = ("torch", "transformers")
# Per route: modules it needs and the pip extras that bring them (conversion + verification).
ROUTE_REQUIREMENTS: dict[str, tuple[tuple[str, ...], str]] = {
    "tflite": (("litert_torch", "ai_edge_quantizer", "ai_edge_litert"), "convert"),
    "tflite/onnx2tf": (("onnx", "onnx2tf", "tensorflow", "ai_edge_litert"), "convert,onnx2tf"),
    "openvino": (("openvino", "nncf"), "convert,openvino"),
    "onnx": (("onnx", "onnxruntime"), "convert,onnx"),
    "static": (("model2vec", "skeletoken"), "convert,static"),
}


def require_convert_extra(modules: tuple[str, ...] = CONVERT_EXTRA_MODULES, extra: str = "convert") -> None:
    """Fail early, naming the install command, when conversion packages are missing."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingDependencyError(
            f"conversion needs {', '.join(missing)}; install them with: "
            f'pip install "edgeembed[{extra}]" (on CPU-only machines install torch first from '
            "the CPU wheel index)"
        )


def require_route(route: str) -> None:
    """The route's packages (and the runtime that verifies its output) must be importable."""
    if route not in ROUTES:
        raise ConversionError(f"no converter for {route!r}; available: {', '.join(ROUTES)}")
    modules, extra = ROUTE_REQUIREMENTS[route]
    require_convert_extra(modules, extra)


def route_name(fmt: str, converter: str | None = None) -> str:
    """The route for a format and a ``--converter`` choice (``auto`` = the format's default)."""
    choices = {"auto": fmt}
    if fmt == "tflite":
        choices.update({"litert-torch": "tflite", "onnx2tf": "tflite/onnx2tf"})
    choice = converter or "auto"
    if choice not in choices:
        raise ConversionError(f"converter {choice!r} cannot produce format {fmt!r}; choose one of {list(choices)}")
    return choices[choice]


def resolve_route(fmt: str) -> Callable[..., Any]:
    if fmt not in ROUTES:
        raise ConversionError(f"no converter for format {fmt!r}; available: {', '.join(ROUTES)}")
    module_name, function_name = ROUTES[fmt].split(":")
    return getattr(importlib.import_module(module_name), function_name)
