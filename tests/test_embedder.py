import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from tiny_models import SENTENCES

from edgeembed import BundleError, Embedder


@pytest.fixture()
def embedder(fake_bundle):
    return Embedder.load(fake_bundle, threads=1, embedding_cache_size=0)


def test_batches_keep_input_order(embedder):
    together = embedder.encode(SENTENCES, batch_size=3)
    alone = np.stack([embedder.encode(text) for text in SENTENCES])
    assert together.shape == (len(SENTENCES), 32) and together.dtype == np.float32
    assert np.allclose(together, alone, atol=1e-5)


def test_edge_cases(embedder, caplog):
    assert embedder.encode([]).shape == (0, 32)
    assert embedder.encode("a dog").shape == (32,)
    blank = embedder.encode(["", "   "])
    assert np.isfinite(blank).all() and np.allclose(blank[0], blank[1])
    with pytest.raises(TypeError, match=r"sentences\[1\] is NoneType"):
        embedder.encode(["ok", None])
    long_text = "a man is playing " * 30
    vector = embedder.encode([long_text, "a dog"])
    assert embedder.last_truncated == 1 and "truncated" in caplog.text
    assert np.allclose(vector[0], embedder.encode(long_text), atol=1e-6)
    raw = embedder.encode("a dog", normalize_embeddings=False)
    assert not np.isclose(np.linalg.norm(raw), 1.0)
    assert embedder.cache_info()["token_cache"]["hits"] > 0


def test_tampered_model_fails_to_load(fake_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(fake_bundle, bundle)
    model = bundle / "model.npz"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="model.npz: sha256 mismatch"):
        Embedder.load(bundle)


def test_embedding_imports_no_torch_tensorflow_or_jax(tiny_bundles):
    """Nor any host-side or framework package (Ray, pyarrow, adapters, model2vec)."""
    heavy = ["torch", "tensorflow", "jax", "transformers", "ray", "pyarrow", "pandas", "langchain_core",
             "llama_index", "model2vec", "sklearn"]
    code = (
        "import sys, json, edgeembed;"
        f"e = edgeembed.Embedder.load({str(tiny_bundles['int8-full'])!r});"
        "e.encode(['a dog']);"
        f"print(json.dumps(sorted(set({heavy!r}) & set(sys.modules))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_workers_embed_in_processes_exactly_as_one(tiny_bundles):
    embedder = Embedder.load(tiny_bundles["fp32"], embedding_cache_size=0)
    texts = [f"{text} {i}" for i, text in enumerate(SENTENCES * 60)]
    try:
        parallel = embedder.encode(texts, workers=2)
        pool = embedder._pool
        again = embedder.encode(texts[:300], workers=2, truncate_dim=16)
        assert embedder._pool is pool  # the processes are reused, not spawned per call
    finally:
        embedder.close()
    assert embedder._pool is None
    assert parallel.shape == (len(texts), 32) and np.allclose(parallel, embedder.encode(texts), atol=1e-5)
    assert np.allclose(again, embedder.encode(texts[:300], truncate_dim=16), atol=1e-5)


def test_workers_must_be_a_positive_integer(fake_bundle):
    with pytest.raises(ValueError, match=r"workers \(--workers\) must be a positive integer"):
        Embedder.load(fake_bundle).encode(["a", "b"], workers=0)
