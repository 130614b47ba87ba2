"""The static runtime (numpy only): a hand-built token table, embedded as mean of rows (fast tier)."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import write_tokenizer

from edgeembed import Embedder
from edgeembed.bundle import Bundle, Manifest, Signature, write_bundle
from edgeembed.errors import BundleError, InputError


def _static_bundle(tmp_path, dtype=np.float16):
    parts = tmp_path / "parts"
    parts.mkdir()
    tokenizer_path = write_tokenizer(parts / "tokenizer.json")
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.post_processor = None  # static tables see the text's own tokens only, as model2vec
    tokenizer.save(str(tokenizer_path))
    table = np.random.default_rng(0).standard_normal((tokenizer.get_vocab_size(), 12)).astype(dtype)
    np.save(parts / "static_table.npy", table, allow_pickle=False)
    roles = {"input_ids": "input_ids", "attention_mask": "attention_mask"}
    manifest = Manifest(
        source={"name": "hand-built"}, format="static", quantization="fp16", converter={"route": "static"},
        max_seq_length=32, signatures=tuple(Signature(f"seq_{b}", b, 8, roles, "token_embeddings") for b in (8, 32)),
        model_files=("static_table.npy",), pooling="mean", normalize=True, embedding_dim=12, target="rpi-zero2",
        runtime={"threads": 1, "batch_size": 8},
    )
    files = {"static_table.npy": parts / "static_table.npy", "tokenizer.json": tokenizer_path}
    write_bundle(tmp_path / "static", manifest, files, {"verdict": {"passed": True, "failures": []}})
    return tmp_path / "static", tokenizer, table.astype(np.float32)


def test_static_vectors_are_the_normalized_mean_of_token_rows(tmp_path):
    path, tokenizer, table = _static_bundle(tmp_path)
    embedder = Embedder.load(path, embedding_cache_size=0)
    assert embedder.backend.runtime == "numpy" and embedder.embedding_dim == 12
    texts = ["a dog runs in the park", "hello world", "the cat sleeps on the sofa " * 3]
    expected = np.stack([table[tokenizer.encode(t).ids].mean(axis=0) for t in texts])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(embedder.encode(texts), expected, atol=1e-5)
    assert np.allclose(embedder.encode(texts[1]), expected[1], atol=1e-5)  # alone = in a batch


def test_static_bundles_refuse_other_devices(tmp_path):
    path, _, _ = _static_bundle(tmp_path, np.float32)
    with pytest.raises((BundleError, InputError), match="CPU"):
        Embedder.load(path, device="GPU")
    bundle = Bundle.load(path)
    np.save(path / "static_table.npy", np.zeros((4, 12), dtype=np.int8), allow_pickle=False)
    with pytest.raises(BundleError, match="float16/float32 table"):
        Embedder(Bundle(path, bundle.manifest))
