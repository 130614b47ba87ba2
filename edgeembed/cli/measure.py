"""``edgeembed eval``, ``bench``, ``tune`` and ``profile``: commands that measure a bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from edgeembed.cli.options import (
    BundleArgument,
    JsonFlag,
    RoundsOption,
    SourceModelOption,
    TextsFileOption,
    ThreadsOption,
)
from edgeembed.cli.output import console, errors, fail, show, user_errors
from edgeembed.errors import EdgeEmbedError


def eval_command(
    bundle: BundleArgument,
    sts: Annotated[Path, typer.Option(help="STS CSV: sentence1,sentence2,score.")],
    model: SourceModelOption = None,
    threads: ThreadsOption = None,
    dims: Annotated[str | None, typer.Option(help="Also score these widths, e.g. 384,256,128.")] = None,
    precision: Annotated[str | None, typer.Option(help="Also score these codes, e.g. float32,int8,binary.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """STS Spearman x100 of a bundle, and of its FP32 source when the convert extra is installed;
    with --dims/--precision, STS and retrieval (recall@1, MRR@10) per width and code."""
    from edgeembed.cli.inputs import comma_list
    from edgeembed.cli.tables import print_evaluation
    from edgeembed.embed.precision import PRECISIONS
    from edgeembed.host.evaluate import evaluate_bundle

    with user_errors():
        widths = [int(w) for w in comma_list(dims, "--dims", str.isdigit)] if dims else None
        precisions = comma_list(precision, "--precision", PRECISIONS.__contains__) if precision else None
        result = evaluate_bundle(bundle, sts, model=model, threads=threads, widths=widths, precisions=precisions)
    show(result, as_json, print_evaluation)


def bench_command(
    bundle: BundleArgument,
    baseline: Annotated[
        str, typer.Option(help="Comma-separated: torch, onnxruntime, openvino (plain FP32); '' for none.")
    ] = "torch,onnxruntime",
    texts: TextsFileOption = None,
    threads: Annotated[int, typer.Option(help="Threads for every pipeline.")] = 2,
    rounds: RoundsOption = 3,
    model: SourceModelOption = None,
    as_json: JsonFlag = False,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG chart (needs edgeembed[plot]).")] = None,
    compare: Annotated[
        list[Path] | None, typer.Option(help="Another bundle to run in the same rounds (repeatable).")
    ] = None,
) -> None:
    """Speed, cold start, memory and size of a bundle against PyTorch, ONNX Runtime and other bundles, in one run."""
    from edgeembed.cli.tables import print_bench
    from edgeembed.host.bench import plot_bench, run_bench
    from edgeembed.tools.charts import check_plot_target

    baselines = [name.strip() for name in baseline.split(",") if name.strip()]
    with user_errors():
        if plot:
            check_plot_target(plot)  # before minutes of measuring, not after
        result = run_bench(
            bundle,
            baselines,
            texts,
            threads=threads,
            rounds=rounds,
            model=model,
            progress=lambda m: errors.print(f"[dim]{m}[/]"),
            compare=compare or (),
        )
        if plot:
            plot_bench(result, plot)
    show(result, as_json, print_bench)


def tune_command(
    bundle: BundleArgument,
    texts: TextsFileOption = None,
    threads: Annotated[
        str, typer.Option(help="Comma-separated thread counts to try (default 1, 2, 4 ... cores).")
    ] = "",
    goal: Annotated[str, typer.Option(help="latency (one text per call) or throughput (bulk).")] = "latency",
    rounds: RoundsOption = 3,
    reset: Annotated[bool, typer.Option("--reset", help="Forget this bundle's tuned settings.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Time threads and batch sizes on this machine; Embedder.load then uses the fastest."""
    from edgeembed.cli.tables import print_tune
    from edgeembed.data import bench_texts
    from edgeembed.texts import read_texts
    from edgeembed.tools import tune as tuning

    try:
        if reset:
            console.print("forgot tuned settings" if tuning.reset(bundle) else "no tuned settings to forget")
            return
        counts = [int(t) for t in threads.split(",") if t.strip()] if threads else None
        result = tuning.tune(
            bundle,
            read_texts(texts) if texts else bench_texts(),
            counts,
            goal=goal,
            rounds=rounds,
            progress=lambda m: errors.print(f"[dim]{m}[/]"),
        )
    except (EdgeEmbedError, ValueError) as error:
        fail(error)
    print(json.dumps(result)) if as_json else print_tune(console, result)


def profile_command(
    bundle: BundleArgument,
    texts: Annotated[
        Path | None, typer.Argument(help="Your texts: one per line, or an STS CSV. Default: the built-in sample.")
    ] = None,
    batch_size: Annotated[
        list[int] | None, typer.Option(help="Texts per encode call; repeat for several (default: 1 and 32).")
    ] = None,
    rounds: RoundsOption = 3,
    threads: ThreadsOption = None,
    as_json: JsonFlag = False,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG chart of the stages (needs edgeembed[plot]).")] = None,
    operators: Annotated[
        bool,
        typer.Option(
            "--operators", help="Split the model call by operator type (OpenVINO counters, ONNX Runtime trace)."
        ),
    ] = False,
) -> None:
    """Where encode's time goes on this machine: tokenizer, packing, tensors, model call, pooling, glue."""
    from edgeembed.cli.tables import print_pipeline_profile
    from edgeembed.data import bench_texts
    from edgeembed.texts import read_texts
    from edgeembed.tools.charts import check_plot_target
    from edgeembed.tools.profile import plot_profile, profile

    with user_errors():
        if plot:
            check_plot_target(plot)
        sample = read_texts(texts) if texts else bench_texts()
        profiles = [
            profile(bundle, sample, batch_size=size, rounds=rounds, threads=threads, operators=operators)
            for size in (batch_size or [1, 32])
        ]
        if plot:
            plot_profile(profiles, plot)
    if as_json:
        print(json.dumps([p.to_dict() for p in profiles]))
        return
    for result in profiles:
        print_pipeline_profile(console, result.to_dict())
    if plot:
        console.print(f"wrote {plot}")
