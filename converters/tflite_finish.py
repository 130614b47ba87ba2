"""What every TFLite route shares after its FP32 export (litert-torch, onnx2tf): reading the
signatures back, quantizing to the requested mode (the INT8 ladder for int8-full), measuring
each candidate, and the route's result with a census of what the model computes in float."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeembed.bundle import INPUT_ROLES, Signature
from edgeembed.converters import tflite_quantize
from edgeembed.converters.calibration import CalibrationSet
from edgeembed.converters.quiet import quiet
from edgeembed.converters.route import Measure, RouteResult, Step
from edgeembed.converters.spec import ConversionSpec
from edgeembed.converters.tflite_inspect import tensor_census
from edgeembed.converters.tflite_table_dedup import share_repeated_tables
from edgeembed.errors import ConversionError

MODEL_FILE = "model.tflite"


def read_signatures(path: Path, plan: list[tuple[str, int, int]]) -> tuple[Signature, ...]:
    from ai_edge_litert.interpreter import Interpreter

    listing = Interpreter(model_path=str(path)).get_signature_list()
    signatures = []
    for name, bucket, batch in plan:
        entry = listing.get(name)
        if entry is None or len(entry["outputs"]) != 1:
            raise ConversionError(f"converted model lacks a single-output signature {name}")
        inputs = {key: key for key in entry["inputs"] if key in INPUT_ROLES}
        signatures.append(Signature(name, bucket, batch, inputs, entry["outputs"][0]))
    return tuple(signatures)


def quantize_tflite_route(
    float_path: Path,
    spec: ConversionSpec,
    calibration: CalibrationSet | None,
    signatures: tuple[Signature, ...],
    workdir: Path,
    measure: Measure,
    step: Step,
    converter: dict[str, Any],
    ladder: tuple[tflite_quantize.Rung, ...] = tflite_quantize.INT8_LADDER,
) -> RouteResult:
    """The back half every TFLite route shares: the FP32 ``.tflite`` -> the requested mode
    (fp16 / int8-dynamic directly, int8-full by calibrating once and climbing ``ladder``)."""
    details: dict[str, Any] = {"float32_size_bytes": float_path.stat().st_size}
    if spec.quantization == "fp32":
        model = float_path.read_bytes()
    elif spec.quantization == "fp16":
        step("Quantizing (fp16)")
        with quiet():
            model = tflite_quantize.quantize_simple(float_path, spec.quantization)
    elif spec.quantization == "int8-dynamic":
        step("Quantizing (int8-dynamic, INT8 embedding table)")
        if calibration is None:
            raise ConversionError("int8-dynamic needs calibration samples for the embedding table")
        with quiet():
            model = tflite_quantize.quantize_dynamic(float_path, calibration, signatures)
    else:
        if calibration is None:
            raise ConversionError("int8-full needs calibration samples")
        total = sum(len(v) for v in calibration.samples.values())
        advance = step(f"Calibrating on {total} samples", total)
        with quiet():
            calibration_result = tflite_quantize.calibrate(float_path, calibration, signatures, advance=advance)
        with quiet():
            result = tflite_quantize.climb_int8_ladder(
                float_path,
                calibration_result,
                lambda candidate: _measure_bytes(workdir, candidate, signatures, measure),
                spec.min_mean_cosine,
                fallback=spec.fallback,
                on_rung=lambda name: _announce(step, f"INT8 recipe {name}"),
                ladder=ladder,
            )
        model = result.candidate
        details["int8_recipe"] = {**result.report(), "calibration_samples_per_bucket": calibration.counts()}
    size_before_sharing = len(model)
    model = share_repeated_tables(model)
    details["shared_tables_saved_bytes"] = size_before_sharing - len(model)
    model_path = workdir / MODEL_FILE
    model_path.write_bytes(model)
    float_path.unlink()
    details.update(tensor_census(model))
    return RouteResult({MODEL_FILE: model_path}, signatures, converter, details)


def _measure_bytes(
    workdir: Path, model: bytes, signatures: tuple[Signature, ...], measure: Measure
) -> dict[str, float]:
    (workdir / MODEL_FILE).write_bytes(model)
    return measure((MODEL_FILE,), signatures)


def _announce(step: Step, message: str) -> None:
    """A phase without a total (``step`` returns an ``advance`` this caller has no use for)."""
    step(message)
