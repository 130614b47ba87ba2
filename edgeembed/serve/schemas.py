"""Request bodies of the OpenAI and TEI routes, validated into one :class:`EmbedRequest`.

Every problem is a :class:`RequestError` with the HTTP status and a message that names the
field, what it got and what it takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from edgeembed.errors import EdgeEmbedError

ENCODING_FORMATS = ("float", "base64")


class RequestError(EdgeEmbedError):
    """A request the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.param = status, param


@dataclass(frozen=True)
class EmbedRequest:
    """What both routes ask of the model; ``None`` means "the server's default"."""

    texts: list[str]
    normalize: bool | None = None
    truncate: bool | None = None
    encoding_format: str = "float"
    dimensions: int | None = None
    model: str | None = None
    prompt_name: str | None = None


def parse_openai(body: Any, max_inputs: int) -> EmbedRequest:
    """``{"input": str | [str], "model"?, "encoding_format"?, "dimensions"?, "user"?}``."""
    body, texts = _body_and_texts(body, "input", max_inputs)
    model = _optional(body, "model", str)
    _optional(body, "user", str)  # accepted and unused, as a string
    encoding_format = _optional(body, "encoding_format", str) or "float"
    if encoding_format not in ENCODING_FORMATS:
        raise RequestError(
            400, f"encoding_format must be one of {list(ENCODING_FORMATS)}, got {encoding_format!r}", "encoding_format"
        )
    dimensions = _optional(body, "dimensions", int)
    if dimensions is not None and dimensions < 1:
        raise RequestError(400, f"dimensions must be >= 1, got {dimensions}", "dimensions")
    return EmbedRequest(texts, encoding_format=encoding_format, dimensions=dimensions, model=model)


def parse_tei(body: Any, max_inputs: int) -> EmbedRequest:
    """``{"inputs": str | [str], "normalize"?, "truncate"?, "prompt_name"?}`` as text-embeddings-inference."""
    body, texts = _body_and_texts(body, "inputs", max_inputs)
    direction = _optional(body, "truncation_direction", str)
    if direction not in (None, "right", "Right"):
        raise RequestError(
            400,
            f"truncation_direction {direction!r} is not supported; texts are truncated on the right",
            "truncation_direction",
        )
    normalize = _optional(body, "normalize", bool)
    return EmbedRequest(
        texts,
        normalize=True if normalize is None else normalize,
        truncate=_optional(body, "truncate", bool),
        prompt_name=_optional(body, "prompt_name", str),
    )


# One rule for texts over HTTP: empty, whitespace-only and control-only texts (NUL included) have
# nothing to embed, and a lone surrogate is not text: each gets a 400 naming the input.
_BLANK = re.compile(r"[\s\x00-\x1f\x7f]*\Z")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _body_and_texts(body: Any, field: str, max_inputs: int) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(body, dict):
        raise RequestError(400, f"the request body must be a JSON object, got {_kind(body)}")
    if field not in body:
        raise RequestError(400, f"missing field '{field}' (a string or a list of strings)", field)
    return body, _texts(body[field], field, max_inputs)


def _texts(value: Any, name: str, max_inputs: int) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise RequestError(400, f"'{name}' must be a string or a list of strings, got {_kind(value)}", name)
    if not value:
        raise RequestError(400, f"'{name}' is an empty list; send at least one text", name)
    if len(value) > max_inputs:
        raise RequestError(
            413,
            f"'{name}' has {len(value)} texts; this server takes at most {max_inputs} per request (--max-inputs)",
            name,
        )
    for index, item in enumerate(value):
        if not isinstance(item, str):
            hint = "; token-id input is not supported, send text" if isinstance(item, (int, list)) else ""
            raise RequestError(400, f"'{name}[{index}]' must be a string, got {_kind(item)}{hint}", name)
        where = name if len(value) == 1 else f"{name}[{index}]"
        if _BLANK.match(item):  # as OpenAI's API and TEI refuse "": nothing to embed
            what = "an empty string" if not item else "only whitespace or control characters"
            raise RequestError(400, f"'{where}' is {what}; send text with at least one visible character", name)
        surrogate = _SURROGATE.search(item)
        if surrogate:  # JSON can carry "\udXXX" alone, but it is no Unicode character
            code = f"\\u{ord(surrogate.group()):04x}"
            raise RequestError(
                400, f"'{where}' holds a lone surrogate ({code}), which is not Unicode text; send UTF-8 text", name
            )
    return value


def _optional(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if kind is int and isinstance(value, float) and value.is_integer():  # JSON has one number type: 30.0 is 30
        value = int(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RequestError(400, f"'{name}' must be {kind.__name__}, got {_kind(value)}", name)
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
