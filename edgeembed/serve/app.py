"""The starlette app: routes, the one error path, and the lifespan that warms up and drains."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edgeembed.embed.embedder import Embedder
from edgeembed.serve.answers import openai_body, tei_body, vectors_response
from edgeembed.serve.batcher import AbandonedError, QueueFullError, ShuttingDownError
from edgeembed.serve.connections import client_gone
from edgeembed.serve.openapi import openapi_document
from edgeembed.serve.protocol import (
    CLIENT_CLOSED,
    ClientGoneError,
    check_bearer,
    check_browser_reach,
    error_response,
    read_json,
)
from edgeembed.serve.schemas import EmbedRequest, RequestError, parse_openai, parse_tei
from edgeembed.serve.service import Embedded, EmbeddingService
from edgeembed.serve.settings import ServeSettings
from edgeembed.version import __version__

logger = logging.getLogger("edgeembed.serve")
Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")


def build_app(embedder: Embedder, settings: ServeSettings) -> Starlette:
    service = EmbeddingService(embedder, settings)
    routes = _Routes(service)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await service.ensure_warm()
        yield
        await service.close()

    app = Starlette(
        routes=[
            Route("/v1/embeddings", routes.guard("/v1/embeddings", "openai", routes.openai), methods=["POST"]),
            Route("/embeddings", routes.guard("/v1/embeddings", "openai", routes.openai), methods=["POST"]),
            Route("/embed", routes.guard("/embed", "tei", routes.tei), methods=["POST"]),
            Route("/v1/models", routes.guard("/v1/models", "openai", routes.models), methods=["GET"]),
            Route("/info", routes.guard("/info", "openai", routes.info), methods=["GET"]),
            Route("/metrics", routes.guard("/metrics", "openai", routes.metrics), methods=["GET"]),
            Route("/health", routes.guard("/health", "openai", routes.health, protected=False), methods=["GET"]),
            Route(
                "/openapi.json",
                routes.guard("/openapi.json", "openai", routes.openapi, protected=False),
                methods=["GET"],
            ),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.service = service
    return app


class _Routes:
    def __init__(self, service: EmbeddingService) -> None:
        self.service = service
        self.settings = service.settings
        self._openapi = openapi_document(
            service.settings,
            service.model_name,
            service.embedder.embedding_dim,
            sorted(service.embedder.bundle.manifest.prompts),
        )

    def guard(self, route: str, family: str, handler: Handler, protected: bool = True) -> Handler:
        """Auth, the one error path (JSON errors, never a traceback) and metrics for a route."""

        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            try:
                if protected:
                    check_browser_reach(request, self.settings)
                    check_bearer(request, self.settings.api_key)
                response = await handler(request)
            except RequestError as error:
                response = error_response(family, error.status, str(error), error.param)
            except (ClientGoneError, AbandonedError):  # nobody to answer: counted, not logged, no model time
                response = Response(status_code=CLIENT_CLOSED)
            except QueueFullError as error:
                self.service.metrics.rejected.inc()
                retry = self.settings.retry_after_s
                response = error_response(
                    family, 503, f"{error}; retry in {retry} s", headers={"Retry-After": str(retry)}
                )
            except ShuttingDownError as error:
                response = error_response(
                    family, 503, str(error), headers={"Retry-After": str(self.settings.retry_after_s)}
                )
            except asyncio.CancelledError:  # shutdown: a body still arriving, or --graceful-timeout ran out
                if not self.service.stopping:
                    raise
                response = error_response(
                    family,
                    503,
                    "the server is shutting down; retry shortly",
                    headers={"Retry-After": str(self.settings.retry_after_s)},
                )
            except Exception:
                logger.exception("internal error on %s", route)
                response = error_response(family, 500, "internal error while embedding; the server log has the details")
            self.service.metrics.record_request(route, response.status_code, time.perf_counter() - started)
            return response

        return endpoint

    async def _embed(self, request: Request, parse: Callable[..., EmbedRequest]) -> tuple[EmbedRequest, Embedded]:
        with self.service.batcher.arriving() as arrival:
            if self.service.stopping:
                raise ShuttingDownError("the server is shutting down")
            reader = asyncio.current_task()
            assert reader is not None  # a route always runs in a task
            self.service.reading.add(reader)  # begin_shutdown cancels a body still arriving
            try:
                body = await read_json(request, self.settings.max_body_bytes)
            finally:
                self.service.reading.discard(reader)
            parsed = parse(body, self.settings.max_inputs)
            dim = self.service.embedder.embedding_dim
            if parsed.dimensions is not None and parsed.dimensions > dim:
                raise RequestError(
                    400,
                    f"dimensions={parsed.dimensions} is not available: this model gives at most {dim}",
                    "dimensions",
                )
            gone = functools.partial(client_gone, request.scope)
            return parsed, await _unless_client_leaves(request, self.service.embed(parsed, arrival, gone))

    async def openai(self, request: Request) -> Response:
        parsed, embedded = await self._embed(request, parse_openai)
        usage = {"prompt_tokens": embedded.prompt_tokens, "total_tokens": embedded.prompt_tokens}
        tail = {"model": self.service.model_name, "usage": usage}
        body = openai_body(embedded, parsed.encoding_format, tail)
        return vectors_response(body, _embed_headers(embedded), len(embedded.rows))

    async def tei(self, request: Request) -> Response:
        _, embedded = await self._embed(request, parse_tei)
        return vectors_response(tei_body(embedded), _embed_headers(embedded), len(embedded.rows))

    async def models(self, request: Request) -> Response:
        model = {"id": self.service.model_name, "object": "model", "created": 0, "owned_by": "edgeembed"}
        return JSONResponse({"object": "list", "data": [model]})

    async def health(self, request: Request) -> Response:
        """200 once the verified bundle has run; 503 while it warms up."""
        if not self.service.ready:
            self.service.start_warm_up()
            return JSONResponse({"status": "warming"}, status_code=503, headers={"Retry-After": "1"})
        return JSONResponse({"status": "ok"})

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(self._openapi)

    async def info(self, request: Request) -> Response:
        return JSONResponse(server_info(self.service))

    async def metrics(self, request: Request) -> Response:
        body, content_type = self.service.metrics.render()
        return Response(body, media_type=content_type)


def server_info(service: EmbeddingService) -> dict:
    """Model, dimensions, quantization, the bundle's measured fidelity, target and limits."""
    embedder, settings = service.embedder, service.settings
    manifest = embedder.bundle.manifest
    report = embedder.bundle.report()
    sts = report.get("sts") or {}
    fidelity = {
        key: value
        for key, value in (report.get("fidelity") or {}).items()
        if key in ("sentences", "mean_cosine", "min_cosine", "p5_cosine", "spearman_vs_fp32")
    }
    if sts:
        fidelity["sts_spearman"] = {
            key: sts.get(key) for key in ("fp32_spearman", "converted_spearman", "drop", "pairs")
        }
    return {
        "model": service.model_name,
        "dimensions": embedder.get_sentence_embedding_dimension(),
        "max_dimensions": embedder.embedding_dim,
        "max_input_tokens": manifest.max_seq_length,
        "format": manifest.format,
        "quantization": manifest.quantization,
        "target": manifest.target,
        "pooling": manifest.pooling,
        "normalize": manifest.normalize,
        "fidelity_vs_fp32": fidelity,
        "verdict": (report.get("verdict") or {}).get("passed"),
        "threads": embedder.threads,
        "batching": {
            "max_batch": settings.max_batch,
            "max_batch_tokens": settings.max_batch_tokens,
            "max_wait_ms": settings.max_wait_ms,
            "max_queue": settings.max_queue,
            "max_queue_wait_ms": settings.max_queue_wait_ms,
            "max_inputs": settings.max_inputs,
        },
        "auto_truncate": settings.auto_truncate,
        "auth": settings.api_key is not None,
        "edgeembed_version": __version__,
    }


async def _unless_client_leaves(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """``work``'s result; if the client disconnects first, ``work`` is cancelled (a queued request
    then leaves the batcher's queue before the model sees it) and :class:`ClientGoneError` raised."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # this request itself was cancelled (shutdown): its work goes too
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if not task.done():
        task.cancel()
        raise ClientGoneError()
    return task.result()


async def _disconnected(request: Request) -> None:
    """Returns when the client has gone (the body was read already, so only that can arrive)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _embed_headers(embedded: Embedded) -> dict[str, str]:
    return {"X-Edgeembed-Truncated": str(embedded.truncated), "X-Edgeembed-Cache-Hits": str(embedded.cache_hits)}


async def _http_error(request: Request, error: Exception) -> Response:
    """Unknown routes and methods answer JSON too."""
    status, detail = getattr(error, "status_code", 500), getattr(error, "detail", "error")
    headers = dict(getattr(error, "headers", None) or {})
    return error_response("openai", status, f"{request.method} {request.url.path}: {detail}", headers=headers)
