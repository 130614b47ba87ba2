"""The guarded protocol marks a request whose client closed its connection, at once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("httptools")

from edgeembed.serve.connections import CLIENT_GONE, client_gone, guarded_protocol


def _protocol_with(cycle: object | None) -> object:
    protocol_class = guarded_protocol(max_head_bytes=8192, head_timeout_s=5.0, max_connections=8, retry_after_s=1)
    protocol = protocol_class.__new__(protocol_class)  # no event loop or server state needed here
    protocol.cycle = cycle
    return protocol


def test_end_of_stream_marks_an_unanswered_request_as_gone():
    cycle = SimpleNamespace(scope={"type": "http"}, response_complete=False)
    protocol = _protocol_with(cycle)
    assert not client_gone(cycle.scope)
    protocol.eof_received()
    assert cycle.scope[CLIENT_GONE] is True and client_gone(cycle.scope)


def test_an_answered_request_or_no_request_is_left_alone():
    answered = SimpleNamespace(scope={"type": "http"}, response_complete=True)
    _protocol_with(answered).eof_received()
    assert not client_gone(answered.scope)
    _protocol_with(None).eof_received()  # between requests: nothing to mark
