"""Where the CLI prints: results to stdout, progress and errors to stderr."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from edgeembed.errors import EdgeEmbedError

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def fail(error: Exception) -> NoReturn:
    """Print ``error: message`` as plain text (brackets in messages survive) and exit 1."""
    errors.print(Text.assemble(("error:", "bold red"), f" {error}"), highlight=False)
    raise typer.Exit(code=1)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Inside: an :class:`EdgeEmbedError` (a user's error, naming the fix) ends the command as ``fail``."""
    try:
        yield
    except EdgeEmbedError as error:
        fail(error)


def show(result: Any, as_json: bool, print_table: Callable[[Console, Any], None]) -> None:
    """A command's result: one JSON document on stdout with ``--json``, else its table."""
    if as_json:
        print(json.dumps(result, default=str))
    else:
        print_table(console, result)


def print_whole(console: Console, table: Table) -> None:
    """Print ``table`` within the terminal (or the 80 columns rich assumes for a pipe) when its
    cells fit by wrapping, and at its natural width when rich would have to cut one (``13.…``)."""
    with console.capture() as fitted:
        console.print(table)
    if "…" not in fitted.get():
        console.file.write(fitted.get())
        return
    width = console.width
    console.width = Measurement.get(console, console.options.update(width=10_000), table).maximum
    try:
        console.print(table)
    finally:
        console.width = width
