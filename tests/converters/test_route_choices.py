"""Impossible format/mode/device/converter combinations fail before any work starts."""

from __future__ import annotations

import importlib.util

import pytest
from tiny_models import write_target

from edgeembed.converters import require_route, route_name
from edgeembed.converters.pipeline import build_spec
from edgeembed.errors import ConversionError, MissingDependencyError, TargetError


def test_format_switch_brings_its_runtime(tmp_path):
    spec = build_spec(write_target(tmp_path, "int8-full"), format="openvino")
    assert (spec.format, spec.target.runtime, spec.quantization) == ("openvino", "openvino", "int8-full")
    spec = build_spec(write_target(tmp_path, "int8-dynamic"), format="onnx")
    assert (spec.target.runtime, spec.quantization) == ("onnxruntime", "int8-dynamic")


@pytest.mark.parametrize(
    ("fmt", "quantization", "device", "message"),
    [
        ("openvino", "int8-dynamic", None, "^--quantization int8-dynamic does not work with format openvino"),
        ("tflite", "int4-weights", None, "^--quantization int4-weights does not work with format tflite"),
        ("onnx", None, "NPU", "^--device NPU does not work with format onnx"),
        ("tflite", None, "GPU", "^--device GPU does not work with format tflite"),
    ],
)
def test_impossible_combinations_name_the_flag(tmp_path, fmt, quantization, device, message):
    with pytest.raises(TargetError, match=message):
        build_spec(write_target(tmp_path, "fp32"), format=fmt, quantization=quantization, device=device)


def test_npu_with_dynamic_shapes_is_refused(tmp_path):
    profile = tmp_path / "npu.toml"
    text = write_target(tmp_path, "int8-full").read_text()
    text = text.replace('format = "tflite"', 'format = "openvino"').replace('runtime = "litert"', 'runtime = "openvino"')
    profile.write_text(text.replace('device = "CPU"', 'device = "NPU"\nstatic_shapes = false'))
    with pytest.raises(TargetError, match="static_shapes.*NPU compiles only static shapes"):
        build_spec(profile)


def test_npu_device_flag_turns_on_static_shapes(tmp_path):
    spec = build_spec(write_target(tmp_path, "int8-full"), format="openvino", device="NPU")
    assert spec.target.static_shapes is True


def test_converter_choice_must_fit_the_format():
    assert route_name("tflite", "onnx2tf") == "tflite/onnx2tf"
    assert route_name("tflite", "litert-torch") == route_name("tflite", None) == "tflite"
    with pytest.raises(ConversionError, match="cannot produce format 'openvino'"):
        route_name("openvino", "onnx2tf")


def test_missing_route_package_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    with pytest.raises(MissingDependencyError, match=r'pip install "edgeembed\[convert,openvino\]"'):
        require_route("openvino")
