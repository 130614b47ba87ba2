"""One table per concept: model formats and the runtimes that execute them.

Every other place (bundle validation, target profiles, runtime backends, the device package,
``doctor``, the CLI's choices) reads these two tables; adding a runtime or a format is one row
here plus its module (a backend in ``runtimes/``, a route in ``converters/``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Runtime:
    """An executor installed on the device."""

    name: str  # as profiles and ``edgeembed package --runtime`` spell it
    package: str  # the distribution ``doctor`` reports
    module: str  # what ``doctor`` imports to see whether it works
    backend: str  # the backend's name (``Embedder.load(backend=...)``, ``edgeembed.runtimes.BACKENDS``)
    backend_class: str  # "module:Class" in ``runtimes/``; imported on first use, never to list
    requirements: tuple[str, ...]  # what the device package pip-installs for it


@dataclass(frozen=True)
class Format:
    """A model file format: what it can be quantized to, run on, and by what."""

    name: str
    quantizations: tuple[str, ...]
    devices: tuple[str, ...]
    runtimes: tuple[str, ...]  # first = default
    same_space: bool = True  # vectors comparable to the source model's (cosine fidelity applies)


LITERT = "edgeembed.runtimes.litert:LiteRTBackend"
RUNTIMES: dict[str, Runtime] = {
    runtime.name: runtime
    for runtime in (
        Runtime("litert", "ai-edge-litert", "ai_edge_litert.interpreter", "litert", LITERT, ("ai-edge-litert",)),
        Runtime("tflite-runtime", "tflite-runtime", "tflite_runtime.interpreter", "litert", LITERT, ("tflite-runtime", "numpy<2")),
        Runtime("openvino", "openvino", "openvino", "openvino", "edgeembed.runtimes.openvino:OpenVINOBackend", ("openvino",)),
        Runtime("onnxruntime", "onnxruntime", "onnxruntime", "onnxruntime", "edgeembed.runtimes.onnxruntime:OnnxRuntimeBackend", ("onnxruntime",)),
        # static tables: the floor (numpy) is enough
        Runtime("numpy", "numpy", "numpy", "static", "edgeembed.runtimes.static:StaticBackend", ()),
    )
}  # fmt: skip
FORMATS: dict[str, Format] = {
    fmt.name: fmt
    for fmt in (
        Format("tflite", ("fp32", "fp16", "int8-dynamic", "int8-full"), ("CPU",), ("litert", "tflite-runtime")),
        Format(
            "openvino",
            ("fp32", "fp16", "int8-full", "int8-weights", "int4-weights"),
            ("CPU", "GPU", "NPU", "AUTO"),
            ("openvino",),
        ),
        # onnx GPU: TensorRT, else CUDA execution provider, else CPU
        Format("onnx", ("fp32", "fp16", "int8-dynamic", "int8-full"), ("CPU", "GPU"), ("onnxruntime",)),
        # A distilled token table (model2vec): another vector space, so fidelity is measured by
        # pairwise similarity and STS, not by cosine to the source model's vectors.
        Format("static", ("fp16", "fp32"), ("CPU",), ("numpy",), same_space=False),
    )
}
QUANTIZATIONS = tuple(dict.fromkeys(q for fmt in FORMATS.values() for q in fmt.quantizations))
DEVICES = tuple(dict.fromkeys(d for fmt in FORMATS.values() for d in fmt.devices))


def default_backend(format_name: str) -> str | None:
    """The backend that runs a format's default runtime."""
    fmt = FORMATS.get(format_name)
    return RUNTIMES[fmt.runtimes[0]].backend if fmt else None
