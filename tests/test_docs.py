"""The README and docs/ stay true: links resolve, the site builds strictly, and every
``edgeembed`` command line in a README shell block names real commands and options."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from edgeembed.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def test_readme_is_a_guide_not_a_log():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    for word in (r"\bVM\b", r"\bCI\b", r"session", r"this stop", r"/tmp", r"\.\./shared"):
        assert not re.search(word, text), word


def test_readme_links_resolve():
    for target in re.findall(r"\]\(([^)#]+)\)", README.read_text(encoding="utf-8")):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


def test_readme_command_lines_use_real_commands_and_options():
    commands = get_command(app).commands
    checked = 0
    for block in shell_blocks(README.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].split("<", 1)[0].split("&&", 1)[0].strip()
            if not line.startswith("edgeembed "):
                continue
            words = shlex.split(line)
            command = commands.get(words[1])
            assert command is not None, line
            options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
            for word in words[2:]:
                if word.startswith("-"):
                    assert word.split("=", 1)[0] in options, f"{line}: {word}"
            checked += 1
    assert checked >= 10


def test_docs_site_builds_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (the docs extra)")
    done = subprocess.run([mkdocs, "build", "--strict", "-d", str(tmp_path / "site")], cwd=ROOT,
                          capture_output=True, text=True, env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
