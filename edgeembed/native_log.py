"""Runtime libraries write straight to the process's stderr (fd 2) from C++; known noise is dropped.

``drop_native_noise()`` points fd 2 at a temp file for the duration, then writes back every line
that is not listed in ``NOISE``, so real warnings and errors still reach the user (after the
block). ``silence_native_exit()`` is for what C++ static destructors log after Python has
finished (LiteRT's accelerator teardown): called from an ``atexit`` hook, it points fd 2 at
/dev/null for the rest of the process. ``EDGEEMBED_VERBOSE=1`` (the CLI's ``-v``) turns both off.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

NOISE = (
    b"Created TensorFlow Lite XNNPACK delegate for CPU",
    b"All log messages before absl::InitializeLog() is called are written to STDERR",
    b"oneDNN custom operations are on",
    b"Could not find cuda drivers on your machine, GPU will not be used",  # TensorFlow's import
    b"is an Enum subclass and is now natively supported by torch.compile",
    # LiteRT's CompiledModel probes vendor compiler plugins and NPUs the CPU path never uses.
    b"Failed to load plugin at",
    b"libLiteRtCompilerPlugin",
    b"NPU accelerator could not be loaded",
    b"INFO: [",  # LiteRT's info-level log lines ("INFO: [environment.cc:36] ...")
)
VERBOSE_ENV = "EDGEEMBED_VERBOSE"
# fd 2 is one per process: threads take turns (two interleaved swaps could leave stderr pointing
# at a deleted temp file); re-entrant, as one thread may filter inside another filter.
_REDIRECTING = threading.RLock()


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def drop_native_noise(noise: tuple[bytes, ...] = NOISE, silent_failure: bool = False) -> Iterator[None]:
    """Filter fd 2 while the block runs (all threads' native and Python stderr output).

    ``silent_failure``: when the block raises, drop everything it wrote (a caller that falls
    back to another path reports the failure itself).
    """
    if verbose():
        yield
        return
    with _REDIRECTING, tempfile.TemporaryFile() as capture:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to filter
            yield
            return
        sys.stderr.flush()
        os.dup2(capture.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().splitlines(keepends=True) if not any(n in line for n in noise)]
            if kept and not (failed and silent_failure):
                os.write(2, b"".join(kept))


def silence_native_exit() -> None:
    """Send whatever is written to fd 2 from now until the process ends to /dev/null."""
    if verbose():
        return
    sys.stderr.flush()
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    os.dup2(null, 2)
    os.close(null)
