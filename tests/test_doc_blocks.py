"""Every shell and Python block of the README and docs/ runs here, or says why it cannot.

A block preceded by ``<!-- illustrative: REASON -->`` is not run (it converts a model, needs a
board, a network or a running server); the reason is required. Every other block runs in the fast
tier, in a folder holding a bundle named ``minilm-rpi5`` (the hand-built one, run by the numpy
backend, with 384 dimensions, query/document prompts and int8 ranges) and the files the examples read (``texts.txt``, ``corpus.jsonl``, ``my-board.toml``):
- Python blocks run page by page in one namespace, which starts with the names the pages use for
  a loaded model and its inputs (``model``, ``texts``, ``passages``); a block importing an extra
  that is not installed waits for the fast tier, which installs every adapter's extra;
- shell blocks may only hold ``edgeembed`` lines; each runs through the CLI in this process
  (``< FILE`` feeds standard input) and must exit 0.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"(?ms)^(?:<!-- illustrative: (?P<why>[^>]*?) -->\n)?```(?P<lang>bash|python)\n(?P<body>.*?)^```")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    body: str
    illustrative: str | None

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks() -> list[Block]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text[: match.start("body")].count("\n")
            why = match.group("why")
            found.append(Block(page, line, match.group("lang"), match.group("body"), why.strip() if why else None))
    return found


BLOCKS = blocks()
RUNNABLE = [block for block in BLOCKS if block.illustrative is None]


def test_every_block_runs_or_says_why_not():
    assert len(BLOCKS) >= 20 and RUNNABLE
    for block in BLOCKS:
        assert block.illustrative is None or len(block.illustrative) >= 10, f"{block.name}: give the reason"


@pytest.fixture()
def workdir(tmp_path, fake_runtime, monkeypatch):
    from fakes import write_fake_bundle

    from edgeembed import Embedder
    from edgeembed.embed.precision import embedding_ranges

    # Shaped like the default model's bundle: 384 dimensions, prompts, int8 output ranges.
    plain = write_fake_bundle(tmp_path / "plain", dim=384)
    ranges = embedding_ranges(Embedder.load(plain).encode(["a dog runs", "a cat sleeps", "rain falls", "sun"] * 3))
    prompts = {"query": "query: ", "document": "passage: "}
    write_fake_bundle(tmp_path / "minilm-rpi5", dim=384, prompts=prompts, embedding_ranges=ranges)
    (tmp_path / "texts.txt").write_text("A man is playing a guitar.\nSomeone plays music.\n", encoding="utf-8")
    rows = [{"id": index, "text": text} for index, text in enumerate(["a dog runs", "a cat sleeps", "rain falls"])]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    shutil.copy(ROOT / "targets" / "rpi5.toml", tmp_path / "my-board.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def shell_commands(body: str) -> list[tuple[list[str], str | None]]:
    """(argv after ``edgeembed``, standard-input file) per line; comments and continuations joined."""
    commands = []
    for line in body.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line)
        assert words[0] == "edgeembed", f"not an edgeembed line (mark the block illustrative): {line}"
        stdin = None
        if "<" in words:
            at = words.index("<")
            stdin, words = words[at + 1], words[:at]
        commands.append((words[1:], stdin))
    return commands


@pytest.mark.parametrize("block", [b for b in RUNNABLE if b.lang == "bash"], ids=lambda b: b.name)
def test_shell_block_runs(block, workdir):
    from edgeembed.cli.app import app

    runner = CliRunner()
    for argv, stdin in shell_commands(block.body):
        given = (workdir / stdin).read_text(encoding="utf-8") if stdin else None
        result = runner.invoke(app, argv, input=given)
        assert result.exit_code == 0, f"{block.name}: edgeembed {' '.join(argv)}\n{result.output}"


@pytest.mark.parametrize("page", sorted({b.page for b in RUNNABLE if b.lang == "python"}), ids=lambda p: p.name)
def test_python_blocks_run(page, workdir):
    from edgeembed import Embedder

    namespace = {
        "__name__": "__docs__",
        "model": Embedder.load("minilm-rpi5"),
        "texts": ["A man is playing a guitar.", "Someone plays music."],
        "passages": ["Water a cactus every two weeks.", "Ferns like damp soil."],
    }
    ran = 0
    for block in [b for b in RUNNABLE if b.lang == "python" and b.page == page]:
        if missing_extras(block.body):  # an adapter's extra; the fast tier installs them all
            continue
        try:
            exec(compile(block.body, block.name, "exec"), namespace)
        except Exception as error:  # the block's own name and line in the failure
            pytest.fail(f"{block.name}: {type(error).__name__}: {error}")
        ran += 1
    assert ran and os.getcwd() == str(workdir)


def missing_extras(source: str) -> list[str]:
    """Top-level packages a block imports that are not installed here."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return sorted(name for name in names if importlib.util.find_spec(name) is None)
