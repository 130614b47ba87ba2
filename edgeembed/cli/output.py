"""Where the CLI prints: results to stdout, progress and errors to stderr."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.text import Text

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def fail(error: Exception) -> None:
    """Print ``error: message`` as plain text (brackets in messages survive) and exit 1."""
    errors.print(Text.assemble(("error:", "bold red"), f" {error}"), highlight=False)
    raise typer.Exit(code=1)
