"""The fd-2 noise filter: noise dropped, everything else kept, stderr intact after threads race."""

from __future__ import annotations

import subprocess
import sys

CODE = r"""
import os, threading, time
from edgeembed.native_log import drop_native_noise
before = os.fstat(2).st_ino
def work(i):
    with drop_native_noise():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        time.sleep(0.01 * (i % 3))
        with drop_native_noise():  # nested in one thread
            os.write(2, b"kept line %d\n" % i)
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
os.write(2, b"after: same stderr %s\n" % str(os.fstat(2).st_ino == before).encode())
"""


def test_threads_racing_through_the_filter_leave_stderr_where_it_was():
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "XNNPACK" not in done.stderr
    assert sorted(line for line in done.stderr.splitlines() if line.startswith("kept")) == sorted(f"kept line {i}" for i in range(8))
    assert done.stderr.strip().endswith("after: same stderr True")


EXIT_CODE = r"""
import os
from edgeembed.native_log import drop_native_noise, silence_native_exit
try:
    with drop_native_noise(silent_failure=True):
        os.write(2, b"\xec\xff garbage a failed probe wrote\n")
        raise ValueError("probe failed")
except ValueError:
    pass
with drop_native_noise(silent_failure=True):
    os.write(2, b"kept: the block succeeded\n")
with drop_native_noise():
    os.write(2, b"INFO: [environment.cc:36] Creating LiteRT environment with options\n")
os.write(2, b"still shown before exit\n")
import atexit
atexit.register(lambda: os.write(2, b"INFO: [accelerator_registry.cc:43] DestroyAccelerator\n"))
silence_native_exit()
"""


def test_a_failed_probe_leaves_nothing_and_exit_time_logs_are_silenced():
    done = subprocess.run([sys.executable, "-c", EXIT_CODE], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode() == "kept: the block succeeded\nstill shown before exit\n"
    verbose = subprocess.run(
        [sys.executable, "-c", EXIT_CODE], capture_output=True, timeout=60, env={**__import__("os").environ, "EDGEEMBED_VERBOSE": "1"}
    )
    assert b"DestroyAccelerator" in verbose.stderr and b"garbage" in verbose.stderr
