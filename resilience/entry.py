"""The `resilience` command's entry point.

The command-line module imports typer, rich and click before anything runs (a few hundred
milliseconds); a Ctrl-C in that time must end as every other Ctrl-C does — exit 130 and
one line, no traceback — so the import happens here, inside the same handling.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


def main() -> None:
    try:
        from resilience.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted; no output was written.\n")
        raise SystemExit(EXIT_INTERRUPTED) from None
    run()
