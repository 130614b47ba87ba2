"""``convert --layers N``: a smaller student for boards too slow for the full model.

The student keeps N of the teacher's transformer layers, chosen by measurement (every subset
when there are few, else layers dropped greedily, each scored by the cosine of its untrained
vectors to the teacher's), then learns the FP32 teacher's pooled vectors (mean squared error)
on unlabeled text. Torch runs on the build machine only; the student then goes down the
target's route like any model.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.converters.reference import reference_embeddings
from edgeembed.converters.route import Step
from edgeembed.converters.similarity import rowwise_cosine
from edgeembed.converters.sources import SourceModel, module_weights_sha256
from edgeembed.converters.spec import ConversionSpec
from edgeembed.embed.tokenize import BucketTokenizer
from edgeembed.errors import ConversionError
from edgeembed.formats import FORMATS
from edgeembed.texts import read_texts

LAYER_COUNT_FIELDS = ("num_hidden_layers", "n_layers")  # Hugging Face config names of the depth
EXHAUSTIVE_LIMIT = 64  # score every subset up to this many, else drop layers greedily
SELECTION_TEXTS = 128
MIN_DISTILL_TEXTS = 32


@dataclass(frozen=True)
class PruningPlan:
    """What ``--layers`` asks for: the depth kept and how the student is distilled."""

    layers: int
    texts: tuple[str, ...]  # unlabeled distillation texts (held-out texts already removed)
    texts_source: str = "calibration set"
    steps: int = 300
    batch_size: int = 32
    learning_rate: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.layers < 1:
            raise ConversionError(f"--layers must be at least 1, got {self.layers}")
        if self.steps < 0:
            raise ConversionError(f"--distill-steps must be 0 or more, got {self.steps}")
        if len(self.texts) < MIN_DISTILL_TEXTS:
            raise ConversionError(
                f"distillation needs at least {MIN_DISTILL_TEXTS} texts, got {len(self.texts)} from "
                f"the {self.texts_source}; pass more with --distill-data FILE (one text per line or an STS CSV)"
            )


def pruning_plan(
    spec: ConversionSpec,
    layers: int | None,
    distill_data: str | Path | Sequence[str] | None,
    distill_steps: int,
) -> PruningPlan | None:
    """What ``--layers`` asks for, checked before the model loads; held-out texts never train."""
    if layers is None:
        if distill_data is not None:
            raise ConversionError("--distill-data is used only with --layers N")
        return None
    if not FORMATS[spec.format].same_space:
        raise ConversionError(
            f"--layers does not apply to --format {spec.format}: it has no transformer layers to keep"
        )
    if distill_data is None:
        texts, source = list(spec.calibration_texts), f"calibration set ({spec.calibration_source})"
    elif isinstance(distill_data, (str, os.PathLike)):
        texts, source = read_texts(distill_data), str(distill_data)
    else:
        texts, source = [str(t) for t in distill_data if str(t).strip()], "python list"
    held_out = set(spec.holdout_texts)
    return PruningPlan(
        layers=layers, texts=tuple(t for t in texts if t not in held_out), texts_source=source, steps=distill_steps
    )


def layer_stack(model: Any) -> tuple[Any, str, str, int]:
    """Where the transformer layers live: (parent module, attribute, config field, depth)."""
    import torch

    config = getattr(model, "config", None)
    field = next((name for name in LAYER_COUNT_FIELDS if isinstance(getattr(config, name, None), int)), None)
    if field is None:
        raise ConversionError("--layers needs a Hugging Face model whose config states its depth (num_hidden_layers)")
    depth = int(getattr(config, field))
    for name, module in model.named_modules():
        if (
            isinstance(module, torch.nn.ModuleList)
            and len(module) == depth
            and name.split(".")[-1] in ("layer", "layers")
        ):
            parent_name, _, attribute = name.rpartition(".")
            return model.get_submodule(parent_name), attribute, field, depth
    raise ConversionError(f"--layers: no list of {depth} transformer layers found in {type(model).__name__}")


def pruned_copy(model: Any, keep: Sequence[int]) -> Any:
    """A deep copy of ``model`` running only the layers ``keep`` (in order)."""
    import torch

    student = copy.deepcopy(model)
    parent, attribute, field, _ = layer_stack(student)
    layers = getattr(parent, attribute)
    setattr(parent, attribute, torch.nn.ModuleList([layers[i] for i in keep]))
    for position, index in enumerate(keep):  # a decoder's cache is indexed by layer_idx: renumber
        for module in layers[index].modules():
            if isinstance(getattr(module, "layer_idx", None), int):
                module.layer_idx = position
    setattr(student.config, field, len(keep))
    layer_types = getattr(student.config, "layer_types", None)
    if isinstance(layer_types, list) and len(layer_types) == len(layers):
        student.config.layer_types = [layer_types[i] for i in keep]
    return student.eval()


def choose_layers(
    teacher: Any,
    tokenizer: BucketTokenizer,
    texts: Sequence[str],
    teacher_vectors: np.ndarray,
    pooling: str,
    layers: int,
    step: Step,
) -> tuple[tuple[int, ...], dict[str, Any]]:
    """The ``layers`` teacher layers whose untrained student is closest to the teacher's pooled
    vectors (``teacher_vectors``, one row per text) on up to ``SELECTION_TEXTS`` texts."""
    _, _, _, depth = layer_stack(teacher)
    if layers >= depth:
        raise ConversionError(f"--layers {layers}: the model has {depth} layers; choose 1..{depth - 1}")
    sample, target = list(texts[:SELECTION_TEXTS]), teacher_vectors[:SELECTION_TEXTS]

    def score(keep: tuple[int, ...]) -> float:
        vectors = reference_embeddings(pruned_copy(teacher, keep), tokenizer, sample, pooling, False)
        return float(rowwise_cosine(vectors, target).mean())

    scored: dict[tuple[int, ...], float] = {}
    if math.comb(depth, layers) <= EXHAUSTIVE_LIMIT:
        method = f"all {math.comb(depth, layers)} subsets of {layers} of {depth} layers"
        advance = step(f"Choosing {layers} of {depth} layers", math.comb(depth, layers))
        for keep in itertools.combinations(range(depth), layers):
            scored[keep] = score(keep)
            advance(1)
        best = max(scored, key=scored.__getitem__)
    else:
        method = f"greedy: drop the layer whose loss hurts least, {depth - layers} times"
        advance = step(f"Choosing {layers} of {depth} layers", depth - layers)
        best = tuple(range(depth))
        while len(best) > layers:
            candidates = [tuple(i for i in best if i != drop) for drop in best]
            for keep in candidates:
                scored[keep] = score(keep)
            best = max(candidates, key=scored.__getitem__)
            advance(1)
    ranked = sorted(scored.items(), key=lambda item: -item[1])[:5]
    report = {
        "method": method,
        "score": f"mean cosine of the undistilled student to the teacher on {len(sample)} distillation texts",
        "best": [{"layers": list(keep), "mean_cosine": round(value, 4)} for keep, value in ranked],
    }
    return best, report


def distill(
    student: Any,
    teacher_vectors: np.ndarray,
    tokenizer: BucketTokenizer,
    texts: Sequence[str],
    pooling: str,
    plan: PruningPlan,
    step: Step,
) -> dict[str, Any]:
    """Train ``student`` in place so its pooled vectors match ``teacher_vectors`` (MSE)."""
    import torch

    from edgeembed.converters.export_graph import GenericEncoder

    torch.manual_seed(plan.seed)
    order_rng = np.random.default_rng(plan.seed)
    items = tokenizer.encode(list(texts))
    targets = torch.from_numpy(np.ascontiguousarray(teacher_vectors, dtype=np.float32))
    encoder = GenericEncoder(student).train()
    optimizer = torch.optim.AdamW(student.parameters(), lr=plan.learning_rate, weight_decay=0.0)
    warmup = max(1, plan.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda k: min(1.0, (k + 1) / warmup) * max(0.0, (plan.steps - k) / plan.steps)
    )
    batch_size = min(plan.batch_size, len(items))
    losses: list[float] = []
    started = time.perf_counter()
    advance = step(f"Distilling {plan.steps} steps on {len(items)} texts", plan.steps)
    order, position = order_rng.permutation(len(items)), 0
    for _ in range(plan.steps):
        if position + batch_size > len(order):
            order, position = order_rng.permutation(len(items)), 0
        indices = order[position : position + batch_size]
        position += batch_size
        batch = [items[i] for i in indices]
        ids, mask = tokenizer.pad(batch, max(len(item.ids) for item in batch))
        mask_tensor = torch.from_numpy(mask)
        hidden = encoder(torch.from_numpy(ids), mask_tensor)
        loss = torch.nn.functional.mse_loss(torch_pool(hidden, mask_tensor, pooling), targets[indices])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        advance(1)
    student.eval()
    tail = max(1, len(losses) // 10)
    return {
        "texts": len(items),
        "steps": plan.steps,
        "batch_size": batch_size,
        "learning_rate": plan.learning_rate,
        "loss": "MSE between the student's and the FP32 teacher's pooled vectors",
        "loss_first": round(losses[0], 6) if losses else None,
        "loss_last_tenth": round(float(np.mean(losses[-tail:])), 6) if losses else None,
        "seconds": round(time.perf_counter() - started, 1),
    }


def torch_pool(hidden: Any, mask: Any, mode: str) -> Any:
    """``edgeembed.embed.pooling.pool`` in torch, so gradients flow through it."""
    import torch

    if mode == "cls":
        return hidden[:, 0]
    weights = mask.to(hidden.dtype)
    counts = weights.sum(dim=1, keepdim=True)
    if mode in ("mean", "mean_sqrt_len"):
        summed = torch.einsum("bsd,bs->bd", hidden, weights)
        return summed / (counts.clamp(min=1.0) if mode == "mean" else counts.clamp(min=1e-9).sqrt())
    if mode == "weightedmean":
        weights = weights * torch.arange(1, weights.shape[1] + 1, dtype=hidden.dtype)
        return torch.einsum("bsd,bs->bd", hidden, weights) / weights.sum(dim=1, keepdim=True).clamp(min=1e-9)
    if mode == "max":
        return hidden.masked_fill(weights.unsqueeze(-1) == 0, -1e9).max(dim=1).values
    if mode == "last":
        last = (counts[:, 0].long() - 1).clamp(min=0)
        return hidden[torch.arange(hidden.shape[0]), last]
    raise ConversionError(f"distillation does not support pooling {mode!r}")


def prune_and_distill(
    source: SourceModel, tokenizer: BucketTokenizer, plan: PruningPlan, step: Step
) -> tuple[SourceModel, dict[str, Any]]:
    """The student as a model source of its own, and what the report says about it."""
    teacher = source.model
    _, _, _, depth = layer_stack(teacher)  # refuses a model without a layer list before any work
    texts = list(plan.texts)
    step("FP32 teacher vectors of the distillation texts")
    teacher_vectors = reference_embeddings(teacher, tokenizer, texts, source.pooling, False)
    keep, selection = choose_layers(teacher, tokenizer, texts, teacher_vectors, source.pooling, plan.layers, step)
    student = pruned_copy(teacher, keep)
    training = distill(student, teacher_vectors, tokenizer, texts, source.pooling, plan, step)
    report = {
        "layers_kept": list(keep),
        "teacher_layers": depth,
        "selection": selection,
        "distillation": {"texts_source": plan.texts_source, **training},
    }
    student_source = dataclasses.replace(
        source,
        model=student,
        weights_sha256=module_weights_sha256(student),
        pruned_from=source.weights_sha256,
        layers_kept=keep,
    )
    return student_source, report
