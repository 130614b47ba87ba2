"""PCA projection (convert --pca-dim): fit, storage, and what encode does with it (fast tier)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fakes import DIM, write_fake_bundle

from edgeembed import Embedder
from edgeembed.bundle import Bundle
from edgeembed.converters.projection_fit import check_pca_dim, fit_pca
from edgeembed.converters.similarity import similarity_agreement
from edgeembed.errors import BundleError, ConversionError, InputError

TEXTS = ["a dog runs in the park", "the cat sleeps", "hello world", "rain is expected tomorrow", "a man plays guitar"]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_fit_pca_keeps_the_leading_directions_with_fixed_signs():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((8, 8)))[0]
    data = (rng.standard_normal((400, 8)) * [9, 5, 2, 0.1, 0.1, 0.1, 0.1, 0.1]) @ basis.T + 3.0
    matrix, explained = fit_pca(data, 3)
    assert matrix.shape == (9, 3) and matrix.dtype == np.float32 and explained > 0.99
    components = matrix[:-1]
    assert np.allclose(np.abs(components.T @ basis[:, :3]), np.eye(3), atol=0.02)  # the top 3 axes
    projected = data @ components + matrix[-1]
    assert np.allclose(projected.mean(axis=0), 0.0, atol=1e-3)  # the bias centres the data
    again, _ = fit_pca(data[::-1], 3)
    assert np.allclose(again, matrix, atol=1e-5)  # deterministic signs


def test_pca_dim_is_checked_before_any_work():
    with pytest.raises(ConversionError, match=r"--pca-dim must be within 1\.\.383"):
        check_pca_dim(384, 384, 5000)
    with pytest.raises(ConversionError, match="needs more than 256 calibration texts.*--calibration FILE"):
        check_pca_dim(256, 384, 203)
    check_pca_dim(None, 384, 1)


def test_similarity_agreement_is_perfect_for_a_rotation():
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((20, 6))
    rotation = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    agreement = similarity_agreement(vectors, vectors @ rotation)
    assert agreement["pairs"] == 190 and agreement["spearman_vs_fp32"] == 1.0
    assert agreement["mean_abs_cosine_error"] < 1e-6


@pytest.fixture()
def projected_bundle(tmp_path, fake_runtime):
    plain = write_fake_bundle(tmp_path / "plain")
    full = Embedder.load(plain, embedding_cache_size=0).encode(TEXTS * 4 + ["one two three", "new movie"])
    matrix, _ = fit_pca(full, 8)
    return plain, write_fake_bundle(tmp_path / "pca8", projection=matrix), matrix


def test_encode_projects_the_models_own_vectors_then_normalizes(projected_bundle):
    plain, projected, matrix = projected_bundle
    full = Embedder.load(plain, embedding_cache_size=0).encode(TEXTS)  # normalized, as the model returns
    embedder = Embedder.load(projected)
    assert embedder.embedding_dim == 8 and embedder.get_sentence_embedding_dimension() == 8
    expected = full @ matrix[:-1] + matrix[-1]
    assert np.allclose(embedder.encode(TEXTS, normalize_embeddings=False), expected, atol=1e-5)
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (5, 8) and np.allclose(vectors, _unit(expected), atol=1e-5)
    assert embedder.encode(TEXTS[0]).shape == (8,)
    assert np.allclose(embedder.encode(TEXTS[0]), vectors[0], atol=1e-6)  # cached path agrees
    cut = embedder.encode(TEXTS, truncate_dim=4)  # PCA axes are ordered: truncation still makes sense
    assert np.allclose(cut, _unit(expected[:, :4]), atol=1e-5)
    with pytest.raises(InputError, match=r"truncate_dim \(--truncate-dim\) must be an integer in 1\.\.8"):
        embedder.encode(TEXTS, truncate_dim=9)
    assert embedder.encode(TEXTS, precision="ubinary").shape == (5, 1)


def test_the_projection_changes_the_cache_fingerprint(projected_bundle):
    plain, projected, _ = projected_bundle
    assert Embedder.load(plain).embedding_cache.fingerprint != Embedder.load(projected).embedding_cache.fingerprint


def test_a_damaged_projection_is_refused(projected_bundle, tmp_path):
    _, projected, matrix = projected_bundle
    np.save(projected / "projection.npy", matrix[:, :4], allow_pickle=False)
    with pytest.raises(BundleError, match="sha256"):
        Embedder.load(projected)
    with pytest.raises(BundleError, match=r"expected finite float32 of shape \(33, 8\)"):
        Embedder(Bundle.load(projected, verify=False))


def test_the_manifest_checks_projection_fields(projected_bundle):
    _, projected, _ = projected_bundle
    manifest = json.loads((projected / "edgeembed.json").read_text())
    assert manifest["projection_dim"] == 8 and "projection.npy" in manifest["files"]
    for bad, message in ((DIM + 1, "projection_dim 33 outside"), (8, "truncate_dim 9 outside")):
        data = {**manifest, "projection_dim": bad, "truncate_dim": 9 if bad == 8 else 0}
        (projected / "edgeembed.json").write_text(json.dumps(data))
        with pytest.raises(BundleError, match=message):
            Bundle.load(projected, verify=False)
