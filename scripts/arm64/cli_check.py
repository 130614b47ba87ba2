"""Run the device's ``edgeembed embed`` and ``edgeembed doctor --bundle`` and check what they say.

    python cli_check.py VENV BUNDLE REFERENCE.npy EXECUTOR

Runs inside the device venv (stdlib + numpy only). ``EXECUTOR`` is the LiteRT executor this
core must get: ``Interpreter`` or ``CompiledModel``. A command killed by a signal (SIGILL on an
ARMv8.0 core) is a failure of its own. Prints one PASS/FAIL line per check.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
from device_check import SENTENCES, threshold

TIMEOUT_S = 900  # imports and a model load under qemu-user take a minute or more


def run(command: list[str]) -> tuple[bool, str, str]:
    """(exited normally, stdout, what went wrong)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return False, "", f"timed out after {TIMEOUT_S} s"
    if done.returncode < 0:
        return False, done.stdout, f"killed by {signal.Signals(-done.returncode).name}"
    if done.returncode != 0:
        return False, done.stdout, f"exit {done.returncode}: {done.stderr.strip()[-400:]}"
    return True, done.stdout, ""


def main() -> int:
    venv, bundle, reference, executor = sys.argv[1], sys.argv[2], np.load(sys.argv[3]), sys.argv[4]
    edgeembed = f"{venv}/bin/edgeembed"
    results: list[tuple[bool, str]] = []

    ok, out, problem = run([edgeembed, "embed", bundle, SENTENCES[0], SENTENCES[1], "--json"])
    if ok:
        vectors = np.array(json.loads(out)["embeddings"], dtype=np.float32)
        expected = reference[:2] / np.linalg.norm(reference[:2], axis=1, keepdims=True)
        cosines = np.sum(vectors * expected, axis=1) / np.linalg.norm(vectors, axis=1)
        floor = threshold("int8")  # the bundles this runs on are INT8
        results.append((bool(cosines.min() >= floor), f"edgeembed embed --json: min cosine to x86 {cosines.min():.5f} (>= {floor})"))
    else:
        results.append((False, f"edgeembed embed: {problem}"))

    ok, out, problem = run([edgeembed, "doctor", "--bundle", bundle, "--json"])
    if ok:
        report = json.loads(out)
        machine, checked = report["machine"], report["bundle"]
        results.append((bool(checked["ok"]), f"edgeembed doctor --bundle: ok={checked['ok']} on {machine['cpu']}"))
        said = machine.get("litert_executor", "")
        results.append((said.startswith(executor), f"doctor reports the executor: {said!r} (expected {executor})"))
        ran = checked.get("executor_reason") or ""
        results.append((ran.startswith(executor), f"the bundle ran on: {ran!r}"))
    else:
        results.append((False, f"edgeembed doctor --bundle: {problem}"))

    for good, message in results:
        print(("PASS " if good else "FAIL ") + message)
    return 0 if all(good for good, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
