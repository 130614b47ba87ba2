"""100,000 sentences stream through in bounded memory."""

import json
import subprocess
import sys

STREAM = """
import json, sys
from edgeembed import Embedder
from edgeembed.host.bench_worker import peak_rss_mb
embedder = Embedder.load(sys.argv[1], threads=1, token_cache_size=0, embedding_cache_size=0)
words = "a the man woman dog cat is playing guitar piano riding horse in park".split()
def sentences(n):
    for i in range(n):
        yield " ".join(words[(i * k) % len(words)] for k in range(1, 2 + i % 12))
count, norms_ok, marks = 0, True, {}
for chunk in embedder.iter_encode(sentences(100_000), chunk_size=4096, show_progress_bar=True):
    count += len(chunk)
    norms_ok &= bool(abs((chunk ** 2).sum(1) - 1).max() < 1e-4)
    if count >= 8192 and "early" not in marks:
        marks["early"] = peak_rss_mb()
marks["end"] = peak_rss_mb()
print(json.dumps({"count": count, "norms_ok": norms_ok, **marks}))
"""


def test_hundred_thousand_sentences_in_bounded_memory(tiny_bundles):
    result = subprocess.run([sys.executable, "-c", STREAM, str(tiny_bundles["int8-full"])],
                            capture_output=True, text=True, timeout=900, check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["count"] == 100_000 and data["norms_ok"]
    assert data["end"] - data["early"] < 40, data  # memory stays flat after the first chunks
    print(f"100,000 sentences: peak RSS {data['early']:.0f} MB after 8k, {data['end']:.0f} MB at the end")
