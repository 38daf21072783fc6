"""The README is one screen and the rest is a documentation site that builds strictly; every command the README and
the site show is one the command line takes, and every script they name is there to run."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from cx_core.cli import build_parser
from cx_core.config import PROJECT_ROOT

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
CLI = re.compile(r"(?:^|\s|`)python -m cx_core (.+)")


def _shown(page: Path) -> list[str]:
    """The text of every code block (continued lines joined) and every code span of ``page``."""
    text = page.read_text(encoding="utf-8")
    blocks = [re.sub(r"\\\n\s*", " ", b) for b in re.findall(r"```[a-z]*\n(.*?)```", text, re.S)]
    spans = re.findall(r"(?<!`)`([^`\n]+)`(?!`)", re.sub(r"```.*?```", "", text, flags=re.S))
    return [line for b in blocks for line in b.splitlines()] + spans


def commands() -> list[tuple[str, str]]:
    out = []
    for page in PAGES:
        for line in _shown(page):
            m = CLI.search(line)
            if not m:
                continue
            said = re.split(r"\s+#|\s*\|", m.group(1))[0].strip().rstrip("`")
            # usage lines ("api [--port 8600]", "COMMAND --help") describe a command rather than run one
            if "[" in said or "COMMAND" in said or "…" in said:
                continue
            out.append((page.name, said))
    return out


def test_the_readme_is_one_screen_and_points_to_every_page_of_the_site() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    nav = (PROJECT_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in sorted((PROJECT_ROOT / "docs").glob("*.md")):
        assert f": {page.name}" in nav, f"{page.name} is not in mkdocs.yml's nav"
        if page.name != "index.md":
            assert f"(docs/{page.name})" in readme, f"the README does not point to docs/{page.name}"


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "search" / "search_index.json").exists()
    assert "Pointing Tandem at a server" in (tmp_path / "site" / "model" / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(("page", "command"), commands(), ids=lambda v: v[:60])
def test_every_command_shown_is_one_the_command_line_takes(page: str, command: str) -> None:
    try:
        build_parser().parse_args(shlex.split(command))
    except SystemExit as exc:
        pytest.fail(f"{page}: 'python -m cx_core {command}' is refused by the command line ({exc})")


def test_every_command_in_the_reference_table_exists() -> None:
    table = (PROJECT_ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    named = re.findall(r"^\| `([a-z][a-z-]*(?: [a-z][a-z-]*)?)", table, re.M)
    assert len(named) > 20
    for name in named:
        try:
            build_parser().parse_args([*name.split(), "--help"])
        except SystemExit as exc:
            assert exc.code == 0, f"'{name}' is in docs/commands.md but not a command"


def test_every_script_shown_is_there_to_run() -> None:
    for page in PAGES:
        for script in set(re.findall(r"\./scripts/[\w.-]+", page.read_text(encoding="utf-8"))):
            path = PROJECT_ROOT / script
            assert path.exists() and path.stat().st_mode & 0o111, f"{page.name}: {script} is not an executable script"
