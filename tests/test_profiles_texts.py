from pathlib import Path

import pytest

from edgeembed.converters.sts import read_sts
from edgeembed.data import bench_texts, builtin_texts
from edgeembed.errors import InputError, TargetError
from edgeembed.targets.profile import builtin_target_names, load_target
from edgeembed.texts import read_texts

NINE = {"rpi5", "rpi4", "jetson-orin-nano", "jetson-agx-orin", "intel-cpu", "intel-igpu", "intel-npu",
        "x86-64", "arm64"}


def test_builtin_profiles_load():
    assert set(builtin_target_names()) >= NINE
    for name in NINE:
        profile = load_target(name)
        assert profile.name == name and profile.python and profile.glibc and profile.min_mean_cosine > 0
    assert load_target("intel-npu").static_shapes and load_target("jetson-orin-nano").runtime == "onnxruntime"
    # Intel CPUs run the LiteRT recipe (measured faster there); the iGPU and NPU keep OpenVINO.
    assert (load_target("intel-cpu").format, load_target("intel-cpu").runtime) == ("tflite", "litert")
    assert load_target("intel-igpu").format == load_target("intel-npu").format == "openvino"
    # rpi5's buckets keep a text's vector the same alone and in any batch (tests/test_default_model.py)
    assert load_target("intel-cpu").seq_buckets == load_target("rpi5").seq_buckets
    rpi5 = load_target("rpi5")
    assert rpi5.quantization == "int8-dynamic" and rpi5.seq_buckets == (8, 12, 16, 24, 32, 48, 64, 128)
    assert load_target("rpi4").quantization == "int8-dynamic"  # int8-full is off on the A72 (docs/targets.md)
    # the A72 ran the rpi5 recipe in fewer instructions than a coarser one (docs/targets.md)
    assert (load_target("rpi4").seq_buckets, load_target("rpi4").batch_size) == (rpi5.seq_buckets, rpi5.batch_size)


def test_unknown_target_lists_known_ones():
    with pytest.raises(TargetError, match="known targets: .*rpi5"):
        load_target("toaster")


def test_bad_field_is_named(tmp_path):
    text = (load_target.__globals__["_builtin_dir"]() / "rpi5.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('quantization = "int8-dynamic"', 'quantization = "int3"'))
    with pytest.raises(TargetError, match="field 'quantization'"):
        load_target(bad)
    bad.write_text("speed = 3\n" + text)
    with pytest.raises(TargetError, match="unknown field"):
        load_target(bad)


def test_override_keeps_buckets_consistent():
    profile = load_target("rpi5").replace(max_seq_length=48)
    assert profile.seq_buckets == (8, 12, 16, 24, 32, 48) and profile.max_seq_length == 48


def test_text_files(tmp_path):
    lines = tmp_path / "t.txt"
    lines.write_text("one\n\n  two  \none\n")
    assert read_texts(lines) == ["one", "two"]
    sts = tmp_path / "s.csv"
    sts.write_text('sentence1,sentence2,score\n"a, b",c,5.0\nd,e,1\nf,g,2.5\n')
    pairs = read_sts(sts)
    assert pairs.first == ("a, b", "d", "f") and pairs.scores == (5.0, 1.0, 2.5)
    assert read_texts(sts)[:2] == ["a, b", "c"]
    with pytest.raises(InputError, match="not found"):
        read_texts(tmp_path / "missing.txt")


def test_bench_texts_never_repeat_a_text():
    # edgeembed embeds a repeated text once per call and the baselines do not: a repeat would
    # flatter edgeembed's batch-32 figure.
    texts = bench_texts()
    assert len(texts) == 125 and len(set(texts)) == 125
    assert texts[:100] == builtin_texts("holdout")[:100]


def test_builtin_sets_are_disjoint():
    from edgeembed.converters.calibration import builtin_calibration_texts

    calibration, holdout = builtin_calibration_texts(), builtin_texts("holdout")
    assert len(calibration) >= 200 and len(holdout) >= 100
    assert not set(calibration) & set(holdout)


def test_every_builtin_profile_says_how_doctor_recognizes_it():
    from edgeembed.targets.profile import all_targets

    for profile in all_targets():
        match = profile.match
        assert match.boards or match.arch or match.cpu or match.accelerators, profile.name


def test_a_bad_match_table_is_refused(tmp_path):
    base = (Path(__file__).resolve().parent.parent / "targets" / "rpi5.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(base.replace('boards = ["raspberry pi 5"]', 'board = "raspberry pi 5"'))
    with pytest.raises(TargetError, match=r"unknown \[match\] field\(s\) \['board'\]"):
        load_target(path)


def test_pruned_gates_come_from_the_pruned_table(tmp_path):
    base = (Path(__file__).resolve().parent.parent / "targets" / "rpi5.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(base + "\n[pruned]\nmax_sts_drop = 4.0\n")
    profile = load_target(path)
    assert profile.pruned.max_sts_drop == 4.0 and profile.gates.max_sts_drop == profile.max_sts_drop
    path.write_text(base + "\n[pruned]\nmax_drop = 4.0\n")
    with pytest.raises(TargetError, match=r"unknown \[pruned\] field\(s\) \['max_drop'\]"):
        load_target(path)
    path.write_text(base + '\n[pruned]\nmin_cosine = "high"\n')
    with pytest.raises(TargetError, match=r"\[pruned\] min_cosine must be a number"):
        load_target(path)
