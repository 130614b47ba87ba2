"""The CLI's choice lists (typer shows them in --help and rejects anything else)."""

from __future__ import annotations

from enum import Enum


class Quantization(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    int8_dynamic = "int8-dynamic"
    int8_full = "int8-full"
    int8_weights = "int8-weights"
    int4_weights = "int4-weights"


class Format(str, Enum):
    tflite = "tflite"
    openvino = "openvino"
    onnx = "onnx"


class Converter(str, Enum):
    auto = "auto"
    litert_torch = "litert-torch"
    onnx2tf = "onnx2tf"


class Device(str, Enum):
    CPU = "CPU"
    GPU = "GPU"
    NPU = "NPU"
    AUTO = "AUTO"
