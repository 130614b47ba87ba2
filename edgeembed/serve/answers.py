"""Embedding answers as JSON bytes, written piece by piece: a small answer goes out whole, a big
one as a stream of chunks, so a client that does not read holds at most a chunk of the server's
memory beyond the socket's buffer (and ``--write-timeout`` closes it). Every piece is orjson's
output, so the bytes are exactly those of ``orjson.dumps`` of the whole answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
from starlette.responses import Response, StreamingResponse

from edgeembed.serve.protocol import encode_vector
from edgeembed.serve.service import Embedded

CHUNK_BYTES = 32 * 1024  # about this much JSON is serialized at a time
WHOLE_ROWS = 256  # answers up to this many rows are sent whole, with a Content-Length
NUMPY = orjson.OPT_SERIALIZE_NUMPY


def openai_body(embedded: Embedded, encoding_format: str, tail: dict[str, Any]) -> Iterator[bytes]:
    """``{"object": "list", "data": [...], "model": ..., "usage": ...}`` in pieces."""
    yield b'{"object":"list","data":['
    index = 0
    for chunk in embedded.chunks(chunk_rows(embedded)):
        items = []
        for vector in chunk:
            item = {"object": "embedding", "index": index, "embedding": encode_vector(vector, encoding_format)}
            items.append(orjson.dumps(item, option=NUMPY))
            index += 1
        yield (b"," if index > len(chunk) else b"") + b",".join(items)
    yield b"]," + orjson.dumps(tail)[1:]


def tei_body(embedded: Embedded) -> Iterator[bytes]:
    """``[[...], [...]]`` in pieces."""
    yield b"["
    for number, chunk in enumerate(embedded.chunks(chunk_rows(embedded))):
        rows = orjson.dumps(np.ascontiguousarray(chunk, dtype=np.float32), option=NUMPY)[1:-1]
        yield (b"," if number else b"") + rows
    yield b"]"


def chunk_rows(embedded: Embedded) -> int:
    """Rows per piece: about :data:`CHUNK_BYTES` of JSON (a float32 prints in up to 16 bytes)."""
    return max(1, CHUNK_BYTES // (16 * max(1, embedded.distinct.shape[-1])))


def vectors_response(pieces: Iterator[bytes], headers: dict[str, str], rows: int) -> Response:
    """The answer whole when it has at most :data:`WHOLE_ROWS` rows, else streamed chunk by chunk
    (nothing is serialized ahead of what the client has taken)."""
    if rows <= WHOLE_ROWS:
        return Response(b"".join(pieces), media_type="application/json", headers=headers)
    return StreamingResponse(pieces, media_type="application/json", headers=headers)
