"""What a conversion is asked to produce."""

from __future__ import annotations

from dataclasses import dataclass

from edgeembed.errors import ConversionError
from edgeembed.formats import QUANTIZATIONS
from edgeembed.profiles import Gates, TargetProfile


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
    @property
    def format(self) -> str:
        return self.target.format

    @property
    def device(self) -> str:
        return self.target.device

    @property
    def batch_size(self) -> int:
        return self.target.batch_size

    @property
    def static_shapes(self) -> bool:
        return self.target.static_shapes

    @property
    def performance_hint(self) -> str:
        return self.target.performance_hint

    @property
    def min_mean_cosine(self) -> float:
        """The quantization ladder's gate: a model's quantized self against its FP32 self."""
        return self.target.min_mean_cosine

    @property
    def gates(self) -> Gates:
        """The verdict's gates against the FP32 full model; a --layers student answers to the
        profile's ``[pruned]`` table."""
        return self.target.pruned if self.layers else self.target.gates

    @property
    def max_sts_drop(self) -> float:
        return self.gates.max_sts_drop

    @property
    def seq_buckets(self) -> tuple[int, ...]:
        return self.target.seq_buckets

    @property
    def max_seq_length(self) -> int:
        return self.target.max_seq_length
