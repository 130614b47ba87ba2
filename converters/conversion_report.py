"""What a conversion writes into report.json: STS against FP32 and the verdict."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from edgeembed.bundle import Bundle
from edgeembed.converters.projection_fit import projected_embeddings
from edgeembed.converters.reference import reference_embeddings
from edgeembed.converters.similarity import agreement_to_fp32, sts_spearman
from edgeembed.embed.embedder import Embedder
from edgeembed.formats import FORMATS
from edgeembed.version import __version__


def sts_report(source, spec, tokenizer_, workdir, manifest, sts, eval_file, projected, student=None) -> dict[str, Any]:
    """STS of the converted model at full width against FP32 (the verdict's figure), at the PCA
    width when the bundle has one (``at_projection``, not part of the verdict), and of a
    ``--layers`` student's FP32 self (``student``, a SourceModel) before quantization."""
    texts = list(dict.fromkeys((*sts.first, *sts.second)))
    position = {text: i for i, text in enumerate(texts)}
    reference = reference_embeddings(
        source.model, tokenizer_, texts, source.pooling, source.normalize, dense=source.dense
    )
    embedder = Embedder(Bundle(workdir, manifest), device="CPU", token_cache_size=0, embedding_cache_size=0)
    converted = embedder.encode(texts)
    first = [position[t] for t in sts.first]
    second = [position[t] for t in sts.second]
    gold = np.array(sts.scores)
    fp32 = sts_spearman(reference[first], reference[second], gold)
    ours = sts_spearman(converted[first], converted[second], gold)
    student_fp32 = None
    if student is not None:
        vectors = reference_embeddings(
            student.model, tokenizer_, texts, student.pooling, student.normalize, dense=student.dense
        )
        student_fp32 = sts_spearman(vectors[first], vectors[second], gold)
    at_projection = None
    if projected.projection_dim:
        reduced = projected_embeddings(workdir, projected, texts)
        value = sts_spearman(reduced[first], reduced[second], gold)
        at_projection = {
            "dim": projected.projection_dim,
            "spearman": value,
            "fp32_full_dim_spearman": fp32,
            "drop": round(fp32 - value, 2),
        }
    return {
        "file": str(eval_file),
        "pairs": len(gold),
        "fp32_spearman": fp32,
        "converted_spearman": ours,
        "drop": round(fp32 - ours, 2),
        "max_drop": spec.max_sts_drop,
        "passed": fp32 - ours <= spec.max_sts_drop,
        "cosine_to_fp32": agreement_to_fp32(reference, converted, FORMATS[manifest.format].same_space),
        **({"student_fp32_spearman": student_fp32} if student_fp32 is not None else {}),
        **({"at_projection": at_projection} if at_projection else {}),
    }


def conversion_report(source, spec, result, fidelity, sts_report, timings, model_bytes: int) -> dict[str, Any]:
    gates = spec.gates
    failures = []
    # Vectors in another space (static) carry no per-text cosine: STS (--eval) is their bar.
    if "mean_cosine" in fidelity and fidelity["mean_cosine"] < gates.min_mean_cosine:
        failures.append(f"mean cosine {fidelity['mean_cosine']:.4f} < {gates.min_mean_cosine}")
    if "min_cosine" in fidelity and fidelity["min_cosine"] < gates.min_cosine:
        failures.append(f"min cosine {fidelity['min_cosine']:.4f} < {gates.min_cosine}")
    if sts_report and not sts_report["passed"]:
        failures.append(f"STS drop {sts_report['drop']} > {gates.max_sts_drop}")
    return {
        "edgeembed_version": __version__,
        "created_unix": int(time.time()),
        "source": {"name": source.name, "layout": source.layout, "weights_sha256": source.weights_sha256},
        "target": spec.target.name,
        "format": spec.format,
        "quantization": spec.quantization,
        "converter": result.converter,
        "calibration": {"source": spec.calibration_source, "texts": len(spec.calibration_texts)},
        "fidelity": {
            **fidelity,
            "held_out_texts": "built-in holdout set, disjoint from calibration",
            **(
                {"required_mean_cosine": gates.min_mean_cosine, "required_min_cosine": gates.min_cosine}
                if "mean_cosine" in fidelity
                else {"required": f"STS drop <= {gates.max_sts_drop} with --eval"}
            ),
        },
        "sts": sts_report,
        "sizes_bytes": {"model": model_bytes, "float32_model": result.details.get("float32_size_bytes")},
        "model_details": {k: v for k, v in result.details.items() if k != "float32_size_bytes"},
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "verdict": {"passed": not failures, "failures": failures},
    }
