"""What every conversion route receives and returns.

A route turns the loaded FP32 model into model file(s) in the work directory, plus the
signatures the manifest will list. ``measure`` embeds the held-out texts through the device
runtime with candidate files already written to the work directory and returns their fidelity
to FP32; routes with a precision ladder call it once per rung.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeembed.bundle import Signature

# measure(model_files, signatures) -> {"mean_cosine": ..., "min_cosine": ..., ...}
Measure = Callable[[tuple[str, ...], tuple[Signature, ...]], dict[str, float]]
# step(message, total=None) announces a phase and returns advance(n) for phases with a total.
Step = Callable[..., Callable[[int], None]]


@dataclass
class RouteResult:
    model_files: dict[str, Path]
    signatures: tuple[Signature, ...]
    converter: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    output_kind: str = "token_embeddings"


def dynamic_signatures(
    buckets: tuple[int, ...], batch_size: int, inputs: dict[str, str], output: str
) -> tuple[Signature, ...]:
    """One signature per bucket over a model with dynamic batch and sequence dimensions.

    The runtime pads each text to its bucket (so a text embeds identically in any batch) and
    sends at most ``batch_size`` rows per call.
    """
    return tuple(Signature(f"seq_{b}", b, batch_size, dict(inputs), output) for b in buckets)
