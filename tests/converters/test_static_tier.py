"""--format static: a model2vec table distilled from a tiny random BERT, run with numpy only."""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.convert
pytest.importorskip("model2vec")
pytest.importorskip("litert_torch")

from tiny_models import SENTENCES, write_target

from edgeembed import Embedder
from edgeembed.converters import convert
from edgeembed.errors import BundleError


@pytest.fixture(scope="module")
def static_bundle(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("static")
    sts = root / "sts.csv"
    pairs = [(SENTENCES[i], SENTENCES[(i + 1) % len(SENTENCES)], float(i % 5)) for i in range(len(SENTENCES))]
    sts.write_text("sentence1,sentence2,score\n" + "".join(f'"{a}","{b}",{s}\n' for a, b, s in pairs))
    result = convert(tiny_model_dir, out=root / "b", target=write_target(root, "fp32"), format="static", eval_file=sts)
    return result


def test_static_bundle_is_model2vecs_model_run_by_numpy(static_bundle, tiny_model_dir):
    from model2vec.distill import distill_from_model
    from transformers import AutoModel, AutoTokenizer

    embedder = Embedder.load(static_bundle.bundle.path, embedding_cache_size=0)
    assert embedder.backend.runtime == "numpy" and embedder.bundle.manifest.format == "static"
    ours = embedder.encode(SENTENCES)
    model = AutoModel.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    theirs = distill_from_model(model=model, tokenizer=tokenizer, pca_dims=32, quantize_to="float32", device="cpu")
    assert ours.shape == (len(SENTENCES), 32)
    assert np.allclose(ours, theirs.encode(SENTENCES), atol=1e-5)


def test_static_report_measures_pairwise_agreement_and_sts(static_bundle):
    report = static_bundle.report
    assert report["format"] == "static" and report["converter"]["route"] == "static"
    fidelity = report["fidelity"]
    assert "mean_cosine" not in fidelity and -1 <= fidelity["spearman_vs_fp32"] <= 1
    assert fidelity["pairs"] > 1000 and "STS drop" in fidelity["required"]
    assert "spearman_vs_fp32" in report["sts"]["cosine_to_fp32"]
    details = report["model_details"]
    assert details["pca_dims"] == 32 and details["vocabulary"] > 10
    manifest = json.loads((static_bundle.bundle.path / "edgeembed.json").read_text())
    assert manifest["embedding_dim"] == 32 and "static_table.npy" in manifest["files"]


def test_a_damaged_static_table_is_refused(static_bundle, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(static_bundle.bundle.path, copy)
    table = np.load(copy / "static_table.npy")
    np.save(copy / "static_table.npy", table[:, :16])
    from edgeembed.bundle import Bundle

    with pytest.raises(BundleError, match="sha256"):
        Embedder.load(copy)
    with pytest.raises(BundleError, match="expected a float16/float32 table of width 32"):
        Embedder(Bundle.load(copy, verify=False))
