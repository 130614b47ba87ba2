"""Real conversions of a tiny random BERT: fp32 must be exact, int8-full must be integer."""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.convert  # the fast tier (no torch, no runtimes) leaves this module out
pytest.importorskip("litert_torch")

from tiny_models import SENTENCES, write_target

from edgeembed import Embedder
from edgeembed.converters import convert
from edgeembed.converters.reference import reference_embeddings
from edgeembed.converters.sources import load_source
from edgeembed.embed.tokenize import BucketTokenizer
from edgeembed.errors import ConversionError


def test_fp32_bundle_matches_pytorch(tiny_bundles, tiny_model_dir):
    embedder = Embedder.load(tiny_bundles["fp32"], threads=1)
    ours = embedder.encode(SENTENCES)
    source = load_source(tiny_model_dir)
    tokenizer = BucketTokenizer(tiny_model_dir / "tokenizer.json", 16, (8, 16))
    theirs = reference_embeddings(source.model, tokenizer, SENTENCES, "mean", True)
    assert np.allclose(ours, theirs, atol=1e-4)
    report = json.loads((tiny_bundles["fp32"] / "report.json").read_text())
    assert report["fidelity"]["mean_cosine"] > 0.9999
    assert report["model_details"]["signatures"] == 3  # batch 1 per bucket + packed rows of 16
    manifest = json.loads((tiny_bundles["fp32"] / "edgeembed.json").read_text())
    assert sorted(s["name"] for s in manifest["signatures"]) == ["seq_16", "seq_16_b32", "seq_8"]
    assert all(set(s["inputs"]) == {"input_ids", "position_ids", "segment_ids"} for s in manifest["signatures"])
    assert embedder.backend.packed
    packed = embedder.encode(SENTENCES * 7, batch_size=5)  # fills a 32-row batched call
    assert np.allclose(packed, np.tile(ours, (7, 1)), atol=1e-5)


def test_int8_full_bundle_is_integer_and_reports_its_recipe(tiny_bundles):
    report = json.loads((tiny_bundles["int8-full"] / "report.json").read_text())
    details = report["model_details"]
    assert details["int8_recipe"]["tried"][0]["recipe"] == "int8"
    assert details["tensor_types"]["weights"].get("INT8", 0) > 0
    assert details["tensor_types"]["activations"].get("INT8", 0) > 0
    assert report["sizes_bytes"]["model"] < report["sizes_bytes"]["float32_model"]
    vectors = Embedder.load(tiny_bundles["int8-full"]).encode(SENTENCES)
    assert np.isfinite(vectors).all() and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def write_sts(folder):
    sts = folder / "sts.csv"
    rows = [f'"{a}","{b}",{i % 5}' for i, (a, b) in enumerate(zip(SENTENCES, SENTENCES[1:]))]
    sts.write_text("\n".join(rows))
    return sts, len(rows)


def test_strict_below_threshold_writes_nothing(tiny_model_dir, tmp_path):
    target = write_target(tmp_path, "fp32", max_sts_drop=-1.0)  # demands beating FP32
    sts, _ = write_sts(tmp_path)
    with pytest.raises(ConversionError, match="below the target's thresholds.*STS drop"):
        convert(tiny_model_dir, out=tmp_path / "out", target=target, eval_file=sts, strict=True)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".edgeembed-tmp")]


def test_sts_evaluation_is_reported(tiny_model_dir, tmp_path):
    sts, pairs = write_sts(tmp_path)
    result = convert(tiny_model_dir, out=tmp_path / "b", target=write_target(tmp_path, "fp32"), eval_file=sts)
    assert result.report["sts"]["pairs"] == pairs
    assert abs(result.report["sts"]["drop"]) < 1.0


@pytest.mark.parametrize("quantization", ["fp16", "int8-dynamic"])
def test_weight_quantized_modes_stay_close_to_fp32(tiny_model_dir, tmp_path, quantization):
    result = convert(tiny_model_dir, out=tmp_path / quantization, target=write_target(tmp_path, quantization))
    assert result.report["quantization"] == quantization
    assert result.report["fidelity"]["mean_cosine"] > 0.99
    assert result.report["sizes_bytes"]["model"] < result.report["sizes_bytes"]["float32_model"]
    vectors = Embedder.load(result.bundle.path).encode(SENTENCES)
    assert np.isfinite(vectors).all()


def test_prompts_come_from_the_model_folder_and_the_caller(tiny_model_dir, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None})
    )
    target = write_target(tmp_path, "fp32")
    bundle = convert(model, out=tmp_path / "b", target=target, prompts={"title": "title: "}, default_prompt_name="query")
    manifest = bundle.bundle.manifest
    assert manifest.prompts == {"query": "query: ", "passage": "passage: ", "title": "title: "}
    assert manifest.default_prompt_name == "query"
    assert bundle.report["fidelity"]["mean_cosine"] > 0.999  # verified on raw texts, like the reference
    embedder = Embedder.load(tmp_path / "b", embedding_cache_size=0)
    assert np.allclose(embedder.encode("a dog"), embedder.encode("query: a dog", prompt=""), atol=1e-6)
    with pytest.raises(ConversionError, match="default prompt 'doc' is not one of the prompts"):
        convert(model, out=tmp_path / "c", target=target, default_prompt_name="doc")


def test_truncate_dim_and_int8_ranges_are_stored_at_conversion(tiny_model_dir, tmp_path):
    target = write_target(tmp_path, "fp32")
    result = convert(tiny_model_dir, out=tmp_path / "b", target=target, truncate_dim=16)
    manifest = result.bundle.manifest
    assert manifest.truncate_dim == 16 and len(manifest.embedding_ranges["min"]) == 16
    embedder = Embedder.load(tmp_path / "b", embedding_cache_size=0)
    codes = embedder.encode(SENTENCES, precision="int8")
    assert codes.shape == (len(SENTENCES), 16) and codes.dtype == np.int8
    with pytest.raises(ConversionError, match="--truncate-dim must be within 1..32"):
        convert(tiny_model_dir, out=tmp_path / "c", target=target, truncate_dim=64)


def test_pca_dim_through_the_cli_fits_stores_and_reports(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from edgeembed.cli.app import app

    sts = tmp_path / "sts.csv"
    pairs = [(SENTENCES[i], SENTENCES[(i + 1) % len(SENTENCES)], float(i % 5)) for i in range(len(SENTENCES))]
    sts.write_text("sentence1,sentence2,score\n" + "".join(f'"{a}","{b}",{s}\n' for a, b, s in pairs))
    args = ["convert", str(tiny_model_dir), "--out", str(tmp_path / "b"), "--target", str(write_target(tmp_path, "fp32")),
            "--pca-dim", "8", "--truncate-dim", "4", "--eval", str(sts)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    projection = report["projection"]
    assert projection["dim"] == 8 and projection["from_dim"] == 32 and projection["fitted_on_texts"] > 8
    assert 0 < projection["explained_variance"] <= 1 and projection["holdout_similarity"]["pairs"] > 100
    assert projection["sts"]["dim"] == 8 and "at_projection" not in report["sts"]
    embedder = Embedder.load(tmp_path / "b", embedding_cache_size=0)
    assert embedder.bundle.manifest.projection_dim == 8 and embedder.encode(SENTENCES).shape == (len(SENTENCES), 4)
    wide = embedder.encode(SENTENCES, truncate_dim=8)
    assert wide.shape == (len(SENTENCES), 8) and np.allclose(np.linalg.norm(wide, axis=1), 1.0, atol=1e-5)
    failed = CliRunner().invoke(app, [*args[:3], str(tmp_path / "c"), *args[4:6], "--pca-dim", "32"])
    assert failed.exit_code == 1 and "--pca-dim must be within 1..31" in failed.output
