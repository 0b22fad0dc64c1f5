"""The console examples in docs/commands.md are what the product prints: every example
that runs on the shipped data is re-run here on every CI run (about 20 s in all), so a
change to the data or the output that is not followed by
`python docs/tools/refresh_examples.py` fails here instead of leaving the docs stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "docs" / "tools" / "refresh_examples.py"
DOC = ROOT / "docs" / "commands.md"


def _tool():
    spec = importlib.util.spec_from_file_location("refresh_examples", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _runnable_blocks() -> list[str]:
    tool = _tool()
    text = DOC.read_text(encoding="utf-8")
    blocks = []
    for match in tool.BLOCK.finditer(text):
        commands = [line[2:] for line in match.group(1).splitlines() if line.startswith("$ ")]
        if commands and all(tool.runnable(c) for c in commands):
            blocks.append(match.group(1))
    return blocks


def test_the_batches_and_the_first_solve_are_among_the_checked_examples():
    """The examples a newcomer reads first must not silently drop out of the check (a
    command renamed to a file of the reader's own is no longer runnable)."""
    checked = "\n".join(_runnable_blocks())
    for command in ("resilience demo", "resilience compare data/critical-inputs.xlsx",
                    "resilience frontier data/example.xlsx",
                    "resilience evaluate data/critical-inputs.xlsx",
                    "resilience solve data/critical-inputs.xlsx --strategy eu_crma",
                    "resilience export data/critical-inputs.xlsx"):
        assert f"$ {command}" in checked, command


@pytest.mark.parametrize("block", _runnable_blocks(),
                         ids=lambda b: b.splitlines()[0][2:60])
def test_the_example_prints_what_the_docs_show(block):
    assert _tool().run_block(block) == block, (
        "docs/commands.md is stale: run python docs/tools/refresh_examples.py")
