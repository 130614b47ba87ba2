"""``convert``: model -> route -> verification against FP32 -> bundle written atomically."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeembed.bundle import PROJECTION_NAME, TOKENIZER_NAME, Bundle, Manifest, Signature, write_bundle
from edgeembed.converters.calibration import build_calibration_set, builtin_calibration_texts
from edgeembed.converters.conversion_report import conversion_report, sts_report
from edgeembed.converters.families import check_family_route, supports
from edgeembed.converters.projection_fit import add_projection, check_pca_dim, projected_embeddings
from edgeembed.converters.pruning import prune_and_distill, pruning_plan
from edgeembed.converters.reference import reference_embeddings
from edgeembed.converters.route import Measure, RouteInputs, RouteResult, Step
from edgeembed.converters.route_table import ROUTES, require_route, resolve_route, route_name
from edgeembed.converters.similarity import agreement_to_fp32, similarity_agreement
from edgeembed.converters.sources import SourceModel, load_source
from edgeembed.converters.spec import ConversionSpec
from edgeembed.converters.sts import read_sts
from edgeembed.data import builtin_texts
from edgeembed.embed.dense import dense_file
from edgeembed.embed.embedder import Embedder
from edgeembed.embed.precision import embedding_ranges
from edgeembed.embed.tokenize import BucketTokenizer
from edgeembed.errors import ConversionError, MissingDependencyError
from edgeembed.formats import FORMATS
from edgeembed.targets.profile import TargetProfile, load_target
from edgeembed.texts import read_texts
from edgeembed.version import __version__


def _silent_step(message: str, total: int | None = None) -> Callable[[int], None]:
    return lambda n: None


@dataclass(frozen=True)
class ConversionResult:
    bundle: Bundle
    report: dict[str, Any]


def build_spec(
    target: str | Path | TargetProfile = "rpi5",
    quantization: str | None = None,
    calibration: str | Path | Sequence[str] | None = None,
    max_seq_length: int | None = None,
    seq_buckets: Sequence[int] | None = None,
    strict: bool = False,
    fallback: bool = True,
    format: str | None = None,
    device: str | None = None,
    converter: str | None = None,
) -> ConversionSpec:
    """Resolve the target profile, flag overrides and text sets; cheap, so errors come first."""
    profile = target if isinstance(target, TargetProfile) else load_target(target)
    profile = profile.replace(format=format)  # first: a format switch picks its runtime
    profile = profile.replace(
        device=device,
        quantization=quantization,
        max_seq_length=max_seq_length,
        seq_buckets=tuple(seq_buckets) if seq_buckets else None,
    )
    if calibration is None:
        calibration_texts, source = builtin_calibration_texts(), "built-in"
    elif isinstance(calibration, (str, os.PathLike)):
        calibration_texts, source = read_texts(calibration), str(calibration)
    else:
        calibration_texts, source = [str(t) for t in calibration if str(t).strip()], "python list"
    used = set(calibration_texts)
    holdout = [t for t in builtin_texts("holdout") if t not in used]
    return ConversionSpec(
        target=profile,
        quantization=profile.quantization,
        calibration_texts=tuple(calibration_texts),
        holdout_texts=tuple(holdout),
        calibration_source=source,
        strict=strict,
        fallback=fallback,
        route=route_name(profile.format, converter),
        converter_choice=converter or "auto",
    )


def convert(
    model: Any = None,
    *,
    out: str | Path,
    target: str | Path | TargetProfile = "rpi5",
    quantization: str | None = None,
    calibration: str | Path | Sequence[str] | None = None,
    eval_file: str | Path | None = None,
    tokenizer: Any = None,
    max_seq_length: int | None = None,
    seq_buckets: Sequence[int] | None = None,
    strict: bool = False,
    fallback: bool = True,
    overwrite: bool = False,
    format: str | None = None,
    device: str | None = None,
    converter: str | None = None,
    prompts: Mapping[str, str] | None = None,
    default_prompt_name: str | None = None,
    truncate_dim: int | None = None,
    pca_dim: int | None = None,
    layers: int | None = None,
    distill_data: str | Path | Sequence[str] | None = None,
    distill_steps: int = 300,
    step: Step | None = None,
) -> ConversionResult:
    """Convert ``model`` (None = default model) for ``target`` and write a verified bundle to ``out``.

    ``format``, ``device`` and ``quantization`` override the target profile's; ``converter``
    picks the TFLite converter (``litert-torch``, ``onnx2tf`` or ``auto``: litert-torch, then
    onnx2tf if litert-torch fails on the model). ``prompts`` add to (or replace) the model's own
    named prompts; ``default_prompt_name`` picks the one ``encode`` uses when none is named.
    ``pca_dim`` fits a PCA to that width on the calibration texts, stored in the bundle and
    applied by ``encode``; ``truncate_dim`` sets the default width ``encode`` returns.
    ``layers`` keeps that many of the model's transformer layers (chosen by measurement) and
    distils them from the FP32 model for ``distill_steps`` steps on ``distill_data`` (default:
    the calibration texts) before quantizing; the verdict then uses the profile's ``[pruned]``
    gates. Verification and STS run on the raw texts, like the FP32 reference.
    """
    step = step or _silent_step
    out_path = Path(out)
    if out_path.exists() and not overwrite:
        raise ConversionError(
            f"{out_path} already exists; pass --overwrite (Python: overwrite=True) or choose another --out"
        )
    spec = build_spec(
        target,
        quantization,
        calibration,
        max_seq_length,
        seq_buckets,
        strict,
        fallback,
        format,
        device,
        converter,
    )
    require_route(spec.route)
    plan = pruning_plan(spec, layers, distill_data, distill_steps)
    spec = dataclasses.replace(spec, layers=plan.layers if plan else 0)
    sts = read_sts(eval_file) if eval_file else None
    timings: dict[str, float] = {}
    started = time.perf_counter()
    step("Loading model")
    source = load_source(model, tokenizer)
    check_family_route(_model_type(source), spec.route)
    if source.max_seq_length and max_seq_length is None and source.max_seq_length < spec.max_seq_length:
        # sentence-transformers truncates at the model's own limit: so does the bundle.
        spec = dataclasses.replace(spec, target=spec.target.replace(max_seq_length=source.max_seq_length))
    named_prompts, default_prompt = _bundle_prompts(source, prompts, default_prompt_name)
    timings["load_s"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="edgeembed-convert-") as work:
        workdir = Path(work)
        (workdir / TOKENIZER_NAME).write_text(source.tokenizer_json, encoding="utf-8")
        tokenizer_ = BucketTokenizer(workdir / TOKENIZER_NAME, spec.max_seq_length, spec.seq_buckets)
        step("FP32 reference on held-out texts")
        reference = reference_embeddings(
            source.model, tokenizer_, spec.holdout_texts, source.pooling, source.normalize, dense=source.dense
        )
        dim = reference.shape[1]
        check_pca_dim(pca_dim, dim, len(spec.calibration_texts))
        teacher, pruning, own_reference = source, None, reference
        if plan is not None:
            mark = time.perf_counter()
            source, pruning = prune_and_distill(teacher, tokenizer_, plan, step)
            own_reference = reference_embeddings(
                source.model, tokenizer_, spec.holdout_texts, source.pooling, source.normalize, dense=source.dense
            )
            pruning["student_fp32_fidelity"] = agreement_to_fp32(reference, own_reference, True)
            timings["prune_and_distill_s"] = time.perf_counter() - mark
        head_files = _write_dense(workdir, source, spec)  # before any measurement reads the bundle
        width = {"dim": dim}  # a route may change it: a static table has its own width

        def candidate_manifest(files: tuple[str, ...], signatures: tuple[Signature, ...]) -> Manifest:
            return _manifest(source, spec, width["dim"], signatures, {}, files)

        # Routes' quantization ladders compare a model with its own FP32 self; the verdict
        # compares the bundle with the FP32 full model (the teacher, for a --layers student).
        measure = _measurer(workdir, candidate_manifest, spec.holdout_texts, own_reference)
        verify = _measurer(workdir, candidate_manifest, spec.holdout_texts, reference)
        calibration_set = None
        if spec.quantization in ("int8-full", "int8-dynamic"):  # int8-dynamic: the embedding table
            calibration_set = build_calibration_set(tokenizer_, spec.calibration_texts)
        mark = time.perf_counter()
        result = _run_route(RouteInputs(source, spec, workdir, calibration_set, measure, step))
        timings["convert_s"] = time.perf_counter() - mark
        width["dim"] = int(result.details.pop("embedding_dim", dim))
        model_files = tuple(result.model_files)
        manifest = _manifest(
            source, spec, width["dim"], result.signatures, result.converter, model_files, result.output_kind
        )
        step("Verifying against FP32")
        mark = time.perf_counter()
        _place_in_workdir(workdir, result.model_files)
        fidelity = verify(model_files, manifest.signatures)
        if pruning is not None:
            pruning["quantized_vs_student_fp32"] = measure(model_files, manifest.signatures)
        projected, projection = manifest, None
        if pca_dim is not None:
            step(f"Fitting PCA to {pca_dim} dimensions")
            projected, projection = add_projection(workdir, manifest, pca_dim, spec.calibration_texts)
            holdout = projected_embeddings(workdir, projected, spec.holdout_texts)
            projection["holdout_similarity"] = similarity_agreement(reference, holdout)
        sts_result = (
            sts_report(
                teacher,
                spec,
                tokenizer_,
                workdir,
                manifest,
                sts,
                eval_file,
                projected,
                student=source if pruning is not None else None,
            )
            if sts
            else None
        )
        if projection is not None and sts_result is not None:
            projection["sts"] = sts_result.pop("at_projection")
        timings["verify_s"] = time.perf_counter() - mark
        model_bytes = sum(path.stat().st_size for path in result.model_files.values())
        report = conversion_report(source, spec, result, fidelity, sts_result, timings, model_bytes)
        report["projection"] = projection
        if pruning is not None:
            report["pruning"] = pruning
        failures = report["verdict"]["failures"]
        if failures and spec.strict:
            raise ConversionError("conversion below the target's thresholds (--strict): " + "; ".join(failures))
        step("Writing bundle")
        files = {TOKENIZER_NAME: workdir / TOKENIZER_NAME, **result.model_files, **head_files}
        if projection is not None:
            files[PROJECTION_NAME] = workdir / PROJECTION_NAME
        manifest = dataclasses.replace(projected, prompts=named_prompts, default_prompt_name=default_prompt)
        manifest = _with_output_defaults(workdir, manifest, truncate_dim, spec.calibration_texts)
        bundle = write_bundle(out_path, manifest, files, report, overwrite=overwrite)
    return ConversionResult(bundle, report)


def _with_output_defaults(
    workdir: Path, manifest: Manifest, truncate_dim: int | None, calibration_texts: Sequence[str]
) -> Manifest:
    """The default width (``--truncate-dim``) and the per-dimension ranges int8/uint8 outputs
    use, measured on the calibration texts as ``encode`` returns them by default."""
    if truncate_dim is not None and not 1 <= truncate_dim <= manifest.output_dim:
        raise ConversionError(f"--truncate-dim must be within 1..{manifest.output_dim}, got {truncate_dim}")
    manifest = dataclasses.replace(manifest, truncate_dim=truncate_dim or 0)
    embedder = Embedder(Bundle(workdir, manifest), device="CPU", token_cache_size=0, embedding_cache_size=0)
    vectors = embedder.encode(list(calibration_texts), prompt="")
    return dataclasses.replace(manifest, embedding_ranges=embedding_ranges(vectors))


def _bundle_prompts(
    source: SourceModel, prompts: Mapping[str, str] | None, default_prompt_name: str | None
) -> tuple[dict[str, str], str]:
    """The model's own prompts with the caller's added; the default must be one of them."""
    named = {**source.prompts, **dict(prompts or {})}
    if not all(isinstance(k, str) and k and isinstance(v, str) for k, v in named.items()):
        raise ConversionError("prompts must map non-empty names to texts (--prompt name=text)")
    default = source.default_prompt_name if default_prompt_name is None else default_prompt_name
    if default and default not in named:
        raise ConversionError(f"default prompt {default!r} is not one of the prompts {sorted(named)}")
    return named, default


def _run_route(inputs: RouteInputs) -> RouteResult:
    """Run the spec's route; with ``--converter auto``, its fallback route (``ROUTES``) takes over
    when it fails on a model the fallback supports."""
    route = ROUTES[inputs.spec.route]
    try:
        return resolve_route(route.name)(inputs)
    except ConversionError as error:
        fallback = ROUTES[route.fallback] if route.fallback else None
        if (
            fallback is None
            or inputs.spec.converter_choice != "auto"
            or not supports(_model_type(inputs.source), fallback.name)
        ):
            raise
        try:
            require_route(fallback.name)
        except MissingDependencyError:
            raise ConversionError(
                f"{error}\nThe {fallback.converter} route could take over; install it with: "
                f'pip install "edgeembed[{fallback.extra}]"'
            ) from error
        inputs.step(f"{route.converter} failed; trying the {fallback.converter} route")
        result = resolve_route(fallback.name)(inputs)
        result.converter["fallback_from"] = route.converter
        result.converter["fallback_reason"] = str(error).splitlines()[0]
        return result


def _write_dense(workdir: Path, source: SourceModel, spec: ConversionSpec) -> dict[str, Path]:
    """The model's Dense layers as ``dense_<i>.npy`` (a static table distils the transformer alone)."""
    if not source.dense or not FORMATS[spec.format].same_space:
        return {}
    files = {}
    for index, (matrix, _) in enumerate(source.dense):
        files[dense_file(index)] = workdir / dense_file(index)
        np.save(files[dense_file(index)], matrix, allow_pickle=False)
    return files


def _model_type(source: SourceModel) -> str:
    return str(getattr(getattr(source.model, "config", None), "model_type", "") or "")


def _place_in_workdir(workdir: Path, files: dict[str, Path]) -> None:
    """The verification bundle reads model files by name from the work directory."""
    for name, path in files.items():
        if path.resolve() != (workdir / name).resolve():
            shutil.copyfile(path, workdir / name)


def _manifest(
    source: SourceModel,
    spec: ConversionSpec,
    dim: int,
    signatures: tuple[Signature, ...],
    converter: dict[str, Any],
    model_files: tuple[str, ...],
    output_kind: str = "token_embeddings",
) -> Manifest:
    return Manifest(
        source={
            "name": source.name,
            "weights_sha256": source.weights_sha256,
            "layout": source.layout,
            **({"path": source.path} if source.path else {}),
            **(
                {"pruned_from": source.pruned_from, "layers_kept": ",".join(map(str, source.layers_kept))}
                if source.pruned_from
                else {}
            ),
        },
        format=spec.format,
        quantization=spec.quantization,
        converter={**converter, "edgeembed": __version__},
        max_seq_length=spec.max_seq_length,
        signatures=signatures,
        model_files=model_files,
        output_kind=output_kind,
        pooling=source.pooling,
        normalize=source.normalize,
        embedding_dim=int(dim),
        dense_activations=tuple(name for _, name in source.dense) if FORMATS[spec.format].same_space else (),
        target=spec.target.name,
        runtime={
            "threads": spec.target.threads,
            "batch_size": spec.batch_size,
            "token_cache": spec.target.token_cache,
            "embedding_cache": spec.target.embedding_cache,
            "device": spec.device,
            "performance_hint": spec.performance_hint,
        },
    )


def _measurer(
    workdir: Path,
    make_manifest: Callable[[tuple[str, ...], tuple[Signature, ...]], Manifest],
    texts: Sequence[str],
    reference: np.ndarray,
) -> Measure:
    """Embed held-out texts through the device runtime itself and compare with FP32.

    Verification runs on this machine's CPU, whatever device the target names: the numbers
    are the model's, and an accelerator may round differently (the report says so).
    """

    def measure(model_files: tuple[str, ...], signatures: tuple[Signature, ...]) -> dict[str, float]:
        manifest = make_manifest(model_files, signatures)
        embedder = Embedder(Bundle(workdir, manifest), device="CPU", token_cache_size=0, embedding_cache_size=0)
        vectors = embedder.encode(list(texts), normalize_embeddings=False)
        return agreement_to_fp32(reference, vectors, FORMATS[manifest.format].same_space)

    return measure
