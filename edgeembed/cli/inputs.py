"""Where CLI input comes from and output goes: checked up front, with errors that name the fix."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from edgeembed.errors import InputError
from edgeembed.texts import check_utf8_texts, decode_utf8


def npy_target(npy: Path) -> Path:
    """Where ``--npy`` writes: ``.npy`` added as numpy would, never a folder, parent must exist."""
    if npy.is_dir():
        raise InputError(f"--npy {npy} is a folder; give a file name such as {npy / 'embeddings.npy'}")
    path = npy if npy.suffix == ".npy" else npy.with_name(npy.name + ".npy")
    if not path.parent.is_dir():
        raise InputError(f"--npy: folder {path.parent} does not exist; create it or choose another path")
    return path


def argument_texts(texts: list[str]) -> list[str]:
    """Texts given on the command line, under the same UTF-8 rule as files and stdin."""
    return check_utf8_texts(texts, "text argument")


def stdin_texts() -> list[str]:
    """One text per line of stdin, which must be UTF-8 like every text file."""
    if sys.stdin.isatty():
        raise InputError("no texts: give them as arguments, or pipe one per line on stdin")
    text = decode_utf8(sys.stdin.buffer.read(), "stdin")
    lines = [line.rstrip("\n") for line in io.StringIO(text, newline=None)]  # as text-mode stdin splits
    if not lines:
        raise InputError("no texts: stdin was empty; give texts as arguments or one per line")
    return lines


def named_prompts(pairs: list[str]) -> dict[str, str]:
    """``--prompt NAME=TEXT`` values as a mapping (the text may contain "=" and spaces)."""
    prompts = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--prompt {pair!r}: write NAME=TEXT, e.g. --prompt 'query=query: '")
        prompts[name.strip()] = text
    return prompts


def comma_list(value: str, option: str, valid) -> list[str]:
    """``a,b,c`` as a list; every item must pass ``valid``."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    bad = [item for item in items if not valid(item)]
    if bad or not items:
        raise InputError(f"{option} {value!r}: {', '.join(bad) or 'nothing'} is not valid")
    return items
