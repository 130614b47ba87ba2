"""Connection rules uvicorn lacks, as a subclass of its httptools protocol.

- A request head (request line and headers) may take at most ``max_head_bytes``: beyond it the
  client gets 431 and the connection closes, so a huge header costs a bounded parse, not one
  that grows with its square.
- A head must arrive within ``head_timeout_s`` of the connection opening (or of the previous
  response): a client that sends nothing, or trickles its headers, gets 408 and is closed.
- A request's body must arrive within ``body_timeout_s`` of its head: a client that declares a
  body and trickles or withholds it gets 408 and is closed.
- A body must not arrive in crumbs: one that has come in ``MIN_PIECES`` pieces or more of fewer
  than ``MIN_PIECE_BYTES`` bytes on average gets 400 and is closed (every piece costs the parser
  and a wake-up however small it is; a real client's pieces are whole TCP segments).
- A client must keep reading its answer: when the socket's send buffer stays full for
  ``write_timeout_s`` the connection is dropped with what it holds (answers are written in
  chunks, so a client that never reads holds little beyond that buffer).
- At most ``max_connections`` connections stay open. A new one beyond the limit closes the
  oldest connection that is only waiting (no request in flight), else the one whose body has
  been arriving longest; if every connection has a whole request in the server's hands the
  newcomer gets a JSON 503 with ``Retry-After``. Idle and slow-body sockets cannot lock
  clients out.

Each refusal is a small JSON body in the OpenAI error shape, then the connection closes.

The moment a connection ends (end of stream or lost) while its request is unanswered, the
request's ASGI scope gets ``CLIENT_GONE``: a flag the batcher reads synchronously before each
batch, so a client that sent its request and left costs no model time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

CLIENT_GONE = "edgeembed.client_gone"
REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}
MIN_PIECES, MIN_PIECE_BYTES = 256, 32  # a body in 256+ pieces must average 32 bytes a piece


def refusal(status: int, message: str, retry_after_s: int | None = None) -> bytes:
    """A complete HTTP/1.1 response that ends the connection."""
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error" if status < 500 else "server_overloaded",
                "param": None,
                "code": status,
            }
        }
    ).encode()
    head = [
        f"HTTP/1.1 {status} {REASONS[status]}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    if retry_after_s is not None:
        head.append(f"retry-after: {retry_after_s}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


def client_gone(scope: Mapping[str, Any]) -> bool:
    """Whether the client of the request with this ASGI scope has closed its connection."""
    return bool(scope.get(CLIENT_GONE, False))


def guarded_protocol(
    max_head_bytes: int,
    head_timeout_s: float,
    max_connections: int,
    retry_after_s: int,
    body_timeout_s: float = 30.0,
    write_timeout_s: float = 30.0,
) -> type:
    """uvicorn's httptools protocol with the rules above (import needs the ``serve`` extra)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.opened_at = self.loop.time()
            self._head_bytes, self._heads_seen = 0, 0
            self._deadline: asyncio.TimerHandle | None = None
            self.body_since: float | None = None  # when the head of a request whose body is arriving ended
            self._write_deadline: asyncio.TimerHandle | None = None
            self._start_head()
            if len(self.connections) > max_connections:
                self._make_room()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_deadline()
            _cancel(getattr(self, "_write_deadline", None))
            self._write_deadline = None
            self._mark_client_gone()
            super().connection_lost(exc)

        def eof_received(self) -> None:
            """The client closed its side; uvicorn then closes the connection (no half-open HTTP)."""
            self._mark_client_gone()
            super().eof_received()

        def _mark_client_gone(self) -> None:
            cycle = getattr(self, "cycle", None)
            if cycle is not None and not cycle.response_complete:
                cycle.scope[CLIENT_GONE] = True

        @property
        def waiting(self) -> bool:
            """Reading a request head with no request of its own in flight."""
            return self.reading_head and (self.cycle is None or self.cycle.response_complete)

        def data_received(self, data: bytes) -> None:
            in_head, heads_before = self.reading_head, self._heads_seen
            super().data_received(data)
            if in_head and self.reading_head and self._heads_seen == heads_before:
                self._head_bytes += len(data)  # the whole chunk was head bytes
            if self.reading_head and self._head_bytes > max_head_bytes and not self.transport.is_closing():
                self._refuse(431, f"the request headers exceed {max_head_bytes} bytes")

        def on_headers_complete(self) -> None:
            self.reading_head = False
            self._heads_seen += 1
            self._cancel_deadline()
            self.body_since = self.loop.time()
            self._body_pieces = self._body_bytes = 0
            self._deadline = self.loop.call_later(body_timeout_s, self._body_too_slow)
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._cancel_deadline()
            self.body_since = None
            super().on_message_complete()
            self.reading_head, self._head_bytes = True, 0  # a pipelined next head counts from here

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # The next head's clock starts only once no request is left in hand: a pipelined one
            # already parsed (its body perhaps still arriving) is a request, not a head to wait for.
            if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
                self._start_head()

        def _start_head(self) -> None:
            self.reading_head, self._head_bytes = True, 0
            self._cancel_deadline()
            self._deadline = self.loop.call_later(head_timeout_s, self._head_too_slow)

        def _cancel_deadline(self) -> None:
            _cancel(getattr(self, "_deadline", None))
            self._deadline = None

        def pause_writing(self) -> None:
            """The send buffer is full: the client has this long to read before it is dropped."""
            super().pause_writing()
            if self._write_deadline is None:
                self._write_deadline = self.loop.call_later(write_timeout_s, self._not_reading)

        def resume_writing(self) -> None:
            _cancel(self._write_deadline)
            self._write_deadline = None
            super().resume_writing()

        def _not_reading(self) -> None:
            self._write_deadline = None
            self._mark_client_gone()
            self.transport.abort()  # frees the unsent answer at once

        def on_body(self, body: bytes) -> None:
            self._body_pieces = getattr(self, "_body_pieces", 0) + 1
            self._body_bytes = getattr(self, "_body_bytes", 0) + len(body)
            if self._body_pieces >= MIN_PIECES and self._body_bytes < MIN_PIECE_BYTES * self._body_pieces:
                if not self.transport.is_closing():
                    self._refuse(
                        400,
                        f"the request body arrived in {self._body_pieces} pieces of "
                        f"{self._body_bytes / self._body_pieces:.1f} bytes on average; send it in larger writes",
                    )
                return
            super().on_body(body)

        def _body_too_slow(self) -> None:
            self._deadline = None
            if self.body_since is not None and not self.transport.is_closing():
                self._refuse(408, f"the request body did not arrive within {body_timeout_s:g} s of its head")

        def _head_too_slow(self) -> None:
            self._deadline = None
            if self.waiting and not self.transport.is_closing():
                self._refuse(408, f"no complete request head within {head_timeout_s:g} s")

        def _make_room(self) -> None:
            others: list[Any] = [c for c in self.connections if c is not self]
            idle = [c for c in others if getattr(c, "waiting", False)]
            slow = [c for c in others if getattr(c, "body_since", None) is not None]
            if idle:
                min(idle, key=lambda c: c.opened_at)._refuse(
                    408, "closed while idle to make room for another connection"
                )
            elif slow:
                min(slow, key=lambda c: c.body_since)._refuse(
                    408, "closed while its body was still arriving, to make room for another connection"
                )
            else:
                self._refuse(503, f"all {max_connections} connections are busy; retry later", retry_after_s)

        def _refuse(self, status: int, message: str, retry: int | None = None) -> None:
            self._cancel_deadline()
            self.reading_head = False
            self.transport.write(refusal(status, message, retry))
            self.transport.close()

    return GuardedHttpToolsProtocol


def _cancel(deadline: asyncio.TimerHandle | None) -> None:
    """Cancel a timer, if there is one."""
    if deadline is not None:
        deadline.cancel()
