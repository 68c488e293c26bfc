"""Lint and strict typing are part of the test command, so CI runs them too."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is not installed: install the project with the [dev] extra"
    return found


def test_ruff_is_clean() -> None:
    out = subprocess.run(
        [tool("ruff"), "check", "."], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_is_clean() -> None:
    out = subprocess.run(
        [tool("mypy")], cwd=REPO, capture_output=True, text=True, check=False, timeout=900
    )
    assert out.returncode == 0, out.stdout + out.stderr
