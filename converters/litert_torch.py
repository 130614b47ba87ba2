"""TFLite route: PyTorch -> litert-torch (one signature per sequence bucket, shared weights)
-> ai-edge-quantizer (fp16 / int8-dynamic / int8-full with the precision ladder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeembed.converters.export_graph import build_export_module, build_packed_module, is_bert_family
from edgeembed.converters.quiet import quiet
from edgeembed.converters.route import RouteInputs, RouteResult, versions
from edgeembed.converters.sources import SourceModel
from edgeembed.converters.tflite_finish import quantize_tflite_route, read_signatures
from edgeembed.errors import ConversionError

# Batched signatures get at most this many tokens per invoke: throughput without large arenas.
TOKENS_PER_INVOKE = 512
PACK_ROW_LENGTH = 48


def signature_plan(
    buckets: tuple[int, ...], batch_size: int, batched: bool = True, packed: bool = False
) -> list[tuple[str, int, int]]:
    """``(name, seq_length, batch)`` per signature: batch 1 for every bucket, plus batched ones.

    Packed graphs get batched signatures only for their row lengths (``pack_row_lengths``):
    texts fill rows of that length, so other lengths need no batched shape. Statically
    quantized models get no batched signatures: the quantizer's ranges differ per signature,
    and a text must embed to the same vector whatever batch it is in.
    """
    plan = [(f"seq_{bucket}", bucket, 1) for bucket in buckets]
    if not batched:
        return plan
    for bucket in pack_row_lengths(buckets) if packed else buckets:
        rows = TOKENS_PER_INVOKE // bucket
        batch = max(1, rows if packed else min(batch_size, rows))
        if batch > 1:
            plan.append((f"seq_{bucket}_b{batch}", bucket, batch))
    return plan


def pack_row_lengths(buckets: tuple[int, ...]) -> tuple[int, ...]:
    """Row lengths of batched packed calls: 48 tokens hold several short texts while attention
    across the row stays a few percent of the work (and fill three 16-row matmul tiles; on the
    emulated A76, rows of 48 ran 12.57 M instructions per STS-B text, rows of 64 12.89 M). Longer texts pack into rows of their own
    bucket, run one row per call (each signature shares the weights, so no memory is added)."""
    return (
        next((b for b in sorted(buckets) if b >= PACK_ROW_LENGTH), max(buckets)),
    )  # a bucket: leftover rows run in it


def export_float_model(source: SourceModel, plan: list[tuple[str, int, int]], path: Path, packed: bool = False) -> None:
    import torch

    with quiet():
        import litert_torch

    converter = litert_torch.Converter()
    modules: dict[int, Any] = {}
    if packed:  # one module, no per-length constants: every signature shares all weights
        shared = build_packed_module(source.model, max(bucket for _, bucket, _ in plan))
    for name, bucket, batch in plan:
        if packed:
            module, second, third = shared, "position_ids", "segment_ids"
        else:
            module = modules.setdefault(bucket, build_export_module(source.model, bucket))
            second, third = "attention_mask", None
        sample = {
            "input_ids": torch.zeros(batch, bucket, dtype=torch.int32),
            second: torch.ones(batch, bucket, dtype=torch.int32),
        }
        if third:
            sample[third] = torch.ones(batch, bucket, dtype=torch.int32)
        converter.add_signature(name, module, sample_kwargs=sample)
    with quiet() as log:
        try:
            converter.convert().export(str(path))
        except Exception as error:
            tail = "\n".join(log.getvalue().splitlines()[-15:])
            raise ConversionError(
                f"litert-torch could not convert this model ({type(error).__name__}: {error}).\n{tail}"
            ) from error


def convert_tflite(route: RouteInputs) -> RouteResult:
    float_path = route.workdir / "float32.tflite"
    route.step("Exporting FP32 graph (litert-torch)")
    # Texts share rows only where every signature has the same quantization parameters:
    # float and dynamic-range models; int8-full keeps one text per signature call.
    packed = is_bert_family(route.source.model) and route.spec.quantization != "int8-full"
    plan = signature_plan(
        route.spec.seq_buckets, route.spec.batch_size, batched=route.spec.quantization != "int8-full", packed=packed
    )
    export_float_model(route.source, plan, float_path, packed)
    signatures = read_signatures(float_path, plan)
    converter = {
        "route": "litert-torch",
        "graph": ("edgeembed-bert-family-packed" if packed else "edgeembed-bert-family")
        if is_bert_family(route.source.model)
        else "generic-module",
        "versions": versions("litert-torch", "ai-edge-quantizer", "ai-edge-litert", "torch", "transformers"),
    }
    return quantize_tflite_route(
        float_path, route.spec, route.calibration, signatures, route.workdir, route.measure, route.step, converter
    )
