"""bench and eval run and report sane fields (figures themselves are never asserted)."""

import json

import numpy as np
import pytest
from tiny_models import SENTENCES
from typer.testing import CliRunner

from edgeembed.cli.app import app
from edgeembed.host.bench import run_bench
from edgeembed.host.evaluate import evaluate_bundle

runner = CliRunner()


def test_bench_against_both_baselines(tiny_bundles, tmp_path):
    pytest.importorskip("onnxruntime")
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(SENTENCES))
    result = run_bench(tiny_bundles["int8-full"], ("torch", "onnxruntime"), texts, threads=1,
                       rounds=1, min_seconds=0.05)
    assert set(result["results"]) == {"edgeembed", "torch", "onnxruntime"}
    for name, figures in result["results"].items():
        assert figures["batch1_per_s"] > 0 and figures["batch32_per_s"] > 0, name
        assert 0 < figures["latency_p50_ms"] <= figures["latency_p95_ms"]
        assert 0 < figures["cold_start_s"] < 120 and figures["peak_rss_mb"] > 10
        assert set(figures["latency_by_tokens_ms"]) == {"16", "32", "64", "128"}
    ours = result["results"]["edgeembed"]
    assert ours["heavy_modules"] == [] and ours["cache_hit_us"] > 0
    # one text filling each of the bundle's buckets, timed: edgeembed's only
    assert set(ours["latency_by_bucket_ms"]) == {"8", "16"}
    assert all(ms > 0 for ms in ours["latency_by_bucket_ms"].values())
    assert "latency_by_bucket_ms" not in result["results"]["onnxruntime"]
    assert set(result["ratios"]) == {"edgeembed_vs_torch", "edgeembed_vs_onnxruntime"}


def test_plain_openvino_baseline_runs_and_embeds_as_pytorch(tiny_bundles, tmp_path):
    pytest.importorskip("openvino")
    from edgeembed.bundle import Bundle
    from edgeembed.host import bench_worker
    from edgeembed.host.bench import _baseline_specs

    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(SENTENCES))
    result = run_bench(tiny_bundles["fp32"], ("openvino",), texts, threads=1, rounds=1, min_seconds=0.05)
    plain = result["results"]["openvino"]
    assert plain["batch1_per_s"] > 0 and plain["batch32_per_s"] > 0
    assert plain["padding_waste"]["batch1"] == 1.0 and plain["padding_waste"]["batch32"] >= 1.0
    assert set(result["ratios"]) == {"edgeembed_vs_openvino"}
    # the baseline embeds what the model means: mean-pooled, normalized, as PyTorch does
    specs = _baseline_specs(Bundle.load(tiny_bundles["fp32"]), ("torch", "openvino"), None)
    common = {"max_seq_length": 128, "threads": 1}
    plain_vectors = bench_worker.openvino_pipeline({**common, **specs["openvino"]}).encode(SENTENCES, 4)
    torch_vectors = bench_worker.torch_pipeline({**common, **specs["torch"]}).encode(SENTENCES, 4)
    assert np.allclose(plain_vectors, torch_vectors, atol=1e-4)


def test_padding_waste_counts_a_text_once_per_call_that_runs_it(fake_packed_bundle):
    from edgeembed.host import bench_worker

    pipeline = bench_worker.edgeembed_pipeline({"bundle": str(fake_packed_bundle), "threads": 1})
    texts = ["a dog runs", "a dog runs", "the cat"]
    alone = bench_worker.padding_waste(pipeline, texts, 1)
    together = bench_worker.padding_waste(pipeline, texts, 32)
    assert alone >= 1.0 and together >= 1.0  # every real token reached the model, padding on top
    slots, real = pipeline.count_tokens(lambda: pipeline.encode(texts, 32))
    lengths = [len(ids) for ids in _token_ids(fake_packed_bundle, texts)]
    assert real == lengths[0] + lengths[2]  # the repeated text runs once in one call
    assert together == slots / real


def _token_ids(bundle, texts):
    from edgeembed import Embedder

    return [item.ids for item in Embedder.load(bundle).tokenizer.encode(texts)]


def test_bench_cli_json_without_baselines(tiny_bundles):
    result = runner.invoke(app, ["bench", str(tiny_bundles["fp32"]), "--baseline", "", "--rounds",
                                 "1", "--threads", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(data["results"]) == ["edgeembed"] and data["ratios"] == {}


def test_bench_compares_another_bundle_in_the_same_rounds(tiny_bundles):
    result = runner.invoke(app, ["bench", str(tiny_bundles["fp32"]), "--baseline", "", "--compare",
                                 str(tiny_bundles["int8-full"]), "--rounds", "1", "--threads", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(data["results"]) == ["edgeembed", "bundle int8-full"]
    assert data["results"]["bundle int8-full"]["model_mb"] < data["results"]["edgeembed"]["model_mb"]
    assert set(data["ratios"]) == {"edgeembed_vs_bundle int8-full"}


def test_unknown_baseline_is_a_clear_error(tiny_bundles):
    result = runner.invoke(app, ["bench", str(tiny_bundles["fp32"]), "--baseline", "tensorrt"])
    assert result.exit_code == 1 and "unknown baseline" in result.output


def test_eval_compares_bundle_and_fp32_source(tiny_bundles, tmp_path):
    sts = tmp_path / "sts.csv"
    sts.write_text("\n".join(f'"{a}","{b}",{i % 5}' for i, (a, b) in enumerate(zip(SENTENCES, SENTENCES[1:]))))
    result = evaluate_bundle(tiny_bundles["fp32"], sts)
    assert result["pairs"] == len(SENTENCES) - 1
    assert abs(result["bundle_spearman"] - result["fp32_spearman"]) < 1.0
    assert result["cosine_to_fp32"]["mean_cosine"] > 0.9999
    cli = runner.invoke(app, ["eval", str(tiny_bundles["fp32"]), "--sts", str(sts)])
    assert cli.exit_code == 0 and "FP32 source Spearman" in cli.output


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from edgeembed.host.bench import plot_bench

    figures = {"batch1_per_s": 10.0, "batch32_per_s": 20.0,
               "latency_by_tokens_ms": {"16": 1.0, "32": 2.0, "64": 4.0, "128": 8.0}}
    result = {"threads": 2, "results": {"edgeembed": figures, "torch": figures}}
    path = plot_bench(result, tmp_path / "bench.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
