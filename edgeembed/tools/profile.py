"""``edgeembed profile``: where ``Embedder.encode`` spends its time, stage by stage, on the device.

The stages are the steps of :mod:`edgeembed.embed.pipeline`, which reports each step's seconds
and what reached the model to an observer attached for the measurement (nothing is patched).
The steps do not nest, so they add up to the time spent inside ``encode``; "python glue" is the
rest of ``encode``'s own time (input checks, prompts, result assembly). The run reports what the
stages miss, measured from outside.

Padding waste counts the token slots the model computed against the texts' real tokens. LiteRT
(ai-edge-litert, tflite-runtime) exposes no per-operator profiler to Python, so the model call is
one stage there. With ``operators=True`` OpenVINO's performance counters or ONNX Runtime's
profiling trace split it by operator type. The report says which.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeembed.embed.embedder import truncation_warnings_off
from edgeembed.embed.pipeline import ENCODE, STEPS
from edgeembed.errors import InputError
from edgeembed.tools.charts import pyplot, save_png

# Stage -> what it covers (the report's order): the pipeline's steps, then encode's own code.
STAGES: dict[str, str] = {**STEPS, "python glue": "encode's own code: input checks, prompts, chunks, result assembly"}


@dataclass
class PipelineProfile:
    """Seconds per stage over ``calls`` encode calls of ``batch_size`` texts (``texts`` in all)."""

    bundle: str
    batch_size: int
    texts: int
    calls: int
    max_seq_length: int
    wall_s: float  # measured around the encode calls
    stages: dict[str, float]  # exclusive seconds per stage; their sum is the time inside encode
    token_slots: int  # what the model computed, padding included
    real_tokens: int  # the texts' own tokens
    runtime: str
    operators: str  # what the operator split below is, or why there is none
    truncated: int = 0  # texts cut to the model's max_seq_length, over all calls
    operator_seconds: dict[str, float] = field(default_factory=dict)  # per operator type, largest first

    @property
    def stage_sum_s(self) -> float:
        return sum(self.stages.values())

    @property
    def unattributed_s(self) -> float:
        """Wall time no stage accounts for (the profiler's own loop, timer overhead)."""
        return self.wall_s - self.stage_sum_s

    @property
    def padding_waste(self) -> float:
        """Token slots computed per real token (1.0 = no padding)."""
        return self.token_slots / self.real_tokens if self.real_tokens else 0.0

    def _stage_row(self, name: str, seconds: float) -> dict[str, Any]:
        return {
            "stage": name,
            "seconds": seconds,
            "share": seconds / self.wall_s if self.wall_s else 0.0,
            "us_per_text": 1e6 * seconds / self.texts if self.texts else 0.0,
            "covers": STAGES[name],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "batch_size": self.batch_size,
            "texts": self.texts,
            "calls": self.calls,
            "texts_per_s": self.texts / self.wall_s if self.wall_s else 0.0,
            "wall_s": self.wall_s,
            "stage_sum_s": self.stage_sum_s,
            "unattributed_s": self.unattributed_s,
            "stages": [self._stage_row(name, seconds) for name, seconds in self.stages.items()],
            "token_slots": self.token_slots,
            "real_tokens": self.real_tokens,
            "padding_waste": self.padding_waste,
            "truncated": self.truncated,
            "max_seq_length": self.max_seq_length,
            "runtime": self.runtime,
            "operators": self.operators,
            "operator_seconds": self.operator_seconds,
        }


class _StepClock:
    """The pipeline's observer during a profile: seconds per step, token positions, encode calls."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STEPS, 0.0)
        self.inside_encode = 0.0
        self.token_slots = 0
        self.real_tokens = 0

    def step(self, name: str, seconds: float) -> None:
        if name == ENCODE:
            self.inside_encode += seconds
        else:
            self.seconds[name] += seconds

    def model_call(self, token_slots: int) -> None:
        self.token_slots += token_slots

    def tokenized(self, real_tokens: int) -> None:
        self.real_tokens += real_tokens

    def stages(self) -> dict[str, float]:
        return {**self.seconds, "python glue": max(0.0, self.inside_encode - sum(self.seconds.values()))}


def profile_embedder(embedder: Any, texts: Sequence[str], batch_size: int = 1, rounds: int = 3) -> PipelineProfile:
    """Profile ``embedder.encode`` over ``texts`` in calls of ``batch_size``, ``rounds`` times after
    one warm-up round. Load the embedder with its caches off to profile new texts."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size (--batch-size) must be a positive integer, got {batch_size!r}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise InputError(f"rounds (--rounds) must be a positive integer, got {rounds!r}")
    texts = list(texts)
    if not texts:
        raise InputError("no texts to profile")
    chunks = [texts[start : start + batch_size] for start in range(0, len(texts), batch_size)]
    with truncation_warnings_off():  # counted once below instead of warned per call
        for chunk in chunks:  # warm-up: first calls of each shape plan and allocate
            embedder.encode(chunk, batch_size=batch_size)
        embedder.backend.mark_operator_times()  # what the warm-up counted is left out
        truncated_before = embedder.total_truncated
        with embedder.pipeline.observed(_StepClock()) as clock:
            start = time.perf_counter()
            for _ in range(rounds):
                for chunk in chunks:
                    embedder.encode(chunk, batch_size=batch_size)
            wall = time.perf_counter() - start
    runtime = embedder.backend.runtime or embedder.bundle.manifest.format
    by_operator = embedder.backend.operator_times()
    if by_operator:
        operators = f"{runtime}'s own counters, per operator type (they slow the model call a little)"
    elif "profile_operators" in type(embedder.backend).options:
        operators = f"{runtime} can split the model call by operator: add --operators"
    else:
        operators = f"{runtime} exposes no per-operator profiler to Python: the model call is one stage"
    return PipelineProfile(
        bundle=str(embedder.bundle.path),
        batch_size=batch_size,
        texts=len(texts) * rounds,
        calls=len(chunks) * rounds,
        max_seq_length=embedder.max_seq_length,
        wall_s=wall,
        stages=clock.stages(),
        token_slots=clock.token_slots,
        real_tokens=clock.real_tokens,
        runtime=runtime,
        operators=operators,
        truncated=embedder.total_truncated - truncated_before,
        operator_seconds=dict(sorted((by_operator or {}).items(), key=lambda item: -item[1])),
    )


def profile(
    bundle: str | Path,
    texts: Sequence[str] | None = None,
    batch_size: int = 1,
    rounds: int = 3,
    threads: int | None = None,
    operators: bool = False,
) -> PipelineProfile:
    """Load ``bundle`` with its caches off and profile ``encode`` on ``texts`` (default: the
    built-in held-out texts and passages, as ``edgeembed bench`` uses). ``operators=True`` also
    reads the runtime's per-operator counters where it has them (OpenVINO, ONNX Runtime)."""
    from edgeembed.bundle import Bundle
    from edgeembed.data import bench_texts
    from edgeembed.embed.embedder import Embedder
    from edgeembed.runtimes import backend_for

    options = {}
    if operators and "profile_operators" in backend_for(Bundle.load(bundle, verify=False)).options:
        options["profile_operators"] = True
    embedder = Embedder.load(
        bundle, threads=threads, token_cache_size=0, embedding_cache_size=0, backend_options=options
    )
    return profile_embedder(embedder, bench_texts() if texts is None else texts, batch_size, rounds)


def plot_profile(profiles: Sequence[PipelineProfile], path: str | Path) -> Path:
    """One horizontal bar per profile, split into its stages' shares (needs edgeembed[plot])."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(11, 1.6 + 0.7 * len(profiles)))
    labels = [f"batch {p.batch_size}: {p.texts / p.wall_s:,.0f} texts/s" for p in profiles]
    left = [0.0] * len(profiles)
    palette = plt.get_cmap("tab10")
    for index, stage in enumerate(STAGES):
        shares = [100 * p.stages[stage] / p.wall_s for p in profiles]
        axis.barh(labels, shares, left=left, label=stage, color=palette(index % palette.N))
        left = [a + b for a, b in zip(left, shares, strict=True)]
    axis.set_xlabel("share of wall time (%)")
    axis.set_xlim(0, max(100.0, *left))
    axis.set_title(f"Where encode's time goes: {Path(profiles[0].bundle).name}")
    axis.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    return save_png(figure, path)
