"""Many threads embedding at once get exactly the sequential answers; caches stay consistent."""

import threading
import time

import numpy as np
import pytest
from tiny_models import SENTENCES

from edgeembed import Embedder

THREADS, CALLS = 8, 200


def _hammer(embedder, expected, errors):
    def work(worker: int) -> None:
        try:
            for call in range(CALLS):
                index = (worker * 7 + call) % len(SENTENCES)
                if call % 3 == 0:
                    got = embedder.encode(SENTENCES[index : index + 3], batch_size=2)
                    want = expected[index : index + 3]
                else:
                    got, want = embedder.encode(SENTENCES[index]), expected[index]
                if not np.allclose(got, want, atol=1e-6):
                    errors.append((worker, call))
        except Exception as error:
            errors.append(repr(error))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


@pytest.mark.parametrize("per_thread", [False, True], ids=["shared-lock", "interpreter-per-thread"])
@pytest.mark.parametrize("cache", [0, 64], ids=["no-cache", "cache"])
def test_threads_match_sequential(tiny_bundles, per_thread, cache):
    options = {"interpreter_per_thread": per_thread}
    embedder = Embedder.load(tiny_bundles["int8-full"], threads=1, embedding_cache_size=cache,
                             backend_options=options)
    expected = Embedder.load(tiny_bundles["int8-full"], threads=1, embedding_cache_size=0).encode(SENTENCES)
    sequential = time.perf_counter()
    for call in range(CALLS):
        embedder.encode(SENTENCES[call % len(SENTENCES)])
    sequential = time.perf_counter() - sequential
    errors: list = []
    elapsed = _hammer(embedder, expected, errors)
    assert errors == []
    info = embedder.cache_info()["embedding_cache"]
    assert info["size"] <= max(cache, 0)
    print(f"{THREADS}x{CALLS} calls in {elapsed:.2f}s; one thread {CALLS} calls in {sequential:.2f}s "
          f"(per_thread={per_thread}, cache={cache})")
