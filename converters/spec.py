"""What a conversion is asked to produce."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeembed.errors import ConversionError
from edgeembed.formats import QUANTIZATIONS
from edgeembed.targets.profile import Gates, TargetProfile


def _from_target(name: str) -> Any:
    """A read-only attribute that reads the target profile's field of the same name."""
    return property(lambda spec: getattr(spec.target, name), doc=f"The target profile's ``{name}``.")


@dataclass(frozen=True)
class ConversionSpec:
    """Everything a route needs besides the model: format, quantization, shapes, data, gates."""

    target: TargetProfile
    quantization: str
    calibration_texts: tuple[str, ...]
    holdout_texts: tuple[str, ...]
    calibration_source: str = "built-in"
    strict: bool = False
    fallback: bool = True
    route: str = "tflite"  # a key of edgeembed.converters.ROUTES
    converter_choice: str = "auto"
    layers: int = 0  # --layers: a pruned, distilled student of that depth (0 = the full model)

    def __post_init__(self) -> None:
        if self.quantization not in QUANTIZATIONS:
            raise ConversionError(f"unknown quantization {self.quantization!r}; choose one of {list(QUANTIZATIONS)}")
        if self.quantization == "int8-full" and len(self.calibration_texts) < 8:
            raise ConversionError(f"int8-full needs at least 8 calibration texts, got {len(self.calibration_texts)}")
        if len(self.holdout_texts) < 4:
            raise ConversionError("verification needs at least 4 held-out texts")

    # Every field a route reads, so routes never reach into the profile themselves.
    format = _from_target("format")
    device = _from_target("device")
    batch_size = _from_target("batch_size")
    static_shapes = _from_target("static_shapes")
    performance_hint = _from_target("performance_hint")
    seq_buckets = _from_target("seq_buckets")
    max_seq_length = _from_target("max_seq_length")
    # The quantization ladder's gate: a model's quantized self against its FP32 self.
    min_mean_cosine = _from_target("min_mean_cosine")

    @property
    def gates(self) -> Gates:
        """The verdict's gates against the FP32 full model; a --layers student answers to the
        profile's ``[pruned]`` table."""
        return self.target.pruned if self.layers else self.target.gates

    @property
    def max_sts_drop(self) -> float:
        return self.gates.max_sts_drop
