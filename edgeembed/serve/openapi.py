"""The server's OpenAPI 3.1 description (``GET /openapi.json``), written from the same limits
the routes enforce, so schema-driven testers (schemathesis) and client generators can use it.
Optional fields may be null (taken as absent). Beyond the size limits the answer is 413."""

from __future__ import annotations

from typing import Any

from edgeembed.serve.schemas import ENCODING_FORMATS
from edgeembed.serve.settings import ServeSettings
from edgeembed.version import __version__

JSON = "application/json"
STRING = {"type": "string"}
INTEGER = {"type": "integer"}


def _texts(settings: ServeSettings) -> dict[str, Any]:
    """A text or a list of texts, as both embedding routes take them."""
    text = {"type": "string", "minLength": 1}
    return {"oneOf": [text, {"type": "array", "items": text, "minItems": 1, "maxItems": settings.max_inputs}]}


def _object(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


def _nullable(kind: str, **limits: Any) -> dict[str, Any]:
    """An optional field: null is taken as absent."""
    return {"type": [kind, "null"], **limits}


def _error(description: str, tei: bool = False) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/TeiError" if tei else "#/components/schemas/Error"}
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(protected: bool, tei: bool = False) -> dict[str, Any]:
    answers = {
        "400": _error("malformed JSON or a field of the wrong type or value", tei),
        "413": _error("body, text count, text length or token limit exceeded", tei),
        "415": _error("a compressed body", tei),
        "503": _error("the queue is full, a request waited too long, or the server is stopping (Retry-After)", tei),
    }
    if protected:
        answers["401"] = _error("missing or wrong API key", tei)
    return answers


def openapi_document(
    settings: ServeSettings, model_name: str, dimensions: int, prompt_names: list[str]
) -> dict[str, Any]:
    """The description of this server's routes for its settings and model."""
    protected = settings.api_key is not None
    security: list[dict[str, list[str]]] = [{"bearer": []}] if protected else []
    vector = {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": dimensions}
    embed_openai = _object(
        {
            "input": _texts(settings),
            "model": _nullable("string"),
            "encoding_format": {"enum": [*ENCODING_FORMATS, None]},
            "dimensions": _nullable("integer", minimum=1, maximum=dimensions),
            "user": _nullable("string"),
        },
        "input",
    )
    embed_tei = _object(
        {
            "inputs": _texts(settings),
            "normalize": _nullable("boolean"),
            "truncate": _nullable("boolean"),
            "truncation_direction": {"enum": ["right", "Right", None]},
            # the bundle's named prompts (null: the default one)
            "prompt_name": {"enum": [*prompt_names, None]},
        },
        "inputs",
    )
    embedding = _object(
        {"object": {"const": "embedding"}, "index": {"type": "integer"}, "embedding": {"oneOf": [vector, STRING]}},
        "object",
        "index",
        "embedding",
    )
    usage = {"type": "object", "properties": {"prompt_tokens": INTEGER, "total_tokens": INTEGER}}
    embedding_list = _object(
        {"object": {"const": "list"}, "data": {"type": "array", "items": embedding}, "model": STRING, "usage": usage},
        "object",
        "data",
        "model",
        "usage",
    )

    def post(summary: str, body: dict[str, Any], answer: dict[str, Any], tei: bool = False) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "security": security,
                "requestBody": {"required": True, "content": {JSON: {"schema": body}}},
                "responses": {
                    "200": {"description": "the vectors, in input order", "content": {JSON: {"schema": answer}}},
                    **_errors(protected, tei),
                },
            }
        }

    def get(summary: str, content_type: str = JSON, open_route: bool = False) -> dict[str, Any]:
        responses: dict[str, Any] = {"200": {"description": summary, "content": {content_type: {"schema": {}}}}}
        if open_route:
            responses["503"] = _error("warming up (Retry-After)")
        elif protected:
            responses["401"] = _error("missing or wrong API key")
        return {"get": {"summary": summary, "security": [] if open_route else security, "responses": responses}}

    openai_route = post("OpenAI embeddings", embed_openai, embedding_list)
    return {
        "openapi": "3.1.0",
        "info": {"title": f"edgeembed serve: {model_name}", "version": __version__},
        "paths": {
            "/v1/embeddings": openai_route,
            "/embeddings": openai_route,
            "/embed": post("text-embeddings-inference embed", embed_tei, {"type": "array", "items": vector}, tei=True),
            "/v1/models": get("the served model, OpenAI's list shape"),
            "/info": get("model, dimensions, quantization, measured fidelity, limits"),
            "/metrics": get("Prometheus metrics", "text/plain"),
            "/health": get("ok once the model has run", open_route=True),
            "/openapi.json": get("this document", open_route=True),
        },
        "components": {
            "schemas": {
                "Error": _object(
                    {
                        "error": _object(
                            {"message": STRING, "type": STRING, "param": _nullable("string"), "code": INTEGER},
                            "message",
                            "type",
                            "code",
                        )
                    },
                    "error",
                ),
                "TeiError": _object({"error": STRING, "error_type": STRING}, "error", "error_type"),
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
