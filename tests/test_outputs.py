"""truncate_dim and precision, as sentence-transformers has them (fast tier)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fakes import write_fake_bundle
from typer.testing import CliRunner

from edgeembed import Embedder
from edgeembed.cli.app import app
from edgeembed.embed.precision import embedding_ranges
from edgeembed.errors import InputError

TEXTS = ["a dog runs in the park", "the cat sleeps", "hello world", "rain is expected tomorrow"]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A bundle with int8 ranges measured as conversion measures them, and one cut to 16 dims."""
    root = tmp_path_factory.mktemp("output-bundles")
    from edgeembed import runtimes

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(runtimes.BACKENDS, "numpy-fake", "fakes:NumpyBackend")
        patch.setitem(runtimes.FORMAT_DEFAULT_BACKEND, "onnx", "numpy-fake")
        plain = write_fake_bundle(root / "plain")
        ranges = embedding_ranges(Embedder.load(plain).encode(TEXTS * 3))
    return {
        "ranges": write_fake_bundle(root / "ranges", embedding_ranges=ranges),
        "cut": write_fake_bundle(root / "cut", truncate_dim=16),
    }


def test_truncate_dim_cuts_then_normalizes(fake_bundle):
    embedder = Embedder.load(fake_bundle, embedding_cache_size=0)
    raw = embedder.encode(TEXTS, normalize_embeddings=False)
    cut = embedder.encode(TEXTS, truncate_dim=8)
    assert cut.shape == (4, 8) and np.allclose(np.linalg.norm(cut, axis=1), 1.0, atol=1e-6)
    assert np.allclose(cut, raw[:, :8] / np.linalg.norm(raw[:, :8], axis=1, keepdims=True), atol=1e-6)
    assert embedder.encode(TEXTS[0], truncate_dim=8).shape == (8,)
    with pytest.raises(InputError, match=r"truncate_dim \(--truncate-dim\) must be an integer in 1\.\.32"):
        embedder.encode(TEXTS, truncate_dim=33)


def test_a_bundle_default_width_applies(calibrated, fake_runtime):
    embedder = Embedder.load(calibrated["cut"])
    assert embedder.get_sentence_embedding_dimension() == 16 and embedder.encode(TEXTS).shape == (4, 16)
    assert embedder.encode(TEXTS, truncate_dim=32).shape == (4, 32)


def test_binary_codes_pack_the_sign_bits(fake_bundle):
    embedder = Embedder.load(fake_bundle)
    floats = embedder.encode(TEXTS)
    ubinary = embedder.encode(TEXTS, precision="ubinary")
    binary = embedder.encode(TEXTS, precision="binary")
    assert ubinary.dtype == np.uint8 and ubinary.shape == (4, 4) and binary.dtype == np.int8
    assert np.array_equal(ubinary, np.packbits(floats > 0, axis=-1))
    assert np.array_equal(binary.astype(np.int16) + 128, ubinary.astype(np.int16))


def test_int8_codes_use_the_bundle_ranges_not_the_batch(calibrated, fake_runtime):
    embedder = Embedder.load(calibrated["ranges"], embedding_cache_size=0)
    together = embedder.encode(TEXTS, precision="int8")
    alone = np.stack([embedder.encode(text, precision="int8") for text in TEXTS])
    assert together.dtype == np.int8 and together.shape == (4, 32) and np.array_equal(together, alone)
    unsigned = embedder.encode(TEXTS, precision="uint8")
    assert np.array_equal(unsigned.astype(np.int16) - 128, together.astype(np.int16))
    floats = embedder.encode(TEXTS)
    ranges = embedder.bundle.manifest.embedding_ranges
    decoded = np.asarray(ranges["min"]) + (together.astype(np.float32) + 128) * (np.asarray(ranges["max"]) - np.asarray(ranges["min"])) / 255
    assert np.abs(decoded - floats).max() < 0.02  # one step of the calibrated range
    with pytest.raises(InputError, match="calibrated on this bundle's default outputs"):
        embedder.encode(TEXTS, precision="int8", normalize_embeddings=False)


def test_int8_without_ranges_is_refused(fake_bundle):
    with pytest.raises(InputError, match="needs the calibration ranges"):
        Embedder.load(fake_bundle).encode(TEXTS, precision="int8")
    with pytest.raises(InputError, match=r"precision \(--precision\) must be one of"):
        Embedder.load(fake_bundle).encode(TEXTS, precision="int4")


def test_cli_embed_writes_codes(fake_bundle):
    result = CliRunner().invoke(app, ["embed", str(fake_bundle), *TEXTS[:2], "--precision", "ubinary", "--json"])
    assert result.exit_code == 0, result.output
    codes = json.loads(result.stdout.strip().splitlines()[-1])["embeddings"]
    assert np.array(codes).shape == (2, 4)
    table = CliRunner().invoke(app, ["embed", str(fake_bundle), "a dog", "--precision", "binary"])
    assert table.exit_code == 0 and "1 x 4 int8 codes (binary)" in table.output


def test_eval_scores_every_width_and_code(fake_bundle, tmp_path, monkeypatch):
    import importlib.util

    from edgeembed.host.evaluate import evaluate_bundle

    find_spec = importlib.util.find_spec  # a hand-built bundle has no FP32 source to compare with
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else find_spec(name, *a))

    rows = [("a dog runs in the park", "a dog runs", 4.5), ("the cat sleeps", "a cat sleeps on the sofa", 4.2),
            ("rain is expected tomorrow", "it will rain", 4.0), ("hello world", "the train leaves at eight", 0.5),
            ("a man is playing guitar", "someone plays music", 3.8), ("how do i reset my router", "water the plants", 0.2)]
    sts = tmp_path / "sts.csv"
    sts.write_text("sentence1,sentence2,score\n" + "".join(f"{a},{b},{s}\n" for a, b, s in rows))
    result = evaluate_bundle(fake_bundle, sts, widths=[32, 16], precisions=["float32", "int8", "binary"])
    grid = {(r["width"], r["precision"]): r for r in result["outputs"]}
    assert abs(grid[(32, "float32")]["sts_spearman"] - result["bundle_spearman"]) < 0.01
    assert grid[(32, "float32")]["queries"] == 3 and 0 <= grid[(16, "binary")]["recall_at_1"] <= 1
    assert grid[(32, "binary")]["bytes_per_vector"] == 4 and grid[(16, "float32")]["bytes_per_vector"] == 64
    assert "skipped" in grid[(16, "int8")] and "no int8 ranges" in grid[(32, "int8")]["skipped"]
    cli = CliRunner().invoke(app, ["eval", str(fake_bundle), "--sts", str(sts), "--dims", "32,16", "--precision", "float32,binary"])
    assert cli.exit_code == 0 and "R@1" in cli.output
    bad = CliRunner().invoke(app, ["eval", str(fake_bundle), "--sts", str(sts), "--precision", "int3"])
    assert bad.exit_code == 1 and "--precision 'int3': int3 is not valid" in bad.output
