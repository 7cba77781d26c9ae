"""The README's command excerpts are what the tool prints: every line shown under a ``$ roofline ...`` line
(up to the next command or the end of the block; ``...`` marks lines left out, and a line ending in ``...``
is the start of the printed line) appears in that command's output today."""

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from roofline.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def _excerpts() -> list[tuple[str, list[str]]]:
    out, current = [], None
    in_block = False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            in_block, current = not in_block, None
            continue
        if not in_block:
            continue
        if line.startswith("$ roofline "):
            current = (line[2:].replace("(excerpt)", "").strip(), [])
            out.append(current)
        elif current is not None and line.strip() and line.strip() != "...":
            current[1].append(line)
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


EXCERPTS = _excerpts()


def test_the_readme_shows_command_excerpts():
    assert len(EXCERPTS) >= 4


@pytest.mark.parametrize("command, lines", EXCERPTS, ids=[c for c, _ in EXCERPTS])
def test_readme_excerpt_matches_the_tool(command, lines):
    result = CliRunner().invoke(main, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    printed = [_norm(line) for line in result.output.splitlines()]
    for shown in lines:
        want = _norm(shown.rstrip(". ") if shown.rstrip().endswith("...") else shown)
        assert any(want in line for line in printed), f"README shows {shown!r}; `{command}` no longer prints it"
