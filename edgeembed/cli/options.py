"""CLI parameters more than one command takes, declared once (typer ``Annotated`` aliases)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgeembed.cli.choices import Device

BundleArgument = Annotated[Path, typer.Argument(help="Bundle directory.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ThreadsOption = Annotated[
    int | None, typer.Option(help="Runtime threads (default: the bundle's, capped at the cores).")
]
DeviceOption = Annotated[Device | None, typer.Option(help="Run on this device (default: the bundle's).")]
TextsFileOption = Annotated[
    Path | None, typer.Option(help="Texts (one per line or STS CSV). Default: built-in sample.")
]
SourceModelOption = Annotated[str | None, typer.Option(help="FP32 source model folder (default: from the bundle).")]
RoundsOption = Annotated[int, typer.Option(help="Interleaved rounds; figures are medians over rounds.")]
OverwriteFlag = Annotated[bool, typer.Option(help="Replace what exists at the output path.")]
