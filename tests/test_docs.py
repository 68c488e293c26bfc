"""The documentation site builds with every link and page in place, and says what is true."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from matcher.app.settings import settings_table

REPO = Path(__file__).resolve().parent.parent


def test_mkdocs_builds_strictly(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "index.html").is_file()


def test_the_configuration_page_lists_every_setting() -> None:
    page = (REPO / "docs" / "configuration.md").read_text()
    assert settings_table() in page


def test_the_readme_is_a_first_page() -> None:
    assert len((REPO / "README.md").read_text()) < 10_000
