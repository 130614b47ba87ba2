"""The conversion routes, one table: per route the function that runs it (an import string,
resolved on first use, so listing routes imports nothing heavy), the file format it writes,
its ``--converter`` spelling, what it needs installed, and the route that takes over when it
fails under ``--converter auto``."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeembed.errors import ConversionError, MissingDependencyError

CONVERT_EXTRA_MODULES = ("torch", "transformers")


@dataclass(frozen=True)
class Route:
    name: str  # as ConversionSpec.route and the report spell it
    function: str  # "module:function", called with one RouteInputs
    format: str  # a key of edgeembed.formats.FORMATS
    converter: str  # the --converter spelling; a format's first route is its "auto"
    modules: tuple[str, ...]  # what it imports (conversion and verification)
    extra: str  # the pip extras that bring them
    fallback: str | None = None  # the route that takes over under --converter auto


ROUTES: dict[str, Route] = {
    route.name: route
    for route in (
        Route(
            "tflite", "edgeembed.converters.litert_torch:convert_tflite", "tflite", "litert-torch",
            ("litert_torch", "ai_edge_quantizer", "ai_edge_litert"), "convert", fallback="tflite/onnx2tf",
        ),
        Route(
            "tflite/onnx2tf", "edgeembed.converters.onnx2tf:convert_tflite_onnx2tf", "tflite", "onnx2tf",
            ("onnx", "onnx2tf", "tensorflow", "ai_edge_litert"), "convert,onnx2tf",
        ),
        Route("openvino", "edgeembed.converters.openvino:convert_openvino", "openvino", "openvino", ("openvino", "nncf"), "convert,openvino"),
        Route("onnx", "edgeembed.converters.onnx:convert_onnx", "onnx", "onnx", ("onnx", "onnxruntime"), "convert,onnx"),
        Route("static", "edgeembed.converters.static:convert_static", "static", "model2vec", ("model2vec", "skeletoken"), "convert,static"),
    )
}  # fmt: skip
CONVERTER_CHOICES = ("auto", *dict.fromkeys(route.converter for route in ROUTES.values()))


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
    require_convert_extra(ROUTES[route].modules, ROUTES[route].extra)


def route_name(fmt: str, converter: str | None = None) -> str:
    """The route for a format and a ``--converter`` choice (``auto`` = the format's first route)."""
    routes = [route for route in ROUTES.values() if route.format == fmt]
    if not routes:
        raise ConversionError(f"no converter for format {fmt!r}; available: {', '.join(ROUTES)}")
    choices = {"auto": routes[0].name, **{route.converter: route.name for route in routes}}
    choice = converter or "auto"
    if choice not in choices:
        raise ConversionError(f"converter {choice!r} cannot produce format {fmt!r}; choose one of {list(choices)}")
    return choices[choice]


def resolve_route(name: str) -> Callable[..., Any]:
    if name not in ROUTES:
        raise ConversionError(f"no converter for format {name!r}; available: {', '.join(ROUTES)}")
    module_name, function_name = ROUTES[name].function.split(":")
    return getattr(importlib.import_module(module_name), function_name)
