"""Killing convert or a cache save at random moments never leaves partial output."""

import random
import signal
import subprocess
import sys
import time

import numpy as np
from tiny_models import write_target

from edgeembed import Embedder
from edgeembed.bundle import Bundle
from edgeembed.embed.cache import EmbeddingCache

KILLS = 20


def _convert_command(model_dir, target, out):
    return [sys.executable, "-m", "edgeembed.cli", "convert", str(model_dir), "--target", str(target),
            "--out", str(out)]


def test_random_kills_during_convert_leave_nothing_half_made(tiny_model_dir, tmp_path):
    target = write_target(tmp_path, "fp32", seq_buckets=(16,), batch_size=1)  # one signature: quick
    started = time.perf_counter()
    subprocess.run(_convert_command(tiny_model_dir, target, tmp_path / "reference"), check=True,
                   capture_output=True, timeout=600)
    duration = time.perf_counter() - started
    rng = random.Random(1234)
    outcomes = {"absent": 0, "complete": 0}
    for attempt in range(KILLS):
        out = tmp_path / f"out{attempt}"
        process = subprocess.Popen(_convert_command(tiny_model_dir, target, out),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, duration * 1.05))
        process.send_signal(signal.SIGINT if attempt % 2 else signal.SIGKILL)
        process.wait(timeout=120)
        if out.exists():
            Bundle.load(out)  # whatever exists at --out is a whole, verified bundle
            outcomes["complete"] += 1
        else:
            outcomes["absent"] += 1
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".edgeembed-tmp-")]
        if attempt % 2:  # SIGINT runs the cleanup handlers
            assert leftovers == []
    rerun = tmp_path / "out0"
    if rerun.exists():
        rerun = tmp_path / "rerun"
    subprocess.run(_convert_command(tiny_model_dir, target, rerun), check=True, capture_output=True, timeout=600)
    assert np.allclose(Embedder.load(rerun).encode("a dog"), Embedder.load(tmp_path / "reference").encode("a dog"))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".edgeembed-tmp-")] == []  # stale ones cleaned
    print(f"{KILLS} kills during convert: {outcomes}")


CACHE_WRITER = """
import sys, numpy as np
from edgeembed.embed.cache import EmbeddingCache
cache = EmbeddingCache(100000, "fingerprint", sys.argv[1])
rng = np.random.default_rng()
i = 0
while True:
    for _ in range(2000):
        cache.put((f"text {i}", True), rng.standard_normal(64).astype(np.float32)); i += 1
    cache.save()
    print(i, flush=True)
"""


def test_persistent_cache_survives_kills_mid_write(tmp_path):
    path = tmp_path / "cache.npz"
    rng = random.Random(7)
    sizes = []
    for _ in range(8):
        process = subprocess.Popen([sys.executable, "-c", CACHE_WRITER, str(path)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 2.5))
        process.kill()
        process.wait()
        if path.exists():
            with _no_warnings():  # an unreadable cache would warn: it must never be one
                sizes.append(len(EmbeddingCache(100000, "fingerprint", path)))
    assert sizes and all(size % 2000 == 0 for size in sizes)  # always a whole save


class _no_warnings:
    def __enter__(self):
        import warnings

        self._context = warnings.catch_warnings()
        self._context.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


def test_random_kills_during_pack_leave_no_partial_archive(tiny_bundles, tmp_path):
    from edgeembed.bundle.archive import unpack_bundle

    rng = random.Random(99)
    command = [sys.executable, "-m", "edgeembed.cli", "pack", str(tiny_bundles["int8-full"])]
    started = time.perf_counter()
    subprocess.run([*command, str(tmp_path / "reference.tar.gz")], check=True, capture_output=True)
    duration = time.perf_counter() - started
    complete = 0
    for attempt in range(10):
        archive = tmp_path / f"b{attempt}.tar.gz"
        process = subprocess.Popen([*command, str(archive)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, duration * 1.1))
        process.send_signal(signal.SIGINT if attempt % 2 else signal.SIGKILL)
        process.wait(timeout=60)
        if archive.exists():  # only ever a whole archive that unpacks and verifies
            unpack_bundle(archive, tmp_path / f"unpacked{attempt}")
            complete += 1
    print(f"10 kills during pack: {complete} complete archives, {10 - complete} absent")
