"""The console examples of docs/commands.md, from real runs.

    python docs/tools/refresh_examples.py          # rewrite the examples in place
    python docs/tools/refresh_examples.py --check  # exit 1 and show the difference if stale

Every ```console block whose commands run on the shipped data (`data/…`) is run in a
scratch folder that sees the repository's `data/` (so paths print as in the docs), one
block at a time, commands in order (an `evaluate` may read the report a `solve` before
it wrote), and the lines after each `$ resilience …` are replaced with what it printed.
Blocks that need files of the reader's own (`mybook.xlsx`, a Dask scheduler, `cbc`) are
left alone. tests/test_docs_examples.py re-runs every one of them on every CI run, so the
figures in the docs are the figures the product gives.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "commands.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)


def runnable(command: str) -> bool:
    """A `resilience` command whose input workbooks are all shipped (under data/)."""
    words = shlex.split(command)
    if not words or words[0] != "resilience":
        return False
    if words[1:2] == ["demo"]:  # the embedded data set, nothing of the reader's
        return True
    books = [w for w in words if w.endswith(".xlsx") and not w.startswith("-")]
    inputs = [w for i, w in enumerate(words) if w in books and words[i - 1] not in (
        "-o", "--out", "--plan")]
    return bool(inputs) and all((ROOT / w).is_file() for w in inputs)


def run_block(text: str, only: set[str] | None = None) -> str | None:
    """The block with each runnable command's output replaced; None if none runs."""
    lines = text.splitlines()
    commands = [i for i, line in enumerate(lines) if line.startswith("$ ")]
    if not commands or not all(runnable(lines[i][2:]) for i in commands):
        return None
    if only is not None and not any(lines[i][2:] in only for i in commands):
        return None
    out: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        os.symlink(ROOT / "data", Path(scratch) / "data")
        env = {**os.environ, "PYTHONUTF8": "1", "COLUMNS": "200"}
        for i in commands:
            command = lines[i][2:]
            words = shlex.split(command)
            run = subprocess.run([sys.executable, "-m", "resilience.cli", *words[1:]],
                                 cwd=scratch, env=env, capture_output=True, text=True,
                                 encoding="utf-8", timeout=600)
            out.append(lines[i])
            printed = (run.stdout + run.stderr).rstrip("\n")
            out.extend(printed.splitlines())
    return "\n".join(out) + "\n"


def refreshed(text: str, only: set[str] | None = None) -> str:
    def replace(match: re.Match) -> str:
        new = run_block(match.group(1), only)
        return match.group(0) if new is None else f"```console\n{new}```"

    return BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    old = DOC.read_text(encoding="utf-8")
    new = refreshed(old)
    if args.check:
        if new != old:
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(True), new.splitlines(True), "docs/commands.md", "real runs"))
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
