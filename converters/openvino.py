"""OpenVINO route: PyTorch -> ``openvino.convert_model`` -> IR (``model.xml`` + ``model.bin``).

Modes: ``fp32``; ``fp16`` (weights stored in FP16); ``int8-full`` (NNCF post-training
quantization on the representative dataset, transformer preset: INT8 weights and activations);
``int8-weights`` / ``int4-weights`` (NNCF weight compression, activations stay float; for iGPU
and NPU, whose bandwidth is the bottleneck). CPU and GPU targets keep batch and sequence
dynamic; NPU targets (``static_shapes``) get one fixed-shape model per sequence bucket.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.bundle import TOKENIZER_NAME, Signature
from edgeembed.converters.calibration import CalibrationSet
from edgeembed.converters.export_graph import build_export_module, forward_input_names, is_bert_family
from edgeembed.converters.quiet import quiet
from edgeembed.converters.route import RouteInputs, RouteResult, climb, dynamic_signatures, versions
from edgeembed.converters.sources import SourceModel
from edgeembed.converters.spec import ConversionSpec
from edgeembed.data import builtin_texts
from edgeembed.embed.tokenize import BucketTokenizer
from edgeembed.errors import ConversionError

INPUTS = {"input_ids": "input_ids", "attention_mask": "attention_mask"}
OUTPUT = "token_embeddings"
# int8-full rungs: all linear layers INT8, then the FFN down projections left in float
# (their outputs carry the residual stream's outlier channels).
INT8_RUNGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("int8", ()),
    ("int8+float-ffn-down", (".*feed_forward_down.*",)),
)


def example_inputs(workdir: Path, spec: ConversionSpec) -> dict[str, Any]:
    """Two real tokenized texts, padded to a bucket: what the device will feed."""
    import torch

    tokenizer = BucketTokenizer(workdir / TOKENIZER_NAME, spec.max_seq_length, spec.seq_buckets)
    items = tokenizer.encode(list(builtin_texts("holdout")[:2]))
    length = tokenizer.bucket_for(max(len(item.ids) for item in items))
    ids, mask = tokenizer.pad(items, length)
    return {"input_ids": torch.from_numpy(ids).long(), "attention_mask": torch.from_numpy(mask).long()}


def export_ir_model(source: SourceModel, spec: ConversionSpec, workdir: Path):
    """The FP32 ``openvino.Model`` with dynamic ``[batch, sequence]`` int64 inputs."""
    import openvino as ov

    module = build_export_module(source.model, spec.max_seq_length, dynamic=True)
    with quiet() as log:
        try:
            model = ov.convert_model(module, example_input=example_inputs(workdir, spec))
        except Exception as error:
            tail = "\n".join(log.getvalue().splitlines()[-15:])
            raise ConversionError(
                f"openvino.convert_model failed ({type(error).__name__}: {error}).\n{tail}"
            ) from error
    # Inputs are named from the export module's forward signature, in order: the tracer numbers
    # them for some families (MPNet came out as '8', '13').
    names = forward_input_names(module)
    if names != list(INPUTS) or len(model.inputs) != len(names) or len(model.outputs) != 1:
        raise ConversionError(
            f"{source.name}: OpenVINO traced {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
            f"expected {list(INPUTS)} and one output"
        )
    for port, name in zip(model.inputs, names, strict=False):
        port.get_tensor().set_names({name})
    model.outputs[0].get_tensor().set_names({OUTPUT})
    model.reshape({name: [-1, -1] for name in INPUTS})
    return model


def _calibration_items(calibration: CalibrationSet) -> list[dict[str, np.ndarray]]:
    return [
        {"input_ids": ids.astype(np.int64), "attention_mask": mask.astype(np.int64)}
        for samples in calibration.samples.values()
        for ids, mask in samples
    ]


def quantize_full(model, calibration: CalibrationSet, ignored_patterns: tuple[str, ...]):
    """NNCF static INT8 (weights + activations) with the transformer preset."""
    import nncf

    items = _calibration_items(calibration)
    scope = nncf.IgnoredScope(patterns=list(ignored_patterns), validate=False) if ignored_patterns else None
    with quiet():
        return nncf.quantize(
            model.clone(),
            nncf.Dataset(items),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(items),
            **({"ignored_scope": scope} if scope else {}),
        )


def compress_weights(model, quantization: str, hidden_size: int):
    """Weight-only INT8 (per channel) or INT4 (grouped; embeddings and the last layer INT8)."""
    import nncf

    with quiet():
        if quantization == "int8-weights":
            return nncf.compress_weights(model.clone(), mode=nncf.CompressWeightsMode.INT8_ASYM)
        # The smallest group that divides the width: the most accurate (measurement log: int4 groups).
        group = next((g for g in (32, 64, 128) if hidden_size % g == 0), -1)
        return nncf.compress_weights(model.clone(), mode=nncf.CompressWeightsMode.INT4_SYM, group_size=group, ratio=1.0)


def save_ir(model, workdir: Path, stem: str, fp16: bool) -> dict[str, Path]:
    import openvino as ov

    xml = workdir / f"{stem}.xml"
    ov.save_model(model, str(xml), compress_to_fp16=fp16)
    return {xml.name: xml, f"{stem}.bin": xml.with_suffix(".bin")}


def save_variant(
    model, spec: ConversionSpec, workdir: Path, fp16: bool
) -> tuple[dict[str, Path], tuple[Signature, ...]]:
    """Dynamic: one IR. Static (NPU): one IR per bucket, ``[1, bucket]`` inputs."""
    if not spec.static_shapes:
        return save_ir(model, workdir, "model", fp16), dynamic_signatures(
            spec.seq_buckets, spec.batch_size, INPUTS, OUTPUT
        )
    files: dict[str, Path] = {}
    signatures = []
    for bucket in spec.seq_buckets:
        fixed = model.clone()
        fixed.reshape({name: [1, bucket] for name in INPUTS})
        stem = f"model_seq{bucket}"
        files.update(save_ir(fixed, workdir, stem, fp16))
        signatures.append(Signature(f"seq_{bucket}", bucket, 1, dict(INPUTS), OUTPUT, f"{stem}.xml"))
    return files, tuple(signatures)


def ir_census(model) -> dict[str, Any]:
    """Operation counts and weight storage by element type: what actually got quantized."""
    ops = Counter(op.get_type_name() for op in model.get_ops())
    weights: Counter[str] = Counter()
    for op in model.get_ops():
        if op.get_type_name() == "Constant":
            output = op.output(0)
            count = int(np.prod(list(output.get_shape()))) if output.get_partial_shape().is_static else 0
            weights[output.get_element_type().get_type_name()] += count
    return {
        "fake_quantize_ops": ops.get("FakeQuantize", 0),
        "matmul_ops": ops.get("MatMul", 0),
        "weight_elements_by_type": dict(sorted(weights.items())),
    }


def convert_openvino(route: RouteInputs) -> RouteResult:
    route.step("Exporting FP32 graph (openvino.convert_model)")
    model = export_ir_model(route.source, route.spec, route.workdir)
    float_files = save_ir(model, route.workdir, "float32", fp16=False)
    converter = {
        "route": "openvino",
        "graph": "edgeembed-bert-family" if is_bert_family(route.source.model) else "generic-module",
        "static_shapes": route.spec.static_shapes,
        "versions": versions("openvino", "nncf", "torch", "transformers"),
    }
    details: dict[str, Any] = {"float32_size_bytes": sum(p.stat().st_size for p in float_files.values())}
    quantization = route.spec.quantization
    fp16 = quantization == "fp16"
    if quantization in ("fp32", "fp16"):
        final = model
    elif quantization in ("int8-weights", "int4-weights"):
        route.step(f"Compressing weights ({quantization}, NNCF)")
        final = compress_weights(model, quantization, source_hidden_size(route.source))
    else:
        if route.calibration is None:
            raise ConversionError(f"{quantization} needs calibration samples")
        final, details["int8_recipe"] = _climb(
            model, route.calibration, route.spec, route.workdir, route.measure, route.step
        )
    files, signatures = save_variant(final, route.spec, route.workdir, fp16)
    for path in float_files.values():
        path.unlink()
    details.update(ir_census(final))
    return RouteResult(files, signatures, converter, details)


def _climb(model, calibration, spec, workdir, measure, step) -> tuple[Any, dict[str, Any]]:
    """Try the INT8 rungs in order; keep the first that meets the target's mean cosine."""
    ignored = dict(INT8_RUNGS)
    samples = sum(len(v) for v in calibration.samples.values())

    def try_rung(name: str):
        step(f"INT8 recipe {name} (NNCF, {samples} samples)")
        candidate = quantize_full(model, calibration, ignored[name])
        files, signatures = save_variant(candidate, spec, workdir, fp16=False)
        return candidate, measure(tuple(files), signatures)

    result = climb(list(ignored), try_rung, spec.min_mean_cosine, spec.fallback)
    return result.candidate, {**result.report(), "calibration_samples_per_bucket": calibration.counts()}


def source_hidden_size(source: SourceModel) -> int:
    config = getattr(source.model, "config", None)
    return int(getattr(config, "hidden_size", 0) or 0)
