"""The console examples in docs/commands.md are what the product prints: the quick ones
are re-run here on every CI run (docs/tools/refresh_examples.py rewrites them all, the
slow batches included, when the data or the output change on purpose)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "docs" / "tools" / "refresh_examples.py"

# Examples of a few seconds each; compare and evaluate (tens of seconds) are refreshed by
# the script, not re-run by the tests.
QUICK = {
    "resilience demo",
    "resilience solve data/critical-inputs.xlsx --strategy eu_crma -o crma.xlsx --json "
    "crma.json",
    "resilience export data/critical-inputs.xlsx --mps model.mps",
    "resilience frontier data/example.xlsx --points 7",
}


def _tool():
    spec = importlib.util.spec_from_file_location("refresh_examples", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_quick_example_is_in_the_docs():
    text = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    missing = [c for c in QUICK if f"$ {c}\n" not in text]
    assert not missing, missing


@pytest.mark.parametrize("command", sorted(QUICK))
def test_the_example_prints_what_the_docs_show(command):
    tool = _tool()
    text = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    block = next(m.group(1) for m in tool.BLOCK.finditer(text) if f"$ {command}\n" in
                 m.group(1))
    assert tool.run_block(block, {command}) == block, (
        "docs/commands.md is stale: run python docs/tools/refresh_examples.py")
