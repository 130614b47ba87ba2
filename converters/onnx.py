"""ONNX route: PyTorch -> ONNX (dynamic batch and sequence) -> ORT basic graph optimization ->
``fp32`` / ``fp16`` / ``int8-dynamic`` / ``int8-full`` (static QDQ, calibrated).

The exported graph is the same re-expressed encoder the other routes use (bounded mask bias),
so it is also the starting point of the onnx2tf route. ``export_onnx`` exports the original
module unchanged; ``edgeembed bench`` uses it for its ONNX Runtime baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.converters.calibration import CalibrationSet
from edgeembed.converters.export_graph import GenericEncoder, build_export_module, is_bert_family
from edgeembed.converters.quiet import quiet
from edgeembed.converters.route import RouteInputs, RouteResult, climb, dynamic_signatures, versions
from edgeembed.converters.sources import SourceModel
from edgeembed.errors import ConversionError

MODEL_FILE = "model.onnx"
INPUTS = {"input_ids": "input_ids", "attention_mask": "attention_mask"}
OUTPUT = "token_embeddings"
OPSET = 17
# Quantized op types: the linear layers and the embedding gather. LayerNorm, softmax and the
# residual adds stay float (they are cheap and carry the outlier channels).
QUANTIZED_OPS = ["MatMul", "Gather"]
# INT8 rungs, tried in order until the target's mean cosine is met.
INT8_RUNGS: tuple[tuple[str, str], ...] = (("int8", ""), ("int8+float-ffn-down", "feed_forward_down"))


def export_module_onnx(module: Any, path: Path, opset: int = OPSET, static_length: int | None = None) -> Path:
    """``module(input_ids, attention_mask) -> token_embeddings`` as ONNX: dynamic batch and
    sequence, or fixed ``[1, static_length]`` (onnx2tf converts static graphs best)."""
    import torch

    if static_length is None:
        sample = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
        axes = {0: "batch", 1: "sequence"}
        dynamic_axes = {"input_ids": axes, "attention_mask": axes, OUTPUT: axes}
    else:
        sample = (torch.zeros(1, static_length, dtype=torch.long), torch.ones(1, static_length, dtype=torch.long))
        dynamic_axes = None
    with quiet() as log:
        try:
            torch.onnx.export(
                module,
                sample,
                str(path),
                input_names=list(INPUTS),
                output_names=[OUTPUT],
                dynamic_axes=dynamic_axes,
                opset_version=opset,
                dynamo=False,
            )
        except Exception as error:
            tail = "\n".join(log.getvalue().splitlines()[-15:])
            raise ConversionError(f"ONNX export failed ({type(error).__name__}: {error}).\n{tail}") from error
    return path


def export_onnx(model: Any, path: Path, opset: int = OPSET) -> Path:
    """The original module as ONNX: ``(input_ids, attention_mask) -> token_embeddings``."""
    return export_module_onnx(GenericEncoder(model).eval(), path, opset)


def export_encoder_onnx(source: SourceModel, max_seq_length: int, path: Path, opset: int = OPSET) -> Path:
    """The re-expressed encoder (dynamic up to ``max_seq_length``) as ONNX."""
    return export_module_onnx(build_export_module(source.model, max_seq_length, dynamic=True), path, opset)


def optimize_basic(source: Path, destination: Path) -> Path:
    """ONNX Runtime's basic level offline: constant folding and redundant-node removal only,
    which is valid for every execution provider (CPU, CUDA, TensorRT)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(destination)
    with quiet():
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    return destination


def to_fp16(source: Path, destination: Path) -> Path:
    """FP16 weights and compute, int64 inputs and float32 output kept."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with quiet():
        model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    onnx.save(model, str(destination))
    return destination


def quantize_dynamic_int8(
    source: Path, destination: Path, exclude: list[str] | None = None, plain: bool = False
) -> Path:
    """INT8 weights per channel, activations quantized at run time.

    ``plain=True`` is ONNX Runtime's default recipe (per-tensor, its default op types): what
    fastembed-style tools ship, used as the benchmark baseline.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    options: dict[str, Any] = (
        {}
        if plain
        else {
            "per_channel": True,
            "op_types_to_quantize": QUANTIZED_OPS,
            "nodes_to_exclude": exclude or [],
        }
    )
    with quiet():
        quantize_dynamic(str(source), str(destination), weight_type=QuantType.QInt8, **options)
    return destination


def quantize_static_int8(
    source: Path, destination: Path, calibration: CalibrationSet, exclude: list[str] | None = None
) -> Path:
    """Static INT8 (QDQ): weights per channel, activation ranges from the calibration set; every
    MatMul takes INT8 inputs and gives a float output."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    items = [
        {"input_ids": ids.astype(np.int64), "attention_mask": mask.astype(np.int64)}
        for samples in calibration.samples.values()
        for ids, mask in samples
    ]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._items = iter(items)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._items, None)

    with quiet():
        quantize_static(
            str(source),
            str(destination),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            # uint8 activations (U8S8): ONNX Runtime's x86 QLinearMatMul has fast kernels for
            # them only (docs/performance.md, "ONNX INT8 recipe").
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=QUANTIZED_OPS,
            nodes_to_exclude=exclude or [],
            # INT8 inputs, float outputs: ONNX Runtime fuses DQ -> MatMul into one
            # MatMulIntegerToFloat instead of requantizing every product to uint8 and
            # dequantizing it for the float ops after it; more accurate and faster
            # (docs/performance.md, "ONNX INT8 recipe").
            extra_options={"OpTypesToExcludeOutputQuantization": ["MatMul"]},
        )
    return destination


def node_names(path: Path, op_type: str, containing: str) -> list[str]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type == op_type and containing in n.name]


def op_census(path: Path) -> dict[str, Any]:
    """Quantize/dequantize and integer-op counts, and weight storage by element type."""
    import onnx
    from onnx import helper

    model = onnx.load(str(path))
    ops: dict[str, int] = {}
    for node in model.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    weights: dict[str, int] = {}
    for tensor in model.graph.initializer:
        name = helper.tensor_dtype_to_np_dtype(tensor.data_type).name
        weights[name] = weights.get(name, 0) + int(np.prod(tensor.dims))
    keep = ("QuantizeLinear", "DequantizeLinear", "MatMulInteger", "DynamicQuantizeLinear", "MatMul", "Gather")
    return {
        "ops": {k: v for k, v in sorted(ops.items()) if k in keep},
        "weight_elements_by_type": dict(sorted(weights.items())),
    }


def convert_onnx(route: RouteInputs) -> RouteResult:
    route.step("Exporting FP32 graph (torch.onnx)")
    exported = export_encoder_onnx(route.source, route.spec.max_seq_length, route.workdir / "exported.onnx")
    float_path = optimize_basic(exported, route.workdir / "float32.onnx")
    exported.unlink()
    signatures = dynamic_signatures(route.spec.seq_buckets, route.spec.batch_size, INPUTS, OUTPUT)
    converter = {
        "route": "onnx",
        "graph": "edgeembed-bert-family" if is_bert_family(route.source.model) else "generic-module",
        "opset": OPSET,
        "versions": versions("onnx", "onnxruntime", "torch", "transformers"),
    }
    details: dict[str, Any] = {"float32_size_bytes": float_path.stat().st_size}
    model_path = route.workdir / MODEL_FILE
    quantization = route.spec.quantization
    if quantization == "fp32":
        float_path.replace(model_path)
    elif quantization == "fp16":
        route.step("Converting to FP16")
        to_fp16(float_path, model_path)
    else:
        details["int8_recipe"] = _climb(
            float_path, model_path, route.spec, route.calibration, route.measure, route.step, signatures
        )
    float_path.unlink(missing_ok=True)
    details.update(op_census(model_path))
    return RouteResult({MODEL_FILE: model_path}, signatures, converter, details)


def _climb(float_path, model_path, spec, calibration, measure, step, signatures) -> dict[str, Any]:
    """Try the INT8 rungs in order; keep the first meeting the target's mean cosine."""
    excluded = {name: node_names(float_path, "MatMul", keep) if keep else [] for name, keep in INT8_RUNGS}
    # A rung whose layers this graph lacks would repeat the previous one.
    rungs = [name for name, keep in INT8_RUNGS if not keep or excluded[name]]

    def try_rung(name: str):
        step(f"INT8 recipe {name} ({spec.quantization})")
        if spec.quantization == "int8-dynamic":
            quantize_dynamic_int8(float_path, model_path, excluded[name])
        else:
            if calibration is None:
                raise ConversionError("int8-full needs calibration samples")
            quantize_static_int8(float_path, model_path, calibration, excluded[name])
        return model_path.read_bytes(), measure((MODEL_FILE,), signatures)

    result = climb(rungs, try_rung, spec.min_mean_cosine, spec.fallback)
    model_path.write_bytes(result.candidate)
    return {
        **result.report(),
        **({"calibration_samples_per_bucket": calibration.counts()} if calibration else {}),
    }
