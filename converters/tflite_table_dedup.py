"""Write each repeated table of a multi-signature ``.tflite`` once.

Every signature (sequence bucket) is its own subgraph. The weights already live in shared
buffers, but each subgraph carries its own copy of every tensor's quantization parameters (one
scale and one zero point per output channel of every INT8 matmul: ~250 kB for MiniLM) and of
every tensor name. A FlatBuffer may point many tables at one object, so this rewrite packs each
distinct quantization table and string once and lets every subgraph refer to it: the same
model, bit for bit the same outputs, ~2.0 MB smaller for MiniLM's nine signatures.

Large weights sit after the FlatBuffer (``Buffer.offset``/``size`` into the file); they are
copied unchanged and their offsets moved by the amount the FlatBuffer shrank, keeping their
alignment.
"""

from __future__ import annotations

from typing import Any

import flatbuffers
import numpy as np

from edgeembed.errors import ConversionError

TFLITE_FILE_IDENTIFIER = b"TFL3"


class _PackedOnce:
    """Stands in for a table object: packs it on first use, then returns the same offset."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._packed: tuple[Any, int] | None = None  # (builder, offset)

    def Pack(self, builder: Any) -> int:
        if self._packed is None or self._packed[0] is not builder:
            self._packed = (builder, self._table.Pack(builder))
        return self._packed[1]


class _SharingBuilder(flatbuffers.Builder):
    """Writes each distinct string once."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self._strings: dict[bytes, int] = {}

    def CreateString(self, s, encoding="utf-8", errors="strict"):
        key = s if isinstance(s, bytes) else s.encode(encoding, errors)
        if key not in self._strings:
            self._strings[key] = super().CreateString(s, encoding, errors)
        return self._strings[key]


def _quantization_key(table: Any) -> tuple | None:
    """Everything the table holds, as a hashable value; ``None`` for custom details (kept apart)."""
    if getattr(table, "detailsType", 0):
        return None
    arrays = [
        None if value is None else np.asarray(value) for value in (table.min, table.max, table.scale, table.zeroPoint)
    ]
    return (*(None if a is None else (a.dtype.str, a.tobytes()) for a in arrays), table.quantizedDimension)


EXTERNAL_ALIGNMENT = 64  # the data after the FlatBuffer keeps its offsets modulo this


def share_repeated_tables(model: bytes) -> bytes:
    """``model`` re-serialized with one copy of each distinct quantization table and string."""
    from ai_edge_litert import schema_py_generated as schema

    root = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    shared: dict[tuple, _PackedOnce] = {}
    for subgraph in root.subgraphs or []:
        for tensor in subgraph.tensors or []:
            key = None if tensor.quantization is None else _quantization_key(tensor.quantization)
            if key is not None:
                tensor.quantization = shared.setdefault(key, _PackedOnce(tensor.quantization))
    external = [buffer for buffer in root.buffers or [] if buffer.offset > 1]
    if not external:
        return _pack(root)
    data_start = min(buffer.offset for buffer in external)
    first = _pack(root)
    new_start = len(first) + (data_start - len(first)) % EXTERNAL_ALIGNMENT
    for buffer in external:
        buffer.offset += new_start - data_start
    packed = _pack(root)
    if len(packed) != len(first):  # offsets are fixed-width fields: this cannot move
        raise ConversionError("sharing tables: the rewritten FlatBuffer changed size when its offsets moved")
    return packed + bytes(new_start - len(packed)) + model[data_start:]


def _pack(root: Any) -> bytes:
    builder = _SharingBuilder(1 << 20)
    builder.Finish(root.Pack(builder), file_identifier=TFLITE_FILE_IDENTIFIER)
    return bytes(builder.Output())
