"""The package stays lint-clean, formatted and type-checked (ruff and mypy, configured in
pyproject.toml; the fast tier installs both with the ``lint`` extra)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ("edgeembed", "converters", "runtimes", "targets", "samples")
LINTED_TOO = ("tests", "scripts")  # linted (pyproject's per-file ignores), not reformatted


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_ruff_lint_and_format_are_clean():
    pytest.importorskip("ruff", reason="the lint extra is not installed")
    lint = run(["ruff", "check", *PACKAGE_DIRS, *LINTED_TOO], ROOT)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    style = run(["ruff", "format", "--check", *PACKAGE_DIRS], ROOT)
    assert style.returncode == 0, style.stdout + style.stderr + "\n(fix with: ruff format " + " ".join(PACKAGE_DIRS) + ")"


def test_mypy_is_clean_on_the_installed_layout(tmp_path):
    pytest.importorskip("mypy", reason="the lint extra is not installed")
    # The folders install as one package (converters/ -> edgeembed.converters); check that shape.
    package = tmp_path / "edgeembed"
    shutil.copytree(ROOT / "edgeembed", package, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("converters", "runtimes"):
        shutil.copytree(ROOT / folder, package / folder, ignore=shutil.ignore_patterns("__pycache__"))
    cache = ROOT / ".mypy_cache"
    result = run(["mypy", "-p", "edgeembed", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(cache)], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
