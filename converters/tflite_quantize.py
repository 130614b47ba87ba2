"""TFLite quantization with ai-edge-quantizer: recipes as data, and the INT8 precision ladder.

``int8-full`` starts with every op in INT8 and climbs the ladder only as far as the held-out
cosine to FP32 demands. Each rung names the ops it takes out of static INT8 and why; the report
lists what was tried with its measured fidelity.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.bundle import Signature
from edgeembed.converters.calibration import CalibrationSet
from edgeembed.converters.route import Climb, climb
from edgeembed.runtimes.batching import single_text_rows


@dataclass(frozen=True)
class Rung:
    """One INT8 recipe: all ops static INT8 except the listed regexes."""

    name: str
    float_ops: tuple[str, ...] = ()  # tensor-name regexes kept in float32
    dynamic_fc: tuple[str, ...] = ()  # FULLY_CONNECTED regexes as dynamic-range INT8
    reason: str = ""
    float_op_types: tuple[str, ...] = ()  # op types kept in float32 (graphs without names)


# Regexes match the module names of converters/export_graph.py's BERT-family graph.
INT8_LADDER: tuple[Rung, ...] = (
    Rung("int8", reason="every op static INT8: weights per-channel, activations per-tensor"),
    Rung(
        "int8+float-layernorm",
        float_ops=(".*ResidualLayerNorm.*",),
        reason=(
            "residual add + LayerNorm kept float: the residual stream carries outlier channels "
            "(|x| ~ 50-220) beside channels near 1, which one INT8 scale cannot hold, and "
            "LayerNorm's variance needs more than 8 bits"
        ),
    ),
    Rung(
        "int8+float-layernorm+dynamic-ffn-down",
        float_ops=(".*ResidualLayerNorm.*",),
        dynamic_fc=(".*feed_forward_down.*",),
        reason=(
            "feed-forward down projection as dynamic-range INT8 (INT8 weights, input quantized "
            "per row at run time): its output holds the outlier channels, and a static INT8 "
            "output scale of ~0.9 per step erases the rest"
        ),
    ),
    Rung(
        "int8-dynamic",
        dynamic_fc=(".*",),
        reason="last resort: every fully-connected layer dynamic-range INT8, the rest float",
    ),
)


# Element-wise ops of residual adds and LayerNorm, as TFLite op types.
LAYERNORM_OP_TYPES = ("ADD", "SUB", "MUL", "MEAN", "RSQRT", "SQUARED_DIFFERENCE", "DIV", "SQRT")


def structural_ladder(ffn_down_tensors: tuple[str, ...]) -> tuple[Rung, ...]:
    """The same ladder for graphs whose tensor names carry no module names (onnx2tf):
    LayerNorm is selected by op type, the FFN down projections by their output tensors."""
    exact = tuple(f"^{re.escape(name)};" for name in ffn_down_tensors)  # op scope: "name;"
    rungs = [
        INT8_LADDER[0],
        Rung("int8+float-elementwise", float_op_types=LAYERNORM_OP_TYPES, reason=INT8_LADDER[1].reason),
    ]
    if exact:
        rungs.append(
            Rung(
                "int8+float-elementwise+dynamic-ffn-down",
                float_op_types=LAYERNORM_OP_TYPES,
                dynamic_fc=exact,
                reason=INT8_LADDER[2].reason,
            )
        )
    rungs.append(INT8_LADDER[-1])
    return tuple(rungs)


def _quantizer(float_model: Path):
    from ai_edge_quantizer import quantizer

    return quantizer.Quantizer(str(float_model))


def _apply_rung(q: Any, rung: Rung) -> None:
    if rung.name == "int8-dynamic":
        q.add_dynamic_config(".*", "FULLY_CONNECTED", 8)
        return
    q.add_static_config(".*", "*", 8, 8)
    for regex in rung.float_ops:
        q.update_quantization_recipe(regex, "*", algorithm_key="no_quantize")
    for op_type in rung.float_op_types:
        q.update_quantization_recipe(".*", op_type, algorithm_key="no_quantize")
    for regex in rung.dynamic_fc:
        q.add_dynamic_config(regex, "FULLY_CONNECTED", 8)


def calibrate(float_model: Path, calibration: CalibrationSet, signatures: tuple[Signature, ...], **options: Any):
    """Activation ranges of every tensor (one pass serves every rung of the ladder); ``options``
    as :func:`_calibrate` takes them (``advance`` shows progress chunk by chunk)."""
    q = _quantizer(float_model)
    q.add_static_config(".*", "*", 8, 8)
    return _calibrate(q, calibration, signatures, **options)


def _calibrate(
    q: Any,
    calibration: CalibrationSet,
    signatures: tuple[Signature, ...],
    advance: Callable[[int], None] = lambda n: None,
    chunk: int = 16,
    per_signature: int | None = None,
):
    """Feeds ``per_signature`` samples (None: all) of each signature's bucket in chunks that
    resume the previous result, so progress can be shown."""
    result = None
    for signature in signatures:
        samples = calibration.samples[signature.seq_length][:per_signature]
        for start in range(0, len(samples), chunk):
            part = samples[start : start + chunk]
            feeds = [signature_feeds(signature, ids, mask) for ids, mask in part]
            result = q.calibrate({signature.name: feeds}, previous_calibration_result=result)
            advance(len(part))
    return result


def signature_feeds(signature: Signature, input_ids: np.ndarray, attention_mask: np.ndarray) -> dict:
    """A ``[1, bucket]`` calibration sample as the signature takes it (rows repeated to its batch)."""
    arrays = {"input_ids": input_ids, "attention_mask": attention_mask}
    if signature.packed:
        arrays = single_text_rows(input_ids, attention_mask)
    return {name: np.repeat(arrays[role], signature.batch_size, axis=0) for role, name in signature.inputs.items()}


def quantize_dynamic(float_model: Path, calibration: CalibrationSet, signatures: tuple[Signature, ...]) -> bytes:
    """Dynamic-range INT8 (weights INT8, activations quantized per row at run time) with the
    embedding tables INT8 as well: the gathered rows keep the table's scale, so calibrating on
    a few samples per signature is enough and the model is a quarter of the float size."""
    q = _quantizer(float_model)
    q.add_dynamic_config(".*", "FULLY_CONNECTED", 8)
    q.add_static_config(".*", "GATHER_ND", 8, 8)
    q.add_static_config(".*", "GATHER", 8, 8)
    result = _calibrate(q, calibration, signatures, per_signature=2)
    quantized = q.quantize(result, enable_progress_bar=False, enable_progress_report=False)
    return bytes(quantized.quantized_model)


def quantize_rung(float_model: Path, rung: Rung, calibration_result: Any) -> bytes:
    q = _quantizer(float_model)
    _apply_rung(q, rung)
    result = q.quantize(
        calibration_result if q.need_calibration else None,
        enable_progress_bar=False,
        enable_progress_report=False,
    )
    return bytes(result.quantized_model)


def quantize_simple(float_model: Path, quantization: str) -> bytes:
    """``int8-dynamic`` with float embedding tables (graphs without a gather to quantize, e.g.
    onnx2tf's), or ``fp16`` weights."""
    from ai_edge_quantizer import qtyping

    q = _quantizer(float_model)
    if quantization == "int8-dynamic":
        q.add_dynamic_config(".*", "FULLY_CONNECTED", 8)
    elif quantization == "fp16":
        fp16 = qtyping.OpQuantizationConfig(
            weight_tensor_config=qtyping.TensorQuantizationConfig(num_bits=16, dtype=qtyping.TensorDataType.FLOAT),
            compute_precision=qtyping.ComputePrecision.FLOAT,
            explicit_dequantize=True,
        )
        q.update_quantization_recipe(".*", "FULLY_CONNECTED", fp16, algorithm_key="float_casting")
    else:
        raise ValueError(quantization)
    result = q.quantize(None, enable_progress_bar=False, enable_progress_report=False)
    return bytes(result.quantized_model)


def climb_int8_ladder(
    float_model: Path,
    calibration_result: Any,
    measure: Callable[[bytes], dict[str, float]],
    min_mean_cosine: float,
    fallback: bool = True,
    on_rung: Callable[[str], None] | None = None,
    ladder: tuple[Rung, ...] = INT8_LADDER,
) -> Climb[bytes]:
    """The route ladder (``converters.route.climb``) over TFLite rungs quantized from one
    calibration; without ``fallback`` only the first rung is tried."""
    rungs = {rung.name: rung for rung in ladder}

    def try_rung(name: str) -> tuple[bytes, dict[str, float]]:
        if on_rung:
            on_rung(name)
        model = quantize_rung(float_model, rungs[name], calibration_result)
        return model, {**measure(model), "size_bytes": len(model)}

    return climb(list(rungs), try_rung, min_mean_cosine, fallback, {name: rung.reason for name, rung in rungs.items()})
