"""What `pip install .` ships: the package, its data set and library, nothing else."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_carries_data_and_library_but_not_the_build_script(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                            str(tmp_path), str(REPO)], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("resilience-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "resilience/_data/critical-inputs.xlsx" in names
    assert "resilience/solver/highs.py" in names
    assert any(n.startswith("resilience/_models/strategies/") for n in names)
    assert not [n for n in names if n.startswith("resilience/_data/") and n.endswith(".py")
                and not n.endswith("__init__.py")], "the data build script is not shipped"
