"""Ray: embed-corpus on a real local Ray cluster (2 CPUs) and RayEmbedder under Ray Data.

The workers run the hand-built bundle in the numpy backend (a Ray setup hook registers it in
every worker), so every vector is compared row by row with ``Embedder.encode_document``.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgeembed import Embedder
from edgeembed.cli.app import app
from edgeembed.errors import BundleError, InputError
from edgeembed.integrations.ray import RayEmbedder, ship_bundle
from edgeembed.tools.corpus import embed_corpus, load_corpus_vectors

WORDS = ["a", "the", "dog", "cat", "runs", "sleeps", "park", "sofa", "rain", "hello", "world", "man", "guitar", "music", "water", "plants"]
TESTS = Path(__file__).resolve().parents[1]


def passages(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 14)))) for _ in range(count)]


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    pytest.importorskip("pyarrow")
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH", "")]))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}, "worker_process_setup_hook": "fakes.use_numpy_backend"})
    yield ray
    ray.shutdown()


def test_embed_corpus_on_ray_equals_encode_and_resumes(ray_cluster, fake_bundle, tmp_path):
    texts = passages(2_000)
    source = tmp_path / "corpus.txt"
    source.write_text("\n".join(texts) + "\n")
    embedder = Embedder.load(fake_bundle, embedding_cache_size=0)
    out = tmp_path / "vectors"
    result = CliRunner().invoke(app, ["embed-corpus", str(fake_bundle), str(source), "--out", str(out),
                                      "--shard-size", "300", "--ray", "local", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "2000 rows, 7 shards (0 kept" in result.output
    ids, vectors = load_corpus_vectors(out)
    assert ids == [str(i) for i in range(1, 2_001)]
    assert np.allclose(vectors, embedder.encode_document(texts), atol=1e-6)
    for number in (2, 5):  # as if killed before these two were written
        (out / f"shard-{number:05d}.parquet").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*")}
    again = embed_corpus(embedder, source, out, shard_size=300, ray_address="local")
    assert (again.rows, again.shards, again.kept) == (2_000, 7, 5)
    assert all((out / name).stat().st_mtime_ns == mtime for name, mtime in before.items())  # not recomputed
    assert np.allclose(load_corpus_vectors(out)[1], vectors, atol=1e-6)


def test_ray_data_map_batches_with_a_shipped_bundle(ray_cluster, fake_bundle):
    ray = ray_cluster
    texts = passages(500, seed=1)
    dataset = ray.data.from_items([{"text": t, "id": i} for i, t in enumerate(texts)])
    embedded = dataset.map_batches(
        RayEmbedder, fn_constructor_kwargs={"bundle": ship_bundle(fake_bundle), "kind": "query"},
        concurrency=2, batch_size=64,
    )
    rows = sorted(embedded.take_all(), key=lambda row: row["id"])
    found = np.stack([row["embedding"] for row in rows])
    assert np.allclose(found, Embedder.load(fake_bundle).encode_query(texts), atol=1e-6)


def test_ray_embedder_batches_pickling_and_errors(fake_bundle):
    pandas = pytest.importorskip("pandas")
    pyarrow = pytest.importorskip("pyarrow")

    texts = passages(20, seed=2)
    expected = Embedder.load(fake_bundle).encode_document(texts)
    embedder = RayEmbedder(fake_bundle)
    assert np.allclose(embedder({"text": np.array(texts)})["embedding"], expected, atol=1e-6)
    frame = embedder(pandas.DataFrame({"text": texts}))
    assert np.allclose(np.stack(frame["embedding"]), expected, atol=1e-6)
    table = embedder(pyarrow.table({"text": texts}))
    assert np.allclose(np.array(table.column("embedding").to_pylist()), expected, atol=1e-6)
    restored = pickle.loads(pickle.dumps(embedder))
    assert restored._embedder is None and np.allclose(restored({"text": texts[:3]})["embedding"], expected[:3], atol=1e-6)
    with pytest.raises(InputError, match="batch has no column 'text'"):
        embedder({"body": texts})
    with pytest.raises(InputError, match="kind must be one of"):
        RayEmbedder(fake_bundle, kind="passage")
    shipped = ship_bundle(fake_bundle)
    shipped["model.npz"] = shipped["model.npz"][:-8] + b"tampered"
    with pytest.raises(BundleError, match="sha256"):
        RayEmbedder(shipped)({"text": texts})


def test_unreachable_or_malformed_cluster_addresses_fail_fast():
    import socket

    from edgeembed.errors import EdgeEmbedError
    from edgeembed.integrations.ray import _check_reachable

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(EdgeEmbedError, match=f"no Ray cluster answers at ray://127.0.0.1:{port}"):
        _check_reachable(f"ray://127.0.0.1:{port}", timeout=2)
    with pytest.raises(InputError, match="--ray takes local, auto"):
        _check_reachable("nonsense")
    _check_reachable("local")
