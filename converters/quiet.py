"""Keep third-party chatter (progress prints, optional-kernel load failures) out of our output."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator

from edgeembed.native_log import drop_native_noise


@contextlib.contextmanager
def quiet() -> Iterator[io.StringIO]:
    """Capture Python-level stdout/stderr and silence library loggers; yields the captured log."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # native absl/TF logs, read at load time
    os.environ.setdefault("GLOG_minloglevel", "2")
    sink = io.StringIO()
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.ERROR)
    try:  # Python-level output to the sink; native (absl, oneDNN, torch's own logger) filtered on fd 2
        with drop_native_noise(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield sink
    finally:
        root.setLevel(previous)
