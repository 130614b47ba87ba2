"""Human-readable tables for conversion reports, bundles and similarities (rich)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from edgeembed.bundle import Bundle
from edgeembed.cli.output import print_whole
from edgeembed.embed.pooling import l2_normalize


def _mb(size: int | None) -> str:
    return "-" if not size else f"{size / 1e6:.1f} MB"


def print_conversion_report(console: Console, report: dict[str, Any], path: Path) -> None:
    fidelity = report["fidelity"]
    pruning = report.get("pruning")
    depth = f", {len(pruning['layers_kept'])} of {pruning['teacher_layers']} layers" if pruning else ""
    table = Table(title=f"Accuracy vs FP32 PyTorch ({report['quantization']}, {report['target']}{depth})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("required", justify="right")
    table.add_row("held-out texts", str(fidelity["sentences"]), "")
    if "mean_cosine" in fidelity:
        table.add_row("mean cosine", f"{fidelity['mean_cosine']:.4f}", f">= {fidelity['required_mean_cosine']}")
        table.add_row("min cosine", f"{fidelity['min_cosine']:.4f}", f">= {fidelity['required_min_cosine']}")
        table.add_row("5th percentile cosine", f"{fidelity['p5_cosine']:.4f}", "")
    else:  # a distilled space: how pairwise similarities among the held-out texts agree
        table.add_row(
            "pairwise-cosine Spearman vs FP32", f"{fidelity['spearman_vs_fp32']:.4f}", fidelity.get("required", "")
        )
        table.add_row("mean |cosine error| over pairs", f"{fidelity['mean_abs_cosine_error']:.4f}", "")
    if pruning:
        student = pruning["student_fp32_fidelity"]
        table.add_row("student FP32: mean cosine", f"{student['mean_cosine']:.4f}", "before quantizing")
    sts = report.get("sts")
    if sts:
        table.add_row(f"STS Spearman FP32 ({sts['pairs']} pairs)", f"{sts['fp32_spearman']:.2f}", "")
        if "student_fp32_spearman" in sts:
            table.add_row("STS Spearman student FP32", f"{sts['student_fp32_spearman']:.2f}", "before quantizing")
        table.add_row("STS Spearman converted", f"{sts['converted_spearman']:.2f}", f"drop <= {sts['max_drop']}")
    projection = report.get("projection")
    if projection:
        _projection_rows(table, projection)
    sizes = report["sizes_bytes"]
    table.add_row("model size", _mb(sizes["model"]), "")
    table.add_row("FP32 model size", _mb(sizes.get("float32_model")), "")
    print_whole(console, table)
    details = report.get("model_details", {})
    recipe = details.get("int8_recipe")
    if recipe:
        console.print(f"INT8 recipe: [bold]{recipe['chosen']}[/] - {recipe['reason']}")
        tried = ", ".join(
            f"{t['recipe']}={t['mean_cosine']:.4f}" if "mean_cosine" in t else f"{t['recipe']}=failed to run"
            for t in recipe["tried"]
        )
        console.print(f"  tried (mean cosine): {tried}")
    if details.get("non_int8_ops"):
        ops = ", ".join(f"{name} x{count}" for name, count in details["non_int8_ops"].items())
        console.print(f"  ops not in static INT8: {ops}")
    if pruning:
        training = pruning["distillation"]
        console.print(
            f"kept layers {pruning['layers_kept']} ({pruning['selection']['method']}); distilled "
            f"{training['steps']} steps on {training['texts']} texts from the {training['texts_source']} "
            f"in {training['seconds']:.0f} s"
        )
    verdict = report["verdict"]
    hint = (
        "more --layers, more --distill-steps or more --distill-data text"
        if pruning
        else "--quantization int8-dynamic or fp16, or more --calibration text"
    )
    if verdict["passed"]:
        console.print(f"[green]verdict: passed[/]  bundle: {path}")
    else:
        console.print(
            f"[bold yellow]verdict: BELOW TARGET[/] ({'; '.join(verdict['failures'])})"
            f"  bundle: {path}\n  try {hint}; --strict turns this into an error"
        )


def _projection_rows(table: Table, projection: dict[str, Any]) -> None:
    """The PCA's cost against the full-width FP32 model (no bar: the width is the user's choice)."""
    dim = projection["dim"]
    table.add_row(
        f"PCA {projection['from_dim']} -> {dim}: variance kept",
        f"{projection['explained_variance']:.3f}",
        f"fit on {projection['fitted_on_texts']} texts",
    )
    agreement = projection["holdout_similarity"]
    table.add_row(f"PCA {dim}: pairwise-cosine Spearman vs FP32", f"{agreement['spearman_vs_fp32']:.4f}", "")
    if projection.get("sts"):
        table.add_row(
            f"STS Spearman at PCA {dim}",
            f"{projection['sts']['spearman']:.2f}",
            f"drop {projection['sts']['drop']:.2f}",
        )


def print_similarity(console: Console, texts: list[str], vectors: np.ndarray) -> None:
    unit = l2_normalize(vectors)
    matrix = unit @ unit.T
    table = Table(title="cosine similarity")
    table.add_column("")
    for index in range(len(texts)):
        table.add_column(str(index), justify="right")
    for index, text in enumerate(texts):
        label = f"{index}: {text[:48]}{'...' if len(text) > 48 else ''}"
        table.add_row(label, *(f"{value:.3f}" for value in matrix[index]))
    print_whole(console, table)


def print_bundle_info(console: Console, bundle: Bundle) -> None:
    manifest = bundle.manifest
    table = Table(title=f"{bundle.path} (verified: sha256 of {len(manifest.files)} files)")
    table.add_column("field")
    table.add_column("value")
    rows = {
        "source": manifest.source.get("name", "?"),
        "format / quantization": f"{manifest.format} / {manifest.quantization}",
        "target": manifest.target,
        "embedding dim": str(manifest.embedding_dim)
        + (f" -> PCA {manifest.projection_dim}" if manifest.projection_dim else "")
        + (f" (encode default {manifest.truncate_dim})" if manifest.truncate_dim else ""),
        "pooling / normalize": f"{manifest.pooling} / {manifest.normalize}",
        "max_seq_length / buckets": f"{manifest.max_seq_length} / {list(manifest.seq_buckets)}",
        "converter": f"{manifest.converter.get('route')} ({manifest.converter.get('graph', '')})",
    }
    for name in manifest.files:
        rows[f"file {name}"] = _mb(bundle.file(name).stat().st_size)
    report = bundle.report()
    if report:
        fidelity = report.get("fidelity", {})
        if "mean_cosine" in fidelity:
            rows["mean / min cosine to FP32"] = f"{fidelity.get('mean_cosine')} / {fidelity.get('min_cosine')}"
        elif "spearman_vs_fp32" in fidelity:
            rows["pairwise-cosine Spearman vs FP32"] = str(fidelity["spearman_vs_fp32"])
        if report.get("sts"):
            sts = report["sts"]
            rows["STS Spearman FP32 / bundle"] = f"{sts['fp32_spearman']} / {sts['converted_spearman']}"
        recipe = report.get("model_details", {}).get("int8_recipe")
        if recipe:
            rows["INT8 recipe"] = recipe["chosen"]
    for key, value in rows.items():
        table.add_row(key, value)
    print_whole(console, table)


def print_evaluation(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"STS evaluation ({result['pairs']} pairs, {Path(result['file']).name})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("bundle Spearman x100", f"{result['bundle_spearman']:.2f}")
    if "fp32_spearman" in result:
        table.add_row("FP32 source Spearman x100", f"{result['fp32_spearman']:.2f}")
        table.add_row("difference", f"{result['bundle_spearman'] - result['fp32_spearman']:+.2f}")
        cosine = result["cosine_to_fp32"]
        if "mean_cosine" in cosine:
            table.add_row("mean / min cosine to FP32", f"{cosine['mean_cosine']:.4f} / {cosine['min_cosine']:.4f}")
        else:
            table.add_row("pairwise-cosine Spearman vs FP32", f"{cosine['spearman_vs_fp32']:.4f}")
    else:
        table.add_row("FP32 source", result["fp32"])
    print_whole(console, table)
    if result.get("outputs"):
        print_output_grid(console, result["outputs"])


def print_output_grid(console: Console, rows: list[dict[str, Any]]) -> None:
    """STS and retrieval per output width and code (the FP32 model cut to the same width beside)."""
    queries = next((r["queries"] for r in rows if "queries" in r), 0)
    table = Table(title=f"Outputs: STS Spearman x100, retrieval over the STS file ({queries} queries)", box=None)
    for column in ("width", "codes", "bytes", "STS", "R@1", "MRR@10", "FP32 STS", "FP32 R@1"):
        table.add_column(column, justify="right")
    for row in rows:
        fp32 = row.get("fp32") or {}
        ours = (
            ("skipped", "", "")
            if "skipped" in row
            else (f"{row['sts_spearman']:.2f}", f"{row['recall_at_1']:.3f}", f"{row['mrr_at_10']:.3f}")
        )
        table.add_row(
            str(row["width"]),
            row["precision"],
            str(row.get("bytes_per_vector", "")),
            *ours,
            f"{fp32['sts_spearman']:.2f}" if fp32 else "",
            f"{fp32['recall_at_1']:.3f}" if fp32 else "",
        )
    print_whole(console, table)


def print_bench(console: Console, result: dict[str, Any]) -> None:
    machine = result["machine"]
    table = Table(
        title=(
            f"edgeembed bench: {result['texts']} texts, {result['threads']} threads, "
            f"median of {result['rounds']} interleaved rounds\n{machine['cpu']} ({machine['cores']} cores)"
        )
    )
    columns = ("pipeline", "b1/s", "b32/s", "pad b1", "pad b32", "p50 ms", "p95 ms", "cold s", "RSS MB", "size MB")
    for column in columns:
        table.add_column(column, justify="left" if column == "pipeline" else "right", no_wrap=True)
    for name, r in result["results"].items():
        waste = r.get("padding_waste", {})
        table.add_row(
            name,
            f"{r['batch1_per_s']:.0f}",
            f"{r['batch32_per_s']:.0f}",
            f"{waste.get('batch1', 0):.2f}",
            f"{waste.get('batch32', 0):.2f}",
            f"{r['latency_p50_ms']:.2f}",
            f"{r['latency_p95_ms']:.2f}",
            f"{r['cold_start_s']:.2f}",
            f"{r['peak_rss_mb']:.0f}",
            f"{r['model_mb']:.1f}",
        )
    print_whole(console, table)
    for name, ratio in result["ratios"].items():
        console.print(f"{name.replace('_', ' ')}: batch 1 x{ratio['batch1_per_s']}, batch 32 x{ratio['batch32_per_s']}")
    console.print("pad = tokens the model ran (padding included) per token of text")
    for name, r in result["results"].items():
        if r.get("latency_by_bucket_ms"):
            steps = "  ".join(f"{bucket} {ms:.2f}" for bucket, ms in r["latency_by_bucket_ms"].items())
            console.print(f"{name}, one text filling each bucket (tokens, p50 ms): {steps}")
    ours = result["results"]["edgeembed"]
    if "cache_hit_us" in ours:
        console.print(f"embedding-cache hit: {ours['cache_hit_us']:.1f} us per call")
    if ours.get("heavy_modules"):
        console.print(f"[yellow]edgeembed process imported {ours['heavy_modules']}[/]")


def print_tune(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"edgeembed tune: {result['texts']} texts, {result['cores']} cores, goal {result['goal']}")
    executors = any("shared_weights" in row for row in result["measured"])
    for column in ("threads", *(("LiteRT",) if executors else ()), "batch 1 /s", "bulk /s", "best batch size"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in result["measured"]:
        executor = ("shared weights" if row.get("shared_weights") else "Interpreter",) if executors else ()
        table.add_row(
            str(row["threads"]),
            *executor,
            f"{row['batch1_per_s']:.0f}",
            f"{row['bulk_per_s']:.0f}",
            str(row["batch_size"]),
        )
    print_whole(console, table)
    if result.get("litert_executor"):
        console.print(f"LiteRT executor: {result['litert_executor']}")
    chosen = ", ".join(f"{key}={value}" for key, value in result["chosen"].items())
    console.print(f"chosen: {chosen} -> {result['settings_file']} (Embedder.load uses it; --reset forgets it)")


def print_doctor(console: Console, report: dict) -> None:
    machine = report["machine"]
    table = Table(title="edgeembed doctor", show_header=False)
    table.add_column("what")
    table.add_column("found")
    table.add_row("board", machine["board"] or "-")
    table.add_row("cpu", f"{machine['cpu']} ({machine['arch']}, {machine['cores']} cores)")
    table.add_row("cpu features", ", ".join(machine["features"]) or "-")
    table.add_row("memory", f"{machine['memory_gb']} GB" if machine["memory_gb"] else "?")
    table.add_row("os / glibc / python", f"{machine['os']} / {machine['glibc']} / {machine['python']}")
    for name, version in machine["runtimes"].items():
        table.add_row(f"runtime {name}", version)
    table.add_row("accelerators", ", ".join(machine["accelerators"]) or "none (CPU only)")
    if machine.get("litert_executor"):
        table.add_row("LiteRT executor", machine["litert_executor"])
    profile = report["profile"]
    table.add_row("suggested target", f"{profile['name']} ({profile['reason']})")
    bundle = report.get("bundle")
    if bundle:
        if bundle["ok"]:
            table.add_row(
                "bundle",
                f"[green]OK[/] {bundle['path']}: {bundle['format']} {bundle['quantization']} "
                f"for {bundle['target']}, ran on {bundle['runtime']}"
                f"{' (' + bundle['executor'] + ')' if bundle.get('executor') else ''} {bundle['device']} "
                f"in {bundle['load_and_embed_s']} s",
            )
        else:
            table.add_row("bundle", f"[red]FAILED[/] {bundle['path']}: {bundle.get('error', 'bad output')}")
    print_whole(console, table)


def print_targets(console: Console, profiles) -> None:
    """One line per profile, in 80 columns: name, recipe, runtime, and the board."""
    table = Table(title="edgeembed targets (edgeembed targets NAME for all fields, --json to script)", box=None)
    for column in ("name", "recipe", "runs on", "board"):
        table.add_column(column, no_wrap=column != "board", overflow="fold")
    for p in profiles:
        board = p.description.split(" (")[0].split(",")[0]
        table.add_row(p.name, f"{p.format} {p.quantization}", f"{p.runtime} {p.device}", board)
    print_whole(console, table)


def print_profile(console: Console, profile) -> None:
    table = Table(title=f"target {profile.name}", box=None)
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name, value in vars(profile).items():
        label = f"[{name}]" if dataclasses.is_dataclass(value) else name
        table.add_row(Text(label), Text(_profile_value(value)))
    print_whole(console, table)


def _profile_value(value: Any) -> str:
    """A profile field as its TOML file spells it: lists in brackets, a table as ``key = value`` pairs."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        pairs = [(field.name, getattr(value, field.name)) for field in dataclasses.fields(value)]
        return ", ".join(f"{key} = {_profile_value(item)}" for key, item in pairs if item != ()) or "(empty)"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_profile_value(item) for item in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value).lower() if isinstance(value, bool) else str(value)


def print_pipeline_profile(console: Console, result: dict[str, Any]) -> None:
    """``edgeembed profile``: each stage's share of the wall time, then what the stages miss."""
    table = Table(
        title=f"encode, batch {result['batch_size']}: {result['texts']} texts in {result['calls']} calls, "
        f"{result['texts_per_s']:,.0f} texts/s"
    )
    for column in ("stage", "share", "us/text", "covers"):
        table.add_column(column, justify="left" if column in ("stage", "covers") else "right")
    for row in result["stages"]:
        table.add_row(row["stage"], f"{100 * row['share']:.1f}%", f"{row['us_per_text']:.1f}", row["covers"])
    print_whole(console, table)
    unattributed = result["unattributed_s"] / result["wall_s"] if result["wall_s"] else 0.0
    console.print(
        f"stages sum to {100 * result['stage_sum_s'] / result['wall_s']:.1f}% of the wall time "
        f"({100 * unattributed:.1f}% outside encode); padding waste x{result['padding_waste']:.2f} "
        f"({result['token_slots']:,} token slots for {result['real_tokens']:,} real tokens)"
    )
    if result["truncated"]:
        console.print(
            f"{result['truncated']:,} of {result['texts']:,} texts were cut to the model's "
            f"{result['max_seq_length']} tokens (their cut tokens cost nothing)"
        )
    console.print(f"operators: {result['operators']}")
    total = sum(result["operator_seconds"].values())
    for name, seconds in list(result["operator_seconds"].items())[:8]:
        console.print(f"  {name:<24} {100 * seconds / total:5.1f}% of the model's own time")
