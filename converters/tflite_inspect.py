"""What a ``.tflite`` really holds: tensor types by role, and which ops compute in float."""

from __future__ import annotations

from collections import Counter
from typing import Any

_FLOAT_TYPES = ("FLOAT32", "FLOAT16")


def tensor_census(model: bytes) -> dict[str, Any]:
    """Per signature subgraph (the first; all share one structure): dtype counts by role."""
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as fb

    flat = fb.read_model(bytearray(model))
    type_name = fb.TENSOR_CODE_TO_TYPE
    subgraph = flat.subgraphs[0]
    roles: dict[str, Counter] = {k: Counter() for k in ("inputs", "outputs", "weights", "activations")}
    inputs, outputs = set(subgraph.inputs), set(subgraph.outputs)
    for index, tensor in enumerate(subgraph.tensors):
        buffer = flat.buffers[tensor.buffer] if tensor.buffer < len(flat.buffers) else None
        is_constant = buffer is not None and (
            (buffer.data is not None and len(buffer.data) > 0) or bool(getattr(buffer, "size", 0))
        )
        role = (
            "inputs"
            if index in inputs
            else "outputs"
            if index in outputs
            else "weights"
            if is_constant
            else "activations"
        )
        roles[role][type_name[tensor.type]] += 1
    float_ops: Counter = Counter()
    all_ops: Counter = Counter()
    for operator in subgraph.operators:
        name = _op_name(flat, operator, fb)
        all_ops[name] += 1
        out_types = {type_name[subgraph.tensors[i].type] for i in operator.outputs if i >= 0}
        in_types = {type_name[subgraph.tensors[i].type] for i in operator.inputs if i >= 0}
        if name == "DEQUANTIZE":
            continue
        if out_types & set(_FLOAT_TYPES) and name != "QUANTIZE":
            kind = "dynamic-range INT8" if in_types & {"INT8"} else "float"
            float_ops[f"{name} ({kind})"] += 1
    return {
        "signatures": len(flat.subgraphs),
        "tensor_types": {role: dict(sorted(c.items())) for role, c in roles.items()},
        "ops": dict(sorted(all_ops.items())),
        "non_int8_ops": dict(sorted(float_ops.items())),
    }


def _op_name(flat: Any, operator: Any, fb: Any) -> str:
    code = flat.operatorCodes[operator.opcodeIndex]
    builtin = max(getattr(code, "builtinCode", 0), getattr(code, "deprecatedBuiltinCode", 0))
    name = fb.TFL_OP_CODE_TO_NAME.get(builtin)
    if name is not None:
        return str(getattr(name, "value", name))
    try:
        from ai_edge_litert import schema_py_generated as schema  # type: ignore

        names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        return names.get(builtin, f"OP_{builtin}")
    except ImportError:
        return f"OP_{builtin}"
