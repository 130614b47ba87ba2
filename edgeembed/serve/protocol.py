"""HTTP details shared by the routes: bounded body reading, bearer auth, response bodies.

Errors keep each API's own shape: OpenAI routes answer ``{"error": {"message", "type",
"param", "code"}}``, the TEI route ``{"error": ..., "error_type": ...}``. No response ever
carries a stack trace.
"""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any

import numpy as np
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from edgeembed.serve.schemas import RequestError
from edgeembed.serve.settings import ServeSettings

DRAIN_LIMIT = 64 * 1024 * 1024  # an oversized body is read (and dropped) up to here, so the client sees the 413
OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    503: "server_overloaded",
}
TEI_TYPES = {401: "Unauthorized", 413: "Validation", 400: "Validation", 415: "Validation", 503: "Overloaded"}
CLIENT_CLOSED = 499  # nginx's status for "the client closed the request": counted, never sent


class ClientGoneError(Exception):
    """The client closed its connection before the request was answered (nobody to answer)."""


async def read_json(request: Request, limit: int) -> Any:
    """The parsed JSON body; 413 beyond ``limit`` bytes, 415 when compressed, 400 when empty or
    not JSON; :class:`ClientGoneError` when the client leaves while it is read."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise RequestError(415, f"Content-Encoding {encoding!r} is not supported; send the JSON body uncompressed")
    try:
        return await _read_json(request, limit)
    except ClientDisconnect:
        raise ClientGoneError() from None


async def _read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestError(400, f"invalid Content-Length header {declared!r}")
        if int(declared) > limit:
            await _discard(request)
            raise _too_large(int(declared), limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            await _discard(request)
            raise _too_large(len(body), limit)
    if not body.strip():
        raise RequestError(400, "the request body is empty; send a JSON object")
    try:
        return json.loads(bytes(body))
    except RecursionError:
        raise RequestError(400, "the request body nests too deeply to be a request") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise RequestError(400, f"the request body is not valid JSON: {error}") from None


async def _discard(request: Request) -> None:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > DRAIN_LIMIT:
            return


def _too_large(size: int, limit: int) -> RequestError:
    return RequestError(413, f"the request body is {size} bytes; this server takes at most {limit} (--max-body-mb)")


def check_bearer(request: Request, key: str | None) -> None:
    """401 unless ``Authorization: Bearer <key>`` matches (compared in constant time)."""
    if key is None:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise RequestError(401, "missing API key: send the header 'Authorization: Bearer <key>'")
    if not hmac.compare_digest(token.strip().encode("utf-8"), key.encode("utf-8")):
        raise RequestError(401, "invalid API key")


def check_browser_reach(request: Request, settings: ServeSettings) -> None:
    """403 for what a web page could send a keyless server: a request with an ``Origin`` that is
    not allowed (browsers send it with every cross-site request, and a page can POST
    ``text/plain`` without asking first), or a ``Host`` that is not one of the server's allowed
    names (a page that rebinds its own DNS name to 127.0.0.1). A server with an API key is
    protected by the key instead: a page cannot send it."""
    if settings.api_key is not None:
        return
    origin = request.headers.get("origin")
    if origin is not None and "*" not in settings.allowed_origins and origin not in settings.allowed_origins:
        raise RequestError(
            403,
            f"requests from web pages (Origin: {origin}) are refused by a server without an API key; "
            f"allow this page with --allow-origin {origin}, or start the server with --api-key",
        )
    if "*" not in settings.allowed_hosts:
        host = host_name(request.headers.get("host", ""))
        if host not in settings.allowed_hosts:
            raise RequestError(
                403,
                f"Host {host!r} is not a name of this server (allowed: {', '.join(settings.allowed_hosts)}); "
                f"if it is, start the server with --allowed-host {host or 'NAME'}",
            )


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port or IPv6 brackets, lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def error_response(
    family: str, status: int, message: str, param: str | None = None, headers: dict | None = None
) -> JSONResponse:
    """``family`` is ``"openai"`` or ``"tei"``. A lone surrogate echoed from the request is
    written as its ``\\udXXX`` escape, so the message always encodes as UTF-8."""
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if family == "tei":
        body: dict[str, Any] = {"error": message, "error_type": TEI_TYPES.get(status, "Backend")}
    else:
        kind = OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        body = {"error": {"message": message, "type": kind, "param": param, "code": status}}
    return JSONResponse(body, status_code=status, headers=headers)


def encode_vector(vector: np.ndarray, encoding_format: str) -> np.ndarray | str:
    """The float32 vector itself (orjson writes it, :mod:`edgeembed.serve.answers`), or base64 of little-endian
    float32 as the OpenAI API sends it."""
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return np.ascontiguousarray(vector, dtype=np.float32)
