"""Device and execution-provider choice, without the hardware."""

from __future__ import annotations

import logging

import pytest

pytestmark = pytest.mark.convert  # the fast tier (no torch, no runtimes) leaves this module out
pytest.importorskip("onnxruntime")

from edgeembed.errors import EdgeEmbedError
from edgeembed.runtimes.onnxruntime import choose_providers
from edgeembed.runtimes.openvino import resolve_device


def test_gpu_prefers_tensorrt_then_cuda_then_cpu(tmp_path):
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    chosen = choose_providers("GPU", available, tmp_path / "trt")
    assert chosen[0][0] == "TensorrtExecutionProvider"
    assert chosen[0][1] == {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(tmp_path / "trt")}
    assert chosen[1:] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers("GPU", ["CUDAExecutionProvider", "CPUExecutionProvider"], tmp_path) == [
        "CUDAExecutionProvider", "CPUExecutionProvider"]


def test_cpu_request_ignores_gpu_providers_and_gpu_without_them_warns(tmp_path, caplog):
    assert choose_providers("CPU", ["CUDAExecutionProvider", "CPUExecutionProvider"], tmp_path) == [
        "CPUExecutionProvider"]
    with caplog.at_level(logging.WARNING, logger="edgeembed"):
        assert choose_providers("GPU", ["CPUExecutionProvider"], tmp_path) == ["CPUExecutionProvider"]
    assert "onnxruntime-gpu" in caplog.text
    with pytest.raises(EdgeEmbedError, match="choose CPU or GPU"):
        choose_providers("NPU", ["CPUExecutionProvider"], tmp_path)


def test_openvino_device_resolution(caplog):
    assert resolve_device("gpu", ["CPU", "GPU.0", "GPU.1"]) == "GPU"
    assert resolve_device("NPU", ["CPU", "NPU"]) == "NPU"
    assert resolve_device("AUTO", ["CPU"]) == "AUTO"
    with caplog.at_level(logging.WARNING, logger="edgeembed"):
        assert resolve_device("NPU", ["CPU"]) == "CPU"
    assert "not available" in caplog.text
    with pytest.raises(EdgeEmbedError, match="unknown OpenVINO device"):
        resolve_device("TPU", ["CPU"])
