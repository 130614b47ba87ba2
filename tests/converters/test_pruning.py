"""``convert --layers N``: layer choice by measurement, distillation, and the student bundle."""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.convert  # the fast tier (no torch) leaves this module out
torch = pytest.importorskip("torch")

from tiny_models import FAMILIES, SENTENCES, WORDS, write_target, write_tiny_model

from edgeembed.converters.pruning import (
    PruningPlan,
    choose_layers,
    distill,
    layer_stack,
    pruned_copy,
    torch_pool,
)
from edgeembed.converters.reference import reference_embeddings
from edgeembed.converters.sources import load_source
from edgeembed.embed.pooling import pool
from edgeembed.embed.tokenize import BucketTokenizer
from edgeembed.errors import ConversionError


def texts(count: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(3, 12))) for _ in range(count)]


def silent(message, total=None):
    return lambda n: None


@pytest.mark.parametrize("mode", ["mean", "cls", "last", "max", "mean_sqrt_len", "weightedmean"])
def test_torch_pooling_matches_the_device_pooling(mode):
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(3, 7, 5)).astype(np.float32)
    mask = np.array([[1] * 7, [1] * 4 + [0] * 3, [1] * 1 + [0] * 6], dtype=np.int64)
    ours = torch_pool(torch.from_numpy(hidden), torch.from_numpy(mask), mode).numpy()
    assert np.allclose(ours, pool(hidden, mask, mode), atol=1e-5)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_prunes_to_a_working_shallower_model(family, tmp_path):
    if family == "xlm-roberta":
        pytest.skip("same layers as RoBERTa; its 250k-word table only slows the test")
    folder = write_tiny_model(tmp_path / family, family=family, pooling="mean_tokens")
    source = load_source(folder)
    _, _, field, depth = layer_stack(source.model)
    student = pruned_copy(source.model, [depth - 1])
    assert getattr(student.config, field) == 1 and layer_stack(student)[3] == 1
    assert layer_stack(source.model)[3] == depth  # the teacher is untouched
    tokenizer = BucketTokenizer(folder / "tokenizer.json", 16, (8, 16))
    vectors = reference_embeddings(student, tokenizer, SENTENCES, "mean", False)
    assert vectors.shape == (len(SENTENCES), 32) and np.isfinite(vectors).all()


def test_distillation_brings_the_student_closer_to_the_teacher(tiny_model_dir):
    source = load_source(tiny_model_dir)
    with torch.no_grad():  # random layers are near-identity maps: make each one matter
        for layer in layer_stack(source.model)[0].layer:
            layer.output.dense.weight.mul_(8.0)
    tokenizer = BucketTokenizer(tiny_model_dir / "tokenizer.json", 16, (8, 16))
    train = texts(64)
    teacher = reference_embeddings(source.model, tokenizer, train, "mean", False)
    keep, selection = choose_layers(source.model, tokenizer, train, teacher, "mean", 1, silent)
    assert len(keep) == 1 and selection["method"].startswith("all 2 subsets")
    assert selection["best"][0]["layers"] == list(keep)
    student = pruned_copy(source.model, keep)
    held_out = texts(32, seed=2)
    target = reference_embeddings(source.model, tokenizer, held_out, "mean", False)

    def error() -> float:
        return float(np.mean((reference_embeddings(student, tokenizer, held_out, "mean", False) - target) ** 2))

    before = error()
    plan = PruningPlan(layers=1, texts=tuple(train), steps=60, learning_rate=1e-3)
    stats = distill(student, teacher, tokenizer, train, "mean", plan, silent)
    after = error()
    assert stats["loss_last_tenth"] < stats["loss_first"] and after < 0.7 * before, (before, after, stats)


@pytest.fixture(scope="module")
def full_and_student(tiny_model_dir, tmp_path_factory):
    """The tiny model converted whole and with 1 of its 2 layers (20 distillation steps)."""
    from edgeembed.converters import convert

    tmp_path = tmp_path_factory.mktemp("pruned")
    target = write_target(tmp_path, "fp32")
    full = convert(tiny_model_dir, out=tmp_path / "full", target=target)
    student = convert(tiny_model_dir, out=tmp_path / "l1", target=target, layers=1, distill_data=texts(64),
                      distill_steps=20)
    return full, student, tmp_path


def test_layers_conversion_writes_a_verified_student_bundle(full_and_student):
    from edgeembed import Embedder

    full, result, tmp_path = full_and_student
    report = result.report
    pruning = report["pruning"]
    assert pruning["teacher_layers"] == 2 and len(pruning["layers_kept"]) == 1
    assert pruning["distillation"]["steps"] == 20 and pruning["distillation"]["texts"] == 64
    # The quantization ladder measured the student against its own FP32 self (fp32: exact) ...
    assert pruning["quantized_vs_student_fp32"]["mean_cosine"] > 0.9999
    # ... the verdict against the full FP32 model, with the profile's [pruned] gates.
    assert report["fidelity"]["mean_cosine"] == pytest.approx(pruning["student_fp32_fidelity"]["mean_cosine"], 1e-4)
    assert report["fidelity"]["required_mean_cosine"] == 0.85
    manifest = json.loads((tmp_path / "l1" / "edgeembed.json").read_text())
    assert manifest["source"]["layers_kept"] == str(pruning["layers_kept"][0])
    assert manifest["source"]["pruned_from"] == full.report["source"]["weights_sha256"]
    assert report["sizes_bytes"]["model"] < full.report["sizes_bytes"]["model"]
    vectors = Embedder.load(tmp_path / "l1").encode(SENTENCES)
    assert np.isfinite(vectors).all() and not np.allclose(vectors, Embedder.load(tmp_path / "full").encode(SENTENCES))


def test_the_speed_floor_script_times_every_stage_of_both_bundles(full_and_student):
    """``scripts/pruned-speed-floor.py`` reaches into the backend for the bare model call: it
    must keep working as the backend changes (figures checked for shape, not speed)."""
    import importlib.util
    import logging
    from pathlib import Path

    _, _, tmp_path = full_and_student
    level = logging.getLogger("edgeembed").level
    path = Path(__file__).resolve().parents[2] / "scripts" / "pruned-speed-floor.py"
    spec = importlib.util.spec_from_file_location("pruned_speed_floor", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for name in ("full", "l1"):
        figures = script.measure(str(tmp_path / name), threads=1)
        assert set(figures) == {"batch 1", "batch 32"}
        for kinds in figures.values():
            assert set(kinds) == set(script.KINDS) and all(us > 0 for us in kinds.values())
    assert logging.getLogger("edgeembed").level == level  # warnings stay on for whatever runs next


def test_layers_errors_name_the_fix(tiny_model_dir, tmp_path):
    from edgeembed.converters import convert

    target = write_target(tmp_path, "fp32")
    with pytest.raises(ConversionError, match=r"the model has 2 layers; choose 1\.\.1"):
        convert(tiny_model_dir, out=tmp_path / "a", target=target, layers=2, distill_data=texts(40))
    with pytest.raises(ConversionError, match="at least 32 texts.*--distill-data"):
        convert(tiny_model_dir, out=tmp_path / "b", target=target, layers=1, distill_data=texts(5))
    with pytest.raises(ConversionError, match="--distill-data is used only with --layers"):
        convert(tiny_model_dir, out=tmp_path / "c", target=target, distill_data=texts(40))
    with pytest.raises(ConversionError, match="--layers does not apply to --format static"):
        convert(tiny_model_dir, out=tmp_path / "d", target=target, format="static", layers=1)
    assert not any((tmp_path / name).exists() for name in "abcd")


def test_layers_from_the_command_line(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from edgeembed.cli.app import app

    data = tmp_path / "texts.txt"
    data.write_text("\n".join(texts(40)))
    result = CliRunner().invoke(app, [
        "convert", str(tiny_model_dir), "--target", str(write_target(tmp_path, "fp32")), "--out", str(tmp_path / "l1"),
        "--layers", "1", "--distill-data", str(data), "--distill-steps", "5",
    ])
    assert result.exit_code == 0, result.output
    assert "1 of 2 layers" in result.output and "distilled 5 steps on 40 texts" in result.output
    refused = CliRunner().invoke(app, ["convert", "--layers", "0", "--out", str(tmp_path / "x")])
    assert refused.exit_code == 2 and "--layers" in refused.output
