"""A real ``edgeembed serve`` process on a free 127.0.0.1 port, for tests; always stopped."""

from __future__ import annotations

import contextlib

from edgeembed.tools.serve_load import free_port, start_server, stop_server


@contextlib.contextmanager
def serving(bundle, *options: str, clean_exit: bool = False):
    """Yields (port, process); SIGTERM at the end (``clean_exit``: the exit status must be 0)."""
    port = free_port()
    process = start_server(bundle, port, list(options))
    try:
        yield port, process
    finally:
        code = stop_server(process, timeout_s=30)
        if clean_exit:
            assert code == 0, code
