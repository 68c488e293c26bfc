"""The import contract: service → matcher → embeddings, models; never the other way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ["service", "matcher", "embeddings", "models"]
# Which of our packages each package may import.
ALLOWED = {
    "service": {"service", "matcher", "embeddings", "models"},
    "matcher": {"matcher", "embeddings", "models"},
    "embeddings": {"embeddings"},
    "models": {"models"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"package {package} has no modules"
    wrong = {
        str(f.relative_to(REPO)): sorted(_imports(f) - ALLOWED[package])
        for f in files
        if _imports(f) - ALLOWED[package]
    }
    assert not wrong, f"imports against the contract: {wrong}"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from matcher.app.matcher import Matcher\nimport service.app\n")
    assert _imports(bad) == {"matcher", "service"}
