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


def set_up_commands(page: Path) -> list[str]:
    """The commands of a page's "Set-up: two commands" section (its first shell block)."""
    section = page.read_text(encoding="utf-8").split("## Set-up: two commands", 1)[1]
    return [line.split("#", 1)[0].strip() for line in shell_blocks(section)[0].splitlines() if line.strip()]


def test_readme_and_the_site_index_give_the_same_two_set_up_commands():
    readme, index = set_up_commands(README), set_up_commands(ROOT / "docs" / "index.md")
    assert readme == index == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    assert all((ROOT / command.split()[1]).is_file() for command in readme)


# Words of a log: a user page says what is true now; trials and history go to the measurement log.
LOG_WORDS = (r"earlier runs?\b", r"same morning", r"in one sitting", r"tried and not kept", r"\bformer\b",
             r"previous release", r"\bthis session\b", r"\bnow (?:follows|uses|ships)\b")


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs").glob("*.md") if p.name != "performance.md"))
def test_user_pages_read_as_guides_not_logs(page):
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    found = [word for word in LOG_WORDS if re.search(word, text, re.I)]
    assert found == [], f"{page}: {found} (move the narrative to docs/performance.md)"


def test_every_benchmarks_section_dates_its_figures_and_the_machine_is_named():
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    sections = text.split("\n## ")[1:-1]  # the last one only links the log
    assert len(sections) >= 5
    assert all(re.search(r"20\d\d-\d\d-\d\d", section) for section in sections), [s[:40] for s in sections]
    assert "Intel Xeon" in text and "EPYC" not in (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
