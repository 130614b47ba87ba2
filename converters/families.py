"""Which model families each route converts: one table, kept true by the family x route matrix
test (tests/converters/test_family_matrix.py). A pair listed here is refused before any work,
naming the family, the route and what works instead."""

from __future__ import annotations

from dataclasses import dataclass

from edgeembed.errors import ConversionError


@dataclass(frozen=True)
class RouteLimit:
    reason: str
    bert_family_only: bool = False  # the route needs export_graph's BERT-family re-expression
    excluded: tuple[str, ...] = ()


ROUTE_LIMITS: dict[str, RouteLimit] = {
    "tflite/onnx2tf": RouteLimit(
        "onnx2tf rebuilds only edgeembed's BERT-family encoder as a Keras model; other exports end "
        "in tensors it cannot wrap",
        bert_family_only=True,
    ),
    "openvino": RouteLimit(
        "OpenVINO's PyTorch frontend leaves ops of this decoder's attention unconverted",
        excluded=("qwen3",),
    ),
}
ALTERNATIVES = {"tflite/onnx2tf": "--converter litert-torch (the default)", "openvino": "--format onnx or tflite"}


def check_family_route(model_type: str, route: str) -> None:
    """Refuse a (family, route) pair the matrix shows cannot convert."""
    limit = ROUTE_LIMITS.get(route)
    if limit is None:
        return
    refused = model_type in limit.excluded
    if limit.bert_family_only:
        from edgeembed.converters.export_graph import SUPPORTED_MODEL_TYPES  # imports torch

        refused = refused or model_type not in SUPPORTED_MODEL_TYPES
    if refused:
        raise ConversionError(
            f"{model_type} models cannot take the {route} route: {limit.reason}. Use {ALTERNATIVES[route]}."
        )


def supports(model_type: str, route: str) -> bool:
    try:
        check_family_route(model_type, route)
    except ConversionError:
        return False
    return True
