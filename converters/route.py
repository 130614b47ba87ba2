"""What every conversion route receives and returns.

A route turns the loaded FP32 model into model file(s) in the work directory, plus the
signatures the manifest will list. ``measure`` embeds the held-out texts through the device
runtime with candidate files already written to the work directory and returns their fidelity
to FP32; routes with a precision ladder call it once per rung.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Generic, TypeVar

from edgeembed.bundle import Signature
from edgeembed.converters.calibration import CalibrationSet
from edgeembed.converters.sources import SourceModel
from edgeembed.converters.spec import ConversionSpec
from edgeembed.errors import ConversionError, EdgeEmbedError

# measure(model_files, signatures) -> {"mean_cosine": ..., "min_cosine": ..., ...}
Measure = Callable[[tuple[str, ...], tuple[Signature, ...]], dict[str, float]]
# step(message, total=None) announces a phase and returns advance(n) for phases with a total.
Step = Callable[..., Callable[[int], None]]


@dataclass(frozen=True)
class RouteInputs:
    """What every route receives: the loaded model, the resolved spec, a work folder, the
    calibration set (None for float routes), ``measure`` (fidelity of candidate files) and ``step``
    (progress)."""

    source: SourceModel
    spec: ConversionSpec
    workdir: Path
    calibration: CalibrationSet | None
    measure: Measure
    step: Step


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


Candidate = TypeVar("Candidate")


@dataclass
class Climb(Generic[Candidate]):
    """The outcome of an INT8 ladder: the kept candidate and what every rung measured."""

    chosen: str
    candidate: Candidate
    passed: bool
    tried: list[dict[str, Any]]
    reason: str = ""

    def report(self) -> dict[str, Any]:
        why = "first recipe to meet the target's mean cosine" if self.passed else "best measured; below target"
        return {"chosen": self.chosen, "reason": f"{self.reason} ({why})" if self.reason else why, "tried": self.tried}


def climb(
    rungs: list[str],
    try_rung: Callable[[str], tuple[Candidate, dict[str, float]]],
    min_mean_cosine: float,
    fallback: bool = True,
    reasons: dict[str, str] | None = None,
) -> Climb[Candidate]:
    """The one INT8 ladder of every route: try rungs in order, stop at the first whose held-out
    mean cosine meets the target (or after the first without ``fallback``), keep the best
    measured. A rung whose model cannot run (an ``EdgeEmbedError``) is recorded and skipped."""
    tried: list[dict[str, Any]] = []
    best: tuple[str, Candidate, float] | None = None
    for name in rungs if fallback else rungs[:1]:
        try:
            candidate, fidelity = try_rung(name)
        except EdgeEmbedError as error:  # e.g. an INT8 kernel refusing its inputs
            tried.append({"recipe": name, "error": str(error).splitlines()[0], "passed": False})
            continue
        passed = fidelity["mean_cosine"] >= min_mean_cosine
        tried.append({"recipe": name, **fidelity, "passed": passed})
        if best is None or fidelity["mean_cosine"] > best[2]:
            best = (name, candidate, fidelity["mean_cosine"])
        if passed:
            best = (name, candidate, fidelity["mean_cosine"])
            break
    if best is None:
        raise ConversionError(
            "no INT8 recipe produced a runnable model: "
            + "; ".join(f"{t['recipe']}: {t.get('error')}" for t in tried)
            + ". Try --quantization int8-dynamic or fp16."
        )
    return Climb(best[0], best[1], best[2] >= min_mean_cosine, tried, (reasons or {}).get(best[0], ""))


def versions(*packages: str) -> dict[str, str]:
    """Installed versions of the packages a route used (absent ones left out), for the report."""
    found = {}
    for package in packages:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    return found
