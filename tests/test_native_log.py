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
