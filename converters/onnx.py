"""ONNX export of the original module (dynamic batch and sequence), and ORT dynamic INT8.

Used today for the onnxruntime baseline of ``edgeembed bench``; the same graph is the starting
point of the ONNX and onnx2tf routes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeembed.converters.export_graph import GenericEncoder
from edgeembed.converters.quiet import quiet


def export_onnx(model: Any, path: Path, opset: int = 17) -> Path:
    """``(input_ids, attention_mask) -> token_embeddings``, int64 inputs, dynamic axes."""
    import torch

    sample = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    axes = {0: "batch", 1: "sequence"}
    with quiet():
        torch.onnx.export(
            GenericEncoder(model).eval(),
            sample,
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["token_embeddings"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_embeddings": axes},
            opset_version=opset,
            dynamo=False,
        )
    return path


def quantize_dynamic_int8(source: Path, destination: Path) -> Path:
    """INT8 weights, activations quantized at run time (what fastembed-style tools ship)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet():
        quantize_dynamic(str(source), str(destination), weight_type=QuantType.QInt8)
    return destination
