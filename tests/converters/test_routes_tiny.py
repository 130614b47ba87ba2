"""Every OpenVINO, ONNX and onnx2tf route and mode, on the tiny random BERT, end to end:
convert -> verified bundle -> Embedder -> compare with the FP32 PyTorch reference."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = [pytest.mark.routes, pytest.mark.convert]  # the fast tier (no torch, no runtimes) leaves this module out
pytest.importorskip("litert_torch")

from tiny_models import SENTENCES, write_target

from edgeembed import Embedder
from edgeembed.converters import convert
from edgeembed.converters.reference import reference_embeddings
from edgeembed.converters.sources import load_source
from edgeembed.embed.tokenize import BucketTokenizer

ROUTES = [
    ("openvino", "fp32", None),
    ("openvino", "fp16", None),
    ("openvino", "int8-full", None),
    ("openvino", "int8-weights", None),
    ("openvino", "int4-weights", None),
    ("onnx", "fp32", None),
    ("onnx", "fp16", None),
    ("onnx", "int8-dynamic", None),
    ("onnx", "int8-full", None),
    ("tflite", "fp32", "onnx2tf"),
    ("tflite", "fp16", "onnx2tf"),
    ("tflite", "int8-dynamic", "onnx2tf"),
    ("tflite", "int8-full", "onnx2tf"),
]
REQUIRES = {"openvino": ("openvino", "nncf"), "onnx": ("onnxruntime",), "tflite": ("onnx2tf", "tensorflow")}


@pytest.fixture(scope="session")
def reference(tiny_model_dir):
    source = load_source(tiny_model_dir)
    tokenizer = BucketTokenizer(tiny_model_dir / "tokenizer.json", 16, (8, 16))
    return reference_embeddings(source.model, tokenizer, SENTENCES, "mean", True)


@pytest.fixture(scope="session")
def route_bundles(tmp_path_factory, tiny_model_dir):
    """Bundles converted on first use, shared by the tests below."""
    root = tmp_path_factory.mktemp("route-bundles")
    made = {}

    def get(fmt: str, quantization: str, converter: str | None = None, device: str | None = None):
        key = (fmt, quantization, converter, device)
        if key not in made:
            for module in REQUIRES[fmt]:
                pytest.importorskip(module)
            out = root / "-".join(str(k) for k in key)
            result = convert(
                tiny_model_dir, out=out, target=write_target(root, "fp32"), format=fmt,
                quantization=quantization, converter=converter, device=device,
            )
            made[key] = (out, result.report)
        return made[key]

    return get


@pytest.mark.parametrize(("fmt", "quantization", "converter"), ROUTES)
def test_route_produces_a_verified_bundle(route_bundles, reference, fmt, quantization, converter):
    out, report = route_bundles(fmt, quantization, converter)
    manifest = json.loads((out / "edgeembed.json").read_text())
    assert manifest["format"] == fmt and manifest["quantization"] == quantization
    assert report["converter"]["route"] == (converter or fmt)
    assert report["verdict"]["passed"], report["verdict"]
    vectors = Embedder.load(out).encode(SENTENCES)
    cosine = np.sum(vectors * reference, axis=1)
    floor = 0.999 if quantization in ("fp32", "fp16") else 0.98
    assert cosine.mean() >= floor, (fmt, quantization, cosine)
    if quantization == "fp32":
        assert np.allclose(vectors, reference, atol=2e-4)
    if quantization != "fp32":
        assert report["sizes_bytes"]["model"] < report["sizes_bytes"]["float32_model"]


def test_openvino_int8_full_quantizes_activations(route_bundles):
    _, report = route_bundles("openvino", "int8-full")
    details = report["model_details"]
    assert details["fake_quantize_ops"] > 0
    assert details["int8_recipe"]["tried"][0]["recipe"] == "int8"


def test_onnx_int8_full_is_static_qdq(route_bundles):
    _, report = route_bundles("onnx", "int8-full")
    ops = report["model_details"]["ops"]
    assert ops.get("QuantizeLinear", 0) > 0 and ops.get("DequantizeLinear", 0) > 0
    assert "DynamicQuantizeLinear" not in ops


def test_onnx_int8_full_matmuls_take_int8_and_give_float(route_bundles):
    """Every MatMul reads dequantized INT8 on both sides, and no product is requantized: ONNX
    Runtime then runs each as one MatMulIntegerToFloat (converters/onnx.py)."""
    import onnx

    out, _ = route_bundles("onnx", "int8-full")
    graph = onnx.load(str(out / "model.onnx")).graph
    producer = {output: node.op_type for node in graph.node for output in node.output}
    matmuls = [node for node in graph.node if node.op_type == "MatMul"]
    assert matmuls
    assert all(producer.get(name) == "DequantizeLinear" for node in matmuls for name in node.input)
    products = {output for node in matmuls for output in node.output}
    assert not [n.name for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] in products]


def test_onnx2tf_int8_full_is_integer(route_bundles):
    _, report = route_bundles("tflite", "int8-full", "onnx2tf")
    types = report["model_details"]["tensor_types"]
    assert types["weights"].get("INT8", 0) > 0 and types["activations"].get("INT8", 0) > 0


def test_npu_target_writes_one_static_model_per_bucket(route_bundles, reference):
    out, report = route_bundles("openvino", "int8-full", None, "NPU")
    manifest = json.loads((out / "edgeembed.json").read_text())
    assert manifest["model_files"] == ["model_seq8.xml", "model_seq8.bin", "model_seq16.xml", "model_seq16.bin"]
    assert [(s["seq_length"], s["batch_size"], s["model_file"]) for s in manifest["signatures"]] == [
        (8, 1, "model_seq8.xml"), (16, 1, "model_seq16.xml"),
    ]
    assert report["converter"]["static_shapes"] is True
    # No NPU here: the device falls back to CPU and the static models still run (padded rows).
    embedder = Embedder.load(out)
    assert embedder.backend.device == "CPU"
    vectors = embedder.encode(SENTENCES, batch_size=3)
    assert np.sum(vectors * reference, axis=1).mean() >= 0.98


def test_formats_agree_with_each_other(tiny_bundles, route_bundles):
    """The same encode call on the TFLite, OpenVINO and ONNX bundles of one model."""
    tflite = Embedder.load(tiny_bundles["fp32"]).encode(SENTENCES)
    for fmt in ("openvino", "onnx"):
        other = Embedder.load(route_bundles(fmt, "fp32")[0]).encode(SENTENCES)
        assert np.sum(tflite * other, axis=1).min() >= 0.9999, fmt
    for fmt, quantization in (("openvino", "int8-full"), ("onnx", "int8-full")):
        other = Embedder.load(route_bundles(fmt, quantization)[0]).encode(SENTENCES)
        assert np.sum(tflite * other, axis=1).min() >= 0.98, fmt


def test_absent_device_falls_back_to_cpu_with_a_warning(route_bundles, caplog):
    out, _ = route_bundles("openvino", "fp32")
    with caplog.at_level("WARNING", logger="edgeembed"):
        embedder = Embedder.load(out, device="GPU")
    assert embedder.backend.device == "CPU"
    assert "not available" in caplog.text and "running on CPU" in caplog.text
    assert embedder.encode("a man is playing a guitar").shape == (32,)


def test_onnx_gpu_request_without_gpu_providers_runs_on_cpu(route_bundles, caplog):
    out, _ = route_bundles("onnx", "fp32")
    with caplog.at_level("WARNING", logger="edgeembed"):
        embedder = Embedder.load(out, device="GPU")
    assert embedder.backend.providers[-1] == "CPUExecutionProvider"
    assert embedder.encode(SENTENCES[:2]).shape == (2, 32)


@pytest.mark.parametrize("fmt", ["openvino", "onnx"])
def test_embedding_imports_neither_torch_nor_tensorflow(route_bundles, fmt):
    out, _ = route_bundles(fmt, "int8-full")
    code = textwrap.dedent(f"""
        import sys, edgeembed
        vectors = edgeembed.Embedder.load({str(out)!r}).encode(["a dog runs in the park"])
        heavy = {{"torch", "tensorflow", "jax"}} & set(sys.modules)
        assert not heavy, heavy
        print(vectors.shape)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert done.returncode == 0, done.stderr
    assert "(1, 32)" in done.stdout


def test_auto_converter_falls_back_to_onnx2tf(tiny_model_dir, tmp_path, monkeypatch):
    pytest.importorskip("onnx2tf")
    from edgeembed.converters import litert_torch
    from edgeembed.errors import ConversionError

    def broken(*args, **kwargs):
        raise ConversionError("litert-torch could not convert this model (simulated)")

    monkeypatch.setattr(litert_torch, "convert_tflite", broken)
    result = convert(tiny_model_dir, out=tmp_path / "b", target=write_target(tmp_path, "fp32"))
    converter = result.report["converter"]
    assert converter["route"] == "onnx2tf" and converter["fallback_from"] == "litert-torch"
    assert "simulated" in converter["fallback_reason"]
    assert Embedder.load(tmp_path / "b").encode(SENTENCES).shape == (10, 32)


def test_dynamic_bundle_on_an_npu_is_refused_with_the_fix(route_bundles, monkeypatch):
    from edgeembed.errors import BundleError
    from edgeembed.runtimes import openvino as backend

    out, _ = route_bundles("openvino", "fp32")
    monkeypatch.setattr(backend, "resolve_device", lambda requested, available: "NPU")
    with pytest.raises(BundleError, match="NPU compiles static shapes only.*--target intel-npu"):
        Embedder.load(out, device="NPU")


@pytest.mark.parametrize("fmt, quantization, floor", [
    ("openvino", "fp32", 0.999), ("openvino", "int8-full", 0.98), ("onnx", "fp32", 0.999), ("onnx", "int8-full", 0.98),
])
def test_mpnet_follows_pytorch_on_openvino_and_onnx(tmp_path_factory, fmt, quantization, floor):
    """MPNet's tracer numbers its inputs ('8', '13'); routes name them from the forward signature."""
    from tiny_models import write_tiny_model

    root = tmp_path_factory.mktemp(f"mpnet-{fmt}-{quantization}")
    model = write_tiny_model(root / "model", family="mpnet")
    out = root / "bundle"
    convert(model, out=out, target=write_target(root, quantization), format=fmt, quantization=quantization)
    source = load_source(model)
    tokenizer = BucketTokenizer(model / "tokenizer.json", 16, (8, 16))
    expected = reference_embeddings(source.model, tokenizer, SENTENCES, "mean", False)
    ours = Embedder.load(out, embedding_cache_size=0).encode(SENTENCES)
    cosines = np.sum(ours * expected, axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(expected, axis=1)
    assert cosines.mean() >= floor, cosines


def _recorded_shapes(embedder) -> list[tuple[int, int]]:
    """The input shapes the backend runs, appended as calls come."""
    seen = []
    run = embedder.backend.run
    embedder.backend.run = lambda ids, mask: seen.append(ids.shape) or run(ids, mask)
    return seen


@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_float_bundles_on_the_cpu_run_each_batch_at_its_own_longest_text(route_bundles, fmt):
    """No bucket padding on a dynamic-shape float model on the CPU; the vectors are the bucketed ones."""
    out, _ = route_bundles(fmt, "fp32")
    embedder = Embedder.load(out, embedding_cache_size=0, token_cache_size=0)
    assert embedder.backend.exact_lengths
    seen = _recorded_shapes(embedder)
    exact = embedder.encode(SENTENCES, batch_size=4)
    lengths = sorted((len(t.ids) for t in embedder.tokenizer.encode(SENTENCES)), reverse=True)
    assert [shape[1] for shape in seen] == [lengths[i] for i in range(0, len(lengths), 4)]
    assert any(length not in embedder.tokenizer.seq_buckets for length in lengths)  # not bucket-shaped
    seen.clear()
    single = np.stack([embedder.encode(sentence) for sentence in SENTENCES])
    assert [shape for shape in seen] == [(1, n) for n in (len(t.ids) for t in embedder.tokenizer.encode(SENTENCES))]
    embedder.backend.exact_lengths = False
    bucketed = embedder.encode(SENTENCES, batch_size=4)
    np.testing.assert_allclose(exact, bucketed, atol=2e-5)
    np.testing.assert_allclose(single, bucketed, atol=2e-5)


def test_openvino_int8_keeps_buckets(route_bundles):
    """INT8 kernels differ by sequence length and a quantization step amplifies that: buckets."""
    out, _ = route_bundles("openvino", "int8-full")
    embedder = Embedder.load(out, embedding_cache_size=0, token_cache_size=0)
    assert not embedder.backend.exact_lengths
    seen = _recorded_shapes(embedder)
    embedder.encode(SENTENCES, batch_size=4)
    assert seen and all(length in embedder.tokenizer.seq_buckets for _, length in seen)


def test_profile_splits_an_openvino_model_call_by_operator(route_bundles):
    from edgeembed.tools.profile import profile

    out, _ = route_bundles("openvino", "fp32")
    plain = profile(out, SENTENCES, batch_size=2, rounds=1)
    assert plain.operator_seconds == {} and "--operators" in plain.operators
    split = profile(out, SENTENCES, batch_size=2, rounds=1, operators=True)
    assert split.operator_seconds and min(split.operator_seconds.values()) >= 0
    assert "MatMul" in split.operator_seconds or "FullyConnected" in split.operator_seconds
    assert abs(split.stage_sum_s - split.wall_s) <= 0.1 * split.wall_s


def test_profile_splits_an_onnx_runtime_model_call_by_operator(route_bundles):
    from edgeembed.tools.profile import profile

    out, _ = route_bundles("onnx", "fp32")
    plain = profile(out, SENTENCES, batch_size=2, rounds=1)
    assert plain.operator_seconds == {} and "--operators" in plain.operators
    split = profile(out, SENTENCES, batch_size=2, rounds=2, operators=True)
    assert split.operator_seconds and min(split.operator_seconds.values()) > 0
    assert "MatMul" in split.operator_seconds
    # the trace covers the measured rounds only (not the warm-up) and sits inside the model call
    assert sum(split.operator_seconds.values()) <= split.stages["model call"]
    assert abs(split.stage_sum_s - split.wall_s) <= 0.1 * split.wall_s
